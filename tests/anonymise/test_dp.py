import json
import math

import opendp.prelude as dp
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.dp import BudgetExceeded, BudgetLedger, bound_contributions, release_counts
from anonymise.tables import TOTAL

KEY = bytes(range(32))
SEX = ["f", "m", "x", "u"]
AGE = ["Y0T2", "Y3T6", "Y7T13", "Y14T17"]
DIMS = {"sex": SEX, "age_band": AGE}


def rows(triples: list[tuple[str, str, str]]) -> pl.DataFrame:
    schema = {"person": pl.String, "sex": pl.String, "age_band": pl.String}
    return pl.DataFrame(triples, schema=schema, orient="row")


def test_every_public_combination_is_published_including_empty_ones():
    data = rows([("p1", "f", "Y0T2"), ("p2", "m", "Y3T6"), ("p3", "nonsense", "Y0T2")])
    cells = release_counts(data, "person", DIMS, epsilon=1.0, key=KEY, margins="none").table
    assert cells.height == len(SEX) * len(AGE)
    assert set(cells.select("sex", "age_band").iter_rows()) == {(s, a) for s in SEX for a in AGE}

    with_margins = release_counts(data, "person", DIMS, epsilon=1.0, key=KEY).table
    assert with_margins.height == (len(SEX) + 1) * (len(AGE) + 1)
    assert set(with_margins["sex"]) == {*SEX, TOTAL} and set(with_margins["age_band"]) == {*AGE, TOTAL}


def test_a_heavy_person_counts_once_in_at_most_max_groups_cells():
    heavy = [("heavy", f"s{i % 50}", "a") for i in range(100)]
    dims = {"sex": [f"s{i}" for i in range(50)], "age_band": ["a"]}
    kept = bound_contributions(rows(heavy), "person", dims, max_groups=3, key=KEY)
    assert kept.height == 3 and kept.select("sex", "age_band").is_unique().all()

    # At a huge ε the noise is zero with overwhelming probability, so the table shows the bounded counts.
    table = release_counts(rows(heavy), "person", dims, epsilon=1e4, key=KEY, max_groups=3, margins="none").table
    assert table["value"].max() == 1 and table["value"].sum() == 3


def test_the_cells_kept_are_fixed_by_the_key_not_by_chance():
    data = rows([("p", s, a) for s in SEX for a in AGE])
    first = bound_contributions(data, "person", DIMS, max_groups=2, key=KEY)
    again = bound_contributions(data.reverse(), "person", DIMS, max_groups=2, key=KEY)
    assert first.equals(again)
    others = [bound_contributions(data, "person", DIMS, max_groups=2, key=bytes([k]) * 32) for k in range(8)]
    assert any(not first.equals(o) for o in others)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from(SEX), st.sampled_from(AGE)), max_size=60),
    st.integers(min_value=1, max_value=4),
)
def test_bounding_is_per_person_and_never_invents_cells(triples, max_groups):
    data = rows(triples)
    kept = bound_contributions(data, "person", DIMS, max_groups=max_groups, key=KEY)
    assert kept.is_unique().all()
    assert all(n <= max_groups for n in kept.group_by("person").len()["len"])
    assert set(kept.iter_rows()) <= set(data.iter_rows())
    # Removing a person changes nobody else's cells: the bound depends only on one's own rows.
    without_a = bound_contributions(data.filter(pl.col("person") != "a"), "person", DIMS, max_groups, key=KEY)
    assert without_a.equals(kept.filter(pl.col("person") != "a"))


def test_epsilon_spent_is_what_opendps_privacy_map_says():
    data = rows([("p1", "f", "Y0T2"), ("p2", "m", "Y0T2")])
    release = release_counts(data, "person", DIMS, epsilon=0.7, key=KEY, max_groups=2)
    dp.enable_features("contrib")
    laplace = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=release.scale)
    assert release.sensitivity == 2
    assert release.epsilon == laplace.map(2) and release.epsilon <= 0.7
    assert release.delta == 0.0
    assert release.accuracy == dp.discrete_laplacian_scale_to_accuracy(release.scale, 0.05)

    measured = release_counts(data, "person", DIMS, epsilon=0.7, key=KEY, max_groups=2, margins="measured")
    assert measured.sensitivity == 2 * 4  # every person in ≤ 2 cells at each of the 4 levels
    assert measured.epsilon == dp.m.make_laplace(*laplace.input_space, scale=measured.scale).map(8) <= 0.7


