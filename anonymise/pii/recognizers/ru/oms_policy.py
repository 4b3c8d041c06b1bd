"""Полис ОМС, the Russian compulsory health insurance policy number, in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.pii.recognizers.pattern import TextPatternRecognizer


class OmsPolicyRecognizer(TextPatternRecognizer):
    """Find the 16 digits of an ОМС policy; no check digit is used, so «полис» or «ОМС» must precede."""

    PATTERNS = [Pattern("полис ОМС (16 digits)", r"(?<![0-9A-Za-z])(?:\d{16}|\d{4}(?: \d{4}){3})(?![0-9A-Za-z])", 0.2)]
    CONTEXT = ["полис", "полиса", "полисом", "омс", "омс:", "полис:"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="OMS_POLICY",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return False for a placeholder (one repeated digit), else None."""
        return None if len(set(pattern_text.replace(" ", ""))) > 1 else False
