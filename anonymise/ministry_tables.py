"""The count tables of the ministry release beyond T04 and T10: T01–T03 and T05–T09, as data (T12, the
Russian pilot's, is in :mod:`anonymise.ministry_ru`).

MINISTRY-TABLES.md is the specification. As in :mod:`anonymise.ministry`, each spec says what a table
counts and how it may be published, and each builder only selects *(unit, atomic codes…)* rows from
the pseudonymised store; :func:`anonymise.tables.cube` counts them at every hierarchy level. Importing
this module registers every table with :func:`anonymise.ministry.register`.

Units: persons by central pseudonym (``person_cid``), families by ``family_pid``, cases by
``case_pid``, events by ``event_pid``. ESF participants are counted per operation (a person in two
operations counts in each), as ESF monitoring sums operations into programme figures.

A non-additive dimension (a unit under several codes) always has a code that every counted unit falls
under when it is under no other (``none``, ``other``), so that a parent is at most the sum of its
children, the relation suppression and the audit rely on.

>>> from anonymise.ministry import SPECS
>>> [t for t in ("T01", "T02", "T03", "T05", "T06", "T07", "T08", "T09", "T12") if t not in SPECS]
[]
>>> SPECS["T07"].additive == set(SPECS["T07"].dimensions)
True
>>> early_childhood_age().ancestors("Y1")
['Y1', 'Y0T2', '_T']
>>> programme_of("BG05M9OP001-2.004-0041"), programme_of("BG05SFPR001-2.002-0001"), programme_of("X")
('2014-2020', '2021-2027', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache

import polars as pl

from anonymise import hierarchy as h
from anonymise.hierarchy import TOTAL, UNKNOWN
from anonymise.ministry import AGE, SEX, Store, coded, register, require_jurisdiction
from anonymise.tables import Dim, GroupScan, Measure, Statistic, TableSpec
from schemas import codes

#: Operation-code prefixes of the Bulgarian ESF programmes (OP HRD and OP SESG 2014–2020, PHRD/PEO/PFBMA
#: 2021–2027): which regulation's indicator set an operation reports.
PROGRAMMES: dict[str, tuple[str, ...]] = {"2014-2020": ("BG05M9OP", "BG05M2OP"), "2021-2027": ("BG05SFPR",)}

#: Services counted as early childhood and patronage care in T08 (the children's own services).
EARLY_CHILDHOOD_SERVICES = (
    "patronage_care",
    "health_consultation",
    "early_intervention",
    "speech_screening",
    "kindergarten_integration",
    "school_readiness",
    "respite_play_room",
)

#: Relations of the adults who bring a family's children up (a single-parent family has one of them).
CAREGIVERS = ("mother", "father", "guardian", "foster_parent")
#: Relations counted as the family's children (when under 18 or of unknown age).
CHILDREN = ("child", "sibling")
#: Case types that put a child in a precarious family situation (Child Guarantee, Rec. 2021/1004 Art. 3).
PRECARIOUS_CASE_TYPES = ("prevention_of_abandonment", "reintegration", "child_at_risk", "violence")

_AGE = pl.col("age_at_entry")
_THIRD = pl.col("citizenship_group") == "third_country"
_FOREIGN = pl.col("citizenship_group").is_in(["eu", "third_country"])

#: ESF+ common output indicators for participants (Reg. 2021/1057 Annex I). 65+ (Annex II) is not
#: here: the pilot runs no Annex II operation. Foreign background is read from citizenship (EU or
#: third-country), a lower bound: the store holds no country of birth.
ESF_PLUS_INDICATORS: dict[str, pl.Expr] = {
    "Y_LT18": _AGE < 18,
    "Y18T29": (_AGE >= 18) & (_AGE <= 29),
    "Y_GE55": _AGE >= 55,
    "disability": pl.col("disability") == "yes",
    "third_country": _THIRD,
    "foreign_background": _FOREIGN,
    "minority": pl.col("minority") == "yes",
    "homeless": pl.col("homeless") == "yes",
    "rural": pl.col("rural").fill_null(False),
}

#: ESF common output indicators for participants, 2014–2020 (Reg. 1304/2013 Annex I).
ESF_2014_INDICATORS: dict[str, pl.Expr] = {
    "Y_LT25": _AGE < 25,
    "Y_GE55": _AGE >= 55,
    "disability": pl.col("disability") == "yes",
    "migrant_minority": _FOREIGN | (pl.col("minority") == "yes"),
    "homeless": pl.col("homeless") == "yes",
    "rural": pl.col("rural").fill_null(False),
}

#: Per indicator set, the sensitive attribute whose declined and unknown answers each indicator shows.
ESF_PLUS_STATED = {"disability": "disability", "minority": "minority", "homeless": "homeless"}
ESF_2014_STATED = {"disability": "disability", "migrant_minority": "minority", "homeless": "homeless"}


def programme_of(operation_code: str) -> str | None:
    """Return the ESF programming period of an operation code (``2014-2020``, ``2021-2027``), else None."""
    return next((p for p, prefixes in PROGRAMMES.items() if operation_code.startswith(prefixes)), None)


def registered_operations(programme: str | None = None) -> list[str]:
    """Return the Bulgarian partners' ESF operation codes (of one programming period if given), sorted."""
    from schemas.partners import PARTNERS

    found = {p.operation_code for p in PARTNERS.values() if p.country == "bg" and p.operation_code}
    return sorted(c for c in found if programme_of(c) is not None and programme in (None, programme_of(c)))