def test_gaussian_reports_the_epsilon_delta_of_its_zcdp_loss():
    data = rows([("p1", "f", "Y0T2")])
    release = release_counts(data, "person", DIMS, epsilon=1.0, delta=1e-7, key=KEY, max_groups=3, mechanism="gaussian")
    gaussian = dp.m.make_gaussian(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T=float), scale=release.scale
    )
    assert release.sensitivity >= math.sqrt(3)
    assert release.rho == gaussian.map(release.sensitivity)
    approx = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), 1e-7)
    assert (release.epsilon, release.delta) == approx.map(release.sensitivity)
    assert release.epsilon <= 1.0


def test_mechanism_and_delta_must_agree():
    data = rows([("p1", "f", "Y0T2")])
    with pytest.raises(ValueError, match="pure"):
        release_counts(data, "person", DIMS, epsilon=1.0, delta=1e-6, key=KEY)
    with pytest.raises(ValueError, match="delta"):
        release_counts(data, "person", DIMS, epsilon=1.0, key=KEY, mechanism="gaussian")
    with pytest.raises(ValueError, match="code list"):
        release_counts(data, "person", {"sex": ["f", TOTAL]}, epsilon=1.0, key=KEY)


def test_the_ledger_adds_releases_and_refuses_beyond_the_cap():
    ledger = BudgetLedger("T04-2025", epsilon_cap=1.0, delta_cap=1e-6)
    for quarter in ("Q1", "Q2", "Q3"):
        ledger = ledger.charge(f"2025-{quarter}", 0.3, 2e-7)
    assert [c.release_id for c in ledger.charges] == ["2025-Q1", "2025-Q2", "2025-Q3"]
    assert ledger.epsilon_spent == pytest.approx(0.9) and ledger.delta_spent == pytest.approx(6e-7)
    assert ledger.epsilon_remaining == pytest.approx(0.1)

    with pytest.raises(BudgetExceeded) as refused:
        ledger.charge("2025-Q4", 0.3, 2e-7)
    assert "T04-2025" in str(refused.value) and "2025-Q4" in str(refused.value)
    with pytest.raises(BudgetExceeded, match="δ"):
        ledger.charge("2025-Q4", 0.1, 5e-7)
    with pytest.raises(ValueError, match="already charged"):
        ledger.charge("2025-Q1", 0.01)

    assert ledger.charge("2025-Q4", 0.1).epsilon_remaining == pytest.approx(0.0)
    assert len(ledger.charges) == 3  # charging returns a new ledger


def test_ten_equal_shares_spend_the_cap_exactly():
    ledger = BudgetLedger("S", epsilon_cap=1.0)
    for i in range(10):
        ledger = ledger.charge(str(i), 0.1)
    with pytest.raises(BudgetExceeded):
        ledger.charge("one more", 1e-9)


def test_the_ledger_round_trips_through_json():
    ledger = BudgetLedger("T09-2025", epsilon_cap=2.0, delta_cap=1e-6).charge("2025", 0.123456789, 1e-8)
    text = ledger.to_json()
    assert json.loads(text)["epsilon_spent"] == 0.123456789
    assert BudgetLedger.from_json(text) == ledger


def test_noise_is_integer_with_the_variance_of_the_discrete_laplace():
    per_cell = 40  # far above the noise, so clamping at 0 never bites and value − 40 is the noise
    dims = {"sex": [f"s{i}" for i in range(20)], "age_band": [f"a{i}" for i in range(20)]}
    data = rows([(f"{s}{a}p{i}", s, a) for s in dims["sex"] for a in dims["age_band"] for i in range(per_cell)])
    noise: list[int] = []
    for _ in range(10):
        release = release_counts(data, "person", dims, epsilon=0.5, key=KEY, margins="none")
        assert release.table["value"].dtype == pl.Int64
        noise.extend(v - per_cell for v in release.table["value"])
    t = release.scale
    assert t == 2.0
    q = math.exp(-1 / t)
    # Moments of the discrete Laplace P(k) ∝ q^|k|, summed far into the tail.
    norm = (1 + q) / (1 - q)
    variance = sum(k**2 * q ** abs(k) for k in range(-200, 201)) / norm
    fourth = sum(k**4 * q ** abs(k) for k in range(-200, 201)) / norm
    assert variance == pytest.approx(2 * q / (1 - q) ** 2)
    n = len(noise)
    empirical = sum(x * x for x in noise) / n  # the mean is known to be 0
    assert abs(empirical - variance) < 5 * math.sqrt((fourth - variance**2) / n)
    assert abs(sum(noise) / n) < 5 * math.sqrt(variance / n)


