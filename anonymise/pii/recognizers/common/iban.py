"""IBANs (Bulgarian and others) in free text."""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from stdnum import iban

# A country code, check digits, then 11-30 letters or digits, grouped by spaces or dashes however the
# writer liked (``ES 58 0049…``, ``ES15-0049-…``, ``NO07.8380…``, ``MC11 … h79``). A candidate may run into a following
# word (``… 1000 BIC``): the longest prefix that passes mod 97 is the IBAN.
CANDIDATE = re.compile(r"(?<![\w])[A-Z]{2}[ .-]?\d{2}(?:[ .-]?[A-Za-z0-9]){11,34}(?![\w])")
GROUP = re.compile(r"[A-Za-z0-9]+")


class ZakrilaIbanRecognizer(PatternRecognizer):
    """Find IBANs whose mod-97 check holds (``BG80 BNBG 9661 1020 3456 78``), however they are grouped.

    Named apart from Presidio's ``IbanRecognizer``: Presidio's registry finds its recognizers by class name.
    """

    name: str  # set by Presidio's base class; declared for mypy
    PATTERNS = [Pattern("IBAN", CANDIDATE.pattern, 0.5)]
    CONTEXT = ["iban", "iban:", "сметка", "сметката", "счет", "счёт", "банкова"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="IBAN",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return True for a valid IBAN (it is certain), False otherwise."""
        return bool(iban.is_valid(pattern_text))

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        """Return each candidate's longest prefix (whole groups) that is a valid IBAN."""
        results = []
        for match in CANDIDATE.finditer(text):
            groups = list(GROUP.finditer(match.group()))
            for last in range(len(groups), 0, -1):
                end = groups[last - 1].end()
                if end >= 15 and iban.is_valid(match.group()[:end]):
                    results.append(
                        RecognizerResult(
                            "IBAN",
                            match.start(),
                            match.start() + end,
                            1.0,
                            analysis_explanation=AnalysisExplanation(
                                recognizer=self.name, original_score=1.0, pattern_name="IBAN", validation_result=True
                            ),
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
                    break
        return results
