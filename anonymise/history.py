"""Release history: no difference between this release and an earlier one may reveal a small group.

A recipient keeps every release. Two releases of the same series whose periods overlap — a revision
of the same period, a year after its half-years, the same period with a partner added, removed or a
subject erased — publish the same cell twice; the difference of the two values is the number of
people who are in one and not the other. When that difference is between 1 and the cell's
threshold − 1, it is a small cell published by subtraction.

Suppression therefore treats such cells as primary (:func:`small_differences` on the unprotected
table), and after protection :func:`small_differences` on the published tables must find nothing;
if it does, the release is blocked with the cells named (never their values).

>>> new = {"T": pl.DataFrame({"period": ["2025"], "sex": ["_T"], "measure": ["n"], "value": [98.0]})}
>>> old = {"T": pl.DataFrame({"period": ["2025"], "sex": ["_T"], "measure": ["n"], "value": [100.0]})}
>>> required = {"T": pl.lit(5)}
>>> small_differences(new, old, {"T": ["sex"]}, required).rows()
[('T', '_T', 'n', 2)]
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl


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
