"""Russian birth certificates (свидетельство о рождении, ``II-МЮ № 123456``) in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.identifiers import birth_certificate
from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class RuBirthCertificateRecognizer(TextPatternRecognizer):
    """Find a Roman-numeral series, two Cyrillic capitals and six digits; the shape alone is telling."""

    # Case matters: the two letters of the series are capitals, whatever flags Presidio compiles with.
    PATTERNS = [
        Pattern(
            "свидетельство о рождении",
            r"(?-i:(?<![\w-])[IVXLCСХ1lІ]{1,6}\s?[-‐–—]?\s?[А-ЯЁ]{2}\s*(?:№|N)?\s*\d{6}(?!\d))",
            0.85,
        )
    ]
    CONTEXT = ["свидетельство", "свидетельства", "рождении", "св-во"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="RU_BIRTH_CERTIFICATE",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return None (keep the score) for a valid certificate, False otherwise."""
        return None if birth_certificate.is_valid(pattern_text) else False
