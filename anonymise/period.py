"""Reporting periods: a year, a half-year or a quarter.

>>> p = Period.parse("2025-Q4")
>>> p.start, p.end
(datetime.date(2025, 10, 1), datetime.date(2025, 12, 31))
>>> Period.parse("2025-H1").months[-1], Period.parse("2024").end
('2025-06', datetime.date(2024, 12, 31))
>>> Period.parse("2025-Q5")
Traceback (most recent call last):
...
ValueError: period '2025-Q5' is not YYYY, YYYY-Hn (n = 1, 2) or YYYY-Qn (n = 1..4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Period:
    """A reporting period with its first and last day."""

    label: str
    start: date
    end: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """Return the period named by ``YYYY``, ``YYYY-Hn`` or ``YYYY-Qn``."""
        match = re.fullmatch(r"(\d{4})(?:-([HQ])([1-4]))?", text.strip())
        if not match or (match.group(2) == "H" and match.group(3) not in ("1", "2")):
            raise ValueError(f"period {text!r} is not YYYY, YYYY-Hn (n = 1, 2) or YYYY-Qn (n = 1..4)")
        year = int(match.group(1))
        kind, n = match.group(2), int(match.group(3) or 0)
        first, months = (1, 12) if kind is None else ((n - 1) * 6 + 1, 6) if kind == "H" else ((n - 1) * 3 + 1, 3)
        start = date(year, first, 1)
        last_month = first + months - 1
        end = (date(year + 1, 1, 1) if last_month == 12 else date(year, last_month + 1, 1)) - timedelta(days=1)
        return cls(text.strip(), start, end)

    @property
    def months(self) -> list[str]:
        """Return the months of the period as ``YYYY-MM``."""
        return [f"{self.start.year}-{m:02d}" for m in range(self.start.month, self.end.month + 1)]
