"""Leak checks: is any clear identifier or any key present in what a run wrote?

Two independent questions, answered with counts only:

- *clear values*: does any text cell of the pseudonymised frames equal a direct identifier of the
  batch they came from (a national ID, a name, a phone, an e-mail, an address, a key)? Exact cell
  equality, not substrings: a 10-digit ЕГН would otherwise be "found" inside random hex pseudonyms.
- *key material*: does any byte string (a file's content) contain a master secret, a derived key or
  the signing key, raw or as hex?

>>> raw = {"persons": pl.DataFrame({"given_name": ["Мария"], "national_id": ["7501010010"], "sex": ["f"]})}
>>> values = clear_values(raw, {"persons": ["given_name", "national_id"]})
>>> cells_equal_to({"persons": pl.DataFrame({"x": ["ab12", "Мария"]})}, values)
1
>>> key_material_hits([b"...00112233..."], [bytes.fromhex("00112233")])
1
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import polars as pl

MIN_LENGTH = 3  # shorter values (initials, single digits) equal codes by chance


def clear_values(raw: dict[str, pl.DataFrame], fields: dict[str, list[str]]) -> pl.Series:
    """Return the distinct values of the given identifier fields of raw frames (at least 3 characters)."""
    parts = [
        raw[entity].select(pl.col(c).cast(pl.String).alias("v"))
        for entity, columns in fields.items()
        if entity in raw
        for c in columns
        if c in raw[entity].columns
    ]
    if not parts:
        return pl.Series("v", [], dtype=pl.String)
    values = pl.concat(parts)["v"].drop_nulls().str.strip_chars()
    return values.filter(values.str.len_chars() >= MIN_LENGTH).unique()


def cells_equal_to(frames: dict[str, pl.DataFrame], values: pl.Series) -> int:
    """Return how many text cells of the frames equal one of ``values``."""
    needles = values.implode()
    hits = 0
    for frame in frames.values():
        for name, dtype in frame.schema.items():
            if dtype == pl.String:
                hits += int(frame.select(pl.col(name).is_in(needles).sum()).item())
    return hits


def key_material_hits(texts: Iterable[bytes], secrets: list[bytes]) -> int:
    """Return how many (text, secret) pairs have the secret in the text, raw or as hex."""
    patterns = {p for s in secrets for p in (s, s.hex().encode(), s.hex().upper().encode())}
    return sum(1 for t in texts for p in patterns if p in t)


_TOKEN = r"[\w@.+\-]+"


def fingerprints(values: pl.Series, key: bytes, words: bool = False) -> pl.Series:
    """Return keyed fingerprints of clear values (and of their words of 4+ letters if ``words``).

    Words are for names only: a word of an address (a town) legitimately appears in reports.
    """
    from anonymise.pseudonym import pseudonym

    clean = values.drop_nulls().cast(pl.String).str.strip_chars().str.to_lowercase()
    clean = clean.filter(clean.str.len_chars() >= MIN_LENGTH)
    parts = [clean]
    if words:
        split = clean.str.extract_all(_TOKEN).explode().drop_nulls()
        parts.append(split.filter(split.str.len_chars() >= 4))
    tokens = pl.concat(parts).unique()
    return pl.DataFrame({"t": tokens}).select(pseudonym("t", key))["t"].unique()


def strings_with_clear_values(strings: dict[str, str], known: pl.Series, key: bytes) -> list[str]:
    """Return the locations whose string, or a word of it, has a fingerprint in ``known``."""
    from anonymise.pseudonym import pseudonym

    if not strings or known.len() == 0:
        return []
    frame = pl.DataFrame({"loc": list(strings), "s": list(strings.values())}).with_columns(
        pl.col("s").str.strip_chars().str.to_lowercase()
    )
    words = frame.select("loc", pl.col("s").str.extract_all(_TOKEN).alias("w")).explode("w").rename({"w": "s"})
    candidates = pl.concat([frame, words.drop_nulls()]).unique()
    hits = candidates.with_columns(pseudonym("s", key).alias("h")).filter(pl.col("h").is_in(known.implode()))
    return sorted(set(hits["loc"].to_list()))


#: What the guard looks for by pattern: identifiers with a checksum or an unmistakable shape. Names and
#: addresses are left to the fingerprints — table labels and place names would look like them.
GUARDED = ("EGN", "LNC", "SNILS", "INN", "IBAN", "EMAIL_ADDRESS", "PHONE_NUMBER")


def strings_with_identifiers(strings: dict[str, str], language: str) -> list[str]:
    """Return the locations whose string holds a checksummed national ID, an IBAN, an e-mail or a phone.

    The strings are analysed as one text (a line each) by the same analyzer that reads the notes, and
    each span is traced back to the string it lies in.
    """
    from anonymise.pii.engine import analyze

    if not strings:
        return []
    locations = list(strings)
    starts, position = [], 0
    for location in locations:
        starts.append(position)
        position += len(strings[location]) + 1
    text = "\n".join(strings[location] for location in locations)
    hits = {locations[bisect_right(starts, r.start) - 1] for r in analyze(text, language, entities=GUARDED)}
    return sorted(hits)
