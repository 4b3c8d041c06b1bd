"""Presidio's pattern recognizer, matching with the standard library's ``re``.

Presidio compiles recognizer patterns with the third-party ``regex`` module, whose scan is several times
slower than ``re``'s on patterns that open with a look-behind or an alternation (dates, addresses,
e-mail addresses). Our patterns use nothing ``re`` lacks, so ours match with ``re``; scores, checksum
validation, explanations and duplicate removal are Presidio's.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import cast

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


@lru_cache(maxsize=256)
def compiled(regex: str, flags: int) -> re.Pattern[str]:
    """Return ``regex`` compiled with ``flags`` by ``re`` (cached)."""
    return re.compile(regex, flags)


class TextPatternRecognizer(PatternRecognizer):
    """A ``PatternRecognizer`` whose patterns are matched with ``re``; everything else is Presidio's."""

    name: str  # set by Presidio's base classes; declared for mypy
    patterns: list[Pattern]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Return a result per match of each pattern, scored as Presidio's ``PatternRecognizer`` scores it."""
        flags = regex_flags or self.global_regex_flags or 0
        results = []
        for pattern in self.patterns:
            for match in compiled(pattern.regex, flags).finditer(text):
                start, end = match.span()
                if start == end:
                    continue
                matched = text[start:end]
                validation = self.validate_result(matched)
                score = pattern.score
                if validation is not None:
                    score = EntityRecognizer.MAX_SCORE if validation else EntityRecognizer.MIN_SCORE
                if self.invalidate_result(matched):
                    score = EntityRecognizer.MIN_SCORE
                if score <= EntityRecognizer.MIN_SCORE:
                    continue
                explanation = self.build_regex_explanation(
                    # Presidio passes its validation result, None included, though it annotates a bool
                    self.name,
                    pattern.name,
                    pattern.regex,
                    pattern.score,
                    cast(bool, validation),
                    flags,
                )
                explanation.score = score
                results.append(
                    RecognizerResult(
                        entity_type=self.supported_entities[0],
                        start=start,
                        end=end,
                        score=score,
                        analysis_explanation=explanation,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return EntityRecognizer.remove_duplicates(results)
