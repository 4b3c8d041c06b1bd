"""Group disclosure: a published population of which all, or none, is in a sensitive group.

The threshold rule protects small counts. It does not protect a statement about a whole group: "all 23
children reached in area X of region Y have a disability" publishes a health fact about each of them
to anyone who knows that a child was reached there, though 23 is far above the threshold. The
Handbook on Statistical Disclosure Control (Hundepool et al., ESSnet, 2nd ed., §5.2 "Disclosure
risks" of frequency tables) calls this *group attribute disclosure*: learning an attribute of an
identifiable group, *or learning that the group does not have it*; it needs no identification of
anyone, and the remedy it names is ambiguity, in the zeros too. :func:`group_disclosure` finds those
cells in a table whose spec declares a :class:`~anonymise.tables.GroupScan` (T09: the four Child
Guarantee groups; ``none`` is not a sensitive group); suppression then protects them as primary
cells, so the audit proves for each that the published values confine it to an interval at least the
threshold wide.

**The rule.** For every cell of the other dimensions whose population (the group dimension at
``_T``) is above zero, and every sensitive group:

- *100 %* (the group's count equals the population): always protected. It attributes special
  category data (health, ethnic origin, housing exclusion) to every member, and a large population
  makes that no less true of each of them.
- *0 %* (the group's count is 0): protected when the population is below
  ``ZERO_POPULATION_MULTIPLE`` × the threshold (20 for T09), and not otherwise. Learning that a child
  is *not* Roma, disabled or homeless harms far less than the converse, and over a large population
  a zero is the very statistic the Child Guarantee is monitored by (a group the services do not
  reach): suppressing every zero would hide exactly that, and a suppressed zero costs partners of its
  own. "None of N is in the group" is "N are not in it", a count the threshold rule alone would
  publish from N = threshold; the multiple keeps a margin above that, because the group is special
  category data and a few zeros of one population together complete its members' profile ("none of
  these 14 children is Roma, homeless or disabled"). Twice the threshold is a judgement, not a
  derived figure: it covers the small populations where such statements come close to describing
  persons, and it is one named constant, to be reviewed with the DPO. A zero already implied by a zero that *is*
  published — the same group at a coarser geography or area with a population at or above the limit
  (a count never grows from a cell to a finer one) — is not protected: suppression cannot hide it,
  and it says nothing the coarser zero does not.

**Suppressed populations.** The scan runs on the true values and ignores what is suppressed: a
population hidden by the threshold rule can still be bounded by the attacker's programs, so a cell is
scanned as though everything were published (the simple, conservative choice).

**What the audit proves, and what it does not.** Each flagged cell is proved to lie in an interval at
least the threshold wide. Where the population is published, that interval stops short of 100 % (or
reaches above 0 %), which is the ambiguity wanted. Where the population is itself suppressed, the
per-cell intervals do not by themselves exclude that the release implies "group = population"
without revealing either; the audit checks cells, not their ratios.

>>> import polars as pl
>>> from anonymise.ministry import SPECS
>>> t = pl.DataFrame({"period": "2025", "geo": "BG31", "cg_area": "ecec", "measure": "children_reached",
...                   "group": ["_T", "disability", "minority"], "value": [12, 12, 3]})
>>> group_disclosure(t, SPECS["T09"]).select("group", "reason").rows()
[('disability', '100%'), ('homeless', '0%'), ('precarious_family', '0%')]
"""

from __future__ import annotations

from itertools import product

import polars as pl

from anonymise.tables import TOTAL, TableSpec

__all__ = ["FULL", "NONE", "ZERO_POPULATION_MULTIPLE", "group_disclosure", "with_cells"]

#: A zero share of a sensitive group is protected while the population is below this many thresholds.
ZERO_POPULATION_MULTIPLE = 2

#: The ``reason`` of a flagged cell: the group is all of the population, or none of it.
FULL, NONE = "100%", "0%"


