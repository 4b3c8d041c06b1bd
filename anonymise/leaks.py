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
