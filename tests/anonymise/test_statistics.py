"""Statistics in the release: T05's mean events per user and T07's median duration of closed cases.

Hand-computed values on a tiny store; the rule that hides a statistic (fewer than min_n units, a base
count suppressed); the attack a shown mean beside a suppressed count would allow, and that the rule
prevents; the audit of a written release with statistics, and what it finds when the rule is broken.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from anonymise import hierarchy as h
from anonymise.attack import intervals
from anonymise.auditing import StatisticFinding, audit_release, read_release
from anonymise.constraints import System, system
from anonymise.ministry import ROWS, SPECS, Store, tabulate
from anonymise.period import Period
from anonymise.policy import default_policy_text, parse_policy
from anonymise.suppression import CONCEALED, FEW, FREE, protect, table_meta, with_statistics
from anonymise.tables import TOTAL, Dim, Measure, Statistic, TableSpec, cube, long, statistic_cells

PERIOD = Period.parse("2025")
RUSE, PLOVDIV = "RSE27", "PDV22"  # municipalities in districts BG323 and BG421

# --- a tiny store ------------------------------------------------------------------------------

PERSON_COLUMNS = [
    "person_pid", "person_cid", "role", "sex", "age", "age_band", "citizenship_group", "municipality_code",
    "rural", "disability", "minority", "homeless", "partner_id",
]  # fmt: skip
CASE_COLUMNS = [
    "case_pid", "family_pid", "child_pid", "case_type", "referral_source", "opened_month", "closed_month",
    "outcome", "child_age_band_at_opening", "duration_days",
]  # fmt: skip

#: T05: twelve users in Ruse with 1, 2, …, 12 events (78), six in Plovdiv with one each (6)
T05_USERS = [(f"r{i}", RUSE, i) for i in range(1, 13)] + [(f"v{i}", PLOVDIV, 1) for i in range(1, 7)]
#: T07: durations in days of the cases closed in 2025, by district; two of Ruse's went to foster care
RUSE_DAYS = [3, 17, 40, 41, 60, 75, 90, 100, 120, 200, 365, 400]
PLOVDIV_DAYS = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
FOSTER = {365, 400}


def person(pid: str, municipality: str, age: int = 10) -> tuple[object, ...]:
    return (pid, f"c-{pid}", "child", "f", age, "Y7T13", "national", municipality, False, "no", "no", "no", "ruse")


def tiny_store() -> Store:
    people = [person(p, m) for p, m, _ in T05_USERS]
    events = [
        (f"e-{p}-{k}", p, f"c-{p}", "2025-01", "2025-Q1", "hot_meal", "centre", "group", "ruse")
        for p, _, n in T05_USERS
        for k in range(n)
    ]
    cases = []
    for where, days in ((RUSE, RUSE_DAYS), (PLOVDIV, PLOVDIV_DAYS)):
        for i, d in enumerate(days):
            child = f"k{where}{i}"
            people.append(person(child, where))
            outcome = "foster_care" if where == RUSE and d in FOSTER else "remains_in_family"
            cases.append(
                (f"case-{child}", f"f-{child}", child, "school_dropout", "school", "2024-01", "2025-06", outcome)
                + ("Y7T13", d)
            )
    # neither enters a median: closed before the period, and opened in it but still open
    people.append(person("old", RUSE))
    for case, opened, closed, outcome, days in (
        ("case-old", "2023-01", "2024-06", "remains_in_family", 999),
        ("case-open", "2025-03", None, "open", None),
    ):
        cases.append((case, "f-old", "old", "school_dropout", "school", opened, closed, outcome, "Y7T13", days))
    event_columns = [
        "event_pid", "person_pid", "person_cid", "month", "quarter", "service_code", "modality", "setting",
        "partner_id",
    ]  # fmt: skip
    return Store(
        period=PERIOD,
        jurisdiction="bg",
        partner_order=["ruse"],
        persons=pl.DataFrame(people, schema=PERSON_COLUMNS, orient="row").with_columns(pl.col("age").cast(pl.Int32)),
        events=pl.DataFrame(events, schema=event_columns, orient="row"),
        cases=pl.DataFrame(cases, schema=CASE_COLUMNS, orient="row"),
    )


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """Per table: the count table and its statistics' true values."""
    store = tiny_store()
    out = {}
    for t in ("T05", "T07"):
        rows = ROWS[t](store)
        table = tabulate(rows, SPECS[t], PERIOD)
        out[t] = (table, statistic_cells(rows, SPECS[t], table))
    return out


