"""Aggregate tables for the ministry release, declared as data and built from the pseudonymised store.

A table is a :class:`TableSpec`: dimensions (each with its code hierarchy, whether it partitions the
counted units, the finest level published), measures (what is counted, and which measure never
exceeds which), the threshold and the cells that take the higher threshold for sensitive groups.
:func:`cube` turns rows of *(unit, atomic codes…)* into every cell of every hierarchy level.

Tables are long (SDMX style): one column per dimension holding codes at any level of its hierarchy,
``_T`` for the total, then ``measure`` and ``value``. Unique persons are counted by the central
pseudonym, so a child served by two Bulgarian partners counts once wherever both partners meet.

Additivity: a dimension is *additive* for a table when its codes partition the counted units (a
person's sex, age band and residence are taken once per person), so children sum to their parent. It
is not additive when one unit sits under several codes (partner, service, period): there a parent is
at least its largest child and at most the sum of its children. Suppression and the audit use the
relation the spec declares; declaring a dimension additive that is not would protect too little.

Cells absent from a long table are zero wherever the table publishes that level in that slice; a level
that is not published in a slice (``totals_only``) has no cells there and no equation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

import polars as pl

from anonymise.hierarchy import TOTAL, Hierarchy
from anonymise.period import Period

__all__ = ["TOTAL", "Dim", "GroupScan", "Measure", "TableSpec", "canonical_persons", "cube", "long", "build_t11"]


@dataclass(frozen=True)
class Dim:
    """One dimension of a table.

    ``floor`` is the finest level published (default: the hierarchy's finest); ``totals_only`` are
    levels published only where every other dimension is at its total (T04: municipalities).
    ``additive_for`` names the measures whose units the codes partition although the dimension is not
    additive for the table's other measures (T05: each event has one service, a person several).
    """

    name: str
    hierarchy: Hierarchy
    additive: bool
    floor: str | None = None
    totals_only: tuple[str, ...] = ()
    additive_for: tuple[str, ...] = ()

    def published_levels(self) -> tuple[str, ...]:
        """Return the levels this table publishes for the dimension, finest first, ``_T`` last."""
        levels = self.hierarchy.levels
        start = levels.index(self.floor) if self.floor else 0
        return levels[start:]


@dataclass(frozen=True)
class Measure:
    """A count: of which unit (``person``, ``family``, ``case``, ``event``), never above ``at_most``."""

    name: str
    unit: str
    at_most: str | None = None


@dataclass(frozen=True)
class GroupScan:
    """A scan for group disclosure (:mod:`anonymise.groups`): cells where a sensitive code of ``dim``
    holds all or none of the units ``measure`` counts in a cell of the other dimensions."""

    dim: str
    measure: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """What a table is. Everything the release states about it (hierarchies.json, the manifest) comes
    from here, and so do suppression's and the audit's equations."""

    id: str
    title_bg: str
    title_en: str
    jurisdiction: str
    dims: tuple[Dim, ...]
    measures: tuple[Measure, ...]
    threshold: int | None
    universe: str
    threshold_sensitive: int | None = None
    sensitive: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    floor: str = ""
    period_kind: str = "period"
    #: The dimension sets published in detail together; every other dimension is at its total in those
    #: cells. Empty: the full cross of every dimension.
    crossings: tuple[tuple[str, ...], ...] = ()
    #: Cells protected as primary beyond the threshold because they reveal that all or none of a
    #: published population is in a sensitive group. None: the table has no such group.
    group_scan: GroupScan | None = None

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Return the dimension names in column order."""
        return tuple(d.name for d in self.dims)

    @property
    def additive(self) -> frozenset[str]:
        """Return the names of the dimensions whose codes partition the counted units."""
        return frozenset(d.name for d in self.dims if d.additive)

    @property
    def measure_names(self) -> tuple[str, ...]:
        """Return the measure names."""
        return tuple(m.name for m in self.measures)

    def dim(self, name: str) -> Dim:
        """Return one dimension by name."""
        return next(d for d in self.dims if d.name == name)

    def hierarchies_json(self) -> dict[str, dict[str, object]]:
        """Return this table's entry of ``hierarchies.json``: per dimension, additivity and parents.

        Only the codes the table can publish are listed (levels from the floor up).
        """
        out: dict[str, dict[str, object]] = {}
        for d in self.dims:
            keep = set(d.published_levels())
            # a top-level code finer than the floor (``_U``) is published at the levels above it
            parent = {c: p for c, p in d.hierarchy.as_json().items() if d.hierarchy.level[c] in keep or p == TOTAL}
            out[d.name] = {"additive": d.additive, "parent": parent}
            if d.additive_for and not d.additive:
                out[d.name]["additive_for"] = sorted(d.additive_for)
        return out

    def cell_threshold(self) -> pl.Expr:
        """Return an expression giving each cell's threshold (higher for sensitive groups)."""
        base = pl.lit(self.threshold or 0)
        if not self.sensitive or self.threshold_sensitive is None:
            return base
        hit = pl.lit(False)
        for name, codes in self.sensitive.items():
            hit = hit | pl.col(name).is_in(list(codes))
        return pl.when(hit).then(pl.lit(self.threshold_sensitive)).otherwise(base)


def canonical_persons(persons: pl.DataFrame, partner_order: list[str]) -> pl.DataFrame:
    """Return one row of attributes per central pseudonym, from the first partner in registry order."""
    rank = {p: i for i, p in enumerate(partner_order)}
    return (
        persons.with_columns(pl.col("partner_id").replace_strict(rank, default=len(rank)).alias("_rank"))
        .sort("_rank", "person_pid")
        .unique("person_cid", keep="first", maintain_order=True)
        .drop("_rank")
    )


def _level_column(d: Dim, level: str) -> pl.Expr:
    """Return the code of each row's ancestor at ``level`` (null where it has none there)."""
    if level == TOTAL:
        return pl.lit(TOTAL).alias(d.name)
    h = d.hierarchy
    rank = {lv: i for i, lv in enumerate(h.levels)}
    mapping = {}
    for code in h.parent:
        chain = h.ancestors(code)[:-1]
        at = [a for a in chain if h.level[a] == level]
        if at:
            mapping[code] = at[0]
        elif rank[h.level[chain[-1]]] < rank[level]:
            # a top-level code finer than this level (``_U``, 30–54 among the age groups) is its own
            # cell at every level above it, so that the children of ``_T`` always add up
            mapping[code] = chain[-1]
    return pl.col(d.name).replace_strict(mapping, default=None, return_dtype=pl.String).alias(d.name)


def level_combinations(spec: TableSpec) -> list[tuple[str, ...]]:
    """Return every combination of levels the table publishes (one level per dimension)."""
    combos = []
    for combo in product(*(d.published_levels() for d in spec.dims)):
        detail = [i for i, (d, lv) in enumerate(zip(spec.dims, combo, strict=True)) if lv in d.totals_only]
        if detail and any(lv != TOTAL for i, lv in enumerate(combo) if i not in detail):
            continue
        crossed = {d.name for d, lv in zip(spec.dims, combo, strict=True) if lv != TOTAL}
        if spec.crossings and not any(crossed <= set(c) for c in spec.crossings):
            continue
        combos.append(combo)
    return combos


def cube(rows: Mapping[str, pl.DataFrame], spec: TableSpec, unit: str = "unit") -> pl.DataFrame:
    """Return the wide cube: every published cell and, per measure, the number of distinct units.

    ``rows`` maps each measure to a frame with ``unit`` and one column per dimension holding atomic
    codes (the finest level of the hierarchy; a code of a coarser level is allowed where that is all
    that is known, e.g. ``_U``). Combinations with no unit are absent (they are zero).
    """
    dims = list(spec.dimensions)
    frames = []
    for m in spec.measures:
        base = rows[m.name].select(unit, *dims).unique()
        cells = by_levels(
            base,
            spec,
            carry=[pl.col(unit).rank("dense").cast(pl.UInt32).alias(unit)],
            aggs=[pl.col(unit).n_unique().cast(pl.Int64).alias("value")],
        )
        frames.append(cells.with_columns(pl.lit(m.name).alias("measure")))
    out = pl.concat(frames) if frames else pl.DataFrame()
    return out.select(*dims, "measure", "value").unique([*dims, "measure"])


def by_levels(base: pl.DataFrame, spec: TableSpec, carry: Sequence[pl.Expr], aggs: Sequence[pl.Expr]) -> pl.DataFrame:
    """Return ``aggs`` over the rows of ``base`` in every cell of every published combination of levels.

    ``base`` holds atomic codes per dimension; ``carry`` are the per-row columns the aggregations read
    (the unit, a record key). Every dimension's code at every published level is computed once; then
    there is one group-by per combination of levels.
    """
    dims = list(spec.dimensions)
    wide = base.select(
        *carry,
        *[
            _level_column(d, lv).alias(f"{d.name}\x1f{lv}")
            for d in spec.dims
            for lv in d.published_levels()
            if lv != TOTAL
        ],
    )
    carried = [c for c in wide.columns if "\x1f" not in c]
    parts = []
    for combo in level_combinations(spec):
        cols = [
            pl.lit(TOTAL).alias(d.name) if lv == TOTAL else pl.col(f"{d.name}\x1f{lv}").alias(d.name)
            for d, lv in zip(spec.dims, combo, strict=True)
        ]
        parts.append(wide.lazy().select(*carried, *cols).drop_nulls(dims).group_by(dims).agg(*aggs))
    return pl.concat(pl.collect_all(parts))


def long(cells: pl.DataFrame, spec: TableSpec, period: Period) -> pl.DataFrame:
    """Return a cube in release form: period, dimensions, measure, value (sorted, deterministic).

    A cell present for one measure is given every measure (zeros made explicit), so that each row of
    the table is complete.
    """
    dims = list(spec.dimensions)
    keys = cells.select(dims).unique()
    grid = keys.join(pl.DataFrame({"measure": list(spec.measure_names)}), how="cross")
    out = grid.join(cells, on=[*dims, "measure"], how="left").with_columns(pl.col("value").fill_null(0))
    return (
        out.with_columns(pl.lit(period.label).alias("period"), pl.col("value").cast(pl.Int64))
        .select("period", *dims, "measure", "value")
        .sort("period", *dims, "measure")
    )


def build_t11(quality: list[dict[str, object]], period: Period) -> pl.DataFrame:
    """Return T11 (data quality and coverage) from per-entity figures of the contract checks.

    ``quality`` holds one dict per partner and entity: ``partner``, ``entity``, ``received``,
    ``accepted``, ``quarantined``, ``reasons`` (reason → rows), ``completeness`` (field → share) and
    ``declined`` (field → share). Counts carry no personal data, so T11 needs no suppression.
    """
    rows: list[tuple[str, str, str, str, str]] = []
    for q in quality:
        p, e = str(q["partner"]), str(q["entity"])
        for measure in ("received", "accepted", "quarantined"):
            rows.append((p, e, TOTAL, measure, str(q[measure])))
        for reason, n in sorted(dict(q["reasons"]).items()):  # type: ignore[call-overload]
            rows.append((p, e, reason, "quarantined", str(n)))
        for fld, share in sorted(dict(q["completeness"]).items()):  # type: ignore[call-overload]
            rows.append((p, e, fld, "completeness", f"{share:.4f}"))
        for fld, share in sorted(dict(q["declined"]).items()):  # type: ignore[call-overload]
            rows.append((p, e, fld, "declined_rate", f"{share:.4f}"))
    frame = pl.DataFrame(rows, schema=["partner", "entity", "check", "measure", "value"], orient="row")
    return (
        frame.with_columns(pl.lit(period.label).alias("period"), pl.lit("F").alias("conf_status"))
        .select("period", "partner", "entity", "check", "measure", "value", "conf_status")
        .sort("period", "partner", "entity", "check", "measure")
    )