def with_unknown(name: str, codes_: Iterable[str]) -> h.Hierarchy:
    """Return a flat hierarchy of a code list plus ``_U`` (value missing or not in the list)."""
    return h.flat(name, [*codes_, UNKNOWN])


@cache
def early_childhood_age() -> h.Hierarchy:
    """Return T08's ages: years 0, 1 and 2 under the band 0–2, the band 3–6 beside it, and ``PRE`` (the
    child is not born yet: where expectant parents are counted)."""
    parent = {"Y0": "Y0T2", "Y1": "Y0T2", "Y2": "Y0T2", "Y0T2": TOTAL, "Y3T6": TOTAL, "PRE": TOTAL}
    level = {"Y0": "age", "Y1": "age", "Y2": "age", "Y3T6": "age", "Y0T2": "band", "PRE": "age"}
    return h.make("early_childhood_age", parent, level, ["age", "band"])


@cache
def operations(programme: str | None = None) -> h.Hierarchy:
    """Return the registered operations, under their programming period when no period is chosen."""
    ops = registered_operations(programme)
    if programme is not None:
        return h.flat("operation", ops)
    parent = {o: str(programme_of(o)) for o in ops} | {p: TOTAL for p in PROGRAMMES}
    level = {o: "operation" for o in ops} | {p: "programme" for p in PROGRAMMES}
    return h.make("operation", parent, level, ["operation", "programme"])


@cache
def early_childhood_service() -> h.Hierarchy:
    """Return the early-childhood services under their Social Services Act activity."""
    full = h.service()
    parent = {s: full.parent[s] for s in EARLY_CHILDHOOD_SERVICES}
    parent |= {a: TOTAL for a in set(parent.values())}
    return h.make("service", parent, {c: full.level[c] for c in parent}, ["service", "activity"])


@cache
def geography_nuts2() -> h.Hierarchy:
    """Return Bulgarian geography with residence unknown (``_U``) at the NUTS 2 level.

    :func:`anonymise.hierarchy.geography_bg` puts ``_U`` at NUTS 3, and ``hierarchies.json`` lists
    only the codes of the levels a table publishes: a table whose floor is NUTS 2 would publish ``_U``
    cells (the cube keeps them at every level) that its hierarchy leaves out of the sum to the total.
    """
    g = h.geography_bg()
    return h.make(g.name, g.parent, {**g.level, UNKNOWN: "nuts2"}, g.levels[:-1])


def _geo(floor: str) -> Dim:
    # residence at the period end: it can change between periods
    geography = geography_nuts2() if floor == "nuts2" else h.geography_bg()
    return Dim("geo", geography, additive=True, floor=floor, varies_with_period=True)


def no_rows(spec: TableSpec) -> dict[str, pl.DataFrame]:
    """Return no rows for every measure of ``spec`` (the store holds nothing the table counts)."""
    rows = pl.DataFrame(schema={c: pl.String for c in ["unit", *spec.dimensions]})
    return {m: rows for m in spec.measure_names}