def group_disclosure(
    table: pl.DataFrame,
    spec: TableSpec,
    group_dim: str | None = None,
    measure: str | None = None,
    groups: tuple[str, ...] | None = None,
    threshold: int | None = None,
) -> pl.DataFrame:
    """Return the cells of a long table that disclose all or none of a population being in a group.

    ``group_dim``, ``measure`` and ``groups`` default to the spec's :class:`~anonymise.tables.GroupScan`;
    ``threshold`` to the spec's (pass the policy's where it is higher). Columns: the table's
    dimensions, ``measure`` and ``reason`` (``100%`` or ``0%``), sorted. A flagged zero may be absent
    from the table (an absent cell is zero); :func:`with_cells` makes it a row that can be suppressed.
    """
    if group_dim is None or measure is None or groups is None:
        scan = spec.group_scan
        if scan is None:
            raise ValueError(f"{spec.id} declares no group scan: give group_dim, measure and groups")
        group_dim = group_dim or scan.dim
        measure = measure or scan.measure
        groups = groups if groups is not None else scan.groups
    limit = ZERO_POPULATION_MULTIPLE * (threshold if threshold is not None else spec.threshold or 0)
    dims = list(spec.dimensions)
    others = [d for d in dims if d != group_dim]

    counts = table.filter(pl.col("measure") == measure).select(*dims, pl.col("value").cast(pl.Int64))
    population = (
        counts.filter(pl.col(group_dim) == TOTAL)
        .select(*others, pl.col("value").alias("_population"))
        .filter(pl.col("_population") > 0)
    )
    cells = (
        population.join(pl.DataFrame({group_dim: list(groups)}, schema={group_dim: pl.String}), how="cross")
        .join(counts, on=[*others, group_dim], how="left")
        .with_columns(pl.col("value").fill_null(0))
    )
    full = cells.filter(pl.col("value") == pl.col("_population"))
    zeros = cells.filter(pl.col("value") == 0)
    published_zeros = zeros.filter(pl.col("_population") >= limit)
    small = zeros.filter(pl.col("_population") < limit)
    small = small.join(_implied(small, published_zeros, spec, others, group_dim), on=[*others, group_dim], how="anti")

    keys = [*dims, "measure", "reason"]
    found = pl.concat(
        [
            full.select(*dims, pl.lit(measure).alias("measure"), pl.lit(FULL).alias("reason")),
            small.select(*dims, pl.lit(measure).alias("measure"), pl.lit(NONE).alias("reason")),
        ]
    )
    return found.select(keys).sort(keys)


def _implied(
    zeros: pl.DataFrame, published: pl.DataFrame, spec: TableSpec, others: list[str], group_dim: str
) -> pl.DataFrame:
    """Return the cells of ``zeros`` (others and group) under a cell of ``published`` of the same group.

    "Under" is every other dimension at its own code or an ancestor, at least one strictly above: a
    count is never larger in a finer cell, additive or not, so a published zero there forces this one.
    """
    lifted = zeros.select(*others, group_dim)
    above = [f"\x1f{d}" for d in others]
    for d, up in zip(others, above, strict=True):
        h = spec.dim(d).hierarchy
        pairs = [(c, a) for c in [*h.parent, TOTAL] for a in h.ancestors(c)]
        lifted = lifted.join(pl.DataFrame(pairs, schema=[d, up], orient="row"), on=d, how="inner")
    strict = pl.any_horizontal([pl.col(d) != pl.col(up) for d, up in zip(others, above, strict=True)])
    targets = published.select(*[pl.col(d).alias(up) for d, up in zip(others, above, strict=True)], group_dim)
    return lifted.filter(strict).join(targets, on=[*above, group_dim], how="semi").select(*others, group_dim).unique()


def with_cells(table: pl.DataFrame, cells: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Return ``table`` with a zero row, for every measure, for each cell of ``cells`` it lacks.

    A long table leaves zero cells out (absent means zero); a zero that must be suppressed needs a row
    to carry its ``C`` flag. The table is returned unchanged when nothing is missing, else sorted as
    :func:`anonymise.tables.long` sorts.
    """
    dims = list(spec.dimensions)
    missing = cells.select(dims).unique().join(table.select(dims).unique(), on=dims, how="anti")
    if missing.height == 0:
        return table
    periods = table["period"].unique().sort().to_list()
    rows = [
        {"period": p, **dict(zip(dims, codes, strict=True)), "measure": m, "value": 0}
        for p, codes, m in product(periods, missing.rows(), spec.measure_names)
    ]
    added = pl.DataFrame(rows).select(table.columns).cast(table.schema)
    return pl.concat([table, added]).sort("period", *dims, "measure")
