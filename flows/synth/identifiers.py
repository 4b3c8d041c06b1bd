"""National identifiers, generated for whole columns at once: ЕГН, ЛНЧ and СНИЛС.

An ЕГН is YYMMDD of the birth date (month +20 for births in the 1800s, +40 in the 2000s), a three-digit
serial whose last digit is even for men and odd for women, and a check digit: the digits weighted
2,4,8,5,10,9,7,3,6, summed, mod 11, with 10 written as 0. A ЛНЧ is nine digits and a check digit
(weights 21,19,17,13,11,9,7,3,1, mod 10). A СНИЛС is nine digits ``XXX-XXX-XXX`` and a two-digit check
number: the digits weighted 9..1 and summed; below 100 the sum is the check, 100 and 101 give 00,
larger sums are taken mod 101 (and a remainder of 100 is again 00).

The functions take numpy arrays and return Polars string columns; nothing loops over rows.

>>> import numpy as np
>>> from datetime import date
>>> born = np.array([(date(2019, 3, 12) - date(1970, 1, 1)).days])
>>> egn(born, np.array([True]), np.array([21])).to_list()
['1943120430']
>>> snils_check(np.array([112233445])).tolist()
[95]
"""

from __future__ import annotations

import numpy as np
import polars as pl

_EGN_WEIGHTS = np.array([2, 4, 8, 5, 10, 9, 7, 3, 6])
_LNC_WEIGHTS = np.array([21, 19, 17, 13, 11, 9, 7, 3, 1])
_SNILS_WEIGHTS = np.arange(9, 0, -1)
_POWERS = 10 ** np.arange(8, -1, -1, dtype=np.int64)

#: Serial numbers per birth date and sex in an ЕГН (000-999, one parity each).
SERIALS_PER_SEX = 500


def _digits(number: np.ndarray) -> np.ndarray:
    """Return the nine decimal digits of each number as rows (most significant first)."""
    return (number.astype(np.int64)[:, None] // _POWERS) % 10


def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (year, month, day) arrays of dates given as days since 1970-01-01."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months).astype(np.int64) + 1
    return year, month, day


def egn_check(number: np.ndarray) -> np.ndarray:
    """Return the ЕГН check digit of nine-digit numbers."""
    return (_digits(number) @ _EGN_WEIGHTS) % 11 % 10


def egn(birth: np.ndarray, female: np.ndarray, slot: np.ndarray) -> pl.Series:
    """Return valid ЕГН for birth dates (days since 1970), sexes and serial slots (0-499)."""
    year, month, day = date_parts(birth)
    month = month + np.where(year >= 2000, 40, np.where(year < 1900, 20, 0))
    serial = 2 * slot.astype(np.int64) + female.astype(np.int64)
    body = (year % 100) * 10**7 + month * 10**5 + day * 10**3 + serial
    return _zfill(body * 10 + egn_check(body), 10)


def serial_slots(rng: np.random.Generator, birth: np.ndarray, female: np.ndarray, lane: int, lanes: int) -> np.ndarray:
    """Return ЕГН serial slots unique per birth date and sex, in the partner's own ``lane``.

    Partners take disjoint residues mod ``lanes``, so ЕГН never collide across partners; within a
    partner a birth date and sex hold up to ``SERIALS_PER_SEX / lanes`` people.
    """
    n = birth.shape[0]
    order = np.lexsort((female, birth))
    key = birth[order] * 2 + female[order]
    starts = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    rank = np.arange(n) - first[group]
    per_lane = SERIALS_PER_SEX // lanes
    if n and rank.max() >= per_lane:
        raise ValueError(f"more than {per_lane} people share a birth date and sex in one partner")
    offset = rng.integers(0, per_lane, size=first.shape[0])[group]
    slots = np.empty(n, dtype=np.int64)
    slots[order] = lanes * ((rank + offset) % per_lane) + lane
    return slots


def lnc(rng: np.random.Generator, n: int, lane: int = 0, lanes: int = 1) -> pl.Series:
    """Return ``n`` distinct valid ЛНЧ, in the residue ``lane`` mod ``lanes`` of the number space."""
    span = (900_000_000 - lane) // lanes
    body = 100_000_000 + lane + lanes * rng.choice(span, size=n, replace=False)
    check = (_digits(body) @ _LNC_WEIGHTS) % 10
    return _zfill(body * 10 + check, 10)


def snils_check(number: np.ndarray) -> np.ndarray:
    """Return the СНИЛС check number (0-99) of nine-digit numbers."""
    total = _digits(number) @ _SNILS_WEIGHTS
    check = np.where(total < 100, total, np.where(total <= 101, 0, total % 101))
    return np.where(check == 100, 0, check)


def snils(rng: np.random.Generator, n: int) -> pl.Series:
    """Return ``n`` distinct valid СНИЛС written ``XXX-XXX-XXX YY``."""
    body = 2_000_000 + rng.choice(997_000_000, size=n, replace=False)
    digits = _zfill(body, 9)
    check = _zfill(snils_check(body), 2)
    return (
        pl.DataFrame({"d": digits, "c": check})
        .select(
            pl.concat_str(
                pl.col("d").str.slice(0, 3),
                pl.lit("-"),
                pl.col("d").str.slice(3, 3),
                pl.lit("-"),
                pl.col("d").str.slice(6, 3),
                pl.lit(" "),
                pl.col("c"),
            )
        )
        .to_series()
    )


def _zfill(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values.astype(np.int64)).cast(pl.String).str.zfill(width)
