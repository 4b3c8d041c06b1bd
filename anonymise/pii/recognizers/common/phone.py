"""Phone numbers in free text, read by ``phonenumbers`` with the regions of the note's language."""

from __future__ import annotations

import re

import phonenumbers
from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.identifiers import egn, lnc

# a service date («на 09.12.2023 г.») is not a phone, whatever phonenumbers thinks of its digits
DATE_LIKE = re.compile(r"^\s*\d{1,2}[./]\d{1,2}[./]\d{2,4}\s*$")


class PhoneRecognizer(LocalRecognizer):
    """Find phone numbers: international (``+359 …``, ``+7 …``) and national (``0888 …``, ``8 912 …``).

    Every ЕГН of someone born in the 1990s (``9001011238``) is also a Russian mobile number written
    without its trunk prefix, so ten bare digits that are a valid ЕГН or ЛНЧ are not taken for a phone.
    """

    name: str  # set by Presidio's base class; declared for mypy
    SCORE = 0.6
    REGIONS: dict[str, tuple[str, ...]] = {"bg": ("BG",), "ru": ("RU",)}
    CONTEXT = [
        "тел",
        "тел.",
        "тел.:",
        "телефон",
        "телефона",
        "телефон:",
        "gsm",
        "моб",
        "моб.",
        "мобилен",
        "мобильный",
        "сот.",
        "сотовый",
        "номер",
    ]

    def __init__(self, supported_language: str = "bg", regions: tuple[str, ...] | None = None) -> None:
        self.regions = regions if regions is not None else self.REGIONS[supported_language]
        super().__init__(
            supported_entities=["PHONE_NUMBER"],
            supported_language=supported_language,
            context=self.CONTEXT,
        )

    def load(self) -> None:
        """Load nothing: ``phonenumbers`` carries its metadata."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Return the phone numbers of the recognizer's regions found in ``text``."""
        results = []
        for region in self.regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                if self._is_personal_number(match.raw_string, match.number) or DATE_LIKE.match(match.raw_string):
                    continue
                results.append(
                    RecognizerResult(
                        entity_type="PHONE_NUMBER",
                        start=match.start,
                        end=match.end,
                        score=self.SCORE,
                        analysis_explanation=AnalysisExplanation(
                            recognizer=type(self).__name__,
                            original_score=self.SCORE,
                            textual_explanation=f"phone number valid in region {region}",
                        ),
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return LocalRecognizer.remove_duplicates(results)

    @staticmethod
    def _is_personal_number(raw: str, number: phonenumbers.PhoneNumber) -> bool:
        """Return whether the match is a valid ЕГН or ЛНЧ written with neither ``+`` nor a trunk prefix."""
        digits = "".join(ch for ch in raw if ch.isdigit())
        if raw.lstrip().startswith("+") or digits != phonenumbers.national_significant_number(number):
            return False
        return egn.is_valid(digits) or lnc.is_valid(digits)
