"""Risk figures checked against the numbers sdcMicro and ARX publish in their own test suites.

The fixtures under data/risk/ carry their sources (SOURCES.md); the property tests check invariants
that hold whatever the data.
"""

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.risk import assess, k_anonymity, population_uniqueness

DATA = Path(__file__).parent / "data" / "risk"


def fixture(name: str) -> dict:
    return json.loads((DATA / name).read_text())


INDIV = fixture("sdcmicro_indivrisk.json")
WILDCARD = fixture("sdcmicro_wildcard_fk.json")
ARX = fixture("arx_example.json")


def indiv_frame(case: str) -> pl.DataFrame:
    data = INDIV["cases"][case]
    return pl.DataFrame({"A": data["A"], "B": data["B"], "C": data["C"], "weight": INDIV["weight"]})


@pytest.mark.parametrize("case", ["without_missing", "with_missing"])
def test_individual_risk_matches_sdcmicro_with_weights(case):
    report = assess(indiv_frame(case), ["A", "B", "C"], weight="weight")
    expected = INDIV["cases"][case]["rk_weighted"]
    assert report.individual_risk.to_list() == pytest.approx(expected, abs=1e-8)
    assert report.expected_reidentifications == pytest.approx(sum(expected), abs=1e-7)
    assert report.global_risk == pytest.approx(sum(expected) / 8, abs=1e-8)


@pytest.mark.parametrize("case", ["without_missing", "with_missing"])
def test_individual_risk_without_weights_is_one_over_fk_as_in_sdcmicro(case):
    report = assess(indiv_frame(case), ["A", "B", "C"])
    assert [round(r, 5) for r in report.individual_risk.to_list()] == INDIV["cases"][case]["rk_unweighted_5dp"]


def test_missing_keys_count_in_every_class_they_could_belong_to():
    # 1/fk published by sdcMicro is (1/3, 1, 1/4, 1/2, 1/3, 1/3, 1, 1/5)
    report = assess(indiv_frame("with_missing"), ["A", "B", "C"], weight="weight")
    assert report.fk.to_list() == [3, 1, 4, 2, 3, 3, 1, 5]
    assert report.violations == {2: 2, 3: 3, 5: 7}


@pytest.mark.parametrize("case", WILDCARD["cases"], ids=lambda c: c["name"])
def test_fk_matches_sdcmicro_wildcard_semantics(case):
    frame = pl.DataFrame(case["columns"])
    fk = assess(frame, frame.columns).fk.to_list()
    if "fk" in case:
        assert fk == case["fk"]
    for position, expected in case.get("only", {}).items():
        assert fk[int(position)] == expected


def arx_frame() -> pl.DataFrame:
    return pl.DataFrame(ARX["columns"])


def test_prosecutor_risk_matches_arx_example():
    report = assess(arx_frame(), ["age", "gender", "zipcode"])
    assert report.prosecutor_risk.highest_risk == ARX["highest_risk"]
    assert report.prosecutor_risk.success_rate == ARX["average_risk"]
    assert report.sample_uniqueness == 1.0


def test_dankar_population_uniqueness_matches_arx_example():
    report = assess(arx_frame(), ["age", "gender", "zipcode"], sampling_fraction=0.2)
    assert report.population_uniqueness is not None
    assert int(report.population_uniqueness.estimate * 10000) == int(
        ARX["population_uniqueness_dankar_at_0.2_truncated_4dp"] * 10000
    )


def test_without_weights_journalist_and_marketer_fall_back_to_the_sample():
    report = assess(indiv_frame("without_missing"), ["A", "B", "C"])
    assert report.journalist_risk == report.prosecutor_risk
    assert report.marketer_risk == report.prosecutor_risk.success_rate == 5 / 8
    assert report.prosecutor_risk.highest_risk == 1.0
    assert report.prosecutor_risk.records_at_highest_risk == 3 / 8


def test_journalist_and_marketer_use_population_class_sizes_from_weights():
    frame = pl.DataFrame({"q": ["a", "a", "b"], "w": [10.0, 30.0, 20.0]})
    report = assess(frame, ["q"], weight="w")
    assert report.journalist_risk.highest_risk == 1 / 20
    assert report.journalist_risk.records_at_highest_risk == 1 / 3
    assert report.marketer_risk == pytest.approx((2 / 40 + 1 / 20) / 3)
    assert report.journalist_risk.success_rate == pytest.approx(max(2 / 60, (2 / 40 + 1 / 20) / 3))


