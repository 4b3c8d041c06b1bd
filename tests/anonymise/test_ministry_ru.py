"""T12, the Russian pilot's table: hand-counted cells on a tiny Russian store, its hierarchies, its domain,
and suppression and the audit on a pilot-sized store."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest

from anonymise import ministry_ru
from anonymise.auditing import audit_tables
from anonymise.ministry import BUILDERS, ROWS, SPECS, Store
from anonymise.period import Period
from anonymise.suppression import protect, table_meta
from anonymise.tables import TOTAL
from schemas import codes
from tests.anonymise.relations import relation_violations

PERIOD = Period.parse("2025")
SAMARA = "samara-krug"
T12 = ministry_ru.T12

PERSON_COLUMNS = [
    "person_pid", "person_cid", "role", "sex", "age", "age_band", "district_group", "disability",
]  # fmt: skip
PERSONS = [
    # family A (Samara): a mother and two children, the elder disabled
    ("r1", "rc1", "child", "f", 8, "Y7T13", "samara", "yes"),
    ("r2", "rc2", "child", "m", 5, "Y3T6", "samara", "no"),
    ("r3", "rc3", "parent", "f", 34, "Y30T54", "samara", "no"),
    # family B (Tolyatti): a boy and his father, who was served only before the period
    ("r4", "rc4", "child", "m", 15, "Y14T17", "tolyatti", "no"),
    ("r5", "rc5", "parent", "m", 40, "Y30T54", "tolyatti", "no"),
    # family C (Syzran): a mother and a girl whose settlement is unknown
    ("r6", "rc6", "child", "f", 2, "Y0T2", None, "no"),
    ("r7", "rc7", "parent", "f", 28, "Y25T29", "syzran", "no"),
]
EVENT_COLUMNS = ["event_pid", "person_pid", "person_cid", "case_pid", "month", "service_code", "modality", "setting"]
EVENTS = [
    # r1 gets pedagogical support at the centre and at home: two forms of one service
    ("e1", "r1", "rc1", "k1", "2025-01", "disability_pedagogical_support", "centre", "individual"),
    ("e2", "r1", "rc1", "k1", "2025-03", "disability_pedagogical_support", "home_visit", "individual"),
    ("e3", "r1", "rc1", None, "2025-04", "respite_play_room", "centre", "group"),
    # day care is semi-residential whatever modality was recorded
    ("e4", "r2", "rc2", None, "2025-02", "respite_play_room", "home_visit", "group"),
    # the social agent works family A's route at home and at the centre
    ("e5", "r3", "rc3", "k1", "2025-02", "help_route", "home_visit", "individual"),
    ("e6", "r3", "rc3", "k1", "2025-05", "help_route", "centre", "individual"),
    ("e7", "r3", "rc3", "k1", "2025-07", "parent_psych_support", "remote", "individual"),
    # no modality recorded: form unknown
    ("e8", "r4", "rc4", "k2", "2025-01", "help_route", None, "individual"),
    # before the period: r5 is no recipient, but route k2 was worked at home
    ("e9", "r5", "rc5", "k2", "2024-07", "help_route", "home_visit", "individual"),
    # after the period: counts for nothing
    ("e10", "r6", "rc6", "k3", "2026-01", "help_route", "home_visit", "individual"),
    ("e11", "r7", "rc7", None, "2025-06", "parent_psych_support", "centre", "individual"),
]
MEMBERSHIP_COLUMNS = ["family_pid", "person_pid", "relation", "valid_from_month", "valid_to_month"]
MEMBERSHIPS = [
    ("FA", "r3", "mother", None, None),
    ("FA", "r1", "child", None, None),
    ("FA", "r2", "child", "2020-09", None),
    ("FB", "r5", "father", None, None),
    ("FB", "r4", "child", None, None),
    ("FC", "r7", "mother", None, None),
    ("FC", "r6", "child", None, None),
    # a family r4 left before the period: not counted
    ("FD", "r4", "child", "2019-01", "2024-12"),
]
CASE_COLUMNS = ["case_pid", "family_pid", "child_pid", "case_type", "opened_month", "closed_month", "outcome"]
CASES = [
    ("k1", "FA", "r1", "early_intervention", "2025-02", None, "open"),
    # opened before the period and closed in it: closed, not opened
    ("k2", "FB", "r4", "child_at_risk", "2024-06", "2025-03", "remains_in_family"),
    # a family route with no child named, closing after the period: it lives where its family does
    ("k3", "FC", None, "parenting_support", "2025-11", "2026-02", "open"),
    # over before the period
    ("k4", "FA", "r2", "other", "2023-01", "2024-05", "remains_in_family"),
]


def frame(rows: Sequence[tuple[object, ...]], columns: list[str]) -> pl.DataFrame:
    """Return a frame of hand-written rows, every column a string unless polars infers otherwise."""
    return pl.DataFrame(rows, schema=columns, orient="row")


@pytest.fixture(scope="module")
def store() -> Store:
    persons = frame(PERSONS, PERSON_COLUMNS).with_columns(
        pl.col("age").cast(pl.Int32),
        pl.lit(None, dtype=pl.String).alias("municipality_code"),
        pl.lit(SAMARA).alias("partner_id"),
    )
    return Store(
        period=PERIOD,
        jurisdiction="ru",
        partner_order=[SAMARA],
        persons=persons,
        events=frame(EVENTS, EVENT_COLUMNS).with_columns(pl.lit(SAMARA).alias("partner_id")),
        cases=frame(CASES, CASE_COLUMNS),
        memberships=frame(MEMBERSHIPS, MEMBERSHIP_COLUMNS),
    )


@pytest.fixture(scope="module")
def t12(store: Store) -> pl.DataFrame:
    return BUILDERS["T12"](store)


def cell(table: pl.DataFrame, measure: str, **where: str) -> int:
    """Return one cell's value: dimensions not named are at the total; an absent cell is zero."""
    dims = [c for c in table.columns if c not in ("period", "measure", "value", "conf_status")]
    hit = table.filter(pl.col("measure") == measure, *[pl.col(d) == where.get(d, TOTAL) for d in dims])
    assert hit.height <= 1
    return int(hit["value"].item()) if hit.height else 0


