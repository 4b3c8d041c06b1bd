"""ЛНЧ, the personal number of a foreigner resident in Bulgaria, in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import lnc
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class LncRecognizer(TextPatternRecognizer):
    """Find ЛНЧ: ten digits whose check digit holds (weights 21, 19, …, 1 mod 10)."""

    PATTERNS = [Pattern("ЛНЧ (10 digits)", r"(?<![0-9A-Za-z])\d{10}(?![0-9A-Za-z])", 0.55)]
    CONTEXT = ["лнч", "лнч:", "чужденец", "чужденеца"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="LNC",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return None (keep the score) for a valid ЛНЧ, False otherwise."""
        return None if lnc.is_valid(pattern_text) else False
