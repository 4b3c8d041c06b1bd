"""Free-text scan: how much personal data of each kind a text column holds, as counts only.

Notes are dropped by default (DATA-CONTRACT.md), but always scanned, so the DPO sees what the partners
write into them. This is the fast first pass — checksummed national IDs, phones, e-mails, addresses —
vectorised over the column; the Presidio-based analyzer with name detection deepens it (issue 4).

>>> s = pl.Series(["Обаждане на 0888 123 456, ЕГН 7501010010", "e-mail ivan@abv.bg", None, "гр. Русе, ул. „Плиска“ 4"])
>>> scan_counts(s)
{'address': 1, 'email': 1, 'national_id': 1, 'notes_with_text': 3, 'phone': 1}
"""

from __future__ import annotations

import polars as pl
from stdnum.ru import inn

from anonymise.identifiers import egn, lnc, snils

_PATTERNS: dict[str, str] = {
    "email": r"[\w.+-]+@[\w-]+\.[\w.-]+",
    # BG mobiles and landlines (+359 / 0) and RU numbers (+7 / 8); spaces, dashes and brackets allowed.
    "phone": r"(?:\+359|\b0)[\s-]?\(?\d{2,3}\)?(?:[\s-]?\d){6,7}\b|(?:\+7|\b8)[\s-]?\(?9\d{2}\)?(?:[\s-]?\d){7}\b",
    # One address = a run of components (гр. …, ул. …, бл. …) joined by commas or spaces.
    "address": r"(?:\b(?:гр|с|ж\.к|кв|ул|бул|бл|вх|ет|ап|г|д|корп)\.\s*[«„\"]?[А-ЯЁA-Z0-9][^,;.]*[,;]?\s*)+",
}
_NATIONAL_ID = r"\b\d{10}\b|\b\d{3}-\d{3}-\d{3}\s?\d{2}\b|\b\d{12}\b"


def _is_national_id(value: str) -> bool:
    digits = value.replace("-", "").replace(" ", "")
    if len(digits) == 10:
        return egn.is_valid(digits) or lnc.is_valid(digits) or inn.is_valid(digits)
    if len(digits) == 11:
        return snils.is_valid(digits)
    return inn.is_valid(digits)


def scan_counts(texts: pl.Series) -> dict[str, int]:
    """Return, per kind of personal data, how many occurrences a text column holds (no values)."""
    frame = pl.DataFrame({"t": texts.cast(pl.String)}).filter(pl.col("t").str.strip_chars().str.len_chars() > 0)
    counts = {"notes_with_text": frame.height}
    for kind, pattern in _PATTERNS.items():
        counts[kind] = int(frame.select(pl.col("t").str.count_matches(pattern).sum()).item() or 0)
    candidates = frame.select(pl.col("t").str.extract_all(_NATIONAL_ID).explode().drop_nulls().alias("c"))
    valid = {c: _is_national_id(c) for c in candidates["c"].unique().to_list()}
    counts["national_id"] = int(sum(valid[c] for c in candidates["c"].to_list()))
    return dict(sorted(counts.items()))
