"""Bulgarian identity card (лична карта) numbers in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import passport
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class BgIdCardRecognizer(TextPatternRecognizer):
    """Find the nine digits of a лична карта; with no check digit, only context words make it count.

    The base score (0.2) is below any useful threshold; «лична карта», «л.к.» or «ЛК №» before the
    number raise it by 0.35.
    """

    PATTERNS = [Pattern("лична карта (9 digits)", r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])", 0.2)]
    CONTEXT = ["лична", "личната", "карта", "картата", "л.к", "л.к.", "лк", "лк:", "л.к.:"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="BG_ID_CARD",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return False for a placeholder (one repeated digit), else None."""
        return None if passport.is_valid(pattern_text) else False
