"""Russian internal passport numbers (series and number) in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import passport
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class RuPassportRecognizer(TextPatternRecognizer):
    """Find a passport's 4-digit series and 6-digit number (``36 05 № 123456``); context makes it count."""

    PATTERNS = [
        Pattern(
            "паспорт (серия и номер)",
            r"(?<!\d)\d{2}\s?\d{2}\s*(?:(?:№|N|номер)\s*)?\d{6}(?!\d)",
            0.3,
        )
    ]
    CONTEXT = ["паспорт", "паспорта", "паспортные", "паспортом", "серия", "серии"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="RU_PASSPORT",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return False for a placeholder (one repeated digit), else None."""
        return None if passport.is_valid(pattern_text) else False
