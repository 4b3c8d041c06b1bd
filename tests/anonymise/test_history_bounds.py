"""Earlier releases' published values as bounds in the attacker's programs.

A count that only grows with the period (persons served in it) published for a sub-period is a lower
bound on this release's cell; for a super-period an upper bound. Suppression must protect every
primary with those bounds known, use only bounds the true values keep, and never compare cells whose
dimensions are measured at a date unless they are at their total.
"""

from dataclasses import replace
from pathlib import Path

import polars as pl

from anonymise.attack import intervals
from anonymise.constraints import system
from anonymise.hierarchy import flat
from anonymise.history import by_table, held, period_bounds
from anonymise.period import Period
from anonymise.suppression import protect, table_meta, true_bounds
from anonymise.tables import TOTAL, Dim, Measure, TableSpec

PART = Dim("part", flat("part", ["P", "S"]), additive=True)
MEASURES = (Measure("n", "person", grows_with_period=True), Measure("m", "person", at_most="n", grows_with_period=True))
SPEC = TableSpec(
    id="X",
    title_bg="x",
    title_en="x",
    jurisdiction="bg",
    dims=(PART,),
    measures=MEASURES,
    threshold=5,
    universe="test",
)
#: the same table with ``part`` measured at a date (as residence or age band are)
VARYING = replace(SPEC, dims=(Dim("part", flat("part", ["P", "S"]), additive=True, varies_with_period=True),))


def table(period: str, n: dict[str, int | None], m: dict[str, int | None] | None = None) -> pl.DataFrame:
    """A long table T = P + S for measure n (and m ≤ n; zeros unless given); None: suppressed."""
    m = m or {"P": 0, "S": 0, TOTAL: 0}
    rows = [
        (period, code, measure, values[code]) for measure, values in (("n", n), ("m", m)) for code in ("P", "S", TOTAL)
    ]
    return pl.DataFrame(rows, schema=["period", "part", "measure", "value"], orient="row").with_columns(
        pl.col("value").cast(pl.Int64)
    )


CURRENT = {"P": 3, "S": 37, TOTAL: 40}


def bounds_of(current: pl.DataFrame, earlier: pl.DataFrame, this: str, then: str, spec: TableSpec = SPEC):
    return period_bounds({"X": current}, {"X": earlier}, {"X": spec}, Period.parse(this), Period.parse(then))


def interval(tables, bounds, label: str) -> tuple[float, float]:
    s = system(tables, {"X": table_meta(SPEC)}, bounds)
    row = intervals(s, exact=True).filter(pl.col("label") == label)
    return float(row["lower"].item()), float(row["upper"].item())


P_N = "X:2025|part=P|n"


def test_a_half_years_published_value_is_a_lower_bound_that_suppression_protects_against():
    now = {"X": table("2025", CURRENT)}
    alone, _ = protect(now, {"X": SPEC})
    # alone: P and S suppressed, T published: P lies anywhere in [0, 40]
    assert alone["X"].filter(pl.col("measure") == "n")["conf_status"].to_list() == ["C", "D", "F"]
    assert interval(alone, None, P_N) == (0.0, 40.0)
    # the H1 release published S = 36: S ≥ 36, so P ≤ 4 — narrower than the threshold
    h1 = table("2025-H1", {"P": None, "S": 36, TOTAL: 38})
    found = bounds_of(now["X"], h1, "2025", "2025-H1")
    s_n = found.filter((pl.col("part") == "S") & (pl.col("measure") == "n"))
    assert s_n.select("bound", "side", "holds").rows() == [(36.0, "lower", True)]
    bounds = by_table(held(found), {"X": SPEC})
    assert interval(alone, bounds, P_N) == (0.0, 4.0)
    protected, _ = protect(now, {"X": SPEC}, bounds=bounds)
    # the total is suppressed now (S, no longer needed, is published back)
    n = protected["X"].filter(pl.col("measure") == "n")
    assert n.filter(pl.col("part") == TOTAL)["conf_status"].item() == "D"
    low, high = interval(protected, bounds, P_N)
    assert high - low >= 5
    every = intervals(system(protected, {"X": table_meta(SPEC)}, bounds), exact=True)
    assert (every["width"] >= every["required"]).all()


def test_a_years_published_value_is_an_upper_bound_on_its_half_year():
    # H1: n: P = 3, S = 37, T = 40; m ≤ n, with m_S = 35 published. Alone, S ∈ [35, 40] and P ∈ [0, 5].
    now = {"X": table("2025-H1", CURRENT, {"P": 0, "S": 35, TOTAL: 35})}
    label = "X:2025-H1|part=P|n"
    alone, _ = protect(now, {"X": SPEC})
    assert interval(alone, None, label) == (0.0, 5.0)
    # the year published S = 38: S ≤ 38, so P ≥ 2 and P ∈ [2, 5]
    year = table("2025", {"P": 6, "S": 38, TOTAL: 44}, {"P": 0, "S": 35, TOTAL: 35})
    found = bounds_of(now["X"], year, "2025-H1", "2025")
    assert set(found["side"]) == {"upper"} and found["holds"].all()
    bounds = by_table(held(found), {"X": SPEC})
    assert interval(alone, bounds, label) == (2.0, 5.0)
    protected, _ = protect(now, {"X": SPEC}, bounds=bounds)
    low, high = interval(protected, bounds, label)
    assert high - low >= 5