@pytest.fixture(scope="module")
def released(built) -> dict[str, pl.DataFrame]:
    """T05 and T07 suppressed together (as the release does), with their statistics."""
    protected, _ = protect({t: table for t, (table, _) in built.items()}, SPECS)
    return {t: with_statistics(protected[t], built[t][1], SPECS[t]) for t in built}


def at(frame: pl.DataFrame, measure: str, **cell: str) -> dict[str, object]:
    """Return the row of one cell (dimensions not named are at the total)."""
    skip = ("period", "measure", "value", "conf_status", "n", "known", "num", "den")
    dims = [c for c in frame.columns if c not in skip]
    where = [pl.col(d) == cell.get(d, TOTAL) for d in dims]
    rows = frame.filter(pl.col("measure") == measure, *where)
    assert rows.height == 1, (measure, cell, rows)
    return rows.row(0, named=True)


# --- hand-computed values ----------------------------------------------------------------------


def test_the_true_mean_and_median_are_computed_per_cell_at_every_level(built) -> None:
    _, t05 = built["T05"]
    national = at(t05, "mean_events_per_user")
    assert (national["n"], national["num"], national["den"]) == (18, 84, 18)
    ruse = at(t05, "mean_events_per_user", geo="BG323")
    assert (ruse["n"], ruse["num"], ruse["den"]) == (12, 78, 12)
    _, t07 = built["T07"]
    # 23 cases closed in 2025 (not the one closed in 2024, not the open one): the 12th is 15 days
    national = at(t07, "median_duration_days")
    assert (national["n"], national["known"], Fraction(national["num"], national["den"])) == (23, 23, 15)
    # Ruse's twelve: the mean of the 6th and 7th, 75 and 90
    ruse = at(t07, "median_duration_days", geo="BG323")
    assert (ruse["n"], Fraction(ruse["num"], ruse["den"])) == (12, Fraction(165, 2))
    plovdiv = at(t07, "median_duration_days", geo="BG42")
    assert Fraction(plovdiv["num"], plovdiv["den"]) == 10
    foster = at(t07, "median_duration_days", geo="BG323", outcome="foster_care")
    assert (foster["n"], Fraction(foster["num"], foster["den"])) == (2, Fraction(765, 2))
    # a cell without closed cases has no median
    assert at(t07, "median_duration_days", outcome="open")["den"] is None


def test_published_values_are_rounded_as_the_manifest_states(released) -> None:
    t05, t07 = released["T05"], released["T07"]
    # 84 / 18 = 4.67 → 4.7; 78 / 12 = 6.5 exactly
    assert at(t05, "mean_events_per_user") == at(t05, "mean_events_per_user") | {"value": "4.7", "conf_status": FREE}
    assert at(t05, "mean_events_per_user", geo="BG323")["value"] == "6.5"
    assert at(t05, "mean_events_per_user", geo="BG323", service="hot_meal")["value"] == "6.5"
    # medians to a multiple of 7 days, half up: 15 → 14, 82.5 → 84, 10 → 7
    assert at(t07, "median_duration_days")["value"] == "14"
    assert at(t07, "median_duration_days", geo="BG323")["value"] == "84"
    assert at(t07, "median_duration_days", geo="BG421")["value"] == "7"
    assert at(t07, "median_duration_days", case_type="school_dropout")["value"] == "14"


