"""The Russian pilot's table, T12, produced inside the Russian domain and never linked to Bulgarian data.

As in :mod:`anonymise.ministry_tables`, the spec says what the table counts and how it may be published,
and the builder only selects *(unit, atomic codes…)* rows from the Russian pseudonymised store. Importing
this module registers T12 with :func:`anonymise.ministry.register`.

What T12 counts (MINISTRY-TABLES.md: period × district group × service form × service × sex × age band;
recipients, families, help routes opened / closed):

- **recipients**: persons (central pseudonym) served in the period, under each service they received
  and each form it was received in, by where they live (district group), sex and age band;
- **families**: the families (``family_pid``) of those recipients, memberships valid in the period. A
  family is counted in a cell when one of its members is a recipient of the cell, so it carries its
  recipients' dimensions, not a residence or sex of its own;
- **help routes opened / closed**: in «Круг заботы» a social agent builds a help route (маршрут
  помощи) for a family in a difficult situation (DOMAIN.md), and the Samara partner records the route
  as its case for that family: one per family, owned by a social agent (the pilot's only partner, so
  every case of the Russian store is a route). A route is counted as T07 counts cases: opened when its
  opening month is in the period, closed when its closing month is (a route opened earlier and closed
  now is closed, not opened). It lives where its child lives (else where its family lives) and has its
  child's sex and age band; its service is ``help_route`` (the social agent's case management *is*
  that service), in the forms the agent worked it in (its ``help_route`` events up to the period end).

Service form follows 442-ФЗ, Art. 19 (на дому, полустационарная, стационарная): the store records how
each event was delivered, not the legal form, so the form is derived per event with the maps in
:mod:`schemas.codes` (``RU_SERVICE_FORM_BY_ACTIVITY`` first, then ``RU_SERVICE_FORM_BY_MODALITY``);
anything else is ``_U``. Age band is the one the store holds (at the reference date, the period end) for
every measure, so that the column means the same in every row.

Additivity (:mod:`anonymise.tables`): a person has one district group, sex and age band, and a route one
(its child's), so those partition recipients and routes. Families do not partition over any dimension
(a family's recipients may differ in sex, age and, rarely, residence; a child may be in two families).
Service form partitions nothing: a person, family or route may be served both at home and at the centre.
Service partitions routes (all ``help_route``) but not recipients or families.

>>> sorted(T12.dim("service").additive_for), T12.additive
(['help_routes_closed', 'help_routes_opened'], frozenset())
>>> import polars as pl
>>> events = pl.DataFrame({"service_code": ["help_route", "respite_play_room"], "modality": ["home_visit", "remote"]})
>>> events.select(service_form(events))["service_form"].to_list()
['home', 'semi_residential']
"""

from __future__ import annotations

import polars as pl

from anonymise import hierarchy as h
from anonymise import ministry_tables as mt  # used at call time: ministry_tables may still be importing
from anonymise.hierarchy import UNKNOWN
from anonymise.ministry import Store, coded, register, require_jurisdiction
from anonymise.tables import Dim, Measure, TableSpec
from schemas import codes, geography

#: The service a help route is: the social agent's case management (``schemas/data/services.csv``).
HELP_ROUTE = "help_route"
#: The measures whose units a person's (a route's child's) attributes partition.
_ONE_PER_UNIT = ("recipients", "help_routes_opened", "help_routes_closed")
_ROUTES = ("help_routes_opened", "help_routes_closed")

T12 = TableSpec(
    id="T12",
    title_bg="Руски пилот",
    title_en="Russian pilot",
    jurisdiction="ru",
    dims=(
        # residence and age band at the period end: both can change between periods
        Dim(
            "district_group", h.district_group_ru(), additive=False, additive_for=_ONE_PER_UNIT, varies_with_period=True
        ),
        Dim("service_form", h.service_form_ru(), additive=False),
        Dim("service", h.service(), additive=False, additive_for=_ROUTES),
        Dim("sex", h.sex(), additive=False, additive_for=_ONE_PER_UNIT),
        Dim("age_band", h.age_band(), additive=False, additive_for=_ONE_PER_UNIT, varies_with_period=True),
    ),
    measures=(
        # served, opened and closed in the period: each only grows with the period
        Measure("recipients", "person", grows_with_period=True),
        Measure("families", "family", grows_with_period=True),
        Measure("help_routes_opened", "case", grows_with_period=True),
        Measure("help_routes_closed", "case", grows_with_period=True),
    ),
    threshold=10,
    # produced inside the Russian domain: its own universe, never linked to a Bulgarian table
    universe="ru:recipients",
    floor="district group",
    # As T07: each attribute by district group, and service form by service nationally. The pilot serves
    # about 270 recipients a year (scale 1 of the synthetic pilot, seed 0) in four district groups, and
    # opens about 50 routes: a district group by age band (9 bands) is 70 % small cells for recipients,
    # the three-way crosses (district × form × service, district × sex × age band) leave three quarters
    # of the recipient cells suppressed. So age band is published by sex nationally only; these two-way
    # crossings publish about half the recipient cells. The routes are few whatever the crossing: most of
    # their breakdowns are suppressed, and no crossing of these dimensions would change that.
    crossings=(
        ("district_group", "service_form"),
        ("district_group", "service"),
        ("service_form", "service"),
        ("district_group", "sex"),
        ("sex", "age_band"),
    ),
)


