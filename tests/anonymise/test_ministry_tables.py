"""The count tables T01–T03, T05–T09 and T12: hand-counted cells, hierarchy relations, registration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anonymise import ministry_ru
from anonymise import ministry_tables as mt
from anonymise.ministry import BUILDERS, ROWS, SPECS, Store, build_t04, build_t10
from anonymise.period import Period
from anonymise.tables import TOTAL
from schemas import codes
from tests.anonymise.relations import relation_violations

RUSE, PLOVDIV = "ruse-svetilnik", "plovdiv-ksuds"
OP41, OP47 = "BG05M9OP001-2.004-0041", "BG05M9OP001-2.004-0047"
PERIOD = Period.parse("2025")
OURS = ("T01", "T02", "T03", "T05", "T06", "T07", "T08", "T09", "T12")

PERSON_COLUMNS = [
    "person_pid", "person_cid", "role", "sex", "age", "age_band", "citizenship_group", "municipality_code",
    "rural", "disability", "minority", "homeless", "partner_id",
]  # fmt: skip
PERSONS = [
    ("p1", "c1", "child", "f", 1, "Y0T2", "national", "RSE27", False, "yes", "no", "no", RUSE),
    ("p2", "c2", "child", "m", 4, "Y3T6", "national", "RSE27", False, "no", "yes", "no", RUSE),
    ("p3", "c3", "parent", "f", 30, "Y30T54", "national", "RSE27", False, "no", "no", "no", RUSE),
    ("p4", "c4", "child", "m", 10, "Y7T13", "third_country", "PDV22", True, "no", "declined", "no", RUSE),
    ("p5", "c5", "parent", "m", 40, "Y30T54", "national", "PDV22", True, "no", "no", "no", RUSE),
    ("p6", "c6", "child", "f", 2, "Y0T2", "national", "PDV22", True, "no", "no", "yes", RUSE),
    ("p7", "c7", "parent", "f", 25, "Y25T29", "eu", "RSE27", False, "declined", "no", "no", RUSE),
    ("p8", "c8", "child", "x", 0, "Y0T2", "national", "RSE27", False, "unknown", "no", "no", RUSE),
    ("p9", "c9", "guardian", "m", 60, "Y55T64", "national", "PDV22", True, "no", "yes", "no", RUSE),
    # c1 again, as the Plovdiv partner knows her (the Ruse record comes first in registry order)
    ("p10", "c1", "child", "f", 1, "Y0T2", "national", "PDV22", True, "yes", "no", "no", PLOVDIV),
    ("p11", "c10", "child", "f", 15, "Y14T17", "national", None, None, "no", "no", "no", RUSE),
    ("p12", "c11", "other_adult", "m", 70, "Y_GE65", "national", "RSE27", False, "no", "no", "no", PLOVDIV),
]
EVENT_COLUMNS = ["event_pid", "person_pid", "person_cid", "month", "service_code", "modality", "setting", "partner_id"]
EVENTS = [
    ("e1", "p1", "c1", "2025-01", "patronage_care", "home_visit", "individual", RUSE),
    ("e2", "p1", "c1", "2025-02", "patronage_care", "home_visit", "individual", RUSE),
    ("e3", "p1", "c1", "2025-04", "health_consultation", "centre", "individual", RUSE),
    ("e4", "p2", "c2", "2025-01", "kindergarten_integration", "centre", "group", RUSE),
    ("e5", "p3", "c3", "2025-01", "parent_psych_support", "centre", "individual", RUSE),
    ("e6", "p4", "c4", "2025-05", "education_mediation", "outreach", "individual", RUSE),
    ("e7", "p6", "c6", "2025-07", "patronage_care", "home_visit", "individual", RUSE),
    ("e8", "p10", "c1", "2025-03", "patronage_care", "home_visit", "individual", PLOVDIV),
    ("e9", "p8", "c8", "2025-10", "early_intervention", "centre", "individual", RUSE),
    ("e10", "p11", "c10", "2025-02", "hot_meal", "centre", "group", RUSE),
    ("e11", "p7", "c7", "2024-12", "parent_psych_support", "centre", "individual", RUSE),  # before the period
    ("e12", "p12", "c11", "2025-06", "material_support", "centre", None, PLOVDIV),
    ("e13", "p9", "c9", "2025-01", "mobile_family_support", "home_visit", "individual", RUSE),
]
MEMBERSHIPS = [
    # F1: a mother and two children, one with a disability
    ("F1", "p3", "mother", "2023-01", None),
    ("F1", "p1", "child", "2024-01", None),
    ("F1", "p2", "child", "2023-01", None),
    # F2: two caregivers and three children (one of unknown residence)
    ("F2", "p5", "father", None, None),
    ("F2", "p9", "guardian", None, None),
    ("F2", "p4", "child", None, None),
    ("F2", "p6", "child", None, None),
    ("F2", "p11", "child", None, None),
    # F3: a mother and a child; the guardian left before the period, so she is a single parent
    ("F3", "p7", "mother", None, None),
    ("F3", "p8", "child", "2025-01", None),
    ("F3", "p9", "guardian", "2022-01", "2024-12"),
    # F4 (Plovdiv's record): a grandfather and c1
    ("F4", "p12", "grandparent", None, None),
    ("F4", "p10", "child", None, None),
]
CASE_COLUMNS = [
    "case_pid", "family_pid", "child_pid", "case_type", "referral_source", "opened_month", "closed_month",
    "outcome", "child_age_band_at_opening",
]  # fmt: skip
CASES = [
    ("k1", "F1", "p1", "prevention_of_abandonment", "health", "2025-02", None, "open", "Y0T2"),
    ("k2", "F2", "p4", "school_dropout", "school", "2025-03", "2025-09", "remains_in_family", "Y7T13"),
    ("k3", "F3", None, "parenting_support", "self", "2024-05", "2025-04", "remains_in_family", "_U"),
    ("k4", "F2", "p6", "behaviour", "child_protection_dept", "2025-11", "2026-02", "foster_care", "Y0T2"),
    ("k5", "F1", "p2", "violence", "court", "2023-01", "2024-06", "remains_in_family", "Y3T6"),
]
PARTICIPATIONS = [
    ("p3", "c3", OP41, "2024-09", "2025-03", "employment", None),
    ("p3", "c3", OP41, "2025-05", None, None, None),  # re-entry: counted once, from the first entry
    ("p7", "c7", OP41, "2024-02", None, None, None),
    ("p9", "c9", OP47, "2025-01", "2025-02", "job_search", "employment"),
    ("p5", "c5", OP47, "2026-01", None, None, None),  # after the period
    ("p2", "c2", "BG05SFPR001-1.001-0001", "2025-01", None, None, None),  # not a registered operation
]


def frame(rows: Sequence[tuple[object, ...]], columns: list[str]) -> pl.DataFrame:
    """Return a frame of hand-written rows (polars infers each column's type)."""
    return pl.DataFrame(rows, schema=columns, orient="row")


@pytest.fixture(scope="module")
def store() -> Store:
    events = frame(EVENTS, EVENT_COLUMNS).with_columns(
        pl.concat_str(
            pl.col("month").str.slice(0, 4),
            pl.lit("-Q"),
            ((pl.col("month").str.slice(5, 2).cast(pl.Int32) + 2) // 3).cast(pl.String),
        ).alias("quarter"),
        pl.lit(None, dtype=pl.String).alias("case_pid"),
    )
    return Store(
        period=PERIOD,
        jurisdiction="bg",
        partner_order=[RUSE, PLOVDIV],
        persons=frame(PERSONS, PERSON_COLUMNS).with_columns(pl.col("age").cast(pl.Int32)),
        events=events,
        cases=frame(CASES, CASE_COLUMNS),
        memberships=frame(MEMBERSHIPS, ["family_pid", "person_pid", "relation", "valid_from_month", "valid_to_month"]),
        participations=frame(
            PARTICIPATIONS,
            ["person_pid", "person_cid", "operation_code", "entry_month", "exit_month", "result_4w", "result_6m"],
        ),
    )


@pytest.fixture(scope="module")
def ru_store() -> Store:
    persons = pl.DataFrame(
        {
            "person_pid": ["r1", "r2", "r3"],
            "person_cid": ["rc1", "rc2", "rc3"],
            "sex": ["f", "m", "f"],
            "age_band": ["Y7T13", "Y30T54", "Y7T13"],
            "municipality_code": [None, None, None],
            "district_group": ["samara", "tolyatti", None],
            "partner_id": ["samara-krug"] * 3,
        },
        schema_overrides={"municipality_code": pl.String},
    )
    events = pl.DataFrame(
        {
            "event_pid": ["x1", "x2", "x3", "x4"],
            "person_cid": ["rc1", "rc1", "rc2", "rc3"],
            "month": ["2025-01", "2025-02", "2025-03", "2025-03"],
            "service_code": ["help_route", "help_route", "respite_play_room", "help_route"],
        }
    )
    return Store(period=PERIOD, jurisdiction="ru", partner_order=["samara-krug"], persons=persons, events=events)


@pytest.fixture(scope="module")
def tables(store: Store, ru_store: Store) -> dict[str, pl.DataFrame]:
    return {t: BUILDERS[t](ru_store if SPECS[t].jurisdiction == "ru" else store) for t in OURS}


def cell(table: pl.DataFrame, measure: str, **codes: str) -> int:
    """Return one cell's value: dimensions not named are at the total; an absent cell is zero."""
    dims = [c for c in table.columns if c not in ("period", "measure", "value")]
    want = {d: codes.get(d, TOTAL) for d in dims}
    hit = table.filter(pl.col("measure") == measure, *[pl.col(d) == v for d, v in want.items()])
    assert hit.height <= 1
    return int(hit["value"].item()) if hit.height else 0


def test_every_table_is_registered_with_its_builder() -> None:
    assert set(OURS) <= set(SPECS) and set(OURS) <= set(BUILDERS) and set(OURS) <= set(ROWS)
    assert all(ROWS[t] is getattr(mt if t != "T12" else ministry_ru, f"rows_{t.lower()}") for t in OURS)


@pytest.mark.parametrize("table_id", OURS)
def test_hierarchies_json_lists_every_dimension_and_every_published_code(
    table_id: str, tables: dict[str, pl.DataFrame]
) -> None:
    spec = SPECS[table_id]
    hier = spec.hierarchies_json()
    assert list(hier) == list(spec.dimensions)
    for d in spec.dimensions:
        declared = set(dict(hier[d]["parent"]))  # type: ignore[call-overload]
        published = set(tables[table_id][d].unique()) - {TOTAL}
        assert published <= declared, (d, published - declared)


@pytest.mark.parametrize("table_id", OURS)
def test_parents_relate_to_children_as_the_spec_declares(table_id: str, tables: dict[str, pl.DataFrame]) -> None:
    assert relation_violations(tables[table_id], SPECS[table_id]) == []


def test_universes_are_distinct_except_tables_counting_the_same_persons() -> None:
    universes = [SPECS[t].universe for t in OURS if t != "T05"]
    assert len(set(universes)) == len(universes)
    assert SPECS["T05"].universe == SPECS["T04"].universe == "bg:persons-served"
    assert SPECS["T12"].universe.startswith("ru:")


def test_t01_is_empty_while_no_partner_runs_an_esf_plus_operation(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T01"]
    assert t.height == 0
    assert t.columns == ["period", *SPECS["T01"].dimensions, "measure", "value"]


def test_t02_counts_each_participation_once_with_the_2014_indicators(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T02"]
    assert cell(t, "participants") == 3  # c3 (re-entry counted once), c7, c9; c5 entered after the period
    assert cell(t, "participants", operation=OP41) == 2
    assert cell(t, "participants", entry="in_period") == 1  # c9
    # c7 is 25 at the period end but was 24 when she entered in 2024-02
    assert cell(t, "participants", indicator="Y_LT25") == 1
    assert cell(t, "participants", indicator="Y_GE55") == 1
    assert cell(t, "participants", indicator="migrant_minority") == 2  # c7 (EU citizen), c9 (minority)
    assert cell(t, "participants", indicator="none") == 1  # c3
    assert cell(t, "declined", indicator="disability") == 1  # c7
    assert cell(t, "participants", operation=OP47, sex="m", indicator="migrant_minority") == 1


def test_t03_counts_leavers_by_result_at_each_horizon(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T03"]
    assert cell(t, "participants_4w") == 2
    assert cell(t, "participants_4w", result="employment") == 1
    assert cell(t, "participants_4w", operation="2014-2020", result="job_search") == 1
    assert cell(t, "participants_6m") == 1  # c3's six months have not passed
    assert cell(t, "participants_6m", operation=OP47, exit="in_period", result="employment") == 1


def test_t05_counts_events_and_the_persons_they_served(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T05"]
    assert cell(t, "events") == 12 and cell(t, "unique_persons") == 9
    # c1's three patronage visits in Q1, two partners, one child
    assert cell(t, "events", quarter="Q1", geo="BG323", service="patronage_care") == 3
    assert cell(t, "unique_persons", quarter="Q1", geo="BG323", service="patronage_care") == 1
    assert cell(t, "events", quarter="Q1", modality="home_visit", setting="individual", geo="BG323") == 3
    assert cell(t, "events", service="material_support", modality="centre", setting="_U") == 1
    assert cell(t, "unique_persons", geo="_U") == 1


def test_t05_persons_equal_t04_and_t10_where_the_shared_dimensions_agree(
    store: Store, tables: dict[str, pl.DataFrame]
) -> None:
    t05 = tables["T05"].filter(
        pl.col("measure") == "unique_persons", *[pl.col(d) == TOTAL for d in ("quarter", "modality", "setting")]
    )
    t04 = build_t04(store).filter(
        pl.col("measure") == "unique_persons", *[pl.col(d) == TOTAL for d in ("partner", "age_band", "sex")]
    )
    pairs = t05.join(t04, on=["period", "geo", "service", "measure"], how="inner")
    assert pairs.height > 10 and (pairs["value"] == pairs["value_right"]).all()
    t10 = build_t10(store).filter(pl.col("rural") == TOTAL, pl.col("age_band") == TOTAL)
    pairs = t05.filter(pl.col("service") == TOTAL).join(t10, on=["period", "geo", "measure"], how="inner")
    assert pairs.height >= 3 and (pairs["value"] == pairs["value_right"]).all()


def test_t06_counts_supported_families_by_type_and_their_children(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T06"]
    assert cell(t, "families") == 4
    assert cell(t, "families", geo="BG323") == 3 and cell(t, "families", geo="BG421") == 1
    assert cell(t, "families", family_type="single_parent") == 2  # F1, and F3 once the guardian left
    assert cell(t, "families", family_type="three_plus_children") == 1  # F2
    assert cell(t, "families", family_type="child_with_disability") == 2  # F1 and Plovdiv's F4 (c1)
    assert cell(t, "families", family_type="other") == 0
    assert cell(t, "children") == 6  # c1 is in two families and counts once
    assert cell(t, "children", family_type="child_with_disability") == 2  # c1, c2
    assert cell(t, "children", geo="_U") == 1  # c10, where she lives, not where her family does


def test_t07_counts_cases_opened_and_closed_with_the_outcome_at_period_end(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T07"]
    assert cell(t, "cases_opened") == 3 and cell(t, "cases_closed") == 2
    assert cell(t, "cases_opened", geo="BG421") == 2
    assert cell(t, "cases_opened", outcome="open") == 2  # k4 closes after the period
    assert cell(t, "cases_closed", geo="BG323") == 1  # k3 has no child: its family's residence
    assert cell(t, "cases_opened", geo="BG32", age_band="Y_LT18") == 1
    assert cell(t, "cases_closed", case_type="parenting_support", outcome="remains_in_family") == 1
    # outside the crossings: no referral source by case type
    assert t.filter(pl.col("referral_source") != TOTAL, pl.col("case_type") != TOTAL).height == 0


def test_t08_counts_children_0_to_6_reached_by_early_childhood_services(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T08"]
    assert cell(t, "children_reached") == 4  # c1, c2, c6, c8 (c10 is 15; hot meal is not counted)
    assert cell(t, "children_reached", service="patronage_care") == 2
    assert cell(t, "children_reached", geo="BG323", service="patronage_care") == 1
    assert cell(t, "children_reached", age="Y0T2") == 3 and cell(t, "children_reached", age="Y1") == 1
    assert cell(t, "children_reached", geo="BG323", age="Y0", sex="x") == 1


def test_t08_counts_expectant_parents_before_birth(store: Store) -> None:
    mother = ("p13", "c12", "expectant_parent", "f", 24, "Y18T24", "national", "PDV22", True, "no", "no", "no", RUSE)
    visit = ("e14", "p13", "c12", "2025-03", "patronage_care", "home_visit", "individual", RUSE)
    extra = store.events.head(1).with_columns(
        *(pl.lit(v).alias(c) for c, v in zip(EVENT_COLUMNS, visit, strict=True)), pl.lit("2025-Q1").alias("quarter")
    )
    with_mother = replace(
        store,
        persons=pl.concat([store.persons, frame([mother], PERSON_COLUMNS).with_columns(pl.col("age").cast(pl.Int32))]),
        events=pl.concat([store.events, extra]),
    )
    t = BUILDERS["T08"](with_mother)
    assert cell(t, "expectant_parents_reached") == 1
    assert cell(t, "expectant_parents_reached", age="PRE", geo="BG421", sex="f") == 1
    assert cell(t, "expectant_parents_reached", age="PRE", service="patronage_care") == 1
    assert cell(t, "children_reached") == 4  # she is not a child
    born = t.filter(pl.col("measure") == "expectant_parents_reached", pl.col("age").is_in(["Y0T2", "Y3T6"]))
    assert born["value"].sum() == 0
    # home visits: c1 twice (Ruse) and once (Plovdiv), c6 once, and her visit; c9's is not early childhood
    assert cell(t, "home_visits") == 5 and cell(t, "home_visits", age="PRE") == 1
    assert cell(t, "home_visits", service="patronage_care") == 5


def test_t09_counts_children_by_child_guarantee_group_and_area(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T09"]
    assert cell(t, "children_reached") == 6
    # single-parent F1 and F3; F2's behaviour case does not make it precarious
    assert cell(t, "children_reached", group="precarious_family") == 3
    assert cell(t, "children_reached", group="none") == 2  # c4 (declined), c10
    assert cell(t, "children_reached", geo="BG32", group="disability") == 1
    assert cell(t, "declined", group="minority") == 1
    assert cell(t, "children_reached", cg_area="nutrition") == 1


def test_t12_counts_russian_recipients_by_district_group(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["T12"]
    assert cell(t, "recipients") == 3
    assert cell(t, "recipients", district_group="samara") == 1 and cell(t, "recipients", district_group="_U") == 1
    assert cell(t, "recipients", service="help_route") == 2


def test_russian_and_bulgarian_stores_never_meet(store: Store, ru_store: Store) -> None:
    with pytest.raises(ValueError, match="ru store only"):
        BUILDERS["T12"](store)
    with pytest.raises(ValueError, match="bg store only"):
        BUILDERS["T05"](ru_store)


def test_a_russian_store_without_district_groups_puts_everyone_in_unknown(ru_store: Store) -> None:
    bare = Store(
        period=PERIOD,
        jurisdiction="ru",
        partner_order=ru_store.partner_order,
        persons=ru_store.persons.drop("district_group"),
        events=ru_store.events,
    )
    t = BUILDERS["T12"](bare)
    assert set(t["district_group"]) == {"_U", TOTAL}
    assert cell(t, "recipients", district_group="_U") == 3


def test_tables_without_their_entity_are_empty(store: Store) -> None:
    bare = Store(
        period=PERIOD, jurisdiction="bg", partner_order=store.partner_order, persons=store.persons, events=store.events
    )
    assert BUILDERS["T07"](bare).height == 0
    assert BUILDERS["T02"](bare).height == 0
    assert BUILDERS["T06"](bare).height == 0


MONTHS = [f"2025-{m:02d}" for m in range(1, 13)] + ["2024-11", "2026-01"]
random_events = st.lists(
    st.tuples(
        st.sampled_from([p[0] for p in PERSONS]),
        st.sampled_from(MONTHS),
        st.sampled_from(codes.service_codes()),
        st.sampled_from([*codes.MODALITY, None]),
        st.sampled_from(codes.SETTING),
    ),
    min_size=1,
    max_size=40,
)
random_cases = st.lists(
    st.tuples(
        st.sampled_from([None, *[p[0] for p in PERSONS if p[2] == "child"]]),
        st.sampled_from(["F1", "F2", "F3", "F4"]),
        st.sampled_from(codes.CASE_TYPE),
        st.sampled_from([*codes.REFERRAL_SOURCE, None]),
        st.sampled_from(MONTHS),
        st.sampled_from([*MONTHS, None]),
        st.sampled_from([*codes.OUTCOME, "unheard_of"]),
        st.sampled_from([b for b, _, _ in codes.AGE_BANDS] + ["_U"]),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=random_events, cases=random_cases)
def test_relations_hold_for_any_events_and_cases(store: Store, events: list[tuple], cases: list[tuple]) -> None:
    cid = {p[0]: p[1] for p in PERSONS}
    ev = pl.DataFrame(
        [
            (
                f"e{i}",
                pid,
                cid[pid],
                month,
                f"{month[:4]}-Q{(int(month[5:]) + 2) // 3}",
                service,
                modality,
                setting,
                RUSE,
            )
            for i, (pid, month, service, modality, setting) in enumerate(events)
        ],
        schema=[
            "event_pid",
            "person_pid",
            "person_cid",
            "month",
            "quarter",
            "service_code",
            "modality",
            "setting",
            "partner_id",
        ],
        orient="row",
    )
    cs = pl.DataFrame(
        [(f"k{i}", fam, child, *rest) for i, (child, fam, *rest) in enumerate(cases)],
        schema={c: pl.String for c in CASE_COLUMNS},
        orient="row",
    )
    random = Store(
        period=PERIOD,
        jurisdiction="bg",
        partner_order=store.partner_order,
        persons=store.persons,
        events=ev,
        cases=cs,
        memberships=store.memberships,
        participations=store.participations,
    )
    for table_id in ("T05", "T06", "T07", "T08", "T09"):
        table = BUILDERS[table_id](random)
        assert relation_violations(table, SPECS[table_id]) == []
        persons = table.filter(pl.col("measure").is_in(["unique_persons", "children_reached"]))
        assert (persons["value"] <= len(PERSONS)).all()
