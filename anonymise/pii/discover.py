"""Column discovery: which columns of a frame hold personal data, as shares of sampled values.

Partners put personal data where it does not belong (a phone in a "comment" column). Discovery
samples each column and asks, value by value, whether it is a name, a national ID, a phone, an e-mail,
an address, a date of birth or free text, and reports the share of matching values — never a value.

A value counts for a kind when a detector's span covers most of it (names, IDs, phones, e-mails,
addresses), or, for free text, when it reads like a sentence; a date counts as a date of birth when
the column's name says so or the text around it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

KINDS = ("name", "national_id", "phone", "email", "address", "date_of_birth", "free_text")
ENTITY_KIND = {
    "PERSON": "name",
    "EGN": "national_id",
    "LNC": "national_id",
    "SNILS": "national_id",
    "INN": "national_id",
    "BG_ID_CARD": "national_id",
    "BG_PASSPORT": "national_id",
    "RU_PASSPORT": "national_id",
    "RU_BIRTH_CERTIFICATE": "national_id",
    "OMS_POLICY": "national_id",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "ADDRESS": "address",
    "DATE_OF_BIRTH": "date_of_birth",
    "IBAN": "national_id",
}
BIRTH_HEADER = re.compile(r"birth|dob|rojd|razhd|rozhd|ражд|рожд|р\.\s*д", re.IGNORECASE)
DATE_VALUE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{4})\s*$")
COVER = 0.6  # a span must cover this share of a short value for the value to be of its kind


@dataclass(frozen=True)
class ColumnFinding:
    """What discovery found in one column: rows sampled and the share of values per kind."""

    column: str
    sampled: int
    kinds: dict[str, float]

    @property
    def personal(self) -> bool:
        """Return whether any kind of personal data was found in a noticeable share of values."""
        return any(share >= 0.05 for kind, share in self.kinds.items())

    def to_json(self) -> dict[str, object]:
        """Return the finding as ``{"column": …, "kinds": {kind: share}}``."""
        return {"column": self.column, "sampled": self.sampled, "kinds": self.kinds}


Analyze = Callable[[str, str], list]  # (text, language) -> RecognizerResult-like objects


def _default_analyze(text: str, language: str) -> list:  # type: ignore[type-arg]
    from anonymise.pii.engine import analyze

    return analyze(text, language)


def classify(value: str, header: str, language: str, analyze: Analyze = _default_analyze) -> set[str]:
    """Return the kinds of personal data one cell value holds."""
    text = value.strip()
    if not text:
        return set()
    kinds: set[str] = set()
    words = len(text.split())
    if words >= 4 and len(text) >= 25:
        kinds.add("free_text")
    if DATE_VALUE.match(text) and BIRTH_HEADER.search(header):
        kinds.add("date_of_birth")
    for r in analyze(text, language):
        kind = ENTITY_KIND.get(r.entity_type)
        if kind is None:
            continue
        if "free_text" in kinds or (r.end - r.start) >= COVER * len(text):
            kinds.add(kind)
    return kinds


def discover_frame(
    frame: pl.DataFrame,
    language: str = "bg",
    sample: int = 200,
    seed: int = 0,
    analyze: Analyze = _default_analyze,
) -> list[ColumnFinding]:
    """Return, for every column, the share of sampled non-empty values holding each kind of data."""
    findings = []
    for column in frame.columns:
        values = frame[column].cast(pl.String).drop_nulls()
        values = values.filter(values.str.strip_chars() != "")
        if values.len() > sample:
            values = values.sample(sample, seed=seed)
        counts = dict.fromkeys(KINDS, 0)
        for value in values.to_list():
            for kind in classify(value, column, language, analyze):
                counts[kind] += 1
        n = values.len()
        shares = {k: round(c / n, 3) for k, c in counts.items() if c and n}
        findings.append(ColumnFinding(column, n, shares))
    return findings
