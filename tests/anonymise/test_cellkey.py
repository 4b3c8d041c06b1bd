import hashlib
import hmac
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.cellkey import (
    KEY_BITS,
    cell_keys,
    perturb,
    perturb_table,
    ptable,
    record_key_expr,
)

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
DATA = Path(__file__).parent / "data" / "cellkey"


def independent_published(pseudonyms: set[str], key: bytes, table) -> int:
    """The published count computed without Polars or this module's lookup: stdlib HMAC and the table rows."""
    scale = 2**KEY_BITS
    total = sum(
        int.from_bytes(hmac.digest(key, p.encode(), hashlib.sha256)[: KEY_BITS // 8], "big") for p in pseudonyms
    )
    cell_key = (total % scale) / scale
    n = len(pseudonyms)
    row = table.rows[min(n, table.symmetry)]
    (noise,) = [v for v, lo, up in zip(row.noise, row.lower, row.upper, strict=True) if lo <= cell_key < up]
    return n + noise


# --- the perturbation table ---------------------------------------------------------------------


def test_reproduces_the_published_ptable_for_D5_V3_js2():
    published = pl.read_csv(DATA / "ptable_D5_V3_js2.csv", comment_prefix="#")
    expected = {(i, j): p for i, j, p in published.iter_rows()}
    ours = {(i, j): p for i, j, p in ptable(D=5, V=3, js=2).frame().select("i", "j", "p").iter_rows()}
    assert max(i for i, _ in ours) == 8  # symmetry row, as ptable's ncat = D + js + 1
    for cell in expected.keys() | ours.keys():
        assert ours.get(cell, 0.0) == pytest.approx(expected.get(cell, 0.0), abs=1e-4), cell


def test_reproduces_the_published_intervals_of_the_symmetry_row():
    # Same source as the CSV: slot "dFrame" (p_int_lb, p_int_ub) for i=8, noise +1..+5.
    published = {
        1: (0.6144007, 0.8085942),
        2: (0.8085942, 0.9273246),
        3: (0.9273246, 0.9796172),
        4: (0.9796172, 0.9962081),
        5: (0.9962081, 1.0),
    }
    row = ptable(D=5, V=3, js=2).rows[8]
    for v, lo, up in zip(row.noise, row.lower, row.upper, strict=True):
        if v in published:
            assert (lo, up) == pytest.approx(published[v], abs=1e-4)


def test_every_row_of_the_published_parameters_reaches_the_variance():
    for row in ptable(D=5, V=3, js=2).rows[1:]:
        assert row.mean == pytest.approx(0, abs=1e-6)
        assert row.variance == pytest.approx(3, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.data(), st.floats(0.3, 6.0))
def test_every_row_is_zero_mean_noise_within_the_constraints(D, data, V):
    js = data.draw(st.integers(0, D))
    try:
        table = ptable(D=D, V=V, js=js)
    except ValueError as error:
        assert "too small" in str(error)  # only an infeasible variance may be refused when js ≤ D
        return
    assert table.rows[0].noise == (0,) and table.rows[0].probability == (1.0,)
    assert table.symmetry == (D if js == 0 else D + js + 1)
    for i, row in enumerate(table.rows):
        assert row.count == i
        assert sum(row.probability) == pytest.approx(1, abs=1e-9)
        assert row.mean == pytest.approx(0, abs=1e-6)
        assert row.variance <= V + 1e-6
        assert all(abs(v) <= D and i + v >= 0 and not 1 <= i + v <= js for v in row.noise)
        assert row.lower[0] == 0 and row.upper[-1] == 1
        assert row.lower[1:] == row.upper[:-1]
    if V < D * (D + 1) / 3:  # below the uniform's variance the bound binds where no constraint cuts the support
        assert table.rows[-1].variance == pytest.approx(V, abs=1e-6)


def test_small_counts_keep_zero_mean_and_give_up_variance_as_ptable_does():
    # A count of 1 cannot fall by 2, and the monotone condition caps P(-1) at P(0): V=1 is out of reach.
    row = ptable(D=2, V=1.0).rows[1]
    assert row.noise == (-1, 0, 1, 2)
    assert row.mean == pytest.approx(0, abs=1e-7)
    assert row.variance < 1
    assert row.probability[0] == pytest.approx(row.probability[1], abs=1e-7)


def test_blocked_small_values_are_never_published():
    table = ptable(D=2, V=1.0, js=1)
    assert table.rows[1].noise == (-1, 1, 2)  # 1 → 0, 2 or 3, never 1
    assert table.rows[1].probability[:2] == pytest.approx((0.5, 0.5), abs=1e-7)


def test_impossible_parameters_are_refused():
    with pytest.raises(ValueError, match="js=3 > D=2"):
        ptable(D=2, V=1.0, js=3)
    with pytest.raises(ValueError, match="too small"):
        ptable(D=2, V=0.5, js=1)  # 1 → {0, 2, 3} with zero mean has variance ≥ 1
    with pytest.raises(ValueError):
        ptable(D=0, V=1.0)


# --- the lookup ------------------------------------------------------------------------------------


def test_lookup_draws_each_noise_with_its_probability():
    table = ptable(D=5, V=3, js=2)
    grid = 2**16  # cell keys k / 2**16 are uniform over [0, 1)
    keys = pl.Series(np.arange(grid) / grid)
    for row in table.rows:
        counts = pl.Series([row.count] * grid)
        noise = (perturb(counts, keys, table) - counts).value_counts()
        share = {v: n / grid for v, n in noise.iter_rows()}
        for v, p in zip(row.noise, row.probability, strict=True):
            assert share.get(v, 0.0) == pytest.approx(p, abs=2 / grid)


def test_counts_above_the_symmetry_row_use_it_and_zero_stays_zero():
    table = ptable(D=2, V=1.0)
    keys = pl.Series(np.linspace(0, 1, 101)[:-1])
    big = perturb(pl.Series([1000] * 100), keys, table)
    sym = perturb(pl.Series([table.symmetry] * 100), keys, table)
    assert (big - 1000).to_list() == (sym - table.symmetry).to_list()
    assert perturb(pl.Series([0] * 100), keys, table).to_list() == [0] * 100


def test_null_counts_or_keys_publish_null():
    frame = pl.DataFrame({"n": [3, None, 4], "ck": [0.5, 0.5, None]})
    assert frame.select(perturb("n", "ck", ptable(D=2, V=1.0)))["n"].to_list() == [3, None, None]


# --- record keys and cell keys ---------------------------------------------------------------------


def test_record_keys_are_the_hmac_of_the_pseudonym_in_unit_interval():
    pids = ["a1b2", "c3d4", "a1b2", None]
    out = pl.DataFrame({"pid": pids}).select(record_key_expr("pid", KEY_A))["pid"].to_list()
    expected = int.from_bytes(hmac.digest(KEY_A, b"a1b2", hashlib.sha256)[:4], "big") / 2**32
    assert out[0] == out[2] == expected and out[1] != out[0] and out[3] is None
    assert all(0 <= k < 1 for k in out[:3])


def test_a_cell_counts_each_person_once_whatever_the_row_order():
    rows = pl.DataFrame({"pid": ["p1", "p2", "p1", "p3", "p2"], "sex": ["f", "f", "f", "m", "f"]})
    rows = rows.with_columns(record_key_expr("pid", KEY_A).alias("rk"))
    one = cell_keys(rows, ["sex"], "rk", person="pid")
    two = cell_keys(rows.reverse(), ["sex"], "rk", person="pid")
    assert one.equals(two)
    assert one.filter(pl.col("sex") == "f")["count"].item() == 2
    rk = dict(rows.unique("pid").select("pid", "rk").iter_rows())
    assert one.filter(pl.col("sex") == "f")["cell_key"].item() == (rk["p1"] + rk["p2"]) % 1


# --- same contributors, same published value -------------------------------------------------------

pseudonyms = st.text(alphabet=string.ascii_letters + string.digits + "ЕГНжщ", min_size=1, max_size=16)


@settings(max_examples=40, deadline=None)
@given(
    shared=st.sets(pseudonyms, min_size=1, max_size=25),
    others_1=st.lists(pseudonyms, max_size=30),
    others_2=st.lists(pseudonyms, max_size=30),
    repeats=st.lists(st.integers(1, 3), min_size=25, max_size=25),
    order=st.randoms(use_true_random=False),
)
def test_same_contributors_publish_the_same_value_in_every_table_and_release(
    shared, others_1, others_2, repeats, order
):
    table = ptable(D=3, V=1.5, js=1)
    # Release 1, T-a: region × sex; the shared persons (some with several events) are the cell (A, f).
    rows_1 = [(p, "A", "f") for p, r in zip(sorted(shared), repeats, strict=False) for _ in range(r)]
    rows_1 += [(p, "B" if n % 2 else "A", "m") for n, p in enumerate(others_1)]
    order.shuffle(rows_1)
    frame_1 = pl.DataFrame(rows_1, schema=["pid", "region", "sex"], orient="row")
    frame_1 = frame_1.with_columns(record_key_expr("pid", KEY_A).alias("rk"))
    published_1, _ = perturb_table(frame_1, ["region", "sex"], "rk", table, person="pid")
    value_1 = published_1.filter((pl.col("region") == "A") & (pl.col("sex") == "f"))["value"].item()

    # Release 2, T-b: another dimension, other people, other row order; the shared persons are service X.
    rows_2 = [(p, "X") for p in shared] + [(p, "Y") for p in others_2]
    order.shuffle(rows_2)
    frame_2 = pl.DataFrame(rows_2, schema=["pid", "service"], orient="row")
    frame_2 = frame_2.with_columns(record_key_expr("pid", KEY_A).alias("rk"))
    cells = cell_keys(frame_2, ["service"], "rk", person="pid").with_columns(
        perturb("count", "cell_key", table).alias("value")
    )
    value_2 = cells.filter(pl.col("service") == "X")["value"].item()

    assert value_1 == value_2 == independent_published(shared, KEY_A, table)


def test_same_value_in_a_fresh_process():
    people = [f"person-{n}" for n in range(37)]
    code = (
        "import polars as pl\n"
        "from anonymise.cellkey import cell_keys, perturb, ptable, record_key_expr\n"
        f"rows = pl.DataFrame({{'pid': {people!r}}})\n"
        "rows = rows.with_columns(record_key_expr('pid', bytes(range(32))).alias('rk'))\n"
        "cells = cell_keys(rows, [], 'rk', person='pid')\n"
        "print(cells.select(perturb('count', 'cell_key', ptable(D=3, V=1.5, js=1)))['count'].item())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    assert int(out.stdout) == independent_published(set(people), KEY_A, ptable(D=3, V=1.5, js=1))


# --- statistical behaviour -------------------------------------------------------------------------


def many_cells(key: bytes, seed: int = 7, cells: int = 3000) -> pl.DataFrame:
    """Cells of 0..20 distinct persons each, with their original counts and published values."""
    sizes = np.random.default_rng(seed).integers(0, 21, size=cells)
    cell = np.repeat(np.arange(cells), sizes)
    rows = pl.DataFrame({"cell": cell, "pid": [f"p{n}" for n in range(cell.size)]})
    rows = rows.with_columns(record_key_expr("pid", key).alias("rk"))
    return cell_keys(rows, ["cell"], "rk", person="pid").with_columns(
        perturb("count", "cell_key", ptable(D=2, V=1.0)).alias("value")
    )


def test_different_keys_give_different_noise():
    a = many_cells(KEY_A).with_columns((pl.col("value") - pl.col("count")).alias("noise"))
    b = many_cells(KEY_B).with_columns((pl.col("value") - pl.col("count")).alias("noise"))
    assert a["count"].equals(b["count"])
    same = (a["noise"] == b["noise"]).mean()
    # Independent draws agree with probability Σ p² ≈ 0.28 for the symmetry row (higher for small counts).
    assert same is not None and 0.15 < same < 0.45
    assert abs(np.corrcoef(a["cell_key"].to_numpy(), b["cell_key"].to_numpy())[0, 1]) < 0.1


def test_noise_is_unbiased_over_many_cells():
    cells = many_cells(KEY_A).with_columns((pl.col("value") - pl.col("count")).alias("noise"))
    noise = cells["noise"].to_numpy()
    assert abs(noise.mean()) < 4 / np.sqrt(noise.size)  # V ≤ 1, so 4 standard errors
    assert noise.var() == pytest.approx(1.0, abs=0.1)
    assert (cells["value"] >= 0).all()


# --- the convenience table -------------------------------------------------------------------------


def test_perturb_table_publishes_every_cell_but_never_the_original():
    rows = pl.DataFrame(
        {"pid": [f"p{n}" for n in range(40)], "sex": ["f", "m"] * 20, "region": ["A"] * 25 + ["B"] * 15}
    ).with_columns(record_key_expr("pid", KEY_A).alias("rk"))
    table = ptable(D=2, V=1.0)
    out, summary = perturb_table(rows, ["region", "sex"], "rk", table, person="pid")
    assert out.columns == ["region", "sex", "value"]
    assert out.height == 4 == summary.cells
    assert (summary.D, summary.V, summary.js) == (2, 1.0, 0)
    assert 0 <= summary.changed <= summary.cells
    # the margin over sex is a table of its own: same contributors, same value as a cell elsewhere
    margin, _ = perturb_table(rows, ["region"], "rk", table, person="pid")
    whole, _ = perturb_table(rows.filter(pl.col("region") == "A"), [], "rk", table, person="pid")
    assert margin.filter(pl.col("region") == "A")["value"].item() == whole["value"].item()
    assert abs(margin["value"].sum() - 40) <= 2 * 2


def test_rows_without_a_record_key_count_for_nothing():
    rows = pl.DataFrame({"pid": ["x", "x", "y", "z"], "rk": [None, 0.5, 0.25, None], "cell": [1, 1, 1, 1]})
    cells = cell_keys(rows, ["cell"], "rk", person="pid")
    assert cells.select("count", "cell_key").row(0) == (2, 0.75)


# --- a table's cube of cell keys -------------------------------------------------------------------


def small_spec():
    from anonymise import hierarchy as h
    from anonymise.tables import Dim, Measure, TableSpec

    return TableSpec(
        id="TX",
        title_bg="проба",
        title_en="test",
        jurisdiction="bg",
        dims=(
            Dim("service", h.flat("service", ["a", "b", "c"]), additive=False),
            Dim("age_band", h.age_band(), additive=True),
        ),
        measures=(Measure("unique_persons", "person"),),
        threshold=5,
        universe="test",
    )


def test_table_cell_keys_count_what_the_cube_counts_and_key_each_cell_by_its_contributors():
    from anonymise.cellkey import table_cell_keys
    from anonymise.tables import cube

    spec = small_spec()
    bands = ["Y0T2", "Y3T6", "Y18T24", "Y30T54"]
    rows = pl.DataFrame(
        {
            "unit": [f"p{n % 23}" for n in range(60)],
            "service": [["a", "b", "c"][n % 3] for n in range(60)],
            "age_band": [bands[(n % 23) % 4] for n in range(60)],
        }
    )
    keyed = table_cell_keys({"unique_persons": rows}, spec, KEY_A)
    counted = cube({"unique_persons": rows}, spec)
    joined = counted.join(keyed, on=["service", "age_band", "measure"], how="full", coalesce=True)
    assert joined.height == counted.height == keyed.height
    assert (joined["value"] == joined["count"]).all()
    # a margin (children of Y_LT18, every service) has the cell key of exactly its contributors
    margin = keyed.filter((pl.col("service") == "_T") & (pl.col("age_band") == "Y_LT18"))
    people = rows.filter(pl.col("age_band").is_in(["Y0T2", "Y3T6"])).with_columns(
        record_key_expr("unit", KEY_A).alias("rk")
    )
    direct = cell_keys(people, [], "rk", person="unit")
    assert margin.select("count", "cell_key").row(0) == direct.select("count", "cell_key").row(0)


def test_ptable_properties_state_mean_zero_variance_v_and_a_stable_hash():
    properties = ptable(D=5, V=3, js=2).properties()
    assert properties["largest_absolute_mean"] < 1e-6 and properties["largest_noise"] == 5
    assert properties["variance_by_count"]["8"] == pytest.approx(3.0)
    assert properties["published_values_never_in"] == [1, 2]
    assert properties["sha256"] == ptable(D=5, V=3.0, js=2).properties()["sha256"]
    assert properties["sha256"] != ptable(D=5, V=2.5, js=2).properties()["sha256"]


# --- relations after perturbation ------------------------------------------------------------------


def entrants_spec(services: tuple[str, ...] = ("a", "b", "c")):
    """A table like T04: unique persons by service and age band, and the new entrants among them."""
    from anonymise import hierarchy as h
    from anonymise.tables import Dim, Measure, TableSpec

    return TableSpec(
        id="TN",
        title_bg="проба",
        title_en="test",
        jurisdiction="bg",
        dims=(
            Dim("service", h.flat("service", list(services)), additive=False),
            Dim("age_band", h.age_band(), additive=True),
        ),
        measures=(Measure("unique_persons", "person"), Measure("new_entrants", "person", at_most="unique_persons")),
        threshold=5,
        universe="test",
    )


BANDS = ["Y0T2", "Y3T6", "Y18T24", "Y30T54"]


def entrants_cells(people: list[tuple[str, str, str, bool]], services: tuple[str, ...] = ("a", "b", "c")):
    """Return the perturbed cells of the entrants table (``perturb_cells``) for (person, service, band, new)."""
    from anonymise.cellkey import perturb_cells, table_cell_keys

    schema = {"unit": pl.String, "service": pl.String, "age_band": pl.String, "new": pl.Boolean}
    frame = pl.DataFrame(people, schema=schema, orient="row")
    rows = {"unique_persons": frame.drop("new"), "new_entrants": frame.filter(pl.col("new")).drop("new")}
    spec = entrants_spec(services)
    return perturb_cells(table_cell_keys(rows, spec, KEY_A), spec, ptable(D=3, V=1.5, js=1))


def pairs_of(cells: pl.DataFrame, column: str) -> pl.DataFrame:
    """Return one row per cell: unique persons and new entrants (absent = no new entrant = 0)."""
    wide = cells.pivot(on="measure", index=["service", "age_band"], values=column)
    if "new_entrants" not in wide.columns:
        wide = wide.with_columns(pl.lit(None, pl.Int64).alias("new_entrants"))
    return wide.with_columns(pl.col("new_entrants").fill_null(0))


entrants = st.lists(
    st.tuples(
        st.sampled_from([f"p{n}" for n in range(40)]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(BANDS),
        st.booleans(),
    ),
    max_size=120,
)


@settings(max_examples=40, deadline=None)
@given(entrants)
def test_every_published_cell_keeps_the_ptable_promises_and_its_at_most_bound(people):
    # a person is new or not, whatever the row: being new is the person's, as in T04
    new = {p: is_new for p, _, _, is_new in people}
    cells = entrants_cells([(p, s, a, new[p]) for p, s, a, _ in people])
    if cells.is_empty():
        return
    published = cells["published"]
    assert published.min() >= 0 and published.is_between(1, 1).sum() == 0  # js = 1
    assert ((published - cells["count"]).abs() <= 3).all()  # within ±D, clamped or not
    assert (cells.filter(pl.col("count") == 0)["published"] == 0).all()
    pairs = pairs_of(cells, "published")
    assert (pairs["new_entrants"] <= pairs["unique_persons"]).all()
    # the unbounded measure publishes its own noise; the bounded one only ever moves down to its bound
    unique = cells.filter(pl.col("measure") == "unique_persons")
    assert (unique["published"] == unique["perturbed"]).all()
    assert (cells["published"] <= cells["perturbed"]).all()


def test_a_clamped_value_depends_on_contributors_only_and_repeats_in_every_release():
    # 300 services of 4 persons, of whom 3 are new entrants: the noise puts new entrants above unique
    # persons in some cells; those publish the unique persons' value, and do so again in a second
    # release holding the same persons, in another order, beside other people.
    services = tuple(f"s{n}" for n in range(300))
    people = [(f"p{n}", f"s{n // 4}", "Y0T2", n % 4 != 0) for n in range(4 * 300)]
    cells = entrants_cells(people, services)
    clamped = cells.filter(pl.col("published") != pl.col("perturbed"))
    assert clamped.height > 10 and (clamped["measure"] == "new_entrants").all()
    pairs = pairs_of(cells, "published")
    assert (pairs["new_entrants"] <= pairs["unique_persons"]).all()

    others = [(f"q{n}", "extra", "Y3T6", True) for n in range(7)]
    again = entrants_cells(list(reversed(people)) + others, (*services, "extra"))
    both = cells.join(again, on=["service", "age_band", "measure"], suffix="_2")
    same = both.filter(pl.col("service").is_in(services))  # the totals over service hold the others too
    assert same.height == 2 * 300 * 3 and (same["count"] == same["count_2"]).all()  # Y0T2, Y_LT18 and _T
    assert (same["published"] == same["published_2"]).all()
    clamped_again = same.filter(pl.col("published_2") != pl.col("perturbed_2"))
    assert clamped_again.height == clamped.filter(pl.col("service").is_in(services)).height > 10


def test_new_entrants_who_are_all_the_cell_publish_exactly_its_unique_persons():
    people = [(f"p{n}", "a", "Y0T2", True) for n in range(9)]
    pairs = pairs_of(entrants_cells(people), "published")
    assert (pairs["new_entrants"] == pairs["unique_persons"]).all()  # same persons: same cell key, same noise


def test_perturb_cells_keeps_the_same_contributors_same_noise_property():
    # the noise of a cell (``perturbed``) is that of its contributors, whichever measure counts them
    cells = entrants_cells([(f"p{n}", "abc"[n % 3], BANDS[n % 4], n % 2 == 0) for n in range(90)])
    noise = cells.group_by("count", "cell_key").agg(pl.col("perturbed").n_unique().alias("n"))
    assert noise["n"].max() == 1
    for row in cells.filter(pl.col("measure") == "unique_persons").head(5).iter_rows(named=True):
        cell = (pl.col("service") == row["service"]) & (pl.col("age_band") == row["age_band"])
        assert row["published"] == cells.filter(cell & (pl.col("measure") == "unique_persons"))["perturbed"].item()


def test_ptable_properties_state_its_actual_variance():
    properties = ptable(D=2, V=1.0).properties()
    actual = properties["actual_variance"]
    assert actual["from_symmetry_on"] == pytest.approx(1.0, abs=1e-6)
    assert actual["smallest"] < 1.0  # a count of 1 cannot fall below 0: its variance falls short of V
    assert actual["smallest"] == min(properties["variance_by_count"][str(i)] for i in range(1, 3))
    assert actual["largest"] <= 1.0 + 1e-6
