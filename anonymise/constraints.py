"""What an attacker knows about a release: every cell, and every linear relation between cells.

The relations come from the release's own description (``hierarchies.json`` and the manifest), never
from the data behind it:

- an **additive** dimension (its codes partition the counted units): a parent cell equals the sum of
  its children (``parent − Σ children = 0``);
- a **non-additive** dimension (one unit under several codes: partner, service, period): a parent is
  at least each child and at most the sum of its children (``child − parent ≤ 0``,
  ``parent − Σ children ≤ 0``) — except for the measures the release names as additive over it
  (``additive_for``: each of T05's events has one service), whose parents are sums;
- a measure that never exceeds another in the same cell (new entrants ≤ unique persons);
- **linked tables**: cells of two tables counting the same universe, where the dimensions they share
  agree and every other dimension is at its total, are the same number (``a − b = 0``);
- **earlier releases** (when given): a value an earlier release of the series published for a
  sub-period (super-period) of a cell that only grows with the period bounds the cell from below
  (above): ``−x ≤ −b`` or ``x ≤ b`` (:func:`anonymise.history.period_bounds`). These are the only
  relations with a constant (the row's ``rhs``).

A relation exists only where a parent cell has at least one child cell in its slice: cells absent from
a level that the slice publishes are zero, and a level the slice does not publish (T04's
municipalities outside the totals) gives no relation. Every cell is also non-negative.

>>> t = pl.DataFrame({"period": ["p"] * 3, "sex": ["f", "m", "_T"], "measure": ["n"] * 3, "value": [3, 4, 7]})
>>> meta = {"X": TableMeta(["sex"], {"sex": DimMeta(True, {"f": "_T", "m": "_T"})}, {}, "u")}
>>> s = system({"X": t}, meta)
>>> s.cells.height, s.rows.height, sorted(s.terms["coef"].to_list())
(3, 1, [-1.0, -1.0, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

TOTAL = "_T"
SEP = "\x1f"


@dataclass(frozen=True)
class DimMeta:
    """One dimension of one table as the release describes it.

    ``additive_for``: measures whose units the codes partition although ``additive`` is false for the
    table's other measures (T05's events by service, where persons are not).
    """

    additive: bool
    parent: Mapping[str, str]
    additive_for: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, entry: Mapping[str, object]) -> DimMeta:
        """Return the dimension as ``hierarchies.json`` states it (``additive``, ``parent``, ``additive_for``)."""
        return cls(
            bool(entry["additive"]),
            dict(entry["parent"]),  # type: ignore[call-overload]
            frozenset(entry.get("additive_for", ())),  # type: ignore[call-overload]
        )

    def additive_in(self, measure: str) -> bool:
        """Return whether the codes partition the units ``measure`` counts."""
        return self.additive or measure in self.additive_for


@dataclass(frozen=True)
class TableMeta:
    """One table as the release describes it: dimensions, measures that never exceed another, universe.

    ``thresholds`` maps a cell's protection requirement: ``default`` and, optionally, per dimension a
    map of codes that take a higher requirement (sensitive groups).
    """

    dims: list[str]
    hierarchies: Mapping[str, DimMeta]
    at_most: Mapping[str, str]
    universe: str
    threshold: int = 0
    threshold_sensitive: int | None = None
    sensitive: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class System:
    """Cells and relations of a release.

    ``cells``: ``cell`` (int id), ``table``, ``label`` (readable key), ``value`` (Float64, null where
    suppressed), ``required`` (the protection width the cell needs when suppressed).
    ``rows``: ``row`` (int id), ``op`` (``eq`` or ``le``), ``kind`` (which relation), ``rhs`` (the
    constant, 0 but for an earlier release's bound).
    ``terms``: ``row``, ``cell``, ``coef`` — the sparse matrix: Σ coef · x[cell] (op) rhs.
    """

    cells: pl.DataFrame
    rows: pl.DataFrame
    terms: pl.DataFrame


def required_expr(meta: TableMeta) -> pl.Expr:
    """Return each cell's protection requirement: the table's threshold, higher for sensitive groups."""
    required = pl.lit(meta.threshold)
    if meta.sensitive and meta.threshold_sensitive is not None:
        hit = pl.lit(False)
        for d, codes in meta.sensitive.items():
            hit = hit | pl.col(d).is_in(list(codes))
        required = pl.when(hit).then(pl.lit(meta.threshold_sensitive)).otherwise(required)
    return required


def _cell_frame(table_id: str, frame: pl.DataFrame, meta: TableMeta) -> pl.DataFrame:
    dims = meta.dims
    label = pl.concat_str(
        [pl.lit(f"{table_id}:"), pl.col("period"), *[pl.lit(f"|{d}=") + pl.col(d) for d in dims], pl.lit("|")]
        + [pl.col("measure")]
    )
    required = required_expr(meta)
    return frame.select(
        "period",
        *dims,
        "measure",
        pl.col("value").cast(pl.Float64),
        label.alias("label"),
        required.cast(pl.Int64).alias("required"),
    )


def system(
    tables: Mapping[str, pl.DataFrame],
    meta: Mapping[str, TableMeta],
    bounds: Mapping[str, pl.DataFrame] | None = None,
) -> System:
    """Return the cells and relations of the given long tables (``value`` null where suppressed).

    ``bounds``: per table, cells (``period``, dimensions, ``measure``) with a ``bound`` and its
    ``side`` (``lower``/``upper``) that earlier releases of the series state
    (:func:`anonymise.history.period_bounds`); each becomes a relation of the cell alone.
    """
    framed: dict[str, pl.DataFrame] = {}
    offset = 0
    for tid in sorted(tables):
        f = _cell_frame(tid, tables[tid], meta[tid])
        framed[tid] = f.with_row_index("cell", offset=offset).with_columns(pl.col("cell").cast(pl.Int64))
        offset += f.height
    rows: list[pl.DataFrame] = []  # each: pair/group frames turned into terms below
    terms: list[pl.DataFrame] = []
    next_row = 0

    def add(kind: str, op: str, groups: pl.DataFrame) -> None:
        """``groups``: one row per relation with ``cells`` (list), ``coefs`` (list) and optionally ``rhs``."""
        nonlocal next_row
        if groups.height == 0:
            return
        g = groups.with_row_index("row", offset=next_row).with_columns(pl.col("row").cast(pl.Int64))
        next_row += g.height
        rhs = pl.col("rhs").cast(pl.Float64) if "rhs" in g.columns else pl.lit(0.0)
        rows.append(g.select("row", pl.lit(op).alias("op"), pl.lit(kind).alias("kind"), rhs.alias("rhs")))
        terms.append(
            g.select("row", "cells", "coefs").explode("cells", "coefs").rename({"cells": "cell", "coefs": "coef"})
        )

    for tid, f in framed.items():
        m = meta[tid]
        for d in m.dims:
            others = ["period", *[x for x in m.dims if x != d], "measure"]
            parent_map = dict(m.hierarchies[d].parent)
            child = f.filter(pl.col(d) != TOTAL).with_columns(
                pl.col(d).replace_strict(parent_map, default=None, return_dtype=pl.String).alias("_p")
            )
            pairs = child.join(
                f.select(*others, pl.col(d).alias("_p"), pl.col("cell").alias("parent")),
                on=[*others, "_p"],
                how="inner",
            ).select("parent", pl.col("cell").alias("child"), "measure")
            if pairs.height == 0:
                continue
            dim = m.hierarchies[d]
            summed = pl.lit(dim.additive) | pl.col("measure").is_in(sorted(dim.additive_for))
            for additive, some in ((True, pairs.filter(summed)), (False, pairs.filter(~summed))):
                if some.height == 0:
                    continue
                grouped = some.group_by("parent").agg(pl.col("child").sort()).sort("parent")
                total_row = grouped.select(
                    pl.concat_list(pl.col("parent"), pl.col("child")).alias("cells"),
                    pl.concat_list(
                        pl.lit(1.0), pl.col("child").list.eval(pl.element().cast(pl.Float64) * 0.0 - 1.0)
                    ).alias("coefs"),
                )
                if additive:
                    add(f"{tid}:{d}:sum", "eq", total_row)
                    continue
                add(f"{tid}:{d}:at_most_sum", "le", total_row)
                per_child = some.sort("parent", "child").select(
                    pl.concat_list("child", "parent").alias("cells"), pl.lit([1.0, -1.0]).alias("coefs")
                )
                add(f"{tid}:{d}:at_least_child", "le", per_child)
        keys = ["period", *m.dims]
        for small, big in m.at_most.items():
            pairs = f.filter(pl.col("measure") == small).join(
                f.filter(pl.col("measure") == big).select(*keys, pl.col("cell").alias("big")), on=keys, how="inner"
            )
            add(
                f"{tid}:{small}<={big}",
                "le",
                pairs.select(pl.concat_list("cell", "big").alias("cells"), pl.lit([1.0, -1.0]).alias("coefs")),
            )
    for tid, known in (bounds or {}).items():
        if tid not in framed or known.height == 0:
            continue
        keys = ["period", *meta[tid].dims, "measure"]
        hit = framed[tid].select(*keys, "cell").join(known.select(*keys, "bound", "side"), on=keys, how="inner")
        for side, sign in (("lower", -1.0), ("upper", 1.0)):
            some = hit.filter(pl.col("side") == side).sort("cell", "bound")
            add(
                f"{tid}:history_{side}",
                "le",
                some.select(
                    pl.concat_list("cell").alias("cells"),
                    pl.lit([sign]).alias("coefs"),
                    (pl.col("bound") * sign).alias("rhs"),
                ),
            )
    ids = sorted(framed)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            ma, mb = meta[a], meta[b]
            if ma.universe != mb.universe:
                continue
            common = [d for d in ma.dims if d in mb.dims]
            fa = framed[a].filter(pl.all_horizontal([pl.col(d) == TOTAL for d in ma.dims if d not in common] or [True]))
            fb = framed[b].filter(pl.all_horizontal([pl.col(d) == TOTAL for d in mb.dims if d not in common] or [True]))
            pairs = fa.select("period", *common, "measure", "cell").join(
                fb.select("period", *common, "measure", pl.col("cell").alias("other")),
                on=["period", *common, "measure"],
                how="inner",
            )
            add(
                f"{a}={b}",
                "eq",
                pairs.select(pl.concat_list("cell", "other").alias("cells"), pl.lit([1.0, -1.0]).alias("coefs")),
            )
    cells = (
        pl.concat([f.select("cell", pl.lit(t).alias("table"), "label", "value", "required") for t, f in framed.items()])
        if framed
        else pl.DataFrame(
            schema={"cell": pl.Int64, "table": pl.String, "label": pl.String, "value": pl.Float64, "required": pl.Int64}
        )
    )
    rows_f = (
        pl.concat(rows)
        if rows
        else pl.DataFrame(schema={"row": pl.Int64, "op": pl.String, "kind": pl.String, "rhs": pl.Float64})
    )
    terms_f = (
        pl.concat(terms).with_columns(pl.col("cell").cast(pl.Int64), pl.col("coef").cast(pl.Float64))
        if terms
        else pl.DataFrame(schema={"row": pl.Int64, "cell": pl.Int64, "coef": pl.Float64})
    )
    return System(cells, rows_f, terms_f)


def cell_dict(label: str) -> dict[str, str]:
    """Return the coordinates of a cell from its label (``T04:2025|geo=BG32|…|unique_persons``)."""
    table, rest = label.split(":", 1)
    parts = rest.split("|")
    out = {"table": table, "period": parts[0]}
    for p in parts[1:-1]:
        k, v = p.split("=", 1)
        out[k] = v
    out["measure"] = parts[-1]
    return out
