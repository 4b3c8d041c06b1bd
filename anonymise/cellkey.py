"""The cell key method (CKM): noise on counts that is the same wherever the same people are counted.

Every person gets a *record key*, a number in [0, 1) derived by HMAC from their pseudonym, so it is
stable across tables and releases without being stored. A cell's *cell key* is the sum of the record
keys of the distinct persons it counts, mod 1: the same contributors give the same cell key in every
table and every release, whatever else those tables hold. The cell key picks the noise from a
*perturbation table* (p-table): for an original count ``i`` a distribution of noise ``v`` in ``-D..D``
with zero mean, variance ``V``, ``i + v ≥ 0`` and ``i + v`` never in ``1..js``; cut [0, 1) into one
interval per noise value, as wide as its probability, and the cell key falls into exactly one.
Empty cells stay empty. This is the Destatis/Eurostat design of the ``ptable`` and ``cellKey`` R
packages (Enderle, Giessing, Tent, "Designing confidentiality on the fly: the cell key method"), and
``ptable`` below builds the same maximum-entropy p-table as ``ptable::create_cnt_ptable``.

>>> table = ptable(D=2, V=1.0)
>>> table.symmetry                       # counts ≥ 2 share the last row's distribution
2
>>> [round(p, 4) for p in table.rows[2].probability]
[0.0638, 0.2447, 0.383, 0.2447, 0.0638]
>>> table.rows[0].noise, table.rows[0].probability     # zero stays zero
((0,), (1.0,))
>>> counts = pl.DataFrame({"n": [0, 1, 7], "ck": [0.9, 0.05, 0.95]})
>>> counts.select(perturb("n", "ck", table))["n"].to_list()     # 0 stays 0; 1 → 1 − 1; 7 → 7 + 2
[0, 0, 9]
>>> ptable(D=1, V=1.0, js=2)
Traceback (most recent call last):
...
ValueError: js=2 > D=1: a count of 1 could only move to 0, so no zero-mean noise exists for it

Small counts, as in ``ptable`` (``optim = 1, mono = TRUE``): the mean is 0 in every row, while the
variance is an upper bound, reached wherever the noise left to a count allows it (every row of
``ptable(D=5, V=3, js=2)``) and not reached where it cannot be: a count of 1 with D=2 cannot fall
below 0, its noise probabilities must not fall from −1 to 0 (the monotony condition), so its variance
is about 0.93 < 1. Parameters for which some count has no zero-mean noise at all (``js > D``) or only
noise above the variance V are refused, as ``ptable`` stops on them.

Keys are fixed-point numbers with ``KEY_BITS`` = 32 fractional bits, and the cell key is summed as
integers mod 2**32: exact and independent of row order, where a sum of floats mod 1 would depend on
the order of addition. 2**-32 is finer than the p-table's intervals (rounded to 8 decimals, as in
``ptable``), and a float64 holds every such key exactly. "The same value in every release" holds as
long as the key and the p-table do: a release series keeps its key and its ``table.frame()``.

Relations after perturbation (``perturb_cells``, rules in :mod:`anonymise.perturbed`). Kept: every
published value is a non-negative integer, never in 1..js, within ±D of the true count, and 0 where
the cell has no contributor; a measure bounded by another of the same cell (T04's new entrants at
most its unique persons) is published as ``min(own perturbed value, the bound's published value)``, so
the bound holds in every cell. That rule reads the bound's *perturbed* value, never a true count, so
the published value stays a function of contributors only: the cell's own and its bound's. "Same
contributors ⇒ same value" therefore holds exactly for the noise (``perturbed``) of every cell and
for the published value of every measure without a bound; a bounded measure publishes the same value
wherever its own contributors and its bound's are the same. Not kept: margins are not the sums of
their published children (each has its own cell key), and a difference of two published values is not
the count of the persons between them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, overload

import numpy as np
import polars as pl
from scipy.optimize import linprog, minimize

from anonymise.perturbed import at_most_of, keep_relations
from anonymise.pseudonym import pseudonym
from anonymise.tables import TableSpec, by_levels

#: Fractional bits of record and cell keys. Sums of up to 2**32 record keys fit a UInt64 unwrapped.
KEY_BITS = 32
_SCALE = 2**KEY_BITS
#: Decimals the cumulative probabilities are rounded to, as ``ptable`` does, so the intervals (and
#: hence every published value) do not move with the last bits of a solver run on another machine.
INTERVAL_DIGITS = 8
_TOLERANCE = 1e-7


@dataclass(frozen=True)
class NoiseDistribution:
    """The noise for one original count: values, probabilities and their cell-key intervals.

    Noise ``noise[k]`` is drawn when the cell key lies in ``[lower[k], upper[k])``; the intervals are
    cumulative in increasing noise, as in ``ptable``'s ``p_int_lb``/``p_int_ub``. A probability of 0
    (a noise value the constraints rule out) has an empty interval.
    """

    count: int
    noise: tuple[int, ...]
    probability: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Return the expected noise (0 up to rounding of the intervals)."""
        return float(np.dot(self.noise, self.probability))

    @property
    def variance(self) -> float:
        """Return the noise variance (V where the support allows it)."""
        v = np.asarray(self.noise, dtype=float)
        return float(np.dot(v * v, self.probability) - self.mean**2)