def test_t12_is_registered_in_the_russian_domain_with_its_own_universe() -> None:
    assert SPECS["T12"] is T12 and ROWS["T12"] is ministry_ru.rows_t12
    assert T12.jurisdiction == "ru" and T12.universe.startswith("ru:")
    assert T12.dimensions == ("district_group", "service_form", "service", "sex", "age_band")
    assert T12.measure_names == ("recipients", "families", "help_routes_opened", "help_routes_closed")
    assert T12.threshold == 10
    # never linked: no other table counts its universe
    assert [t for t, s in SPECS.items() if s.universe == T12.universe] == ["T12"]


def test_recipients_are_counted_once_per_cell_by_district_form_service_sex_and_age(t12: pl.DataFrame) -> None:
    assert cell(t12, "recipients") == 5  # r1, r2, r3, r4, r7; r5 only before, r6 only after the period
    assert cell(t12, "recipients", district_group="samara") == 3
    assert cell(t12, "recipients", district_group="tolyatti") == 1
    assert cell(t12, "recipients", district_group="syzran") == 1
    # r1 and r3 are each served in two forms: forms do not add up to the total
    assert cell(t12, "recipients", service_form="home") == 2  # r1 (e2), r3 (e5)
    assert cell(t12, "recipients", service_form="semi_residential") == 4  # r1, r2, r3, r7
    assert cell(t12, "recipients", service_form="_U") == 1  # r4: no modality
    assert cell(t12, "recipients", service_form="residential") == 0
    assert cell(t12, "recipients", service="respite_play_room") == 2
    assert cell(t12, "recipients", service="help_route") == 2  # r3, r4
    assert cell(t12, "recipients", service="information_consulting") == 3  # r3, r4, r7 (help route, psychologist)
    assert cell(t12, "recipients", service_form="semi_residential", service="respite_play_room") == 2  # e4 at home
    assert cell(t12, "recipients", service_form="home", service="disability_pedagogical_support") == 1
    assert cell(t12, "recipients", service_form="semi_residential", service="disability_pedagogical_support") == 1
    assert cell(t12, "recipients", service_form="semi_residential", service="parent_psych_support") == 2  # remote too
    assert cell(t12, "recipients", district_group="samara", service_form="home") == 2
    assert cell(t12, "recipients", district_group="samara", sex="f") == 2
    assert cell(t12, "recipients", sex="m", age_band="Y_LT18") == 2  # r2, r4
    assert cell(t12, "recipients", sex="f", age_band="Y25T29") == 1


