"""ЕГН, the Bulgarian personal number, in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import egn
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class EgnRecognizer(TextPatternRecognizer):
    """Find ЕГН: ten digits whose date is real and whose check digit holds.

    The score without context (0.6) is above the ЛНЧ's (0.55), so a number valid as both is taken for
    an ЕГН unless «ЛНЧ» stands before it.
    """

    PATTERNS = [Pattern("ЕГН (10 digits)", r"(?<![0-9A-Za-z])\d{10}(?![0-9A-Za-z])", 0.6)]
    CONTEXT = ["егн", "егн:", "граждански", "единен"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="EGN",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return None (keep the score) for a valid ЕГН, False otherwise."""
        return None if egn.is_valid(pattern_text) else False
