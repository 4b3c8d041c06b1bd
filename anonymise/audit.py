"""Disclosure audit of a published table, from the published values alone.

The audit plays the attacker: for every suppressed cell and every line through it (the cells that
differ from it in one dimension, with that dimension's total), it derives the interval the published
values confine the cell to, and reports the narrowest. A cell whose interval is narrower than the
threshold fails the audit, and a release with a failing cell is not written.

It is written apart from ``anonymise.suppression`` on purpose and reads nothing but what is
published: the table's values and statuses, and which dimensions are additive.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from anonymise.tables import TOTAL

UNBOUNDED = None


@dataclass(frozen=True)
class AuditFinding:
    """A suppressed cell the published values confine too narrowly."""

    table: str
    cell: dict[str, str]
    dimension: str
    width: int
    threshold: int


@dataclass(frozen=True)
class AuditResult:
    """The audit of one table: suppressed cells, the narrowest protection width, and failures."""

    table: str
    suppressed: int
    narrowest_width: int | None
    findings: list[AuditFinding]

    @property
    def passed(self) -> bool:
        """Return whether every suppressed cell is protected."""
        return not self.findings


def _widths(table: pl.DataFrame, dims: list[str], dim: str, additive: bool) -> pl.DataFrame:
    keys = ["period", *[d for d in dims if d != dim], "measure"]
    hidden = pl.col("value").is_null()
    part = pl.col(dim) != TOTAL
    lines = table.group_by(keys).agg(
        pl.col("value").filter(~part).first().alias("t"),
        (hidden & part).sum().alias("k"),
        pl.col("value").filter(part).sum().alias("ps"),  # nulls (hidden) are skipped
        pl.col("value").filter(part).max().alias("pm"),
    )
    cells = table.filter(hidden).join(lines, on=keys, how="left")
    t_known = pl.col("t").is_not_null()
    is_part = pl.col(dim) != TOTAL
    if additive:
        width = (
            pl.when(is_part & t_known & (pl.col("k") == 1))
            .then(0)
            .when(is_part & t_known)
            .then(pl.col("t") - pl.col("ps"))
            .when(~is_part & (pl.col("k") == 0))
            .then(0)
            .otherwise(None)
        )
    else:
        width = (
            pl.when(is_part & t_known & (pl.col("k") == 1))
            .then(pl.min_horizontal("t", "ps"))
            .when(is_part & t_known)
            .then(pl.col("t"))
            .when(~is_part & (pl.col("k") == 0))
            .then(pl.col("ps") - pl.col("pm"))
            .otherwise(None)
        )
    return cells.select("period", *dims, "measure", width.cast(pl.Int64).alias("width"), pl.lit(dim).alias("dim"))


def audit_table(table_id: str, table: pl.DataFrame, dims: list[str], additive: set[str], threshold: int) -> AuditResult:
    """Return the audit of a published long table (``value`` empty where suppressed)."""
    suppressed = int(table["value"].is_null().sum())
    if suppressed == 0:
        return AuditResult(table_id, 0, None, [])
    widths = pl.concat([_widths(table, dims, d, d in additive) for d in dims], how="vertical")
    narrowest = widths.drop_nulls("width").sort("width", "dim").unique(["period", *dims, "measure"], keep="first")
    failing = narrowest.filter(pl.col("width") < threshold).sort("period", *dims, "measure")
    findings = [
        AuditFinding(
            table=table_id,
            cell={k: str(row[k]) for k in ["period", *dims, "measure"]},
            dimension=str(row["dim"]),
            width=int(row["width"]),
            threshold=threshold,
        )
        for row in failing.iter_rows(named=True)
    ]
    least = narrowest.select(pl.col("width").min()).item() if narrowest.height else None
    return AuditResult(table_id, suppressed, least, findings)