def test_families_are_the_recipients_families_counted_once(t12: pl.DataFrame) -> None:
    assert cell(t12, "families") == 3  # FA (two children served, counted once), FB, FC; FD ended in 2024
    assert cell(t12, "families", district_group="samara") == 1
    assert cell(t12, "families", district_group="syzran") == 1  # FC by its served mother
    # a family under each of its recipients' codes
    assert cell(t12, "families", sex="f") == 2 and cell(t12, "families", sex="m") == 2
    assert cell(t12, "families", service="respite_play_room") == 1  # FA's two children
    assert cell(t12, "families", service_form="semi_residential") == 2  # FA, FC
    assert cell(t12, "families", service_form="_U") == 1  # FB
    assert cell(t12, "families", sex="m", age_band="Y14T17") == 1


def test_help_routes_are_counted_opened_and_closed_in_the_period(t12: pl.DataFrame) -> None:
    assert cell(t12, "help_routes_opened") == 2  # k1, k3; k2 opened in 2024, k4 is over
    assert cell(t12, "help_routes_closed") == 1  # k2, opened before the period; k3 closes in 2026
    # k1 by its child r1; k3 names no child: its family's district group (the mother's; the girl's is unknown)
    assert cell(t12, "help_routes_opened", district_group="samara") == 1
    assert cell(t12, "help_routes_opened", district_group="syzran") == 1
    assert cell(t12, "help_routes_opened", sex="f") == 1 and cell(t12, "help_routes_opened", sex="u") == 1
    assert cell(t12, "help_routes_opened", sex="u", age_band="_U") == 1
    # a route is the help-route service, in the forms its help-route events had up to the period end
    assert cell(t12, "help_routes_opened", service="help_route") == 2
    assert cell(t12, "help_routes_opened", service="respite_play_room") == 0
    assert cell(t12, "help_routes_opened", service_form="home") == 1  # k1
    assert cell(t12, "help_routes_opened", service_form="semi_residential") == 1  # k1
    assert cell(t12, "help_routes_opened", service_form="_U") == 1  # k3: its only event is after the period
    assert cell(t12, "help_routes_closed", district_group="tolyatti", sex="m") == 1
    assert cell(t12, "help_routes_closed", sex="m", age_band="Y14T17") == 1
    assert cell(t12, "help_routes_closed", service_form="home") == 1  # e9, before the period
    assert cell(t12, "help_routes_closed", service_form="_U") == 1  # e8, no modality


def test_only_the_declared_crossings_are_published(t12: pl.DataFrame) -> None:
    crossed = t12.select(
        pl.concat_list([pl.when(pl.col(d) != TOTAL).then(pl.lit(d)) for d in T12.dimensions]).list.drop_nulls()
    ).to_series()
    allowed = [set(c) for c in T12.crossings]
    assert all(any(set(c) <= a for a in allowed) for c in crossed.to_list())
    assert t12.filter(pl.col("district_group") != TOTAL, pl.col("age_band") != TOTAL).height == 0


