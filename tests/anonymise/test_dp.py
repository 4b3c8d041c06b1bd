import json
import math
import multiprocessing
import os
import stat
from pathlib import Path

import opendp.prelude as dp
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.dp import (
    LEDGER_PURPOSE,
    BudgetExceeded,
    BudgetLedger,
    Charge,
    LedgerError,
    LedgerKey,
    bound_contributions,
    canonical,
    charge_ledger,
    lock_path,
    publish_ledger,
    read_ledger,
    release_counts,
    release_tables,
    reserve_ledger,
    seal_ledger,
)
from anonymise.keys import derive, fingerprint
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


# --- relations after the noise -----------------------------------------------------------------------


def entrants_spec():
    """A table like T04: unique persons by service and sex, and the new entrants among them."""
    from dataclasses import replace

    from anonymise.tables import Measure

    entrants = Measure("new_entrants", "person", at_most="unique_persons")
    return replace(release_spec(), id="TN", measures=(Measure("unique_persons", "person"), entrants))


def entrants_rows(people: list[tuple[str, str, str, bool]]) -> dict[str, pl.DataFrame]:
    """Rows per measure: every (person, service, sex); the new entrants are some of the same rows."""
    schema = {"unit": pl.String, "service": pl.String, "sex": pl.String, "new": pl.Boolean}
    frame = pl.DataFrame(people, schema=schema, orient="row")
    return {
        "unique_persons": frame.drop("new"),
        "new_entrants": frame.filter(pl.col("new")).drop("new"),
    }


def published_pairs(table: pl.DataFrame, dims: list[str]) -> pl.DataFrame:
    wide = table.pivot(on="measure", index=dims, values="value")
    return wide.select(*dims, "unique_persons", "new_entrants")


people = st.lists(
    st.tuples(
        st.sampled_from([f"p{n}" for n in range(30)]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["F", "M"]),
        st.booleans(),
    ),
    max_size=80,
)


@settings(max_examples=25, deadline=None)
@given(people, st.sampled_from([0.05, 0.5, 3.0]), st.sampled_from(["laplace", "gaussian"]))
def test_every_published_cell_is_non_negative_and_keeps_its_at_most_bound(rows, epsilon, mechanism):
    from anonymise.dp import release_tables

    spec = entrants_spec()
    delta = 1e-6 if mechanism == "gaussian" else 0.0
    out = release_tables(
        {"TN": entrants_rows(rows)}, {"TN": spec}, epsilon, KEY, delta, groups_per_person=2, mechanism=mechanism
    )
    table = out.tables["TN"]
    assert table["value"].dtype == pl.Int64 and table["value"].null_count() == 0
    assert table["value"].min() >= 0
    pairs = published_pairs(table, ["service", "sex"])
    assert pairs.height == table.height // 2  # every cell publishes both measures
    assert (pairs["new_entrants"] <= pairs["unique_persons"]).all()


def test_new_entrants_are_clamped_to_the_published_unique_persons_and_not_otherwise_moved():
    from anonymise.dp import release_tables

    # Every person is a new entrant: the noise alone puts new entrants above unique persons in about
    # half the cells, and clamping must bring each of those down to the unique persons published.
    everyone = [(f"p{n}", "abc"[n % 3], "FM"[n % 2], True) for n in range(200)]
    seen_clamped = 0
    for _ in range(5):
        out = release_tables({"TN": entrants_rows(everyone)}, {"TN": entrants_spec()}, 0.3, KEY)
        pairs = published_pairs(out.tables["TN"], ["service", "sex"])
        assert (pairs["new_entrants"] <= pairs["unique_persons"]).all()
        seen_clamped += int((pairs["new_entrants"] == pairs["unique_persons"]).sum())
    assert seen_clamped > 5 * pairs.height // 3  # ties are rare without clamping, common with it
    assert out.bounds == {"TN": {"new_entrants": "unique_persons"}}
    noise = out.noise_by_measure()["TN"]
    assert set(noise) == {"unique_persons", "new_entrants"}
    assert noise["unique_persons"]["scale"] == out.scale and noise["unique_persons"]["cells"] == pairs.height
    assert noise["unique_persons"]["interval"] == [-math.floor(out.accuracy), math.floor(out.accuracy)]
    assert noise["unique_persons"]["confidence"] == pytest.approx(0.95)
    assert noise["new_entrants"]["clamped_to"] == "unique_persons" and noise["new_entrants"]["confidence"] < 0.95
    assert "post-processing" in out.statement() and "need not add up" in out.statement()