# --- ESF (T01–T03) -------------------------------------------------------------------------------

#: entry (exit) in the period or before it: relative to the period, so a different split in each
ENTRY = Dim("entry", h.flat("entry", ["in_period", "earlier"]), additive=True, varies_with_period=True)
EXIT = Dim("exit", h.flat("exit", ["in_period", "earlier"]), additive=True, varies_with_period=True)
STATED = (Measure("declined", "participation"), Measure("unknown", "participation"))


def _esf_spec(table: str, programme: str, indicators: Mapping[str, pl.Expr], title_bg: str, title_en: str) -> TableSpec:
    return TableSpec(
        id=table,
        title_bg=title_bg,
        title_en=title_en,
        jurisdiction="bg",
        # operation and entry partition the participations (one per person and operation, cumulative
        # to the period end: ``_T`` of entry); an indicator does not (a participant may be young,
        # rural and Roma, or none of these: ``none``)
        dims=(
            Dim("operation", operations(programme), additive=True),
            ENTRY,
            SEX,
            # age, residence, status: measured at a date
            Dim("indicator", h.flat("indicator", [*indicators, "none"]), additive=False, varies_with_period=True),
        ),
        # participations entered up to the period end: only grow with it; what a participant states
        # (declined, unknown) can be updated, so those two are not bounds
        measures=(Measure("participants", "participation", grows_with_period=True), *STATED),
        threshold=5,
        threshold_sensitive=10,
        sensitive={"indicator": ("disability", "minority", "migrant_minority")},
        universe=f"bg:esf-participations-{programme}",
        floor="operation",
        # a few hundred participants in two operations: the full cross is small
    )


T01 = _esf_spec("T01", "2021-2027", ESF_PLUS_INDICATORS, "Общи показатели за изпълнение ЕСФ+", "ESF+ common outputs")
T02 = _esf_spec(
    "T02", "2014-2020", ESF_2014_INDICATORS, "Общи показатели за изпълнение ЕСФ 2014–2020", "ESF 2014-2020 outputs"
)

T03 = TableSpec(
    id="T03",
    title_bg="Общи показатели за резултат ЕСФ",
    title_en="ESF results",
    jurisdiction="bg",
    dims=(
        Dim("operation", operations(), additive=True),
        EXIT,
        SEX,
        # a result not yet recorded (unknown) can be recorded later
        Dim("result", with_unknown("result", codes.ESF_RESULT), additive=True, varies_with_period=True),
    ),
    # one measure per horizon, so that each participation has exactly one result in each measure and
    # ``result`` partitions them; a result not yet due (or not recorded) is not counted
    measures=(
        Measure("participants_4w", "participation", grows_with_period=True),
        Measure("participants_6m", "participation", grows_with_period=True),
    ),
    threshold=5,
    universe="bg:esf-leavers",
    floor="operation",
)


def _participations(store: Store, operation_codes: list[str]) -> pl.DataFrame:
    """Return one participation per person and operation (the first entry up to the period end)."""
    if store.participations is None or not operation_codes:
        return pl.DataFrame(
            schema={c: pl.String for c in ("person_cid", "operation_code", "entry_month", "exit_month")}
            | {"result_4w": pl.String, "result_6m": pl.String}
        )
    last = store.period.months[-1]
    return (
        store.participations.filter(
            pl.col("person_cid").is_not_null()
            & pl.col("operation_code").is_in(operation_codes)
            & (pl.col("entry_month") <= last)
        )
        .sort("person_cid", "operation_code", "entry_month", "exit_month", nulls_last=True)
        .unique(["person_cid", "operation_code"], keep="first", maintain_order=True)
        .select("person_cid", "operation_code", "entry_month", "exit_month", "result_4w", "result_6m")
    )


def _span(column: str, months: list[str]) -> pl.Expr:
    return pl.when(pl.col(column).is_in(months)).then(pl.lit("in_period")).otherwise(pl.lit("earlier"))