def test_a_dimension_measured_at_a_date_gives_a_bound_only_at_its_total():
    h1 = table("2025-H1", {"P": None, "S": 36, TOTAL: 38})
    found = bounds_of(table("2025", CURRENT), h1, "2025", "2025-H1", spec=VARYING)
    assert set(found["part"]) == {TOTAL}
    assert bounds_of(table("2025", CURRENT), h1, "2025", "2025-H1")["part"].to_list().count("S") == 2


def test_a_measure_that_does_not_grow_with_the_period_gives_no_bound():
    stock = replace(SPEC, measures=(Measure("n", "person"), Measure("m", "person", at_most="n")))
    h1 = table("2025-H1", {"P": None, "S": 36, TOTAL: 38})
    assert bounds_of(table("2025", CURRENT), h1, "2025", "2025-H1", spec=stock).height == 0


def test_a_bound_the_truth_breaks_after_an_erasure_is_not_used():
    # persons erased since H1: this year's S (37) is below the half-year's published 38
    now = {"X": table("2025", CURRENT)}
    h1 = table("2025-H1", {"P": None, "S": 38, TOTAL: 39})
    found = bounds_of(now["X"], h1, "2025", "2025-H1")
    broken = found.filter((pl.col("part") == "S") & (pl.col("measure") == "n"))
    assert broken["holds"].to_list() == [False]
    assert held(found).filter((pl.col("part") == "S") & (pl.col("measure") == "n")).height == 0
    # even handed to suppression, it is dropped: the truth must stay a feasible point
    everything = by_table(found, {"X": SPEC})
    kept = true_bounds(now, {"X": SPEC}, everything)["X"]
    assert kept.filter((pl.col("part") == "S") & (pl.col("measure") == "n")).height == 0
    protected, _ = protect(now, {"X": SPEC}, bounds=everything)
    alone, _ = protect(now, {"X": SPEC})
    assert protected["X"]["conf_status"].to_list() == alone["X"]["conf_status"].to_list()


def test_a_revision_of_the_same_period_gives_no_bound():
    revised = table("2025", {"P": None, "S": 36, TOTAL: 38})
    assert bounds_of(table("2025", CURRENT), revised, "2025", "2025").height == 0
    # periods that only overlap neither
    assert bounds_of(table("2025-Q2", CURRENT), revised, "2025-Q2", "2025-Q1").height == 0


def test_t04_of_a_half_year_bounds_the_years_t04_only_where_age_and_residence_are_totals():
    from dataclasses import replace

    from anonymise.ministry import T04, build_t04
    from tests.anonymise.test_suppression import _store

    year = _store(300, 7)
    h1, _ = protect({"T04": build_t04(replace(year, period=Period.parse("2025-H1")))}, {"T04": T04})
    now = {"T04": build_t04(year)}
    found = period_bounds(now, h1, {"T04": T04}, year.period, Period.parse("2025-H1"))
    assert found.height > 0 and found["holds"].all()
    assert set(found["side"]) == {"lower"}
    assert set(found["geo"]) == {TOTAL} and set(found["age_band"]) == {TOTAL}
    bounds = by_table(held(found), {"T04": T04})
    protected, _ = protect(now, {"T04": T04}, bounds=bounds)
    every = intervals(system(protected, {"T04": table_meta(T04)}, bounds), exact=False)
    assert (every["width"] >= every["required"]).all()


def test_the_flow_bounds_the_year_by_its_half_year_release(tmp_path, prefect_server):
    import json

    from flows.pipeline import run_pipeline
    from flows.synth import generate
    from tests.workspaces import prepare

    generate(tmp_path / "inbox", scale=0.1, seed=5, defects=0.0)
    ws = prepare(tmp_path / "ws")

    def run(period: str) -> dict:
        result = run_pipeline(inbox=tmp_path / "inbox", workspace=ws.root, period=period, jurisdiction="bg")
        return json.loads((Path(result["report"]) / "report.json").read_text("utf-8"))

    h1 = run("2025-H1")
    assert h1["disclosure"]["history"]["bounds_used"] == 0
    year = run("2025")
    history = year["disclosure"]["history"]
    assert h1["release_id"] in history["compared"]
    assert history["bounds_used"] > 0 and history["passed"]
    assert all(t["audit"]["passed"] for t in year["disclosure"]["tables"].values() if t.get("audit"))