@dataclass(frozen=True)
class PerturbationTable:
    """A p-table: parameters ``D`` (maximum noise), ``V`` (variance), ``js`` (no published 1..js).

    ``rows[i]`` is the noise distribution for original count ``i``; the last row, ``symmetry``,
    holds for every larger count too (from there on no constraint depends on ``i``).
    """

    D: int
    V: float
    js: int
    rows: tuple[NoiseDistribution, ...]

    @property
    def symmetry(self) -> int:
        """Return the count from which on all counts share one noise distribution."""
        return len(self.rows) - 1

    def frame(self) -> pl.DataFrame:
        """Return the p-table in long form (``i``, ``j``, ``v``, ``p``, ``p_int_lb``, ``p_int_ub``)."""
        return pl.DataFrame(
            [
                (r.count, r.count + v, v, p, lo, up)
                for r in self.rows
                for v, p, lo, up in zip(r.noise, r.probability, r.lower, r.upper, strict=True)
            ],
            schema={
                "i": pl.Int64,
                "j": pl.Int64,
                "v": pl.Int64,
                "p": pl.Float64,
                "p_int_lb": pl.Float64,
                "p_int_ub": pl.Float64,
            },
            orient="row",
        )

    def properties(self) -> dict[str, Any]:
        """Return what the run report states about the p-table: parameters, moments per row, a hash.

        ``sha256`` identifies the table's intervals (``frame()`` as CSV): a release series keeps it, so
        that the same contributors keep the same published value. ``actual_variance`` is the variance the
        intervals really give (after rounding), as against the parameter V: for counts from ``symmetry``
        on, and the smallest and largest over the counts ≥ 1 (small counts may fall short of V).
        """
        perturbed = [r.variance for r in self.rows[1:]]
        return {
            "D": self.D,
            "V": self.V,
            "js": self.js,
            "rows": len(self.rows),
            "symmetry": self.symmetry,
            "largest_absolute_mean": max(abs(r.mean) for r in self.rows),
            "variance_by_count": {str(r.count): round(r.variance, 6) for r in self.rows},
            "actual_variance": {
                "from_symmetry_on": round(self.rows[-1].variance, 6),
                "smallest": round(min(perturbed, default=0.0), 6),
                "largest": round(max(perturbed, default=0.0), 6),
            },
            "largest_noise": max(abs(v) for r in self.rows for v in r.noise),
            "published_values_never_in": [1, self.js] if self.js else None,
            "sha256": hashlib.sha256(self.frame().write_csv().encode("utf-8")).hexdigest(),
        }

    def _lookup(self) -> tuple[pl.Series, pl.Series]:
        """Return the interval ends as one sorted integer key line (row·2**32 + ⌈upper·2**32⌉) and the noise.

        A cell key k/2**32 lies below ``upper`` exactly when k < ⌈upper·2**32⌉, so the lookup is a
        search in integers: no float rounding can move a cell key across an interval end.
        """
        ends: list[int] = []
        noise: list[int] = []
        for r in self.rows:
            ends.extend(r.count * _SCALE + int(np.ceil(u * _SCALE)) for u in r.upper)
            noise.extend(r.noise)
        return pl.Series(ends, dtype=pl.Int64), pl.Series(noise, dtype=pl.Int64)


