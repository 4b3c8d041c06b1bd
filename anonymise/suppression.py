"""Threshold suppression of a long count table: primary cells, then secondary cells until every line
of the table protects its suppressed cells.

A *line* is a set of cells that differ in one dimension only, with that dimension's total (``_T``)
among them. From a line an attacker learns, using published values alone:

- additive dimension (the parts partition the total): the suppressed parts sum to
  total − published parts; one suppressed part alone is recomputed exactly; several are each only
  bounded by that remainder, which must reach the threshold; a suppressed total with every part
  published is recomputed exactly;
- non-additive dimension (one person in several parts: partner, service): a suppressed part lies in
  [total − published parts, total] if it is the only one, so that width must reach the threshold; a
  suppressed total with every part published lies in [largest part, sum of parts].

Secondary suppression repeats: while a line fails, suppress its smallest published non-zero part
(else its total). ``anonymise.audit`` checks the result independently from the published values. Interactions
between lines (the attacker's linear programs over the whole table) are the disclosure-control work
of issue 5; this is the line-wise guarantee the report states.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from anonymise.tables import TOTAL, TableSpec

FREE, PRIMARY, SECONDARY = "F", "C", "D"


@dataclass(frozen=True)
class SuppressionSummary:
    """What suppression did to a table: cells, primary and secondary suppressions, rounds."""

    cells: int
    primary: int
    secondary: int
    rounds: int
    threshold: int


def line_violations(
    table: pl.DataFrame, dims: tuple[str, ...], dim: str, additive: bool, threshold: int
) -> pl.DataFrame:
    """Return the lines along ``dim`` that do not protect their suppressed cells (one row per line)."""
    keys = ["period", *[d for d in dims if d != dim], "measure"]
    part = pl.col(dim) != TOTAL
    published = pl.col("conf_status") == FREE
    stats = (
        table.group_by(keys)
        .agg(
            pl.col("value").filter(~part).first().alias("total"),
            (published & ~part).any().alias("total_published"),
            (~published & part).sum().alias("k"),
            pl.col("value").filter(published & part).sum().alias("published_sum"),
            pl.col("value").filter(part).sum().alias("parts_sum"),
            pl.col("value").filter(part).max().alias("parts_max"),
            part.sum().alias("parts"),
        )
        .filter(pl.col("parts") > 0)
    )
    remainder = pl.col("total") - pl.col("published_sum")
    if additive:
        bad = (
            pl.when(pl.col("total_published"))
            .then((pl.col("k") == 1) | ((pl.col("k") >= 2) & (remainder < threshold)))
            .otherwise(pl.col("k") == 0)
        )
    else:
        bad = (
            pl.when(pl.col("total_published"))
            .then(
                ((pl.col("k") == 1) & (pl.min_horizontal("total", "published_sum") < threshold))
                | ((pl.col("k") >= 2) & (pl.col("total") < threshold))
            )
            .otherwise((pl.col("k") == 0) & ((pl.col("parts_sum") - pl.col("parts_max")) < threshold))
        )
    return stats.filter(bad).select(keys)


def suppress(
    table: pl.DataFrame, spec: TableSpec, threshold: int | None = None
) -> tuple[pl.DataFrame, SuppressionSummary]:
    """Return the table with ``conf_status`` (F, C, D) and ``value`` emptied where not free."""
    threshold = threshold or spec.threshold or 1
    t = table.with_columns(
        pl.when((pl.col("value") >= 1) & (pl.col("value") < threshold))
        .then(pl.lit(PRIMARY))
        .otherwise(pl.lit(FREE))
        .alias("conf_status")
    ).with_row_index("_cell")
    rounds = 0
    while True:
        rounds += 1
        changed = False
        for dim in spec.dimensions:
            bad = line_violations(t, spec.dimensions, dim, dim in spec.additive, threshold)
            if bad.height == 0:
                continue
            keys = bad.columns
            candidates = (
                t.join(bad, on=keys, how="inner")
                # a hidden zero protects nothing: a published total of 0 gives it away
                .filter((pl.col("conf_status") == FREE) & (pl.col("value") > 0))
                .with_columns((pl.col(dim) == TOTAL).alias("_is_total"))
                .sort([*keys, "_is_total", "value", "_cell"])
                .unique(keys, keep="first")
            )
            if candidates.height:
                ids = candidates["_cell"].implode()
                t = t.with_columns(
                    pl.when(pl.col("_cell").is_in(ids))
                    .then(pl.lit(SECONDARY))
                    .otherwise(pl.col("conf_status"))
                    .alias("conf_status")
                )
                changed = True
        if not changed:
            break
    summary = SuppressionSummary(
        cells=t.height,
        primary=int((t["conf_status"] == PRIMARY).sum()),
        secondary=int((t["conf_status"] == SECONDARY).sum()),
        rounds=rounds,
        threshold=threshold,
    )
    published = t.drop("_cell").with_columns(
        pl.when(pl.col("conf_status") == FREE).then(pl.col("value")).otherwise(None).alias("value")
    )
    return published, summary
