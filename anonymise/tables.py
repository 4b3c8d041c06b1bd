"""Aggregate tables for the ministry release, built from the pseudonymised store.

Tables are long (SDMX style): one column per dimension, ``_T`` for the total of a dimension, then
``measure`` and ``value``. Unique persons are counted by the central pseudonym, so a child served by
two Bulgarian partners counts once in every cell where both partners meet (partner ``_T``).

A person's sex, age band and district are taken once per person (the first partner in registry order
that knows them), so those dimensions partition persons and their totals add up; partner, service
and period do not partition persons (one person uses several services), so there a total is at least
its largest part and at most the sum of its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import polars as pl

from anonymise.period import Period

TOTAL = "_T"


@dataclass(frozen=True)
class TableSpec:
    """What a table is: its dimensions, which of them partition persons, its measures and threshold."""

    id: str
    title_bg: str
    dimensions: tuple[str, ...]
    additive: frozenset[str]
    measures: tuple[str, ...]
    threshold: int | None


T04 = TableSpec(
    id="T04",
    title_bg="Потребители по услуги",
    dimensions=("nuts3", "partner", "service", "age_band", "sex"),
    additive=frozenset({"nuts3", "age_band", "sex"}),
    measures=("unique_persons", "new_entrants"),
    threshold=5,
)

T11 = TableSpec(
    id="T11",
    title_bg="Качество и покритие на данните",
    dimensions=("partner", "entity", "check"),
    additive=frozenset(),
    measures=("received", "accepted", "quarantined", "completeness", "declined_rate"),
    threshold=None,
)


def canonical_persons(persons: pl.DataFrame, partner_order: list[str]) -> pl.DataFrame:
    """Return one row of attributes per central pseudonym, from the first partner in registry order."""
    rank = {p: i for i, p in enumerate(partner_order)}
    return (
        persons.with_columns(pl.col("partner_id").replace_strict(rank, default=len(rank)).alias("_rank"))
        .sort("_rank", "person_pid")
        .unique("person_cid", keep="first", maintain_order=True)
        .drop("_rank")
    )


def cube(rows: pl.DataFrame, dims: tuple[str, ...], aggs: list[pl.Expr]) -> pl.DataFrame:
    """Return ``aggs`` for every combination of ``dims`` and their totals (``_T``)."""
    parts = []
    for size in range(len(dims), -1, -1):
        for kept in combinations(dims, size):
            grouped = rows.group_by(list(kept)).agg(aggs) if kept else rows.select(aggs)
            parts.append(grouped.with_columns([pl.lit(TOTAL).alias(d) for d in dims if d not in kept]))
    return pl.concat([p.select(*dims, *[a.meta.output_name() for a in aggs]) for p in parts], how="vertical")


def build_t04(persons: pl.DataFrame, events: pl.DataFrame, period: Period, partner_order: list[str]) -> pl.DataFrame:
    """Return T04 (users by service): unique persons and new entrants in the period.

    A new entrant is a person whose first service event with any partner in the jurisdiction falls in
    the period.
    """
    people = canonical_persons(persons, partner_order).select(
        "person_cid", pl.col("nuts3").fill_null("_U"), "age_band", "sex"
    )
    first = events.group_by("person_cid").agg(pl.col("month").min().alias("first_month"))
    in_period = events.filter(pl.col("month").is_in(period.months))
    rows = (
        in_period.select("person_cid", pl.col("partner_id").alias("partner"), pl.col("service_code").alias("service"))
        .unique()
        .join(people, on="person_cid", how="inner")
        .join(first, on="person_cid", how="left")
        .with_columns(pl.col("first_month").is_in(period.months).alias("is_new"))
    )
    wide = cube(
        rows,
        T04.dimensions,
        [
            pl.col("person_cid").n_unique().alias("unique_persons"),
            pl.col("person_cid").filter(pl.col("is_new")).n_unique().alias("new_entrants"),
        ],
    )
    return long(wide, T04, period)


def long(wide: pl.DataFrame, spec: TableSpec, period: Period) -> pl.DataFrame:
    """Return a wide cube in long form: period, dimensions, measure, value (sorted, deterministic)."""
    out = wide.unpivot(index=list(spec.dimensions), on=list(spec.measures), variable_name="measure", value_name="value")
    return (
        out.with_columns(pl.lit(period.label).alias("period"), pl.col("value").cast(pl.Int64))
        .select("period", *spec.dimensions, "measure", "value")
        .sort("period", *spec.dimensions, "measure")
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