def test_clamping_never_publishes_a_negative_count():
    data = rows([("p1", "f", "Y0T2")])
    for margins in ("none", "derived", "measured"):
        table = release_counts(data, "person", DIMS, epsilon=0.05, key=KEY, margins=margins).table  # type: ignore[arg-type]
        assert table["value"].min() >= 0
        assert (table["value"] == 0).sum() > 0  # with this much noise some cells went below 0


def test_derived_margins_are_the_sums_of_the_published_cells():
    data = rows([(f"p{i}", SEX[i % 4], AGE[i % 3]) for i in range(40)])
    table = release_counts(data, "person", DIMS, epsilon=0.5, key=KEY).table
    cells = table.filter((pl.col("sex") != TOTAL) & (pl.col("age_band") != TOTAL))
    by_sex = cells.group_by("sex").agg(pl.col("value").sum().alias("sum"))
    margins = table.filter((pl.col("sex") != TOTAL) & (pl.col("age_band") == TOTAL)).join(by_sex, on="sex")
    assert margins.height == len(SEX) and (margins["value"] == margins["sum"]).all()
    grand = table.filter((pl.col("sex") == TOTAL) & (pl.col("age_band") == TOTAL))["value"].item()
    assert grand == cells["value"].sum()


def test_the_statement_names_the_guarantee():
    release = release_counts(rows([("p1", "f", "Y0T2")]), "person", DIMS, epsilon=1.0, key=KEY, max_groups=2)
    text = release.statement()
    assert "ε = 1" in text and "δ = 0" in text and "at most 2 cells" in text and "post-processing" in text


# --- the release's tables ----------------------------------------------------------------------------


def release_spec(measure_unit: str = "person"):
    from anonymise import hierarchy as h
    from anonymise.tables import Dim, Measure, TableSpec

    return TableSpec(
        id="TX",
        title_bg="проба",
        title_en="test",
        jurisdiction="bg",
        dims=(
            Dim("service", h.flat("service", ["a", "b", "c"]), additive=False),
            Dim("sex", h.sex(), additive=True),
        ),
        measures=(Measure("unique_persons", measure_unit),),
        threshold=5,
        universe="test",
    )


def service_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit": [f"p{n % 30}" for n in range(70)],
            "service": [["a", "b", "c"][n % 3] for n in range(70)],
            "sex": [["f", "m"][(n % 30) % 2] for n in range(70)],
        }
    )


def test_release_tables_publish_every_public_cell_of_every_level_once():
    from anonymise.dp import published_cells, release_tables
    from anonymise.tables import level_combinations

    spec = release_spec()
    out = release_tables({"TX": {"unique_persons": service_rows()}}, {"TX": spec}, epsilon=1.0, key=KEY)
    table = out.tables["TX"]
    assert table.height == published_cells(spec) == (3 + 1) * (len(spec.dim("sex").hierarchy.parent) + 1)
    assert table.select("service", "sex", "measure").is_unique().all() and table["value"].min() >= 0
    # one cell per person where only sex is detailed, up to groups_per_person where service is
    combos = level_combinations(spec)
    assert out.levels == len(combos) == 4
    assert out.sensitivity == 1 + 1 + 1 + 1  # groups_per_person = 1
    wider = release_tables({"TX": {"unique_persons": service_rows()}}, {"TX": spec}, 1.0, KEY, groups_per_person=3)
    assert wider.sensitivity == 3 + 3 + 1 + 1
    dp.enable_features("contrib")
    laplace = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=wider.scale)
    assert wider.epsilon == laplace.map(8) <= 1.0
    assert "ε = 1" in wider.statement() and "at most 3" in wider.statement()


def test_release_tables_at_a_huge_epsilon_show_the_unique_persons_as_counted():
    from anonymise.dp import release_tables
    from anonymise.tables import cube

    spec = release_spec()
    rows = service_rows()
    out = release_tables({"TX": {"unique_persons": rows}}, {"TX": spec}, epsilon=1e5, key=KEY, groups_per_person=3)
    truth = cube({"unique_persons": rows}, spec)
    joined = out.tables["TX"].join(truth, on=["service", "sex", "measure"], how="left", suffix="_true")
    assert (joined["value"] == joined["value_true"].fill_null(0)).all()
    total = joined.filter((pl.col("service") == TOTAL) & (pl.col("sex") == TOTAL))["value"].item()
    assert total == 30  # unique persons, not a sum over services


def test_release_tables_refuse_measures_that_do_not_count_persons():
    from anonymise.dp import release_tables

    with pytest.raises(ValueError, match="do not count persons"):
        release_tables({"TX": {"unique_persons": service_rows()}}, {"TX": release_spec("family")}, 1.0, KEY)