def test_parents_relate_to_children_as_the_spec_declares(t12: pl.DataFrame) -> None:
    assert relation_violations(t12, T12) == []


def test_hierarchies_json_lists_every_dimension_with_its_additivity(t12: pl.DataFrame) -> None:
    hier = T12.hierarchies_json()
    assert list(hier) == list(T12.dimensions)
    assert all(entry["additive"] is False for entry in hier.values())
    one_per_unit = ["help_routes_closed", "help_routes_opened", "recipients"]
    assert {d: hier[d].get("additive_for") for d in hier} == {
        "district_group": one_per_unit,
        "service_form": None,
        "service": ["help_routes_closed", "help_routes_opened"],
        "sex": one_per_unit,
        "age_band": one_per_unit,
    }
    assert hier["service_form"]["parent"] == {c: TOTAL for c in ("_U", "home", "residential", "semi_residential")}
    assert dict(hier["district_group"]["parent"]) == {  # type: ignore[call-overload]
        c: TOTAL for c in ("_U", "other", "samara", "syzran", "tolyatti")
    }
    for d in T12.dimensions:
        published = set(t12[d].unique()) - {TOTAL}
        assert published <= set(dict(hier[d]["parent"])), d  # type: ignore[call-overload]


def test_the_service_form_mapping_is_complete_and_uses_contract_codes() -> None:
    forms = set(codes.RU_SERVICE_FORM)
    assert set(codes.RU_SERVICE_FORM_BY_MODALITY) == set(codes.MODALITY)
    assert set(codes.RU_SERVICE_FORM_BY_MODALITY.values()) <= forms
    assert set(codes.RU_SERVICE_FORM_BY_ACTIVITY) <= set(codes.ssa_activities()["code"])
    assert set(codes.RU_SERVICE_FORM_BY_ACTIVITY.values()) <= forms
    assert set(codes.RU_SERVICE_FORM_LABEL_RU) == forms
    events = pl.DataFrame(
        {
            "service_code": ["help_route", "help_route", "respite_play_room", "help_route", "help_route"],
            "modality": ["home_visit", "outreach", "home_visit", None, "teleport"],
        }
    )
    got = events.select(ministry_ru.service_form(events))["service_form"].to_list()
    assert got == ["home", "semi_residential", "semi_residential", "_U", "_U"]
    assert events.drop("modality").select(ministry_ru.service_form(events.drop("modality"))).to_series().to_list() == [
        "_U",
        "_U",
        "semi_residential",
        "_U",
        "_U",
    ]


def test_a_bulgarian_store_is_refused(store: Store) -> None:
    bulgarian = Store(
        period=PERIOD, jurisdiction="bg", partner_order=["ruse-svetilnik"], persons=store.persons, events=store.events
    )
    with pytest.raises(ValueError, match="ru store only"):
        BUILDERS["T12"](bulgarian)
    with pytest.raises(ValueError, match="ru store only"):
        ministry_ru.rows_t12(bulgarian)


def test_a_store_without_families_or_routes_counts_only_recipients(store: Store) -> None:
    bare = Store(period=PERIOD, jurisdiction="ru", partner_order=[SAMARA], persons=store.persons, events=store.events)
    t = BUILDERS["T12"](bare)
    assert cell(t, "recipients") == 5
    assert cell(t, "families") == 0 and cell(t, "help_routes_opened") == 0 and cell(t, "help_routes_closed") == 0