def test_a_statistic_over_fewer_than_min_n_units_is_hidden(released) -> None:
    # Plovdiv's six users are published (threshold 5), but six is below the mean's 10
    t05 = released["T05"]
    assert at(t05, "unique_persons", geo="BG421")["conf_status"] == FREE
    cell = at(t05, "mean_events_per_user", geo="BG421")
    assert (cell["value"], cell["conf_status"]) == (None, FEW)
    # no closed case: the median is undefined, and hidden as too few
    cell = at(released["T07"], "median_duration_days", outcome="open")
    assert (cell["value"], cell["conf_status"]) == (None, FEW)


def test_a_statistic_beside_a_suppressed_base_count_is_hidden_whatever_its_units(released) -> None:
    t07 = released["T07"]
    # two cases went to foster care in Ruse: suppressed (threshold 10), and its median with it
    assert at(t07, "cases_closed", geo="BG323", outcome="foster_care")["conf_status"] in ("C", "D")
    cell = at(t07, "median_duration_days", geo="BG323", outcome="foster_care")
    assert (cell["value"], cell["conf_status"]) == (None, CONCEALED)
    # every statistic follows the rule, from the published counts only
    for t, frame in released.items():
        spec = SPECS[t]
        keys = ["period", *spec.dimensions]
        for s in spec.statistics:
            rows = frame.filter(pl.col("measure") == s.name)
            for i, base in enumerate(s.bases):
                b = frame.filter(pl.col("measure") == base).select(
                    *keys, pl.col("conf_status").alias(f"s{i}"), pl.col("value").alias(f"v{i}")
                )
                rows = rows.join(b, on=keys, how="left")
            concealed = pl.any_horizontal([pl.col(f"s{i}") != FREE for i in range(len(s.bases))])
            assert rows.filter(concealed)["conf_status"].unique().to_list() in ([], [CONCEALED])
            shown = rows.filter(pl.col("conf_status") == FREE)
            assert shown.height > 0
            assert (shown["v0"].cast(pl.Int64) >= s.min_n).all() and shown["value"].is_not_null().all()
            assert rows.filter(pl.col("conf_status") != FREE)["value"].is_null().all()


# --- the attack a mean beside a suppressed count allows ------------------------------------------

REGION = Dim("region", h.flat("region", ["a", "b"]), additive=True)
MEAN = Statistic("mean", "mean", of="users", total="events", min_n=10, unit="events per user", step="0.1")
TM = TableSpec(
    id="TM",
    title_bg="",
    title_en="",
    jurisdiction="bg",
    dims=(REGION,),
    measures=(Measure("events", "event"), Measure("users", "person")),
    threshold=5,
    universe="test:tm",
    statistics=(MEAN,),
)


def tm_release() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return TM (30 users in a with 4 events each, 3 in b with 2 each) suppressed, and its statistics.

    Users of b (3) are primary; users of a (30) secondary, or the total would give b back. Events
    (120, 6, 126) are all published.
    """
    users = [(f"a{i}", "a") for i in range(30)] + [(f"b{i}", "b") for i in range(3)]
    events = [(f"{u}-{k}", r) for u, r in users for k in range(4 if r == "a" else 2)]
    rows = {
        "users": pl.DataFrame(users, schema=["unit", "region"], orient="row"),
        "events": pl.DataFrame(events, schema=["unit", "region"], orient="row"),
    }
    table = long(cube(rows, TM), TM, PERIOD)
    protected, _ = protect({"TM": table}, {"TM": TM})
    return protected["TM"], statistic_cells(rows, TM, table)


def attack(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Return the attacker's exact interval of every suppressed count, using each shown mean too.

    A shown mean m (rounded to a step) of a cell bounds its counts linearly:
    (m − step/2) · users ≤ events ≤ (m + step/2) · users. The attacker adds these to every relation
    the release states and solves for the minimum and maximum of each suppressed count.
    """
    names = [s.name for s in spec.statistics]
    counts = frame.filter(~pl.col("measure").is_in(names)).with_columns(pl.col("value").cast(pl.Float64))
    base = system({spec.id: counts}, {spec.id: table_meta(spec)})
    cell = dict(zip(base.cells["label"], base.cells["cell"], strict=True))
    rows, terms = [base.rows], [base.terms]
    row = base.rows.height
    for s in spec.statistics:
        half = Fraction(s.step) / 2
        for r in frame.filter((pl.col("measure") == s.name) & (pl.col("conf_status") == FREE)).iter_rows(named=True):
            where = "".join(f"|{d}={r[d]}" for d in spec.dimensions)
            of, total = (
                cell[f"{spec.id}:{r['period']}{where}|{s.of}"],
                cell[f"{spec.id}:{r['period']}{where}|{s.total}"],
            )
            m = Fraction(r["value"])
            for coef_total, coef_of in ((1.0, -float(m + half)), (-1.0, float(m - half))):
                rows.append(pl.DataFrame({"row": [row], "op": ["le"], "kind": [f"{s.name}"], "rhs": [0.0]}))
                terms.append(pl.DataFrame({"row": [row, row], "cell": [total, of], "coef": [coef_total, coef_of]}))
                row += 1
    attacked = System(base.cells, pl.concat(rows), pl.concat(terms).cast(base.terms.schema))
    return intervals(attacked, exact=True)