def _esf_outputs(
    store: Store, spec: TableSpec, indicators: Mapping[str, pl.Expr], stated: Mapping[str, str]
) -> dict[str, pl.DataFrame]:
    """Return the rows of an ESF outputs table: participations by operation, entry, sex and indicator."""
    require_jurisdiction(store, "bg")
    end = store.period.end
    entry = pl.col("entry_month").str.slice(0, 4).cast(pl.Int32) * 12 + pl.col("entry_month").str.slice(5, 2).cast(
        pl.Int32
    )
    months_to_end = end.year * 12 + end.month - entry
    people = store.people().select(
        "person_cid", "sex", "age", "disability", "minority", "homeless", "citizenship_group", "rural"
    )
    base = (
        _participations(store, list(spec.dim("operation").hierarchy.parent))
        .join(people, on="person_cid", how="inner")
        .with_columns(
            pl.concat_str("person_cid", pl.lit("|"), "operation_code").alias("unit"),
            pl.col("operation_code").alias("operation"),
            _span("entry_month", store.period.months).alias("entry"),
            # the store keeps age at the period end, not the birth date: age at entry is within a year
            (pl.col("age") - months_to_end // 12).alias("age_at_entry"),
        )
    )
    keep = ["unit", "operation", "entry", "sex"]
    flags = [expr.fill_null(False).alias(code) for code, expr in indicators.items()]
    flagged = base.with_columns(flags).with_columns((~pl.any_horizontal([pl.col(c) for c in indicators])).alias("none"))
    participants = pl.concat(
        [flagged.filter(pl.col(c)).select(*keep, pl.lit(c).alias("indicator")) for c in [*indicators, "none"]]
    )
    answers = {
        answer: pl.concat(
            [
                base.filter(pl.col(attribute) == answer).select(*keep, pl.lit(code).alias("indicator"))
                for code, attribute in stated.items()
            ]
        )
        for answer in ("declined", "unknown")
    }
    return {"participants": participants, **answers}


def rows_t01(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T01 (ESF+ common outputs), per measure: participations in 2021–2027 operations, cumulative to date.

    Empty while no registered partner runs a 2021–2027 operation (the pilot's operations are OP HRD
    2014–2020, in T02).
    """
    return _esf_outputs(store, T01, ESF_PLUS_INDICATORS, ESF_PLUS_STATED)


def rows_t02(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T02 (ESF 2014–2020 outputs), per measure: participations in 2014–2020 operations, cumulative to date."""
    return _esf_outputs(store, T02, ESF_2014_INDICATORS, ESF_2014_STATED)


def rows_t03(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T03 (ESF results), per measure: leavers by operation, exit, sex and result 4 weeks and 6 months after."""
    require_jurisdiction(store, "bg")
    people = store.people().select("person_cid", "sex")
    leavers = (
        _participations(store, list(T03.dim("operation").hierarchy.parent))
        .filter(pl.col("exit_month") <= store.period.months[-1])
        .join(people, on="person_cid", how="inner")
        .with_columns(
            pl.concat_str("person_cid", pl.lit("|"), "operation_code").alias("unit"),
            pl.col("operation_code").alias("operation"),
            _span("exit_month", store.period.months).alias("exit"),
        )
    )
    rows = {
        f"participants_{horizon}": leavers.filter(pl.col(f"result_{horizon}").is_not_null()).select(
            "unit", "operation", "exit", "sex", coded(f"result_{horizon}", T03.dim("result").hierarchy).alias("result")
        )
        for horizon in ("4w", "6m")
    }
    return rows


# --- Service volume (T05) ------------------------------------------------------------------------

T05 = TableSpec(
    id="T05",
    title_bg="Обем на услугите",
    title_en="Service volume",
    jurisdiction="bg",
    dims=(
        # events partition over every dimension, but persons only over residence: a person uses
        # several services, modalities and settings and comes back in several quarters
        Dim("quarter", h.flat("quarter", ["Q1", "Q2", "Q3", "Q4"]), additive=False, additive_for=("events",)),
        _geo("nuts3"),
        Dim("service", h.service(), additive=False, additive_for=("events",)),
        Dim("modality", with_unknown("modality", codes.MODALITY), additive=False, additive_for=("events",)),
        Dim("setting", with_unknown("setting", codes.SETTING), additive=False, additive_for=("events",)),
    ),
    # events and users in the period (quarters are calendar quarters: the same in every period)
    measures=(
        Measure("events", "event", grows_with_period=True),
        Measure("unique_persons", "person", grows_with_period=True),
    ),
    # shown where both counts are published and users ≥ 10: with one of them suppressed, the mean
    # times the users (or the events over the mean) would give the suppressed one back
    statistics=(
        Statistic(
            "mean_events_per_user",
            "mean",
            of="unique_persons",
            total="events",
            min_n=10,
            unit="events per user",
            step="0.1",
            describe="events / unique persons of the cell: the mean number of events per person served",
        ),
    ),
    threshold=5,
    # unique persons are T04's and T10's count (persons served in the period by residence and
    # service): cells where the shared dimensions agree and the others are at the total are equal
    universe="bg:persons-served",
    floor="NUTS3",
    # when and where each service is delivered; how it is delivered; which services are delivered how
    crossings=(
        ("quarter", "geo", "service"),
        ("quarter", "geo", "modality", "setting"),
        ("service", "modality", "setting"),
    ),
)


def rows_t05(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T05 (service volume), per measure: events and the persons they served, by quarter, residence and
    service.
    """
    require_jurisdiction(store, "bg")
    people = store.people().select("person_cid", "geo")
    events = (
        store.served()
        .join(people, on="person_cid", how="inner")
        .select(
            "event_pid",
            "person_cid",
            pl.col("quarter").str.slice(-2).alias("quarter"),
            "geo",
            pl.col("service_code").alias("service"),
            coded("modality", T05.dim("modality").hierarchy),
            coded("setting", T05.dim("setting").hierarchy),
        )
    )
    dims = list(T05.dimensions)
    rows = {
        "events": events.select(pl.col("event_pid").alias("unit"), *dims),
        "unique_persons": events.select(pl.col("person_cid").alias("unit"), *dims),
    }
    return rows


# --- Families (T06, and the precarious-family group of T09) --------------------------------------

FAMILY_TYPES = ("single_parent", "three_plus_children", "child_with_disability")

T06 = TableSpec(
    id="T06",
    title_bg="Подкрепени семейства",
    title_en="Families supported",
    jurisdiction="bg",
    dims=(
        _geo("nuts3"),
        # a family can be of several types, or of none (``other``)
        # a family's type at the period end (a third child, a child turning 18)
        Dim("family_type", h.flat("family_type", [*FAMILY_TYPES, "other"]), additive=False, varies_with_period=True),
    ),
    # families supported in the period grow with it; children are those under 18 at the period end
    measures=(Measure("families", "family", grows_with_period=True), Measure("children", "person")),
    threshold=5,
    threshold_sensitive=10,
    sensitive={"family_type": ("child_with_disability",)},
    universe="bg:families-supported",
    floor="NUTS3",
)


def _members(store: Store) -> pl.DataFrame:
    """Return memberships valid in the period with the member's central pseudonym and attributes."""
    schema = {"family_pid": pl.String, "person_pid": pl.String, "relation": pl.String}
    m = store.memberships if store.memberships is not None else pl.DataFrame(schema=schema)
    first, last = store.period.months[0], store.period.months[-1]
    if "valid_from_month" in m.columns:
        m = m.filter(
            (pl.col("valid_from_month").is_null() | (pl.col("valid_from_month") <= last))
            & (pl.col("valid_to_month").is_null() | (pl.col("valid_to_month") >= first))
        )
    people = store.people().select("person_cid", "geo", "age", "disability")
    return (
        m.select("family_pid", "person_pid", "relation")
        .join(store.persons.select("person_pid", "person_cid"), on="person_pid", how="inner")
        .join(people, on="person_cid", how="inner")
        .with_columns(
            (pl.col("relation").is_in(CHILDREN) & (pl.col("age").is_null() | (pl.col("age") < 18))).alias("is_child")
        )
    )


def _families(members: pl.DataFrame) -> pl.DataFrame:
    """Return per family its residence (the members' most frequent known one) and its types."""
    geo = (
        members.filter(pl.col("geo") != UNKNOWN)
        .group_by("family_pid", "geo")
        .len()
        .sort("family_pid", "len", "geo", descending=[False, True, False])
        .unique("family_pid", keep="first", maintain_order=True)
        .select("family_pid", "geo")
    )
    kinds = members.group_by("family_pid").agg(
        ((pl.col("relation").is_in(CAREGIVERS).sum() == 1) & pl.col("is_child").any()).alias("single_parent"),
        (pl.col("is_child").sum() >= 3).alias("three_plus_children"),
        (pl.col("is_child") & (pl.col("disability") == "yes")).any().alias("child_with_disability"),
    )
    return kinds.join(geo, on="family_pid", how="left").with_columns(pl.col("geo").fill_null(UNKNOWN))


def _family_types(families: pl.DataFrame) -> pl.DataFrame:
    """Return (family_pid, family_type) pairs: every type of each family, ``other`` for none."""
    parts = [families.filter(pl.col(t)).select("family_pid", pl.lit(t).alias("family_type")) for t in FAMILY_TYPES]
    parts.append(
        families.filter(~pl.any_horizontal(*FAMILY_TYPES)).select("family_pid", pl.lit("other").alias("family_type"))
    )
    return pl.concat(parts)


def rows_t06(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T06 (families supported), per measure: families with a member served in the period, and their children.

    ``family_pid`` is a partner's pseudonym: a family supported by two partners counts at each. Its
    children are counted once, by central pseudonym, where they live.
    """
    require_jurisdiction(store, "bg")
    members = _members(store)
    served = store.served().select("person_pid").unique()
    supported = members.join(served, on="person_pid", how="semi").select("family_pid").unique()
    members = members.join(supported, on="family_pid", how="semi")
    families = _families(members)
    types = _family_types(families)
    rows = {
        "families": families.select(pl.col("family_pid").alias("unit"), "geo").join(
            types.rename({"family_pid": "unit"}), on="unit"
        ),
        "children": members.filter("is_child")
        .select(pl.col("person_cid").alias("unit"), "geo", "family_pid")
        .join(types, on="family_pid")
        .drop("family_pid"),
    }
    return rows


# --- Child protection (T07) ----------------------------------------------------------------------

#: The store's duration of a case in days (closed − opened, computed from the dates before they are
#: generalised to months); null for an open case, and for every case in a store written without it.
DURATION = "duration_days"

T07 = TableSpec(
    id="T07",
    title_bg="Закрила на детето и превенция на изоставянето",
    title_en="Child protection and abandonment prevention",
    jurisdiction="bg",
    # a case has one residence, source, type, age at opening and outcome: every dimension partitions
    dims=(
        _geo("nuts3"),
        Dim("referral_source", with_unknown("referral_source", codes.REFERRAL_SOURCE), additive=True),
        Dim("case_type", with_unknown("case_type", codes.CASE_TYPE), additive=True),
        # the child's age band at the case's opening: the same in every period
        replace(AGE, varies_with_period=False),
        # the outcome so far: an open case gets one later
        Dim("outcome", with_unknown("outcome", codes.OUTCOME), additive=True, varies_with_period=True),
    ),
    measures=(
        Measure("cases_opened", "case", grows_with_period=True),
        Measure("cases_closed", "case", grows_with_period=True),
    ),
    statistics=(
        Statistic(
            "median_duration_days",
            "median",
            of="cases_closed",
            column=DURATION,
            min_n=10,
            unit="days",
            step="7",
            describe="median duration of the cases closed in the period: closed − opened in days, from the "
            "dates as the partner sent them (the store keeps their months and this duration only)",
        ),
    ),
    threshold=10,
    universe="bg:child-protection-cases",
    floor="NUTS3 (NUTS2 if small)",
    # a few hundred cases a year over four districts: each attribute by district, and outcome by case
    # type nationally. Outcome by case type by district (the pilot's demo store: 70 % of its cells
    # below 10) and the five-way cross would be published mostly as suppression marks.
    crossings=(
        ("geo", "referral_source"),
        ("geo", "case_type"),
        ("geo", "age_band"),
        ("geo", "outcome"),
        ("case_type", "outcome"),
    ),
)


def rows_t07(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T07 (child protection), per measure: cases opened and cases closed in the period.

    A case lives where its child lives (else where its family lives); the outcome of a case opened in
    the period is its outcome at the period end (``open`` if it closed later). The closed cases carry
    their duration in days (``duration_days``), for the median duration.
    """
    require_jurisdiction(store, "bg")
    if store.cases is None:
        return no_rows(T07)
    months, last = store.period.months, store.period.months[-1]
    child_geo = store.persons.select(pl.col("person_pid").alias("child_pid"), "person_cid").join(
        store.people().select("person_cid", "geo"), on="person_cid"
    )
    family_geo = _families(_members(store)).select("family_pid", pl.col("geo").alias("family_geo"))
    cases = (
        store.cases.join(child_geo.drop("person_cid"), on="child_pid", how="left")
        .join(family_geo, on="family_pid", how="left")
        .select(
            pl.col("case_pid").alias("unit"),
            pl.coalesce("geo", "family_geo", pl.lit(UNKNOWN)).alias("geo"),
            coded("referral_source", T07.dim("referral_source").hierarchy),
            coded("case_type", T07.dim("case_type").hierarchy),
            coded("child_age_band_at_opening", AGE.hierarchy).alias("age_band"),
            "outcome",
            "opened_month",
            "closed_month",
            (pl.col(DURATION) if DURATION in store.cases.columns else pl.lit(None)).cast(pl.Int64).alias(DURATION),
        )
    )
    outcome = T07.dim("outcome").hierarchy
    dims = list(T07.dimensions)
    still_open = pl.col("closed_month").is_null() | (pl.col("closed_month") > last)
    rows = {
        "cases_opened": cases.filter(pl.col("opened_month").is_in(months))
        .with_columns(pl.when(still_open).then(pl.lit("open")).otherwise(pl.col("outcome")).alias("outcome"))
        .select("unit", *dims[:-1], coded("outcome", outcome)),
        # with each case's duration, which T07's median reads (the count reads unit and codes only)
        "cases_closed": cases.filter(pl.col("closed_month").is_in(months)).select(
            "unit", *dims[:-1], coded("outcome", outcome), DURATION
        ),
    }
    return rows


# --- Early childhood (T08) -----------------------------------------------------------------------

T08 = TableSpec(
    id="T08",
    title_bg="Ранно детско развитие и патронаж 0–3",
    title_en="Early childhood and patronage 0-3",
    jurisdiction="bg",
    dims=(
        _geo("nuts3"),
        # a child uses several of these services; a home visit is of one service
        Dim("service", early_childhood_service(), additive=False, additive_for=("home_visits",)),
        Dim("age", early_childhood_age(), additive=True, varies_with_period=True),
        SEX,
    ),
    # expectant parents are counted at age PRE (before birth), by their own sex; home visits by the
    # age and sex of the child (or PRE and the parent's sex) visited. None grows with the period: the
    # children are those aged 0–6 at the period end
    measures=(
        Measure("children_reached", "person"),
        Measure("expectant_parents_reached", "person"),
        Measure("home_visits", "event"),
    ),
    threshold=10,
    universe="bg:early-childhood-children",
    floor="NUTS3",
    # services by district, the children's ages and sex by district, and services by age; with a
    # threshold of 10 the four-way cross would be almost all suppressed
    crossings=(("geo", "service"), ("geo", "age", "sex"), ("service", "age")),
)


def rows_t08(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T08 (early childhood), per measure: children aged 0–6 at the period end, and expectant
    parents, who used an early-childhood service in the period; and the home visits they had.
    """
    require_jurisdiction(store, "bg")
    people = store.people()
    children = people.filter(pl.col("age").is_between(0, 6)).select(
        "person_cid",
        "geo",
        pl.when(pl.col("age") <= 2)
        .then(pl.concat_str(pl.lit("Y"), pl.col("age").cast(pl.String)))
        .otherwise(pl.lit("Y3T6"))
        .alias("age"),
        "sex",
    )
    expectant = people.filter(pl.col("role") == "expectant_parent").select(
        "person_cid", "geo", pl.lit("PRE").alias("age"), "sex"
    )
    events = store.served().filter(pl.col("service_code").is_in(EARLY_CHILDHOOD_SERVICES))
    used = events.select("person_cid", pl.col("service_code").alias("service")).unique()
    visits = (
        events.filter(pl.col("modality") == "home_visit")
        .select(pl.col("event_pid").alias("unit"), "person_cid", pl.col("service_code").alias("service"))
        .join(pl.concat([children, expectant]), on="person_cid", how="inner")
        .drop("person_cid")
    )
    return {
        "children_reached": used.join(children, on="person_cid", how="inner").rename({"person_cid": "unit"}),
        "expectant_parents_reached": used.join(expectant, on="person_cid", how="inner").rename({"person_cid": "unit"}),
        "home_visits": visits,
    }


# --- Child Guarantee groups (T09) ----------------------------------------------------------------

CG_GROUPS = ("disability", "minority", "homeless", "precarious_family")

T09 = TableSpec(
    id="T09",
    title_bg="Целеви групи на Гаранцията за детето",
    title_en="Child Guarantee groups",
    jurisdiction="bg",
    dims=(
        _geo("nuts2"),
        # a child can be in several groups or none; its services span several areas
        Dim("group", h.flat("group", [*CG_GROUPS, "none"]), additive=False),
        Dim("cg_area", h.cg_area(), additive=False),
    ),
    # declined: children who declined to say whether they are in the group (shown apart, never counted in);
    # neither grows with the period: the children are those under 18 at the period end
    measures=(Measure("children_reached", "person"), Measure("declined", "person")),
    threshold=10,
    universe="bg:child-guarantee-children",
    floor="NUTS2",
    period_kind="year",
    # NUTS2 × five groups × six areas is small enough to publish in full
    group_scan=GroupScan("group", "children_reached", CG_GROUPS),
)


def rows_t09(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T09 (Child Guarantee groups), per measure: children under 18 served in the period, by group and area.

    A child is in a precarious family situation when a family it belongs to is single-parent or has a
    case of abandonment prevention, reintegration, risk or violence open in the period.
    """
    require_jurisdiction(store, "bg")
    first, last = store.period.months[0], store.period.months[-1]
    members = _members(store)
    families = _families(members)
    precarious = families.filter("single_parent").select("family_pid")
    if store.cases is not None:
        active = store.cases.filter(
            pl.col("case_type").is_in(PRECARIOUS_CASE_TYPES)
            & (pl.col("opened_month") <= last)
            & (pl.col("closed_month").is_null() | (pl.col("closed_month") >= first))
        )
        precarious = pl.concat([precarious, active.select("family_pid")]).unique()
    precarious_cids = members.join(precarious, on="family_pid", how="semi").select("person_cid").unique()
    children = (
        store.people()
        .filter((pl.col("age") < 18) | (pl.col("age").is_null() & (pl.col("role") == "child")))
        .with_columns(pl.col("person_cid").is_in(precarious_cids["person_cid"].implode()).alias("precarious_family"))
    )
    areas = dict(zip(codes.services()["code"], codes.services()["cg_area"], strict=True))
    served = (
        store.served()
        .select("person_cid", pl.col("service_code").replace_strict(areas, default="other").alias("cg_area"))
        .unique()
        .join(children, on="person_cid", how="inner")
    )
    keep: list[pl.Expr | str] = [pl.col("person_cid").alias("unit"), "geo", "cg_area"]
    flags = {g: pl.col(g) == "yes" for g in ("disability", "minority", "homeless")} | {
        "precarious_family": pl.col("precarious_family")
    }
    reached = [served.filter(f).select(*keep, pl.lit(g).alias("group")) for g, f in flags.items()]
    reached.append(served.filter(~pl.any_horizontal(list(flags.values()))).select(*keep, pl.lit("none").alias("group")))
    declined = [
        served.filter(pl.col(g) == "declined").select(*keep, pl.lit(g).alias("group"))
        for g in ("disability", "minority", "homeless")
    ]
    rows = {"children_reached": pl.concat(reached), "declined": pl.concat(declined)}
    return rows


for _spec, _builder in (
    (T01, rows_t01),
    (T02, rows_t02),
    (T03, rows_t03),
    (T05, rows_t05),
    (T06, rows_t06),
    (T07, rows_t07),
    (T08, rows_t08),
    (T09, rows_t09),
):
    register(_spec, _builder)
