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

Statistics (:class:`Statistic`): a table may also publish non-count measures — T05's mean events per
user, T07's median duration of closed cases — computed per cell at every hierarchy level like the
counts (:func:`statistic_cells`), but never summed, never suppressed themselves and never part of the
attacker's programs. Whether each one is shown is decided after suppression, from its base counts
(:func:`anonymise.suppression.with_statistics`). They are extra rows of the long table (``measure`` is
the statistic's name), so a table with statistics has its ``value`` written as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product
from typing import Any, Literal

import polars as pl

from anonymise.hierarchy import TOTAL, Hierarchy
from anonymise.period import Period

__all__ = [
    "TOTAL",
    "Dim",
    "GroupScan",
    "Measure",
    "Statistic",
    "TableSpec",
    "build_t11",
    "canonical_persons",
    "cube",
    "long",
    "statistic_cells",
]


@dataclass(frozen=True)
class Dim:
    """One dimension of a table.

    ``floor`` is the finest level published (default: the hierarchy's finest); ``totals_only`` are
    levels published only where every other dimension is at its total (T04: municipalities).
    ``additive_for`` names the measures whose units the codes partition although the dimension is not
    additive for the table's other measures (T05: each event has one service, a person several).
    ``varies_with_period``: the code is measured at a date (age band at the period end, residence,
    a family's type, an outcome so far) or relative to the period (entry in the period or before), so
    a unit can sit under different codes in two periods; cells of two periods are comparable only at
    its total (:func:`anonymise.history.period_bounds`).
    """

    name: str
    hierarchy: Hierarchy
    additive: bool
    floor: str | None = None
    totals_only: tuple[str, ...] = ()
    additive_for: tuple[str, ...] = ()
    varies_with_period: bool = False

    def published_levels(self) -> tuple[str, ...]:
        """Return the levels this table publishes for the dimension, finest first, ``_T`` last."""
        levels = self.hierarchy.levels
        start = levels.index(self.floor) if self.floor else 0
        return levels[start:]


@dataclass(frozen=True)
class Measure:
    """A count: of which unit (``person``, ``family``, ``case``, ``event``), never above ``at_most``.

    ``grows_with_period``: every unit counted for a period is counted for any period containing it
    (persons served in the period, cases opened in it, events): an earlier release's value for a
    sub-period is a lower bound on this one, for a super-period an upper bound
    (:func:`anonymise.history.period_bounds`). Never for a stock (a count at a date) or a count
    whose population is defined at the period end (children under 18 at the period end).
    """

    name: str
    unit: str
    at_most: str | None = None
    grows_with_period: bool = False


#: Flags of a statistic's row (SDMX CONF_STATUS codes, beside F, C and D of the counts): ``F`` shown.
STATISTIC_FLAGS = {
    "F": "free: shown (its base counts are published and at least min_n)",
    "A": "not shown: fewer than min_n units (its base counts are published; none: the statistic is undefined)",
    "M": "not shown: a base count of the cell is suppressed (C or D), which the statistic would let a reader "
    "recompute or narrow",
}


@dataclass(frozen=True)
class Statistic:
    """A statistic column of a table: a measure that is not a count.

    ``kind``:

    - ``mean``: ``total / of``, two count measures of the table in the same cell (T05: events per
      user). Shown only where both are published, since the mean and one of them give the other.
    - ``median``: over the units ``of`` counts in the cell, the median of each unit's ``column`` in
      ``of``'s rows (T07: duration of the cases closed in the period); with an even number of units
      the mean of the two middle values. Shown only where ``of`` is published.

    Either is shown only where ``of`` (the number of units it is over) is at least ``min_n`` (for a
    median also the units with a known value), and is rounded half up to a multiple of ``step`` (a
    decimal, written with as many decimals as ``step`` has). A median is a value of one case (or the
    mean of two): the rounding coarsens it, so that it does not state one case's exact value.
    """

    name: str
    kind: Literal["mean", "median"]
    of: str
    min_n: int
    unit: str
    step: str = "1"
    total: str | None = None
    column: str | None = None
    describe: str = ""

    def __post_init__(self) -> None:
        if (self.kind == "mean") != (self.total is not None) or (self.kind == "median") != (self.column is not None):
            raise ValueError(f"statistic {self.name}: a mean needs total=, a median column=")
        if Fraction(self.step) <= 0 or (Fraction(self.step) * 10**self.digits).denominator != 1:
            raise ValueError(f"statistic {self.name}: step must be a positive decimal")

    @property
    def bases(self) -> tuple[str, ...]:
        """Return the count measures whose publication decides whether the statistic is shown."""
        return (self.of,) if self.total is None else (self.of, self.total)

    @property
    def digits(self) -> int:
        """Return the number of decimals the statistic is written with (those of ``step``)."""
        return len(self.step.partition(".")[2])

    def rounding(self) -> str:
        """Return how the published value is rounded, as the manifest states it."""
        what = (
            f"{self.total} / {self.of}"
            if self.kind == "mean"
            else f"the median of {self.column} (the mean of the two middle values for an even count)"
        )
        return f"{what}, rounded half up to a multiple of {self.step} {self.unit}"

    def text(self, num: str | pl.Expr, den: str | pl.Expr) -> pl.Expr:
        """Return the published text of the exact value ``num / den`` (non-negative integers), rounded.

        Integer arithmetic throughout, so that a value exactly halfway rounds up and the audit can
        recompute a published mean from the published counts to the last digit.

        >>> s = Statistic("m", "mean", of="n", min_n=1, unit="x", step="0.1", total="t")
        >>> pl.DataFrame({"t": [7, 69, 7, 0], "n": [20, 20, 2, 3]}).select(s.text("t", "n"))["value"].to_list()
        ['0.4', '3.5', '3.5', '0.0']
        >>> w = Statistic("w", "median", of="n", min_n=1, unit="days", step="7", column="d")
        >>> pl.DataFrame({"twice": [7, 6, 0], "two": [2, 2, 2]}).select(w.text("twice", "two"))["value"].to_list()
        ['7', '0', '0']
        """
        step = Fraction(self.step)
        a, b = step.numerator, step.denominator
        n = pl.col(num) if isinstance(num, str) else num
        d = pl.col(den) if isinstance(den, str) else den
        n, d = n.cast(pl.Int64), d.cast(pl.Int64)
        k = (2 * n * b + d * a) // (2 * d * a)
        scale = 10**self.digits
        scaled = k * (a * scale // b)
        if not self.digits:
            return scaled.cast(pl.String).alias("value")
        whole, part = scaled.floordiv(scale).cast(pl.String), (scaled % scale).cast(pl.String).str.zfill(self.digits)
        return (whole + pl.lit(".") + part).alias("value")

    @classmethod
    def from_manifest(cls, name: str, entry: Mapping[str, Any]) -> Statistic:
        """Return a statistic as the manifest describes it (what the audit reads)."""
        return cls(
            name,
            entry["kind"],
            of=str(entry["of"]),
            min_n=int(entry["min_n"]),
            unit=str(entry.get("unit", "")),
            step=str(entry.get("step", "1")),
            total=entry.get("total"),
            column=entry.get("column", "value" if entry["kind"] == "median" else None),
            describe=str(entry.get("describe", "")),
        )

    def manifest(self, published: bool, why: str = "") -> dict[str, Any]:
        """Return the statistic as the manifest describes it (what it is, its rule, its flags)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "of": self.of,
            "min_n": self.min_n,
            "unit": self.unit,
            "step": self.step,
            "rounding": self.rounding(),
            "describe": self.describe,
            "additive": False,
            "published": published,
        }
        if self.total is not None:
            out["total"] = self.total
        if self.column is not None:
            out["column"] = self.column
        if not published:
            out["why"] = why
            return out
        rule = f"shown only where {' and '.join(self.bases)} of the cell {'are' if self.total else 'is'} published (F)"
        known = f" with at least {self.min_n} known {self.column}" if self.column else ""
        out["rule"] = f"{rule} and {self.of} is at least {self.min_n}{known}; otherwise blank"
        out["flags"] = dict(STATISTIC_FLAGS)
        return out


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
    #: Non-count measures published beside the counts, shown per cell by their rule after suppression.
    statistics: tuple[Statistic, ...] = ()

    def __post_init__(self) -> None:
        counts = {m.name for m in self.measures}
        for s in self.statistics:
            if s.name in counts or not set(s.bases) <= counts:
                raise ValueError(f"{self.id}: statistic {s.name} must be over count measures of the table")

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


def statistic_cells(
    rows: Mapping[str, pl.DataFrame], spec: TableSpec, table: pl.DataFrame, unit: str = "unit"
) -> pl.DataFrame:
    """Return, for every cell of the long count ``table`` and every statistic of ``spec``, its exact value.

    ``rows`` are what the table counts (as for :func:`cube`); a median reads its ``column`` from the
    rows of its ``of`` measure, a unit counted once per cell. Columns: ``period``, the dimensions,
    ``measure`` (the statistic), ``n`` (the cell's ``of`` count), ``known`` (units with a value),
    ``num`` and ``den`` (the value is ``num / den``; null where there is none). No rule is applied
    here: these are true values, for :func:`anonymise.suppression.with_statistics` to show or hide.
    """
    dims = list(spec.dimensions)
    keys = ["period", *dims]
    counts = table.select(*keys, "measure", pl.col("value").cast(pl.Int64))
    schema = pl.Schema(
        [(k, pl.String()) for k in [*keys, "measure"]] + [(c, pl.Int64()) for c in ("n", "known", "num", "den")]
    )
    parts = []
    for s in spec.statistics:
        of = counts.filter(pl.col("measure") == s.of).select(*keys, pl.col("value").alias("n"))
        if s.kind == "mean":
            total = counts.filter(pl.col("measure") == s.total).select(*keys, pl.col("value").alias("num"))
            cells = of.join(total, on=keys, how="left").with_columns(
                pl.col("n").alias("known"), pl.when(pl.col("n") > 0).then(pl.col("n")).alias("den")
            )
            cells = cells.with_columns(pl.when(pl.col("den").is_not_null()).then(pl.col("num")).alias("num"))
        else:
            column = str(s.column)
            base = rows[s.of]
            values = base[column] if column in base.columns else pl.Series(column, [None] * base.height)
            base = base.select(unit, *dims).with_columns(values.cast(pl.Float64).alias(column))
            x = pl.col(column).filter(pl.col(unit).is_first_distinct() & pl.col(column).is_not_null())
            medians = by_levels(
                base,
                spec,
                carry=[pl.col(unit).rank("dense").cast(pl.UInt32).alias(unit), pl.col(column)],
                aggs=[x.len().cast(pl.Int64).alias("known"), x.median().alias("_median")],
            )
            cells = of.join(medians, on=dims, how="left").select(
                *keys,
                "n",
                pl.col("known").fill_null(0),
                (pl.col("_median") * 2).round().cast(pl.Int64).alias("num"),
                pl.when(pl.col("_median").is_not_null()).then(pl.lit(2, dtype=pl.Int64)).alias("den"),
            )
        parts.append(cells.select(*keys, pl.lit(s.name).alias("measure"), "n", "known", "num", "den"))
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts]).sort(*keys, "measure")


def build_t11(
    quality: list[dict[str, object]], period: Period, batches: list[dict[str, str]] | None = None
) -> pl.DataFrame:
    """Return T11 (data quality and coverage) from per-entity figures of the contract checks.

    ``quality`` holds one dict per batch and entity: ``partner``, ``entity``, ``received``,
    ``accepted``, ``quarantined``, ``reasons`` (reason → rows), ``completeness`` (field → share) and
    ``declined`` (field → share). A partner's batches are summed, and its shares weighted by the rows
    received. ``batches`` (``partner``, ``status``: ``checked`` or ``failed``) gives coverage: per
    partner the number of batches read and unreadable (entity ``_T``, measure ``batches``), so that a
    partner whose batch could not be read is visible in the release, not silently absent from its
    totals. Counts carry no personal data, so T11 needs no suppression.
    """
    counts: dict[tuple[str, str, str, str], float] = {}
    weights: dict[tuple[str, str, str, str], float] = {}

    def add(key: tuple[str, str, str, str], value: float) -> None:
        counts[key] = counts.get(key, 0) + value

    for q in quality:
        p, e, n = str(q["partner"]), str(q["entity"]), int(q["received"])  # type: ignore[call-overload]
        for measure in ("received", "accepted", "quarantined"):
            add((p, e, TOTAL, measure), int(q[measure]))  # type: ignore[call-overload]
        for reason, quarantined in dict(q["reasons"]).items():  # type: ignore[call-overload]
            add((p, e, str(reason), "quarantined"), int(quarantined))
        for measure, name in (("completeness", "completeness"), ("declined_rate", "declined")):
            for fld, share in dict(q[name]).items():  # type: ignore[call-overload]
                key = (p, e, str(fld), measure)
                add(key, float(share) * n)
                weights[key] = weights.get(key, 0) + n
    for b in batches or []:
        add((b["partner"], TOTAL, "read" if b["status"] == "checked" else "unreadable", "batches"), 1)
    rows: list[tuple[str, str, str, str, str]] = []
    for key, value in counts.items():
        if key[3] in ("completeness", "declined_rate"):
            w = weights[key]
            rows.append((*key, f"{(value / w if w else 1.0):.4f}"))
        else:
            rows.append((*key, str(int(value))))
    frame = pl.DataFrame(rows, schema=["partner", "entity", "check", "measure", "value"], orient="row")
    return (
        frame.with_columns(pl.lit(period.label).alias("period"), pl.lit("F").alias("conf_status"))
        .select("period", "partner", "entity", "check", "measure", "value", "conf_status")
        .sort("period", "partner", "entity", "check", "measure")
    )
