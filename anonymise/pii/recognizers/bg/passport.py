"""Bulgarian passport numbers in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import passport
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class BgPassportRecognizer(TextPatternRecognizer):
    """Find the nine digits of a Bulgarian passport; only «паспорт» before them makes them count."""

    PATTERNS = [Pattern("паспорт (9 digits)", r"(?<![0-9A-Za-z])\d{9}(?![0-9A-Za-z])", 0.2)]
    CONTEXT = ["паспорт", "паспорта", "паспортът", "паспорт:", "задграничен"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="BG_PASSPORT",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return False for a placeholder (one repeated digit), else None."""
        return None if passport.is_valid(pattern_text) else False