def test_a_mean_beside_a_suppressed_count_would_give_it_back() -> None:
    protected, stats = tm_release()
    assert at(protected, "users", region="b")["conf_status"] == "C"
    assert at(protected, "users", region="a")["conf_status"] == "D"
    # without the rule every mean is shown: 120 / mean 4.0 pins users of a to 30, and b to 33 − 30
    shown = protected.with_columns(pl.col("value").cast(pl.String)).vstack(
        stats.select(
            "period", "region", "measure", MEAN.text("num", "den"), pl.lit(FREE).alias("conf_status")
        ).with_columns(pl.col("value").fill_null("0"))
    )
    found = attack(shown, TM)
    assert (found["width"] < found["required"]).sum() == 2
    assert sorted(found.filter(pl.col("width") < 1)["lower"].round(6).to_list()) == [3.0, 30.0]


def test_the_rule_leaves_a_suppressed_count_as_wide_as_without_statistics() -> None:
    """Fails if the hide rule is removed: the release's own means must not narrow a suppressed count."""
    protected, stats = tm_release()
    released = with_statistics(protected, stats, TM)
    assert at(released, "mean", region="a")["conf_status"] == CONCEALED  # 30 users, but suppressed
    assert at(released, "mean", region="b")["conf_status"] == CONCEALED  # 3 users: M, not A (tells nothing)
    assert at(released, "mean")["value"] == "3.8"  # 126 / 33, both published
    with_means = attack(released, TM)
    without = attack(protected, TM)
    assert (with_means["width"] >= with_means["required"]).all()
    assert with_means["width"].to_list() == without["width"].to_list()


# --- the audit of a written release ------------------------------------------------------------


def write(folder: Path, released: dict[str, pl.DataFrame], method: str = "suppression") -> dict:
    from flows.stages import disclosure_meta, write_draft

    text = default_policy_text().replace('method = "suppression"', f'method = "{method}"')
    disclosure = disclosure_meta(parse_policy(text), sorted(released))
    write_draft(folder, released, disclosure)
    return disclosure


