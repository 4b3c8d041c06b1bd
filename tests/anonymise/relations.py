"""The relations a published table states, checked on its values (shared by the table tests)."""

from __future__ import annotations

import polars as pl

from anonymise.tables import TOTAL, TableSpec


def relation_violations(table: pl.DataFrame, spec: TableSpec) -> list[str]:
    """Return every parent cell that breaks its dimension's declared relation with its children, per measure:
    the sum where the dimension partitions the measure's units, else at least the largest child and at most
    the sum."""
    hier = spec.hierarchies_json()
    bad = []
    for d in spec.dimensions:
        parent = dict(hier[d]["parent"])  # type: ignore[call-overload]
        summed = {m for m in spec.measure_names if spec.dim(d).additive or m in spec.dim(d).additive_for}
        others = [x for x in spec.dimensions if x != d] + ["period", "measure"]
        children = (
            table.filter(pl.col(d) != TOTAL)
            .with_columns(pl.col(d).replace_strict(parent, return_dtype=pl.String).alias("_p"))
            .group_by(*others, "_p")
            .agg(pl.col("value").sum().alias("sum"), pl.col("value").max().alias("max"))
        )
        joined = children.join(table.rename({d: "_p", "value": "parent"}), on=[*others, "_p"], how="inner")
        additive = pl.col("measure").is_in(sorted(summed))
        wrong = joined.filter(
            pl.when(additive)
            .then(pl.col("parent") != pl.col("sum"))
            .otherwise((pl.col("parent") < pl.col("max")) | (pl.col("parent") > pl.col("sum")))
        )
        bad += [f"{spec.id}:{d}:{r}" for r in wrong.iter_rows(named=True)]
    return bad