def test_at_a_huge_epsilon_the_relations_change_nothing():
    from anonymise.dp import release_tables
    from anonymise.tables import cube

    rows = entrants_rows([(f"p{n}", "abc"[n % 3], "FM"[n % 2], n % 4 == 0) for n in range(60)])
    out = release_tables({"TN": rows}, {"TN": entrants_spec()}, 1e5, KEY)
    truth = cube(rows, entrants_spec())
    joined = out.tables["TN"].join(truth, on=["service", "sex", "measure"], how="left", suffix="_true")
    assert (joined["value"] == joined["value_true"].fill_null(0)).all()


# --- the ledger file ---------------------------------------------------------------------------------

MASTER = bytes(range(100, 132))
OTHER_MASTER = bytes(range(200, 232))


def ledger_key(domain: str = "bg-central", master: bytes = MASTER, generation: int = 1) -> LedgerKey:
    """Return the ledger key of a domain's generation, derived as the key store derives it."""
    key_id = f"{domain}#{generation}"
    return LedgerKey(key_id, {key_id: derive(master, domain, LEDGER_PURPOSE)})


BG = ledger_key()


def test_release_tables_reserve_the_exact_budget_before_any_noise_is_drawn(monkeypatch):
    import anonymise.dp as module

    events: list[object] = []
    calibrate = module._calibrate

    def spied(*args):
        noise, *rest = calibrate(*args)

        def draw(counts):
            events.append("noise drawn")
            return noise(counts)

        return (draw, *rest)

    monkeypatch.setattr(module, "_calibrate", spied)
    data = {"TX": {"unique_persons": service_rows()}}
    out = release_tables(data, {"TX": release_spec()}, 1.0, KEY, before_noise=lambda e, d: events.append((e, d)))
    assert events == [(out.epsilon, out.delta), "noise drawn"] and out.epsilon <= 1.0

    def refuse(epsilon: float, delta: float) -> None:
        events.append("refused")
        raise BudgetExceeded("no budget left")

    events.clear()
    with pytest.raises(BudgetExceeded):
        release_tables(data, {"TX": release_spec()}, 1.0, KEY, before_noise=refuse)
    assert events == ["refused"]  # no noise was drawn


def test_a_run_reserves_its_charge_then_publishes_it_once():
    ledger = BudgetLedger("bg", epsilon_cap=2.0).charge("bg-earlier", 0.5)
    reserved = ledger.reserve("run-1", 1.0)
    assert reserved.epsilon_spent == 1.5 and reserved.charges[-1] == Charge(None, 1.0, 0.0, "run-1", "reserved")
    with pytest.raises(ValueError, match="run 'run-1' already has a charge"):
        reserved.reserve("run-1", 0.1)  # a rerun is another run: never the same charge twice
    with pytest.raises(BudgetExceeded, match="run 'run-2' would bring series 'bg' to ε=2.5"):
        reserved.reserve("run-2", 1.0)  # a reserved charge counts in full
    published = reserved.publish("run-1", "bg-2025-x")
    assert published.charges[-1] == Charge("bg-2025-x", 1.0, 0.0, "run-1", "published")
    assert published.epsilon_spent == 1.5  # publishing charges nothing again
    with pytest.raises(ValueError, match="already published as release 'bg-2025-x'"):
        published.publish("run-1", "bg-2025-y")
    with pytest.raises(ValueError, match="reserved no charge"):
        published.publish("run-9", "bg-2025-z")
    with pytest.raises(ValueError, match="already charged"):
        published.reserve("run-3", 0.1).publish("run-3", "bg-earlier")
    assert BudgetLedger.from_json(published.reserve("run-3", 0.1).to_json()).charges[-1].status == "reserved"


