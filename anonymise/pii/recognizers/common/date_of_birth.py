"""Dates of birth in free text: a date is personal data only when words around it say it is a birth."""

from __future__ import annotations

import datetime
import re

from presidio_analyzer import Pattern

from anonymise.pii.recognizers.pattern import TextPatternRecognizer

_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d{2}"
_MONTH_NAMES = (
    "януари|февруари|март|април|май|юни|юли|август|септември|октомври|ноември|декември|"
    "января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
)
_NUMERIC = rf"{_DAY}\.{_MONTH}\.{_YEAR}|{_DAY}/{_MONTH}/{_YEAR}|{_YEAR}-{_MONTH}-{_DAY}"
# «1985 г.р.», «12.03.2019 г.р.» (година на раждане / год рождения) carry their own context after them.
_BIRTH_YEAR_MARK = r"(?=\s?г\.\s?р\.)"


class DateOfBirthRecognizer(TextPatternRecognizer):
    """Find dates (``12.03.2019``, ``2019-03-12``, ``12 март 2019``) next to words about a birth.

    A bare date scores 0.3, below the threshold: service dates are not personal data. «роден на»,
    «дата на раждане», «родилась», «дата рождения» before it raise it by 0.35; «г.р.» after a year or
    a date is part of the pattern and scores high by itself.
    """

    # Each pattern opens with «(?=\d)»: the regex engine then skips to the next digit instead of trying
    # the look-behind and the alternation at every letter of the note (four times faster, same matches).
    PATTERNS = [
        Pattern("date followed by г.р.", rf"(?=\d)(?<![\d.])(?:{_NUMERIC}|{_YEAR}){_BIRTH_YEAR_MARK}", 0.85),
        Pattern("numeric date", rf"(?=\d)(?<![\d.]){_NUMERIC}(?![\d])", 0.3),
        Pattern("date with month name", rf"(?=\d)(?<!\d){_DAY}\s(?:{_MONTH_NAMES})\s{_YEAR}(?!\d)", 0.3),
    ]
    CONTEXT = [
        "роден",
        "родена",
        "родено",
        "родени",
        "р",
        "р.",
        "раждане",
        "раждането",
        "рождена",
        "родился",
        "родилась",
        "родились",
        "рождения",
        "рождение",
        "род.",
        "д.р.",
        "г.р.",
    ]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="DATE_OF_BIRTH",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        """Return False for an impossible numeric date (31.02.2019), else None (keep the score)."""
        parts = re.split(r"[./-]", pattern_text)
        if len(parts) != 3:
            return None
        if len(parts[0]) == 4:
            parts.reverse()
        try:
            datetime.date(int(parts[2]), int(parts[1]), int(parts[0]))
        except ValueError:
            return False
        return None