def district_group(people: pl.DataFrame) -> pl.Expr:
    """Return each person's Samara district group: the store's own column (derived from the person's OKTMO
    settlement code when the store was written), else from an OKTMO code column, else ``_U``."""
    groups = list(h.district_group_ru().parent)
    if "district_group" in people.columns:
        return coded("district_group", h.district_group_ru())
    for column in ("oktmo", "settlement_code", "municipality_code"):
        if column in people.columns:
            ref = geography.oktmo()
            mapping = dict(zip(ref["oktmo"], ref["district_group"], strict=True))
            group = pl.col(column).replace_strict(mapping, default=UNKNOWN, return_dtype=pl.String)
            return pl.when(group.is_in(groups)).then(group).otherwise(pl.lit(UNKNOWN)).alias("district_group")
    return pl.lit(UNKNOWN).alias("district_group")


def service_form(events: pl.DataFrame) -> pl.Expr:
    """Return each event's form of social service (442-ФЗ, Art. 19) from its service and modality.

    The service's nature decides first (residential care is residential whatever was recorded), then how
    the event was delivered; ``_U`` where neither says (no modality, an unknown one).
    """
    services = codes.services()
    activity = dict(zip(services["code"], services["ssa_activity"], strict=True))
    fixed_forms = codes.RU_SERVICE_FORM_BY_ACTIVITY
    by_service = {s: fixed_forms[a] for s, a in activity.items() if a in fixed_forms}
    fixed = pl.col("service_code").replace_strict(by_service, default=None, return_dtype=pl.String)
    if "modality" not in events.columns:
        return pl.coalesce(fixed, pl.lit(UNKNOWN)).alias("service_form")
    delivered = pl.col("modality").replace_strict(
        codes.RU_SERVICE_FORM_BY_MODALITY, default=None, return_dtype=pl.String
    )
    return pl.coalesce(fixed, delivered, pl.lit(UNKNOWN)).alias("service_form")


def _people(store: Store) -> pl.DataFrame:
    """Return per central pseudonym the attributes T12 publishes: district group, sex, age band."""
    people = store.people()
    sex = pl.col("sex")
    return people.select(
        "person_cid",
        district_group(people),
        pl.when(sex.is_in(list(codes.SEX))).then(sex).otherwise(pl.lit("u")).alias("sex"),
        coded("age_band", h.age_band()),
    )


def _routes(store: Store, cases: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Return every help route (``cases`` of the store) with its dimensions and opening and closing months."""
    dims = list(T12.dimensions)
    child = store.persons.select(pl.col("person_pid").alias("child_pid"), "person_cid").join(
        people, on="person_cid", how="inner"
    )
    if store.memberships is not None:
        # T06's rule for a family's residence (its members' most frequent known one), by district group
        members = (
            mt._members(store)
            .drop("geo")
            .join(people.select("person_cid", pl.col("district_group").alias("geo")), on="person_cid", how="inner")
        )
        family = mt._families(members).select("family_pid", pl.col("geo").alias("family_group"))
    else:
        family = pl.DataFrame(schema={"family_pid": pl.String, "family_group": pl.String})
    last = store.period.months[-1]
    events = store.events
    if "case_pid" in events.columns:
        worked = (
            events.filter(
                pl.col("case_pid").is_not_null() & (pl.col("service_code") == HELP_ROUTE) & (pl.col("month") <= last)
            )
            .select(pl.col("case_pid").alias("unit"), service_form(events))
            .unique()
        )
    else:
        worked = pl.DataFrame(schema={"unit": pl.String, "service_form": pl.String})
    known = pl.col("district_group").is_not_null() & (pl.col("district_group") != UNKNOWN)
    return (
        cases.select("case_pid", "family_pid", "child_pid", "opened_month", "closed_month")
        .join(child.drop("person_cid"), on="child_pid", how="left")
        .join(family, on="family_pid", how="left")
        .select(
            pl.col("case_pid").alias("unit"),
            pl.when(known)
            .then("district_group")
            .otherwise(pl.coalesce("family_group", pl.lit(UNKNOWN)))
            .alias("district_group"),
            pl.lit(HELP_ROUTE).alias("service"),
            pl.col("sex").fill_null("u"),
            pl.col("age_band").fill_null(UNKNOWN),
            "opened_month",
            "closed_month",
        )
        .join(worked, on="unit", how="left")
        .with_columns(pl.col("service_form").fill_null(UNKNOWN))
        .select("unit", *dims, "opened_month", "closed_month")
    )


def rows_t12(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T12 (Russian pilot), per measure, from the Russian store only: recipients served in the
    period and their families, and help routes opened and closed in the period."""
    require_jurisdiction(store, "ru")
    dims = list(T12.dimensions)
    people = _people(store)
    served = store.served()
    recipients = (
        served.select("person_cid", service_form(served), pl.col("service_code").alias("service"))
        .unique()
        .join(people, on="person_cid", how="inner")
        .select(pl.col("person_cid").alias("unit"), *dims)
    )
    rows = mt.no_rows(T12) | {"recipients": recipients}
    if store.memberships is not None:
        members = mt._members(store).select("family_pid", "person_cid").unique()
        rows["families"] = recipients.join(members, left_on="unit", right_on="person_cid", how="inner").select(
            pl.col("family_pid").alias("unit"), *dims
        )
    if store.cases is not None:
        routes = _routes(store, store.cases, people)
        months = store.period.months
        rows["help_routes_opened"] = routes.filter(pl.col("opened_month").is_in(months)).select("unit", *dims)
        rows["help_routes_closed"] = routes.filter(pl.col("closed_month").is_in(months)).select("unit", *dims)
    return rows


register(T12, rows_t12)
