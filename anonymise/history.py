"""Release history: no difference between this release and an earlier one may reveal a small group.

A recipient keeps every release. Two releases of the same series whose periods overlap — a revision
of the same period, a year after its half-years, the same period with a partner added, removed or a
subject erased — publish the same cell twice; the difference of the two values is the number of
people who are in one and not the other. When that difference is between 1 and the cell's
threshold − 1, it is a small cell published by subtraction.

Suppression therefore treats such cells as primary (:func:`small_differences` on the unprotected
table), and after protection :func:`small_differences` on the published tables must find nothing;
if it does, the release is blocked with the cells named (never their values).

An earlier release also tells what this one suppresses. For a count that only grows with the period
(:attr:`~anonymise.tables.Measure.grows_with_period`: persons served, cases opened, events), a value
published for a sub-period is a lower bound on this release's cell (persons served in 2025 ≥ persons
served in 2025-H1), and one for a super-period an upper bound: :func:`period_bounds`. Only cells where
every dimension measured at a date (:attr:`~anonymise.tables.Dim.varies_with_period`: age band,
residence…) is at its total ``_T`` are comparable. Suppression adds the bounds to the attacker's
programs (:func:`anonymise.constraints.system`).

>>> new = {"T": pl.DataFrame({"period": ["2025"], "sex": ["_T"], "measure": ["n"], "value": [98.0]})}
>>> old = {"T": pl.DataFrame({"period": ["2025"], "sex": ["_T"], "measure": ["n"], "value": [100.0]})}
>>> required = {"T": pl.lit(5)}
>>> small_differences(new, old, {"T": ["sex"]}, required).rows()
[('T', '_T', 'n', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from anonymise.period import Period
from anonymise.tables import TOTAL, TableSpec

LOWER, UPPER = "lower", "upper"


def small_differences(
    current: Mapping[str, pl.DataFrame],
    earlier: Mapping[str, pl.DataFrame],
    dims: Mapping[str, list[str]],
    required: Mapping[str, pl.Expr],
) -> pl.DataFrame:
    """Return the cells published in both whose values differ by 1..threshold−1.

    ``current`` and ``earlier`` are long tables (``value`` null where suppressed); cells are matched
    by dimensions and measure (not period: overlapping periods share people). ``required`` gives each
    table's per-cell threshold as an expression over the current table. Columns: ``table``, the
    dimensions (as a struct-free wide row per table, concatenated diagonally), ``measure``,
    ``difference``.
    """
    parts = []
    for tid, now in current.items():
        before = earlier.get(tid)
        if before is None or before.height == 0:
            continue
        keys = [*dims[tid], "measure"]
        joined = (
            now.with_columns(required[tid].alias("_need"))
            .select(*keys, pl.col("value").cast(pl.Float64).alias("_now"), "_need")
            .join(
                before.select(*keys, pl.col("value").cast(pl.Float64).alias("_before")),
                on=keys,
                how="inner",
            )
            .with_columns((pl.col("_now") - pl.col("_before")).abs().alias("difference"))
        )
        small = joined.filter(
            pl.col("difference").is_not_null() & (pl.col("difference") >= 1) & (pl.col("difference") < pl.col("_need"))
        )
        if small.height:
            parts.append(small.select(pl.lit(tid).alias("table"), *keys, pl.col("difference").cast(pl.Int64)))
    if not parts:
        return pl.DataFrame(schema={"table": pl.String, "measure": pl.String, "difference": pl.Int64})
    return pl.concat(parts, how="diagonal").sort("table", "measure")


def bound_side(this: Period, then: Period) -> str | None:
    """Return which bound a count of period ``then`` gives on the same count of ``this``: ``lower``
    when ``then`` lies inside ``this`` (a sub-period), ``upper`` when it contains it, else None (the
    same period revised, or periods that only overlap: the pairwise check covers those).

    >>> year, h1, h2, q3 = (Period.parse(p) for p in ("2025", "2025-H1", "2025-H2", "2025-Q3"))
    >>> bound_side(year, h1), bound_side(q3, h2), bound_side(h1, q3)
    ('lower', 'upper', None)
    >>> bound_side(Period.parse("2025"), Period.parse("2025")) is None
    True
    """
    if (this.start, this.end) == (then.start, then.end):
        return None
    if this.start <= then.start and then.end <= this.end:
        return LOWER
    if then.start <= this.start and this.end <= then.end:
        return UPPER
    return None


def period_bounds(
    current: Mapping[str, pl.DataFrame],
    earlier: Mapping[str, pl.DataFrame],
    specs: Mapping[str, TableSpec],
    this: Period,
    then: Period,
) -> pl.DataFrame:
    """Return the bounds an earlier release of period ``then`` puts on this release's cells.

    Per table of ``current`` (long, one row per cell): every cell of a measure that grows with the
    period, with every dimension that varies with the period at ``_T``, which ``earlier`` published
    (value not null) for the same dimensions and measure. Columns: ``table``, ``period`` (this
    release's), the dimensions (concatenated diagonally), ``measure``, ``bound`` (the earlier value),
    ``side`` (``lower``/``upper``, :func:`bound_side`) and ``holds``: whether ``current``'s value
    satisfies it (null where ``current`` has none).

    An attacker who knows both releases would assume every such bound. The true values need not keep
    it — an erasure removed persons from this release, late data added some to the earlier one — and
    an attacker assuming a bound the truth violates narrows towards a wrong value; suppression, which
    knows the truth, adds only the bounds that hold (:func:`held`), so that the true table stays a
    feasible point of the programs.
    """
    side = bound_side(this, then)
    parts = []
    for tid, now in current.items():
        before = earlier.get(tid)
        spec = specs.get(tid)
        if side is None or before is None or before.height == 0 or spec is None:
            continue
        growing = [m.name for m in spec.measures if m.grows_with_period]
        fixed = [d.name for d in spec.dims if d.varies_with_period]
        if not growing:
            continue
        keys = [*spec.dimensions, "measure"]
        comparable = pl.all_horizontal([pl.col("measure").is_in(growing), *[pl.col(d) == TOTAL for d in fixed]])
        joined = (
            now.filter(comparable)
            .select("period", *keys, pl.col("value").cast(pl.Float64).alias("_now"))
            .join(
                before.filter(comparable & pl.col("value").is_not_null()).select(
                    *keys, pl.col("value").cast(pl.Float64).alias("bound")
                ),
                on=keys,
                how="inner",
            )
        )
        if joined.height == 0:
            continue
        holds = pl.col("_now") >= pl.col("bound") if side == LOWER else pl.col("_now") <= pl.col("bound")
        parts.append(
            joined.select(
                pl.lit(tid).alias("table"), "period", *keys, "bound", pl.lit(side).alias("side"), holds.alias("holds")
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "table": pl.String,
                "period": pl.String,
                "measure": pl.String,
                "bound": pl.Float64,
                "side": pl.String,
                "holds": pl.Boolean,
            }
        )
    return pl.concat(parts, how="diagonal").sort("table", "measure")


def held(bounds: pl.DataFrame) -> pl.DataFrame:
    """Return the bounds the true values satisfy (those suppression adds to the attacker's programs)."""
    return bounds.filter(pl.col("holds").fill_null(False))


def by_table(bounds: pl.DataFrame, specs: Mapping[str, TableSpec]) -> dict[str, pl.DataFrame]:
    """Return the bounds per table, with that table's dimensions only (for :func:`anonymise.constraints.system`)."""
    out = {}
    for tid in bounds["table"].unique().sort():
        cols = ["period", *specs[tid].dimensions, "measure", "bound", "side"]
        out[tid] = bounds.filter(pl.col("table") == tid).select(cols)
    return out