@dataclass(frozen=True)
class PerturbationSummary:
    """What the cell key method did to a table, for the run report: cells, cells changed, parameters."""

    cells: int
    changed: int
    D: int
    V: float
    js: int


def _col(column: str | pl.Expr) -> pl.Expr:
    return pl.col(column) if isinstance(column, str) else column


def record_key_expr(pseudonym_col: str | pl.Expr, key: bytes) -> pl.Expr:
    """Return an expression giving each person's record key: a Float64 in [0, 1) from their pseudonym.

    The key is the first ``KEY_BITS`` bits of HMAC-SHA256(key, pseudonym) over 2**KEY_BITS; each
    distinct pseudonym is hashed once (``anonymise.pseudonym``). Null pseudonyms give null keys.
    """
    digest = pseudonym(pseudonym_col, key, length=KEY_BITS // 4)
    return digest.str.to_integer(base=16).cast(pl.Float64) / _SCALE


def cell_key_expr(record_key: str | pl.Expr, person: str | pl.Expr | None = None) -> pl.Expr:
    """Return an aggregation giving a group's cell key: its distinct persons' record keys summed mod 1.

    Each person counts once however many rows they have in the group: by ``person`` if given, else by
    the record key itself. Use it in ``group_by(...).agg`` beside the count of distinct persons (as
    ``cell_keys`` does), so that every cell of a cube, margins included, carries its own cell key;
    rows with a null key contribute nothing.
    """
    key = _col(record_key)
    who = key if person is None else _col(person)
    present = key.is_not_null()
    fixed = (key * _SCALE).cast(pl.UInt64).filter(present)
    once = fixed.filter(who.filter(present).is_first_distinct())
    return ((once.sum() % _SCALE).cast(pl.Float64) / _SCALE).alias("cell_key")


def _contributors_expr(record_key: str | pl.Expr, person: str | pl.Expr | None) -> pl.Expr:
    key = _col(record_key)
    who = key if person is None else _col(person)
    return who.filter(key.is_not_null()).n_unique().cast(pl.Int64).alias("count")


def cell_keys(rows: pl.DataFrame, by: Sequence[str], record_key: str, person: str | None = None) -> pl.DataFrame:
    """Return one row per cell of ``by``: the cell, its count of distinct persons and its cell key."""
    aggs = [_contributors_expr(record_key, person), cell_key_expr(record_key, person)]
    if not by:
        return rows.select(aggs)
    return rows.group_by(list(by)).agg(aggs).sort(list(by))


def table_cell_keys(rows: Mapping[str, pl.DataFrame], spec: TableSpec, key: bytes, unit: str = "unit") -> pl.DataFrame:
    """Return every cell of a table's cube with its count of distinct units and its cell key.

    ``rows`` is what the table's builder hands to :func:`anonymise.tables.cube`: per measure, a frame
    of ``unit`` (a pseudonym) and the atomic codes of each dimension. Cells are made exactly as
    ``cube`` makes them (same level combinations, same codes), so ``count`` equals the table's value;
    each unit's record key is the HMAC of its pseudonym under ``key``. Columns: the dimensions,
    ``measure``, ``count``, ``cell_key``.
    """
    dims = list(spec.dimensions)
    parts = []
    for m in spec.measures:
        base = rows[m.name].select(pl.col(unit).cast(pl.String), *dims).unique()
        cells = by_levels(
            base,
            spec,
            carry=[pl.col(unit), record_key_expr(unit, key).alias("_record_key")],
            aggs=[_contributors_expr("_record_key", unit), cell_key_expr("_record_key", unit)],
        )
        parts.append(cells.with_columns(pl.lit(m.name).alias("measure")))
    schema = {**{d: pl.String for d in dims}, "measure": pl.String, "count": pl.Int64, "cell_key": pl.Float64}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(*dims, "measure", "count", "cell_key").unique([*dims, "measure"])


def _support(i: int, D: int, js: int) -> np.ndarray:
    """Return the noise values allowed for count ``i``: |v| ≤ D, i + v ≥ 0, i + v not in 1..js."""
    return np.array([j - i for j in range(max(i - D, 0), i + D + 1) if not 1 <= j <= js], dtype=float)


def _monotone_rows(v: np.ndarray) -> np.ndarray:
    """Return A with A·p ≥ 0 meaning p rises from the lowest noise up to noise 0 (``ptable``'s ``mono``)."""
    zero = np.flatnonzero(v == 0)
    k = int(zero[0]) if zero.size else 0
    a = np.zeros((k, v.size))
    for r in range(k):
        a[r, r], a[r, r + 1] = -1.0, 1.0
    return a


def _satisfies(v: np.ndarray, p: np.ndarray, V: float, mono: np.ndarray, tolerance: float) -> bool:
    """Return whether ``p`` is a zero-mean distribution on ``v`` within the variance and monotony bounds."""
    return bool(
        np.all(p >= 0)
        and abs(p.sum() - 1) < tolerance
        and abs(v @ p) < tolerance
        and (v * v) @ p <= V + tolerance
        and (not mono.size or np.all(mono @ p >= -tolerance))
    )


def _exponential_family(v: np.ndarray, V: float) -> np.ndarray:
    """Return p ∝ exp(−a·v − b·v²), b ≥ 0, with zero mean and variance ≤ V, from the convex dual.

    It is the maximum-entropy noise whenever the monotony condition does not bind (and no noise value
    is forced to probability 0): minimise log Σ exp(−a·v − b·v²) + b·V over a and b ≥ 0, by damped
    Newton steps (the Hessian is the covariance of v and v²), b = 0 where the variance bound is slack.
    """
    features = np.vstack([v, v * v])
    target = np.array([0.0, V])

    def weights(x: np.ndarray) -> np.ndarray:
        z = -x @ features
        w = np.exp(z - z.max())
        return np.asarray(w / w.sum())

    def dual(x: np.ndarray) -> float:
        z = -x @ features
        return float(z.max() + np.log(np.exp(z - z.max()).sum()) + x @ target)

    def solve(active: list[int]) -> np.ndarray:
        x = np.zeros(2)
        for _ in range(200):
            q = weights(x)
            mean = features @ q
            gradient = (target - mean)[active]
            if np.abs(gradient).max() < 1e-13:
                break
            covariance = (features * q) @ features.T - np.outer(mean, mean)
            step = np.zeros(2)
            try:
                step[active] = np.linalg.solve(covariance[np.ix_(active, active)], gradient)
            except np.linalg.LinAlgError:  # degenerate support: leave it to the constrained solver
                break
            t, here = 1.0, dual(x)
            while dual(x - t * step) > here - 1e-4 * t * float(gradient @ step[active]) and t > 1e-12:
                t /= 2
            x = x - t * step
        return x

    x = solve([0])  # the variance bound slack: only the mean constrained
    if weights(x) @ (v * v) > V:
        x = solve([0, 1])
    return weights(x)


def _constrained_entropy(v: np.ndarray, V: float, mono: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Return the maximum-entropy p under all constraints by SLSQP from ``start`` (``ptable`` uses nloptr's)."""
    equalities = np.vstack([np.ones(v.size), v])

    def negative_entropy(p: np.ndarray) -> float:
        q = np.maximum(p, 1e-300)
        return float(np.sum(q * np.log(q)))

    def gradient(p: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(p, 1e-300)) + 1.0

    constraints: list[dict[str, object]] = [
        {"type": "eq", "fun": lambda p: equalities @ p - np.array([1.0, 0.0]), "jac": lambda p: equalities},
        {"type": "ineq", "fun": lambda p: np.array([V - (v * v) @ p]), "jac": lambda p: -(v * v)[None, :]},
    ]
    if mono.size:
        constraints.append({"type": "ineq", "fun": lambda p: mono @ p, "jac": lambda p: mono})
    result = minimize(
        negative_entropy,
        start,
        jac=gradient,
        bounds=[(0.0, 1.0)] * v.size,
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    return np.clip(result.x, 0.0, 1.0)


def _max_entropy(i: int, D: int, V: float, js: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (noise values, probabilities) of the maximum-entropy noise for count ``i``.

    Maximise −Σ p log p subject to Σ p = 1, Σ v·p = 0, Σ v²·p ≤ V, p ≥ 0 and p non-decreasing up to
    noise 0: ``ptable``'s ``optim = 1, mono = TRUE`` problem. The variance is an upper bound, as
    there: where the support left to a small count is too narrow, the variance falls short of V
    rather than the mean moving off 0. The exponential-family solution of the dual is exact where the
    monotony condition does not bind; elsewhere SLSQP (as ``ptable`` uses) finishes from it.
    """
    v = _support(i, D, js)
    n = v.size
    mono = _monotone_rows(v)
    # Feasibility first, so an impossible V gets a clear message rather than a solver failure.
    floor = linprog(
        v * v,
        A_ub=-mono if mono.size else None,
        b_ub=np.zeros(mono.shape[0]) if mono.size else None,
        A_eq=np.vstack([np.ones(n), v]),
        b_eq=[1.0, 0.0],
        bounds=[(0, 1)] * n,
        method="highs",
    )
    if floor.status != 0:
        raise ValueError(f"no zero-mean noise within ±{D} exists for a count of {i} with js={js}")
    if floor.fun > V + _TOLERANCE:
        raise ValueError(f"V={V} is too small: zero-mean noise for a count of {i} needs a variance ≥ {floor.fun:.4f}")
    family = _exponential_family(v, V)
    if _satisfies(v, family, V, mono, 1e-10):
        return v, family
    for start in (family, np.full(n, 1.0 / n)):
        p = _constrained_entropy(v, V, mono, start)
        # SLSQP often ends on "positive directional derivative" at the optimum; judge it by the constraints.
        if _satisfies(v, p, V, mono, _TOLERANCE):
            return v, p / p.sum()
    raise RuntimeError(f"the maximum-entropy noise for a count of {i} (D={D}, V={V}, js={js}) did not converge")


def _distribution(i: int, v: np.ndarray, p: np.ndarray) -> NoiseDistribution:
    upper = np.maximum.accumulate(np.clip(np.round(np.cumsum(p), INTERVAL_DIGITS), 0.0, 1.0))
    upper[-1] = 1.0
    lower = np.concatenate([[0.0], upper[:-1]])
    return NoiseDistribution(
        count=i,
        noise=tuple(int(x) for x in v),
        probability=tuple(float(x) for x in upper - lower),
        lower=tuple(float(x) for x in lower),
        upper=tuple(float(x) for x in upper),
    )


@lru_cache(maxsize=32)
def ptable(D: int, V: float, js: int = 0) -> PerturbationTable:
    """Return the maximum-entropy perturbation table for counts with parameters D, V and js.

    Rows run from count 0 (no noise) to the first count whose noise may take every value in −D..D
    (neither a negative count nor 1..js in reach): ``D`` if ``js`` is 0, else ``D + js + 1``, as
    ``ptable``'s ``ncat``; larger counts use that last row. ValueError if some
    count has no admissible noise: ``js > D`` (a count of 1 could only fall to 0) or ``V`` below the
    least variance a zero-mean noise can have for some small count.
    """
    if D < 1:
        raise ValueError(f"D={D}: the maximum noise must be at least 1")
    if V <= 0:
        raise ValueError(f"V={V}: the noise variance must be positive")
    if js < 0:
        raise ValueError(f"js={js}: the blocked range 1..js cannot be negative")
    if js > D:
        raise ValueError(f"js={js} > D={D}: a count of 1 could only move to 0, so no zero-mean noise exists for it")
    symmetry = D if js == 0 else D + js + 1
    rows = [NoiseDistribution(0, (0,), (1.0,), (0.0,), (1.0,))]
    rows += [_distribution(i, *_max_entropy(i, D, float(V), js)) for i in range(1, symmetry + 1)]
    return PerturbationTable(D=D, V=float(V), js=js, rows=tuple(rows))


def _perturb_expr(count: pl.Expr, cell_key: pl.Expr, table: PerturbationTable) -> pl.Expr:
    ends, noise = table._lookup()
    row = pl.min_horizontal(count, pl.lit(table.symmetry)).cast(pl.Int64)
    position = row * _SCALE + (cell_key * _SCALE).floor().cast(pl.Int64)
    chosen = pl.lit(noise).gather(pl.lit(ends).search_sorted(position, side="right"))
    valid = (count >= 0) & cell_key.is_not_null()
    return pl.when(valid).then(count + chosen).otherwise(None)


@overload
def perturb(counts: pl.Series, cell_keys: pl.Series, table: PerturbationTable) -> pl.Series: ...
@overload
def perturb(counts: str | pl.Expr, cell_keys: str | pl.Expr, table: PerturbationTable) -> pl.Expr: ...
def perturb(
    counts: str | pl.Expr | pl.Series, cell_keys: str | pl.Expr | pl.Series, table: PerturbationTable
) -> pl.Expr | pl.Series:
    """Return the published counts: count + the noise whose interval in the count's row holds the cell key.

    The row is ``min(count, table.symmetry)``. Columns, expressions or series (both series, then a
    series comes back, named after ``counts``). Null counts or cell keys publish null.
    """
    if isinstance(counts, pl.Series) and isinstance(cell_keys, pl.Series):
        frame = pl.DataFrame({"count": counts.cast(pl.Int64), "cell_key": cell_keys.cast(pl.Float64)})
        return frame.select(_perturb_expr(pl.col("count"), pl.col("cell_key"), table))["count"].alias(counts.name)
    if isinstance(counts, pl.Series) or isinstance(cell_keys, pl.Series):
        raise TypeError("perturb takes two series, or columns/expressions")
    return _perturb_expr(_col(counts).cast(pl.Int64), _col(cell_keys).cast(pl.Float64), table)


def perturb_cells(
    cells: pl.DataFrame, spec: TableSpec, table: PerturbationTable, count: str = "count", cell_key: str = "cell_key"
) -> pl.DataFrame:
    """Return a table's long cells with ``perturbed`` (count + noise) and ``published`` (the relations kept).

    ``cells`` has the table's dimensions, ``measure``, the original ``count`` of distinct units and the
    ``cell_key`` (as :func:`table_cell_keys` gives them; a ``period`` column, if any, is part of the
    cell). ``perturbed`` is :func:`perturb` of each cell alone, a function of its contributors;
    ``published`` is ``perturbed`` with every ``at_most`` bound of ``spec`` enforced between the measures
    of the same cell, from perturbed values only (:func:`anonymise.perturbed.keep_relations`).
    """
    cell = [c for c in ("period", *spec.dimensions) if c in cells.columns]
    out = cells.with_columns(perturb(count, cell_key, table).alias("perturbed"))
    return keep_relations(out.with_columns(pl.col("perturbed").alias("published")), at_most_of(spec), cell, "published")


def perturb_table(
    rows: pl.DataFrame,
    by: Sequence[str],
    record_key: str,
    table: PerturbationTable,
    person: str | None = None,
) -> tuple[pl.DataFrame, PerturbationSummary]:
    """Return the perturbed count of distinct persons in each cell of ``by``, and what was done.

    The frame has the cells and ``value`` (the published count) only: neither the original count nor
    the cell key leaves this function, since either would undo the noise. A margin is a table with
    fewer dimensions: its own contributors give it its own cell key, the same in every table.
    """
    cells = cell_keys(rows, by, record_key, person)
    out = cells.with_columns(perturb("count", "cell_key", table).alias("value"))
    summary = PerturbationSummary(
        cells=out.height,
        changed=int((out["value"] != out["count"]).sum()),
        D=table.D,
        V=table.V,
        js=table.js,
    )
    return out.select(*by, "value"), summary