def test_charging_the_ledger_file_writes_it_sealed_atomically_with_mode_0600(tmp_path):
    path = tmp_path / "ledgers" / "bg.json"
    assert read_ledger(path, "bg", 2.0, key=BG).charges == ()  # no file: nothing spent yet
    ledger = reserve_ledger(path, "bg", 2.0, 0.0, "run-a", 0.75, key=BG)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(lock_path(path).stat().st_mode) == 0o600
    assert read_ledger(path, "bg", 2.0, key=BG) == ledger
    ledger = publish_ledger(path, "bg", 2.0, 0.0, "run-a", "bg-2025-a", key=BG)
    charge_ledger(path, "bg", 2.0, 0.0, "bg-2025-b", 0.75, key=BG)
    assert [c.release_id for c in read_ledger(path, "bg", 2.0, key=BG).charges] == ["bg-2025-a", "bg-2025-b"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["bg.json", "bg.json.lock"]  # no temporary left
    data = json.loads(path.read_text("utf-8"))  # readable JSON for the DPO, with its seal inside
    assert data["seal"] | {"mac": ""} == {
        "algorithm": "HMAC-SHA256",
        "key_id": "bg-central#1",
        "key_fingerprint": fingerprint(derive(MASTER, "bg-central", LEDGER_PURPOSE)),
        "mac": "",
    }
    assert data["charges"][0] == {
        "release_id": "bg-2025-a",
        "run_id": "run-a",
        "status": "published",
        "epsilon": 0.75,
        "delta": 0.0,
    }

    before = path.read_bytes()
    with pytest.raises(BudgetExceeded, match="run-c"):
        reserve_ledger(path, "bg", 2.0, 0.0, "run-c", 0.75, key=BG)
    with pytest.raises(LedgerError, match="already published") as twice:
        publish_ledger(path, "bg", 2.0, 0.0, "run-a", "bg-2025-c", key=BG)
    assert str(path) in str(twice.value)
    assert path.read_bytes() == before  # a refused charge leaves the ledger as it was


def test_the_seal_covers_the_content_not_its_layout(tmp_path):
    path = tmp_path / "bg.json"
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=BG)
    data = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps(dict(reversed(list(data.items()))), indent=7), "utf-8")  # reordered, re-indented
    assert [c.release_id for c in read_ledger(path, "bg", 2.0, key=BG).charges] == ["r1"]
    assert canonical({"b": 1, "a": [1.5, "ε"]}) == '{"a":[1.5,"ε"],"b":1}'.encode()


def test_a_charge_removed_with_its_totals_fixed_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "bg.json"
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=BG)
    charge_ledger(path, "bg", 2.0, 0.0, "r2", 1.0, key=BG)
    data = json.loads(path.read_text("utf-8"))
    data["charges"] = data["charges"][:1]
    data |= {"epsilon_spent": 0.5, "epsilon_remaining": 1.5}  # totals made to agree: only the seal tells
    path.write_text(json.dumps(data, indent=2), "utf-8")
    assert BudgetLedger.from_json(path.read_text("utf-8")).epsilon_spent == 0.5  # consistent on its own
    for attempt in (
        lambda: read_ledger(path, "bg", 2.0, key=BG),
        lambda: reserve_ledger(path, "bg", 2.0, 0.0, "run-x", 1.0, key=BG),
    ):
        with pytest.raises(LedgerError, match="does not match its seal") as refused:
            attempt()
        assert str(path) in str(refused.value) and "never reset" in str(refused.value)
    assert json.loads(path.read_text("utf-8")) == data  # never reset, never rewritten
    # a lowered ε with its totals, or a seal copied from another genuine ledger, is refused the same way
    lowered = data | {"charges": [data["charges"][0] | {"epsilon": 0.25}], "epsilon_spent": 0.25}
    path.write_text(json.dumps(lowered | {"epsilon_remaining": 1.75}), "utf-8")
    with pytest.raises(LedgerError, match="does not match its seal"):
        read_ledger(path, "bg", 2.0, key=BG)
    other = tmp_path / "other" / "bg.json"
    charge_ledger(other, "bg", 2.0, 0.0, "r9", 0.5, key=BG)
    path.write_text(json.dumps(data | {"seal": json.loads(other.read_text("utf-8"))["seal"]}), "utf-8")
    with pytest.raises(LedgerError, match="does not match its seal"):
        read_ledger(path, "bg", 2.0, key=BG)


