"""The relations a release states: per-measure additivity (T05's events add up over service, persons do not)."""

from __future__ import annotations

import polars as pl

from anonymise.attack import intervals
from anonymise.constraints import DimMeta, TableMeta, system
from anonymise.ministry import SPECS


def _t05_like(values: dict[tuple[str, str], float | None]) -> pl.DataFrame:
    rows = [("p", service, measure, value) for (service, measure), value in values.items()]
    return pl.DataFrame(rows, schema=["period", "service", "measure", "value"], orient="row")


META = {
    "X": TableMeta(
        ["service"],
        {"service": DimMeta(False, {"a": "_T", "b": "_T"}, frozenset({"events"}))},
        {},
        "u",
        threshold=3,
    )
}


def test_a_measure_additive_over_a_non_additive_dimension_gets_a_sum():
    table = _t05_like({("a", "events"): 4, ("b", "events"): 6, ("_T", "events"): 10, ("a", "persons"): 3,
                       ("b", "persons"): 3, ("_T", "persons"): 5})  # fmt: skip
    s = system({"X": table}, META)
    kinds = s.rows.join(s.terms, on="row").join(s.cells, on="cell").group_by("kind").agg(pl.col("label").unique())
    by_kind = {k: sorted(v) for k, v in kinds.iter_rows()}
    assert all("events" in label for label in by_kind["X:service:sum"])
    assert all("persons" in label for label in by_kind["X:service:at_most_sum"])
    assert all("persons" in label for label in by_kind["X:service:at_least_child"])


def test_the_attacker_uses_the_sum_of_an_additive_measure():
    # events: a suppressed, b = 6 and the total 10 published: a is exactly 4 to an attacker who knows
    # each event has one service; as persons (no sum) it would only be bounded
    table = _t05_like({("a", "events"): None, ("b", "events"): 6, ("_T", "events"): 10})
    out = intervals(system({"X": table}, META), exact=True)
    assert out["lower"].to_list() == [4.0] and out["upper"].to_list() == [4.0]
    persons = _t05_like({("a", "persons"): None, ("b", "persons"): 6, ("_T", "persons"): 10})
    out = intervals(system({"X": persons}, META), exact=True)
    assert out["lower"].to_list() == [4.0] and out["upper"].to_list() == [10.0]


def test_t05_declares_its_events_additive_in_hierarchies_json():
    dims = SPECS["T05"].hierarchies_json()
    assert dims["service"]["additive"] is False and dims["service"]["additive_for"] == ["events"]
    assert "additive_for" not in dims["geo"]  # additive for every measure
    assert DimMeta.from_json(dims["service"]).additive_in("events")
    assert not DimMeta.from_json(dims["service"]).additive_in("unique_persons")
