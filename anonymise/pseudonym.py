"""Keyed pseudonyms as Polars expressions: HMAC-SHA256 of a normalised value under a domain key.

Never a plain hash: national IDs are low-entropy and enumerable, so anyone could hash every ЕГН and
reverse a plain digest. Under a secret key the pseudonym is a pseudonym only for the key's holder.

Each distinct value is hashed once (events repeat person IDs many times) and the pseudonyms are
gathered back to the rows by index, so the cost follows the number of distinct values, not rows
(``benchmarks/pseudonymise.py`` measures it against a bare HMAC loop and Presidio's anonymizer).

>>> key = bytes(32)
>>> frame = pl.DataFrame({"id": ["a", "b", "a", None]})
>>> out = frame.select(pseudonym("id", key))["id"].to_list()
>>> out[0] == out[2], out[0] != out[1], out[3] is None
(True, True, True)
>>> len(out[0])
32
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

#: Hex characters kept of the 64-character HMAC-SHA256 digest: 128 bits, collisions negligible
#: (and counted in the run report all the same).
PSEUDONYM_LENGTH = 32


def _keyed_states(key: bytes) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Return copiers of the two keyed SHA-256 states of HMAC (RFC 2104), computed once per key."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    return inner.copy, outer.copy


def hmac_hex(values: Sequence[str | bytes | None], key: bytes, length: int = PSEUDONYM_LENGTH) -> list[str | None]:
    """Return the truncated hex HMAC-SHA256 of each value under ``key`` (None stays None).

    The same bytes as ``hmac.digest(key, value, "sha256")``: HMAC is H((K ^ opad) || H((K ^ ipad) || m)),
    and the two keyed states are set up once per key instead of once per value.

    >>> import hmac as std
    >>> hmac_hex(["7501010010"], bytes(32))[0] == std.digest(bytes(32), b"7501010010", "sha256").hex()[:32]
    True
    """
    inner, outer = _keyed_states(key)
    size = length // 2
    out: list[str | None] = []
    append = out.append
    for value in values:
        if value is None:
            append(None)
            continue
        i = inner()
        i.update(value.encode("utf-8") if isinstance(value, str) else value)
        o = outer()
        o.update(i.digest())
        append(o.digest()[:size].hex() if length % 2 == 0 else o.hexdigest()[:length])
    return out


def _hmac_hex_bytes(values: list[bytes], key: bytes, length: int) -> list[str]:
    """Return ``hmac_hex`` of non-null byte strings: the hot loop, with nothing else in it."""
    inner, outer = _keyed_states(key)
    size = length // 2
    out: list[str] = []
    append = out.append
    for value in values:
        i = inner()
        i.update(value)
        o = outer()
        o.update(i.digest())
        append(o.digest()[:size].hex())
    return out


def _first_and_index(keys: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Return the first position of each distinct key and, per row, the rank of its key among them."""
    first = keys.arg_unique()
    ranks = pl.int_range(first.len(), dtype=pl.UInt32, eager=True)
    return first, keys.replace_strict(keys.gather(first), ranks, return_dtype=pl.UInt32)


def _hash_series(series: pl.Series, key: bytes, length: int) -> pl.Series:
    """Return the pseudonyms of a series, hashing each distinct value once.

    Distinct values are found on Polars' vectorised 64-bit hash of the values rather than the strings,
    then checked: if two distinct values shared a hash (about 3 in 10^8 at a million values; the hash
    is not keyed, so crafted values could force it), the exact path on the strings is taken instead.
    Never a wrong pseudonym, only occasionally a slower one.
    """
    values = series.cast(pl.String)
    first, index = _first_and_index(values.hash())
    distinct = values.gather(first)
    if not distinct.gather(index).eq_missing(values).all():
        first, index = _first_and_index(values)
        distinct = values.gather(first)
    present = distinct.is_not_null()
    hashed = (
        _hmac_hex_bytes(distinct.filter(present).cast(pl.Binary).to_list(), key, length)
        if length % 2 == 0
        else [d for d in hmac_hex(distinct.filter(present).to_list(), key, length) if d is not None]
    )
    digests = pl.Series(series.name, [None] * distinct.len(), dtype=pl.String).scatter(
        present.arg_true(), pl.Series(hashed, dtype=pl.String)
    )
    return digests.gather(index)


def pseudonym(column: str | pl.Expr, key: bytes, length: int = PSEUDONYM_LENGTH) -> pl.Expr:
    """Return an expression giving the keyed pseudonym of each value of ``column`` (nulls stay null)."""
    if len(key) < 32:
        raise ValueError("pseudonym keys must be at least 256 bits")
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.map_batches(lambda s: _hash_series(s, key, length), return_dtype=pl.String)
