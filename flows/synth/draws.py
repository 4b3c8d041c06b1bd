"""Random draws shared by the generator: categorical choices, name popularity, dates as day numbers.

Dates are handled as int64 days since 1970-01-01 in numpy and become Polars ``Date`` only at the
end. Every stream of random numbers comes from ``numpy.random.default_rng`` seeded with the run's seed,
the partner's position in the registry and a stage number, so a partner's data do not depend on which
other partners are generated.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)
YEAR = 365.2425


def rng_for(seed: int, partner_index: int, stage: int) -> np.random.Generator:
    """Return the random stream of one stage of one partner."""
    return np.random.default_rng([seed, partner_index, stage])


def days(d: date) -> int:
    """Return a date as days since 1970-01-01."""
    return (d - EPOCH).days


def categorical(rng: np.random.Generator, weights: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Return ``n`` indices drawn with the given (unnormalised) weights."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cum, rng.random(n) * cum[-1], side="right").clip(0, len(cum) - 1)


def choose(rng: np.random.Generator, options: Mapping[str, float], n: int) -> np.ndarray:
    """Return ``n`` keys of ``options`` drawn with their weights, as a numpy string array."""
    keys = np.array(list(options), dtype=object)
    return keys[categorical(rng, list(options.values()), n)]


def popularity(values: Sequence[str], key: str, common: Collection[str] = ()) -> np.ndarray:
    """Return fixed Zipf-like weights for a name list: a few names are common, most are rare.

    The ranking is a permutation seeded by the list's name, so it does not depend on the run's seed;
    names in ``common`` get the weight of the most popular name.
    """
    order = np.random.default_rng(zlib.crc32(key.encode())).permutation(len(values))
    order[np.isin(np.asarray(values, dtype=object), list(common))] = 0
    return 1.0 / (order + 4.0) ** 0.9


def date_series(day_numbers: np.ndarray, name: str) -> pl.Series:
    """Return day numbers (days since 1970-01-01) as a Polars Date column."""
    return pl.Series(name, day_numbers.astype(np.int32)).cast(pl.Date)


def lookup(keys: np.ndarray, table: Mapping[Any, Any], default: Any = None) -> np.ndarray:
    """Return ``table[key]`` for every key of an array, vectorised (``default`` for keys not in it).

    >>> lookup(np.array(["mother", "child"]), {"mother": 0.7}, 0.0).tolist()
    [0.7, 0.0]
    >>> lookup(np.array([1, 0]), {0: (1.0, 2.0), 1: (3.0, 4.0)}).tolist()
    [[3.0, 4.0], [1.0, 2.0]]
    """
    distinct, inverse = np.unique(keys, return_inverse=True)
    values = np.array([table.get(k.item() if hasattr(k, "item") else k, default) for k in distinct])
    return values[inverse.reshape(-1)]