def pilot_store(seed: int, families: int = 120) -> Store:
    """Return a Russian store of pilot size (about 300 recipients, 100 routes), drawn with a seeded generator."""
    rng = np.random.default_rng(seed)
    size = rng.integers(2, 5, families)
    fam = np.repeat(np.arange(families), size)
    first = np.r_[0, np.cumsum(size)[:-1]]
    adult = np.isin(np.arange(fam.shape[0]), first)
    n = fam.shape[0]
    age = np.where(adult, rng.integers(20, 60, n), rng.integers(0, 18, n))
    bands = [(b, lo, 200 if hi is None else hi) for b, lo, hi in codes.AGE_BANDS]
    band = [next(b for b, lo, hi in bands if lo <= a <= hi) for a in age]
    group = np.array(["samara", "samara", "tolyatti", "syzran", "other"])[rng.integers(0, 5, families)][fam]
    pid = [f"r{i}" for i in range(n)]
    persons = pl.DataFrame(
        {
            "person_pid": pid,
            "person_cid": [f"rc{i}" for i in range(n)],
            "role": np.where(adult, "parent", "child"),
            "sex": rng.choice(["f", "m", "u"], n, p=[0.5, 0.48, 0.02]),
            "age": age.astype(np.int32),
            "age_band": band,
            "district_group": group,
            "disability": rng.choice(["yes", "no"], n),
            "municipality_code": pl.Series([None] * n, dtype=pl.String),
            "partner_id": [SAMARA] * n,
        }
    )
    memberships = pl.DataFrame(
        {
            "family_pid": [f"F{f}" for f in fam],
            "person_pid": pid,
            "relation": np.where(adult, "mother", "child"),
            "valid_from_month": pl.Series([None] * n, dtype=pl.String),
            "valid_to_month": pl.Series([None] * n, dtype=pl.String),
        }
    )
    months = [f"{y}-{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)]
    opened = rng.integers(0, 24, families)
    closed = opened + rng.integers(2, 14, families)
    cases = pl.DataFrame(
        {
            "case_pid": [f"k{f}" for f in range(families)],
            "family_pid": [f"F{f}" for f in range(families)],
            "child_pid": [pid[first[f] + 1] if size[f] > 1 and rng.random() < 0.85 else None for f in range(families)],
            "opened_month": [months[i] for i in opened],
            "closed_month": [months[i] if i < 24 else None for i in closed],
        }
    )
    k = 8 * n
    who = rng.integers(0, n, k)
    services = ["help_route", "parent_psych_support", "respite_play_room", "disability_pedagogical_support"]
    events = pl.DataFrame(
        {
            "event_pid": [f"e{i}" for i in range(k)],
            "person_pid": [pid[i] for i in who],
            "person_cid": [f"rc{i}" for i in who],
            "case_pid": [f"k{fam[i]}" for i in who],
            "month": [months[i] for i in rng.integers(0, 36, k)],
            "service_code": rng.choice(services, k, p=[0.4, 0.2, 0.25, 0.15]),
            "modality": rng.choice([*codes.MODALITY, None], k, p=[0.5, 0.3, 0.0, 0.15, 0.05]),
            "partner_id": [SAMARA] * k,
        }
    )
    return Store(PERIOD, "ru", [SAMARA], persons, events, cases, memberships)


@pytest.mark.parametrize("seed", [1, 2])
def test_t12_of_a_pilot_store_goes_through_suppression_and_the_audit(seed: int) -> None:
    table = BUILDERS["T12"](pilot_store(seed))
    assert relation_violations(table, T12) == []
    assert cell(table, "recipients") > 200 and cell(table, "help_routes_opened") > 30
    out, summary = protect({"T12": table}, {"T12": T12})
    protected = out["T12"]
    assert summary["T12"].primary > 0 and summary["T12"].threshold == 10
    published = protected.filter(pl.col("conf_status") == "F")
    assert not published["value"].is_between(1, 9).any()
    assert protected.filter(pl.col("conf_status") != "F")["value"].is_null().all()
    # the release states the spec's relations; the audit, from the published cells alone, finds nothing
    report = audit_tables(
        {"T12": protected.with_columns(pl.col("value").cast(pl.Float64))}, {"T12": table_meta(T12)}, exact=True
    )
    assert report.passed, [f.describe() for f in report.findings]
    assert report.tables["T12"]["suppressed"] == summary["T12"].primary + summary["T12"].secondary
