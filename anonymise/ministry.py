"""The ministry release: table specs T01–T12 as data, and how each table's rows come from the store.

MINISTRY-TABLES.md is the specification. Each spec says what the table counts and how it may be
published; each builder only selects *(unit, atomic codes)* rows from the pseudonymised store, and
:func:`anonymise.tables.cube` does the counting at every hierarchy level.

>>> SPECS["T04"].dimensions
('geo', 'partner', 'service', 'age_band', 'sex')
>>> SPECS["T04"].additive == {"geo", "age_band", "sex"}
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import polars as pl

from anonymise import hierarchy as h
from anonymise.hierarchy import UNKNOWN
from anonymise.period import Period
from anonymise.tables import Dim, Measure, TableSpec, canonical_persons, cube, long


@dataclass(frozen=True)
class Store:
    """The pseudonymised store of one jurisdiction and period, as the builders read it.

    Frames may be empty where a partner sends no such entity; ``partner_order`` is the registry order
    (a person's attributes come from the first partner that knows them).
    """

    period: Period
    jurisdiction: str
    partner_order: list[str]
    persons: pl.DataFrame
    events: pl.DataFrame
    cases: pl.DataFrame | None = None
    memberships: pl.DataFrame | None = None
    participations: pl.DataFrame | None = None

    def people(self) -> pl.DataFrame:
        """Return one row per central pseudonym with ``geo`` (municipality, else ``_U``)."""
        return canonical_persons(self.persons, self.partner_order).with_columns(
            pl.col("municipality_code").fill_null(UNKNOWN).alias("geo")
        )

    def served(self) -> pl.DataFrame:
        """Return the events of the period (months inside it)."""
        return self.events.filter(pl.col("month").is_in(self.period.months))


def _partners(jurisdiction: str) -> h.Hierarchy:
    from schemas.partners import PARTNERS

    return h.flat("partner", sorted(p.id for p in PARTNERS.values() if p.country == jurisdiction))


def _geo(floor: str = "nuts3", totals_only: tuple[str, ...] = ()) -> Dim:
    # residence is where a person lives at the period end: it can change between periods
    return Dim("geo", h.geography_bg(), additive=True, floor=floor, totals_only=totals_only, varies_with_period=True)


SEX = Dim("sex", h.sex(), additive=True)
#: age at the period end: a person moves up a band between two periods
AGE = Dim("age_band", h.age_band(), additive=True, varies_with_period=True)

T04 = TableSpec(
    id="T04",
    title_bg="Потребители по услуги",
    title_en="Users by service",
    jurisdiction="bg",
    dims=(
        _geo("municipality", totals_only=("municipality",)),
        Dim("partner", _partners("bg"), additive=False),
        Dim("service", h.service(), additive=False),
        AGE,
        SEX,
    ),
    # persons served in the period, and those first served in it: both only grow with the period
    measures=(
        Measure("unique_persons", "person", grows_with_period=True),
        Measure("new_entrants", "person", at_most="unique_persons", grows_with_period=True),
    ),
    threshold=5,
    universe="bg:persons-served",
    floor="NUTS3 (municipality for totals only)",
    # who is served where and by what, and who they are; the five-way cross of a pilot's few
    # thousand people would be almost all small cells, published as suppression marks
    crossings=(("geo", "partner", "service"), ("geo", "age_band", "sex")),
)

T10 = TableSpec(
    id="T10",
    title_bg="Селски и градски райони",
    title_en="Rurality",
    jurisdiction="bg",
    dims=(
        _geo(),
        Dim("rural", h.flat("rural", ["rural", "urban", UNKNOWN]), additive=True, varies_with_period=True),
        AGE,
    ),
    measures=(Measure("unique_persons", "person", grows_with_period=True),),
    threshold=5,
    universe="bg:persons-served",
    floor="NUTS3",
    period_kind="year",
)

#: T11 carries no personal data (counts of rows and shares per partner); it is never suppressed.
T11 = TableSpec(
    id="T11",
    title_bg="Качество и покритие на данните",
    title_en="Data quality and coverage",
    jurisdiction="*",
    dims=(
        Dim("partner", h.flat("partner", []), additive=False),
        Dim("entity", h.flat("entity", []), additive=False),
        Dim("check", h.flat("check", []), additive=False),
    ),
    measures=(
        *(Measure(m, "row") for m in ("received", "accepted", "quarantined", "completeness", "declined_rate")),
        Measure("batches", "batch"),
    ),
    threshold=None,
    universe="quality",
    floor="partner",
)


def tabulate(rows: Mapping[str, pl.DataFrame], spec: TableSpec, period: Period) -> pl.DataFrame:
    """Return the table ``spec`` in release form from the rows it counts (``unit`` and atomic codes per measure)."""
    return long(cube(rows, spec), spec, period)


def build(table_id: str, store: Store) -> pl.DataFrame:
    """Return a count table of the catalogue built from the store."""
    return tabulate(ROWS[table_id](store), SPECS[table_id], store.period)


def build_t04(store: Store, spec: TableSpec = T04) -> pl.DataFrame:
    """Return T04; ``spec`` may replace T04's (a national partner list in the benchmark)."""
    return tabulate(rows_t04(store), spec, store.period)


def rows_t04(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T04 (users by service), per measure: unique persons and new entrants in the period.

    A new entrant is a person whose first service event with any partner of the jurisdiction falls in
    the period.
    """
    people = store.people().select("person_cid", "geo", "age_band", "sex")
    first = store.events.group_by("person_cid").agg(pl.col("month").min().alias("first_month"))
    rows = (
        store.served()
        .select("person_cid", pl.col("partner_id").alias("partner"), pl.col("service_code").alias("service"))
        .unique()
        .join(people, on="person_cid", how="inner")
        .join(first, on="person_cid", how="left")
        .rename({"person_cid": "unit"})
    )
    new = rows.filter(pl.col("first_month").is_in(store.period.months))
    return {"unique_persons": rows, "new_entrants": new}


def build_t10(store: Store) -> pl.DataFrame:
    """Return T10."""
    return build("T10", store)


def rows_t10(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T10 (rurality), per measure: unique persons served, by residence district, rural flag and age band."""
    people = store.people().select(
        "person_cid",
        "geo",
        "age_band",
        pl.when(pl.col("rural").is_null())
        .then(pl.lit(UNKNOWN))
        .when(pl.col("rural"))
        .then(pl.lit("rural"))
        .otherwise(pl.lit("urban"))
        .alias("rural"),
    )
    served = store.served().select("person_cid").unique()
    rows = served.join(people, on="person_cid", how="inner").rename({"person_cid": "unit"})
    return {"unique_persons": rows}


SPECS: dict[str, TableSpec] = {"T04": T04, "T10": T10, "T11": T11}

#: What each count table counts: per measure, its rows (``unit`` and the atomic codes of its dimensions).
#: The perturbative methods start from these rows (record keys, contributions per person).
ROWS: dict[str, Callable[[Store], dict[str, pl.DataFrame]]] = {"T04": rows_t04, "T10": rows_t10}

#: The builders of the count tables (T11 is built from the quality figures of the run, not the store).
BUILDERS: dict[str, Callable[[Store], pl.DataFrame]] = {"T04": build_t04, "T10": build_t10}


def coded(column: str, hierarchy: h.Hierarchy) -> pl.Expr:
    """Return the column where its value is a code of the hierarchy, else ``_U`` (kept in every total)."""
    c = pl.col(column)
    return pl.when(c.is_in(list(hierarchy.parent))).then(c).otherwise(pl.lit(UNKNOWN)).alias(column)


def require_jurisdiction(store: Store, jurisdiction: str) -> None:
    """Refuse a store of another jurisdiction (a Bulgarian table is never built from the Russian store)."""
    if store.jurisdiction != jurisdiction:
        raise ValueError(f"this table is built from the {jurisdiction} store only, not {store.jurisdiction}")


def register(spec: TableSpec, rows: Callable[[Store], dict[str, pl.DataFrame]]) -> None:
    """Add a table to the release catalogue (used by the modules that declare further tables)."""
    SPECS[spec.id] = spec
    ROWS[spec.id] = rows
    BUILDERS[spec.id] = partial(build, spec.id)


# the other tables of the catalogue declare themselves (imported last: they use ``register``)
from anonymise import (
    ministry_ru,  # noqa: E402,F401
    ministry_tables,  # noqa: E402,F401  (first: T12 follows T01–T09)
)
