"""СНИЛС, the Russian personal insurance number, in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import snils
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class SnilsRecognizer(TextPatternRecognizer):
    """Find СНИЛС: eleven digits, usually written ``XXX-XXX-XXX YY``, whose check number holds."""

    PATTERNS = [
        Pattern("СНИЛС (XXX-XXX-XXX YY)", r"(?<![0-9A-Za-z])\d{3}-\d{3}-\d{3}[ -]\d{2}(?![0-9A-Za-z])", 0.85),
        Pattern("СНИЛС (11 digits)", r"(?<![0-9A-Za-z])\d{11}(?![0-9A-Za-z])", 0.4),
    ]
    CONTEXT = ["снилс", "снилс:", "страховой", "страхового"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="SNILS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return None (keep the score) for a valid СНИЛС, False otherwise."""
        return None if snils.is_valid(pattern_text) else False