def test_a_release_with_statistics_passes_the_audit_and_states_them(tmp_path, released) -> None:
    disclosure = write(tmp_path, released)
    report = audit_release(tmp_path)
    assert report.passed, [f.describe() for f in report.findings]
    assert report.tables["T07"]["statistics"]["median_duration_days"]["shown"] > 0
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))["disclosure"]
    median = manifest["T07"]["statistics"]["median_duration_days"]
    assert (median["kind"], median["of"], median["min_n"], median["unit"], median["step"]) == (
        "median",
        "cases_closed",
        10,
        "days",
        "7",
    )
    assert "rule" in median and set(median["flags"]) == {"F", "A", "M"} and median["additive"] is False
    assert manifest["T05"]["statistics"]["mean_events_per_user"]["total"] == "events"
    assert disclosure == manifest
    # the statistics are in the CSV as rows of their own, and never reach the attacker's programs
    t07 = pl.read_csv(tmp_path / "T07.csv", infer_schema=False)
    assert t07.columns == ["period", *SPECS["T07"].dimensions, "measure", "value", "conf_status"]
    assert "median_duration_days" in set(t07["measure"])
    tables, _ = read_release(tmp_path)
    assert set(tables["T07"]["measure"]) == {"cases_opened", "cases_closed"}
    assert set(tables["T05"]["measure"]) == {"events", "unique_persons"}
    # counts are written as integers, statistics with their decimals
    t05 = pl.read_csv(tmp_path / "T05.csv", infer_schema=False)
    assert t05.filter(pl.col("measure") == "events")["value"].drop_nulls().str.contains(r"^\d+$").all()
    assert (
        t05.filter(pl.col("measure") == "mean_events_per_user")["value"].drop_nulls().str.contains(r"^\d+\.\d$").all()
    )


def test_the_audit_finds_a_statistic_shown_against_its_rule(tmp_path, released) -> None:
    t07 = released["T07"]
    hidden = (pl.col("measure") == "median_duration_days") & (pl.col("conf_status") == CONCEALED)
    assert t07.filter(hidden).height
    broken = t07.with_columns(
        pl.when(hidden).then(pl.lit("385")).otherwise(pl.col("value")).alias("value"),
        pl.when(hidden).then(pl.lit(FREE)).otherwise(pl.col("conf_status")).alias("conf_status"),
    )
    t05 = released["T05"]
    national = (pl.col("measure") == "mean_events_per_user") & pl.all_horizontal(
        [pl.col(d) == TOTAL for d in SPECS["T05"].dimensions]
    )
    wrong = t05.with_columns(pl.when(national).then(pl.lit("4.6")).otherwise(pl.col("value")).alias("value"))
    write(tmp_path, {"T05": wrong, "T07": broken})
    report = audit_release(tmp_path)
    problems = {(f.table, f.problem) for f in report.findings if isinstance(f, StatisticFinding)}
    assert ("T07", "shown although cases_closed of the cell is suppressed") in problems
    assert ("T05", "not events / unique_persons of the published counts, as rounded") in problems
    assert not report.passed
    assert all("385" not in f.describe() for f in report.findings)  # the finding names the cell, not a value


def test_perturbative_methods_publish_no_statistic_and_say_why() -> None:
    from flows.stages import disclosure_meta

    text = default_policy_text().replace('method = "suppression"', 'method = "cell_key"')
    meta = disclosure_meta(parse_policy(text), ["T05", "T07"])
    for t, name in (("T05", "mean_events_per_user"), ("T07", "median_duration_days")):
        entry = meta[t]["statistics"][name]
        assert entry["published"] is False and "perturbative" in entry["why"]


def test_the_leak_guard_reads_statistic_values_as_harmless(released) -> None:
    from anonymise.leaks import strings_with_identifiers

    strings = {
        f"{t}.csv: column {c} #{i}": v
        for t, frame in released.items()
        for c, dtype in frame.schema.items()
        if dtype == pl.String
        for i, v in enumerate(frame[c].drop_nulls().unique().sort().to_list())
    }
    assert any(k.startswith("T05.csv: column value") for k in strings)
    assert strings_with_identifiers(strings, "bg") == []


def test_a_statistic_must_be_over_counts_of_its_table() -> None:
    with pytest.raises(ValueError, match="over count measures"):
        TableSpec(
            id="TX",
            title_bg="",
            title_en="",
            jurisdiction="bg",
            dims=(REGION,),
            measures=(Measure("users", "person"),),
            threshold=5,
            universe="x",
            statistics=(MEAN,),
        )
    with pytest.raises(ValueError, match="a mean needs total"):
        Statistic("m", "mean", of="users", min_n=10, unit="x")