def test_a_ledger_sealed_with_another_domains_or_key_stores_key_is_refused(tmp_path):
    path = tmp_path / "bg.json"
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=ledger_key("ru"))  # sealed with the Russian domain's key
    with pytest.raises(LedgerError, match="sealed with key ru#1, not a key of domain bg-central") as other:
        read_ledger(path, "bg", 2.0, key=BG)
    assert str(path) in str(other.value)
    # the same key ID in another key store: named by fingerprints, never by key material
    path.unlink()
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=ledger_key(master=OTHER_MASTER))
    with pytest.raises(LedgerError, match="has fingerprint .*: another key store") as wrong:
        read_ledger(path, "bg", 2.0, key=BG)
    # a forged fingerprint does not help: the MAC is still another key's
    data = json.loads(path.read_text("utf-8"))
    data["seal"]["key_fingerprint"] = BG.seal({})["key_fingerprint"]
    path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(LedgerError, match="does not match its seal") as forged:
        read_ledger(path, "bg", 2.0, key=BG)
    # a generation this key store no longer holds (destroyed): refused, and the way out is named
    path.unlink()
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=ledger_key(generation=7))
    with pytest.raises(LedgerError, match="bg-central#7, which this key store does not hold.*zakrila ledger seal"):
        read_ledger(path, "bg", 2.0, key=BG)
    for error in (other.value, wrong.value, forged.value):
        assert derive(MASTER, "bg-central", LEDGER_PURPOSE).hex() not in str(error)
        assert derive(OTHER_MASTER, "bg-central", LEDGER_PURPOSE).hex() not in str(error)


def test_a_ledger_sealed_before_a_key_rotation_still_verifies_and_is_resealed_by_the_next_charge(tmp_path):
    path = tmp_path / "bg.json"
    charge_ledger(path, "bg", 2.0, 0.0, "r1", 0.5, key=BG)
    old, new = derive(MASTER, "bg-central", LEDGER_PURPOSE), derive(OTHER_MASTER, "bg-central", LEDGER_PURPOSE)
    rotated = LedgerKey("bg-central#2", {"bg-central#1": old, "bg-central#2": new})
    assert len(read_ledger(path, "bg", 2.0, key=rotated).charges) == 1
    charge_ledger(path, "bg", 2.0, 0.0, "r2", 0.5, key=rotated)
    assert json.loads(path.read_text("utf-8"))["seal"]["key_id"] == "bg-central#2"


