"""ИНН, the Russian taxpayer number, in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern
from stdnum.ru import inn

from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class InnRecognizer(TextPatternRecognizer):
    """Find ИНН: 10 (organisation) or 12 (person) digits whose check digits hold.

    One random number in eleven passes the check, so without «ИНН» before it the score (0.3) stays low.
    """

    PATTERNS = [Pattern("ИНН (10 or 12 digits)", r"(?<![0-9A-Za-z])(?:\d{12}|\d{10})(?![0-9A-Za-z])", 0.3)]
    CONTEXT = ["инн", "инн:"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="INN",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return None (keep the score) for a valid ИНН, False otherwise."""
        return None if inn.is_valid(pattern_text) else False