def test_l_diversity_is_the_worst_class():
    frame = pl.DataFrame(
        {"q": ["a", "a", "a", "a", "b", "b"], "s": ["x", "x", "y", "z", "x", None], "t": [1, 1, 1, 1, 2, 2]}
    )
    report = assess(frame, ["q"], sensitive=["s", "t"])
    assert report.l_diversity["s"].distinct == 2
    class_a = math.exp(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    assert report.l_diversity["s"].entropy == pytest.approx(min(class_a, 2.0))
    assert report.l_diversity["t"].distinct == 1 and report.l_diversity["t"].entropy == pytest.approx(1.0)


def test_population_uniqueness_is_absent_without_a_sampling_fraction():
    assert assess(arx_frame(), ["age"]).population_uniqueness is None


def test_no_sample_uniques_means_no_population_uniques():
    estimate = population_uniqueness(np.array([2.0, 2.0, 3.0]), 0.05)
    assert (estimate.estimate, estimate.model) == (0.0, "none")


def test_a_census_has_as_many_population_uniques_as_sample_uniques():
    # At f = 1 Zayatz's conditional probability is 1 (ARX's adult test expects exactly this)
    estimate = population_uniqueness(np.array([1.0, 1.0, 2.0, 3.0, 1.0]), 1.0)
    assert estimate.zayatz == pytest.approx(3 / 8)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="quasi-identifier"):
        assess(arx_frame(), [])
    with pytest.raises(ValueError, match="sampling_fraction"):
        assess(arx_frame(), ["age"], sampling_fraction=1.5)
    with pytest.raises(ValueError, match="weight"):
        assess(pl.DataFrame({"q": [1], "w": [None]}, schema={"q": pl.Int64, "w": pl.Float64}), ["q"], weight="w")


def test_k_anonymity_summary_keeps_its_shape():
    summary = k_anonymity(arx_frame(), ["age", "gender"])
    assert summary == {
        "records": 7,
        "classes": 7,
        "min_k": 1,
        "records_below_k": {"2": 7, "3": 7, "5": 7},
        "sample_uniques": 7,
    }
    assert k_anonymity(arx_frame().head(0), ["age"])["min_k"] is None


# --- properties ---------------------------------------------------------------------------------


def brute_force_fk(rows: list[tuple], weights: list[float]) -> tuple[list[float], list[float]]:
    """sdcMicro's freqCalc, spelled out record by record (the definition, not the algorithm)."""
    width = len(rows[0])
    fk, Fk = [], []
    for row in rows:
        if all(v is None for v in row):
            fk.append(len(rows))
            Fk.append(sum(weights))
            continue
        count, total = 0, 0.0
        for other, w in zip(rows, weights, strict=True):
            if any(v is not None and o is not None and v != o for v, o in zip(row, other, strict=True)):
                continue
            # with several keys a fully observed key is not credited by keys missing everything
            if width > 1 and all(v is not None for v in row) and all(o is None for o in other):
                continue
            count += 1
            total += w
        fk.append(count)
        Fk.append(total)
    return fk, Fk


records = st.integers(1, 3).flatmap(
    lambda width: st.lists(
        st.tuples(st.tuples(*[st.one_of(st.none(), st.integers(0, 2))] * width), st.floats(1, 20)),
        min_size=1,
        max_size=25,
    )
)


@settings(max_examples=150, deadline=None)
@given(records)
def test_fk_and_Fk_equal_the_record_by_record_definition(sample):
    rows = [r for r, _ in sample]
    weights = [w for _, w in sample]
    names = [f"k{i}" for i in range(len(rows[0]))]
    frame = pl.DataFrame([dict(zip(names, r, strict=True)) for r in rows], schema=dict.fromkeys(names, pl.Int64))
    report = assess(frame.with_columns(w=pl.Series(weights)), names, weight="w")
    fk, Fk = brute_force_fk(rows, weights)
    assert report.fk.to_list() == fk
    assert report.Fk.to_list() == pytest.approx(Fk)


@settings(max_examples=100, deadline=None)
@given(records)
def test_frequencies_and_violations_are_consistent(sample):
    rows = [r for r, _ in sample]
    names = [f"k{i}" for i in range(len(rows[0]))]
    frame = pl.DataFrame([dict(zip(names, r, strict=True)) for r in rows], schema=dict.fromkeys(names, pl.Int64))
    frame = frame.with_columns(w=pl.Series([w for _, w in sample]))
    report = assess(frame, names, weight="w")
    fk = report.fk.to_numpy()
    assert (fk >= 1).all()
    assert (report.Fk.to_numpy() >= fk - 1e-9).all()  # weights are at least 1
    assert report.violations[2] <= report.violations[3] <= report.violations[5] <= frame.height
    risk = report.individual_risk.to_numpy()
    assert report.expected_reidentifications == pytest.approx(risk.sum())
    if not frame.select(names).null_count().sum_horizontal().item():
        sizes = frame.group_by(names).len()
        class_size = frame.join(sizes, on=names, how="left", maintain_order="left")["len"].to_numpy()
        assert (fk == class_size).all()
        assert report.sample_uniqueness == (class_size == 1).mean()
        assert report.prosecutor_risk.highest_risk == 1 / class_size.min()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=60), st.sampled_from([0.01, 0.05, 0.1, 0.3, 0.8]))
def test_population_uniqueness_is_a_share_and_follows_dankars_rule(sizes, fraction):
    estimate = population_uniqueness(np.array(sizes, dtype=float), fraction)
    assert 0.0 <= estimate.estimate <= 1.0
    if 1 not in sizes:
        assert estimate.model == "none"
    elif fraction <= 0.1:
        assert estimate.model == ("pitman" if estimate.pitman is not None else "zayatz")
    else:
        assert estimate.model in {"zayatz", "snb"}