def test_an_unsealed_ledger_is_refused_until_the_dpo_seals_it_after_review(tmp_path):
    path = tmp_path / "bg.json"
    legacy = {**VALID, "epsilon_spent": 0.5}  # as ledgers were written before seals
    path.write_text(json.dumps(legacy, indent=2), "utf-8")
    for attempt in (
        lambda: read_ledger(path, "bg", 2.0, key=BG),
        lambda: reserve_ledger(path, "bg", 2.0, 0.0, "run-x", 0.1, key=BG),
    ):
        with pytest.raises(LedgerError, match="is not sealed.*zakrila ledger seal") as unsealed:
            attempt()
        assert str(path) in str(unsealed.value)
    assert read_ledger(path, "bg", 2.0, key=None).epsilon_spent == 0.5  # shown to the DPO without the key
    with pytest.raises(LedgerError, match="only after the DPO has reviewed"):
        seal_ledger(path, "bg", key=BG, reviewed=False, note="checked")
    with pytest.raises(LedgerError, match="say why"):
        seal_ledger(path, "bg", key=BG, reviewed=True, note=" ")
    assert json.loads(path.read_text("utf-8")) == legacy  # not sealed without confirmation

    sealed = seal_ledger(path, "bg", key=BG, reviewed=True, note="DPO review 2025-07, charges checked")
    assert [c.release_id for c in sealed.charges] == ["r1"] and sealed.epsilon_cap == 2.0
    (review,) = sealed.reviews
    assert (review.key_id, review.found, review.note) == (
        "bg-central#1",
        "it is not sealed",
        "DPO review 2025-07, charges checked",
    )
    assert read_ledger(path, "bg", 2.0, key=BG).reviews == (review,)
    assert seal_ledger(path, "bg", key=BG, reviewed=True, note="again") == sealed  # nothing to do
    ledger = reserve_ledger(path, "bg", 2.0, 0.0, "run-x", 0.1, key=BG)
    assert ledger.reviews == (review,) and len(ledger.charges) == 2  # the review stays under the seal
    # a ledger whose seal broke (a DPO repair by hand) is sealed the same way, and the review says what it found
    data = json.loads(path.read_text("utf-8"))
    data["charges"][-1]["epsilon"] = 0.2
    data |= {"epsilon_spent": 0.7, "epsilon_remaining": 1.3}
    path.write_text(json.dumps(data), "utf-8")
    resealed = seal_ledger(path, "bg", key=BG, reviewed=True, note="repaired run-x after the DPO's review")
    assert "does not match its seal" in resealed.reviews[-1].found
    assert read_ledger(path, "bg", 2.0, key=BG).epsilon_spent == pytest.approx(0.7)


def test_no_key_material_in_the_ledger_or_the_key_object(tmp_path):
    path = tmp_path / "bg.json"
    reserve_ledger(path, "bg", 2.0, 0.0, "run-a", 0.5, key=BG)
    text = path.read_text("utf-8")
    secret = derive(MASTER, "bg-central", LEDGER_PURPOSE)
    for material in (secret, MASTER):
        assert material.hex() not in text and material.hex() not in repr(BG)
    assert set(json.loads(text)) == {
        "series",
        "composition",
        "epsilon_cap",
        "delta_cap",
        "charges",
        "epsilon_spent",
        "delta_spent",
        "epsilon_remaining",
        "delta_remaining",
        "reviews",
        "seal",
    }
    assert "before its noise is drawn" in json.loads(text)["composition"]
    with pytest.raises(ValueError, match="256 bits"):
        LedgerKey("bg-central#1", {"bg-central#1": bytes(16)})


def test_a_charge_waits_for_the_lock_and_gives_up_with_a_clear_error(tmp_path):
    from anonymise.dp import _locked

    path = tmp_path / "bg.json"
    with _locked(path, 1.0), pytest.raises(LedgerError, match="locked by another run"):
        reserve_ledger(path, "bg", 2.0, 0.0, "run-1", 0.5, key=BG, timeout=0.2)
    assert not path.exists()
    reserve_ledger(path, "bg", 2.0, 0.0, "run-1", 0.5, key=BG, timeout=0.2)  # free again once released


def _spend_the_last_budget(path: str, run: str, start, results) -> None:
    """Child process: wait for the others, then try to reserve 0.5 in a series with 0.5 left."""
    start.wait()
    try:
        reserve_ledger(Path(path), "bg", 1.0, 0.0, run, 0.5, key=BG)
        results.put((run, "charged"))
    except BudgetExceeded:
        results.put((run, "refused"))
    except Exception as error:  # reported to the test, which fails on it
        results.put((run, repr(error)))


def test_of_runs_racing_for_the_last_budget_exactly_one_reserves_it(tmp_path):
    path = tmp_path / "bg.json"
    charge_ledger(path, "bg", 1.0, 0.0, "bg-earlier", 0.5, key=BG)
    context = multiprocessing.get_context("spawn")
    runs = 3
    start, results = context.Barrier(runs), context.Queue()
    children = [
        context.Process(target=_spend_the_last_budget, args=(str(path), f"run-{n}", start, results))
        for n in range(runs)
    ]
    for child in children:
        child.start()
    outcomes = dict(results.get(timeout=120) for _ in children)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert sorted(outcomes.values()) == ["charged", "refused", "refused"], outcomes
    (winner,) = [r for r, o in outcomes.items() if o == "charged"]
    ledger = read_ledger(path, "bg", 1.0, key=BG)
    assert [(c.release_id, c.run_id, c.status) for c in ledger.charges] == [
        ("bg-earlier", None, "published"),
        (None, winner, "reserved"),
    ]
    assert ledger.epsilon_spent == 1.0


VALID = {"series": "bg", "epsilon_cap": 2.0, "delta_cap": 0.0, "charges": [{"release_id": "r1", "epsilon": 0.5}]}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not JSON"),
        ("{ truncated", "not JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({**VALID, "charges": None}), "charges are not a list"),
        (json.dumps({k: v for k, v in VALID.items() if k != "charges"}), "no charges"),
        (json.dumps({**VALID, "charges": [{"release_id": "r1", "epsilon": -0.5}]}), "not ε ≥ 0"),
        (json.dumps({**VALID, "charges": [{"release_id": "r1", "epsilon": "0.5"}]}), "not a number"),
        (
            '{"series": "bg", "epsilon_cap": 2, "delta_cap": 0, "charges": [{"release_id": "r1", "epsilon": NaN}]}',
            "NaN",
        ),
        (json.dumps({**VALID, "charges": [{"release_id": "r1", "epsilon": 0.5}] * 2}), "charged twice"),
        (json.dumps({**VALID, "charges": [{"epsilon": 0.5}]}), "no release_id"),
        (json.dumps({**VALID, "charges": [{"run_id": "run-1", "status": "spent", "epsilon": 0.5}]}), "status"),
        (json.dumps({**VALID, "charges": [{"release_id": "r1", "status": "reserved", "epsilon": 0.5}]}), "reserved"),
        (
            json.dumps({**VALID, "charges": [{"run_id": "run-1", "status": "reserved", "epsilon": 0.1}] * 2}),
            "run 'run-1' is charged twice",
        ),
        (json.dumps({**VALID, "reviews": [{"note": "x"}]}), "review 1"),
        (json.dumps({**VALID, "epsilon_spent": 1.5}), "edited by hand"),
        (json.dumps({**VALID, "series": "ru"}), "belongs to series 'ru'"),
    ],
)
def test_a_corrupt_or_hand_edited_ledger_is_a_clear_error_naming_the_file(tmp_path, text, reason):
    path = tmp_path / "bg.json"
    path.write_text(text, "utf-8")
    with pytest.raises(LedgerError, match=reason) as corrupt:
        read_ledger(path, "bg", 2.0, key=BG)
    assert str(path) in str(corrupt.value)
    with pytest.raises(LedgerError, match=reason):
        reserve_ledger(path, "bg", 2.0, 0.0, "run-2", 0.1, key=BG)
    assert path.read_text("utf-8") == text  # never reset, never rewritten


def test_an_unreadable_ledger_is_a_clear_error(tmp_path):
    path = tmp_path / "bg.json"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(LedgerError, match="cannot be read") as unreadable:
        read_ledger(path, "bg", 2.0, key=BG)
    assert str(path) in str(unreadable.value)
    if os.geteuid() != 0:  # root reads anything
        path.chmod(0)
        with pytest.raises(LedgerError, match="cannot be read"):
            read_ledger(path, "bg", 2.0, key=BG)
