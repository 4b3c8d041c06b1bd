"""The attacker's linear programs, checked on published sdcTable and τ-Argus examples.

Each example (tests/anonymise/data/sdctable, sources in its README) is a table with its suppression
pattern; where the source says a suppressed cell can be recomputed exactly (or prints its interval),
the LP must find the same; where the source says the pattern protects, no cell may be pinned.
"""

from __future__ import annotations

import math
import random
from itertools import product

import polars as pl
import pytest

from anonymise.attack import intervals
from anonymise.constraints import DimMeta, System, TableMeta, cell_dict, system
from tests.anonymise.sdctable import load


def pinned(name: str) -> tuple[list[dict[str, str]], pl.DataFrame]:
    tables, metas, expected, _ = load(name)
    out = intervals(system(tables, metas), exact=True)
    cells = [cell_dict(lbl) for lbl in out.filter(pl.col("width") == 0)["label"]]
    return cells, out


def _coords(cell: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in cell.items() if k not in ("table", "period", "measure")}


def test_simpleheuristic_4x4_nine_primaries_leave_one_cell_recomputable():
    cells, out = pinned("simpleheuristic_4x4_nine_primaries")
    assert out.height == 9
    assert [_coords(c) for c in cells] == [{"v1": "w", "v2": "b"}]
    row = out.filter(pl.col("label").str.contains("v1=w|v2=b", literal=True)).row(0, named=True)
    assert row["lower"] == row["upper"] == 47


def test_simpleheuristic_4x4_with_one_more_suppression_frees_the_cell():
    # sdcTable's test: after SIMPLEHEURISTIC adds one secondary, attack() gives w|b in [0, 141]
    tables, metas, _, truth = load("simpleheuristic_4x4_nine_primaries")
    t = tables["X"].with_columns(
        pl.when((pl.col("v1") == "x") & (pl.col("v2") == "b")).then(None).otherwise(pl.col("value")).alias("value")
    )
    out = intervals(system({"X": t}, metas), exact=True)
    row = out.filter(pl.col("label").str.contains("v1=w|v2=b", literal=True)).row(0, named=True)
    assert (row["lower"], row["upper"]) == (0, 141)


def test_single_primary_is_pinned_to_its_value_as_sdctable_attack_prints():
    cells, out = pinned("testproblem_single_primary")
    assert [_coords(c) for c in cells] == [{"region": "A", "gender": "female"}]
    assert out.select("lower", "upper").row(0) == (2, 2)


@pytest.mark.parametrize("name", ["testproblem_hitas_pattern", "testproblem_gauss_pattern"])
def test_sdctable_protected_patterns_pin_nothing(name):
    cells, out = pinned(name)
    assert out.height >= 4 and cells == []


@pytest.mark.parametrize("name", ["linked_tables_county", "linked_tables_size", "singletons_1d"])
def test_tables_sdctable_declares_safe_alone_pin_nothing(name):
    cells, _ = pinned(name)
    assert cells == []


def test_linked_tables_together_reveal_k_and_n_protects_it():
    cells, _ = pinned("linked_tables_combined")
    assert {c["region"] for c in cells} == {"K"}
    # protect_linked_tables adds N as the secondary in both tables; then nothing is pinned
    tables, metas, _, _ = load("linked_tables_combined")
    hide_n = {
        t: f.with_columns(pl.when(pl.col("region") == "N").then(None).otherwise(pl.col("value")).alias("value"))
        for t, f in tables.items()
    }
    out = intervals(system(hide_n, metas), exact=True)
    assert out.filter(pl.col("width") == 0).height == 0


@pytest.mark.parametrize("name", ["tauargus_issue194_zero_total", "tauargus_issue194_zero_summands"])
def test_non_negativity_alone_pins_cells_to_zero(name):
    _, metas, expected, _ = load(name)
    cells, out = pinned(name)
    assert sorted(c["item"] for c in cells) == sorted(e["cell"] for e in expected["recomputable"])
    assert out.filter(pl.col("width") == 0)["upper"].to_list() == [0, 0]


def _two_way(values: dict[tuple[str, str], int | None], additive_b: bool = True) -> tuple[dict, dict]:
    rows = [{"period": "p", "a": a, "b": b, "measure": "n", "value": v} for (a, b), v in values.items()]
    t = pl.DataFrame(rows, schema_overrides={"value": pl.Int64})
    meta = TableMeta(
        ["a", "b"],
        {"a": DimMeta(True, {"x": "_T", "y": "_T"}), "b": DimMeta(additive_b, {"f": "_T", "m": "_T"})},
        {},
        "u",
        threshold=5,
    )
    return {"X": t}, {"X": meta}


def test_non_additive_dimension_bounds_a_total_between_largest_part_and_sum():
    # one unit may sit under both f and m (as a person under two services): _T in [max, sum]
    tables, metas = _two_way(
        {
            ("x", "f"): 4,
            ("x", "m"): 6,
            ("x", "_T"): None,
            ("y", "f"): 3,
            ("y", "m"): 2,
            ("y", "_T"): 5,
            ("_T", "f"): 7,
            ("_T", "m"): 8,
            ("_T", "_T"): None,
        },
        additive_b=False,
    )
    out = intervals(system(tables, metas), exact=True).sort("label")
    # x|_T in [6, 10]; a is additive, so the grand total is x|_T + y|_T in [11, 15] (b alone gives [8, 15])
    bounds = {cell_dict(lbl)["a"]: (lo, hi) for lbl, lo, hi in out.select("label", "lower", "upper").iter_rows()}
    assert bounds["x"] == (6, 10)
    assert bounds["_T"] == (11, 15)


def test_a_cell_in_no_relation_is_only_non_negative():
    tables, metas = _two_way({("x", "f"): None})
    out = intervals(system(tables, metas), exact=True)
    assert out["lower"].to_list() == [0] and math.isinf(out["upper"][0])


def test_quick_mode_proves_the_same_cells_as_exact_mode():
    tables, metas, _, _ = load("simpleheuristic_4x4_nine_primaries", threshold=5)
    s = system(tables, metas)
    exact = intervals(s, exact=True).select("cell", ok=pl.col("width") >= pl.col("required"))
    quick = intervals(s, exact=False).select("cell", ok=pl.col("width") >= pl.col("required"))
    assert exact.equals(quick)


FIXTURES = [
    "simpleheuristic_4x4_nine_primaries",
    "testproblem_single_primary",
    "testproblem_hitas_pattern",
    "testproblem_gauss_pattern",
    "linked_tables_county",
    "linked_tables_size",
    "linked_tables_combined",
    "singletons_1d",
    "tauargus_issue194_zero_total",
    "tauargus_issue194_zero_summands",
    "tauargus_issue194_ones_frequency",
]


def _random_cube(seed: int, hide: float = 0.35) -> tuple[System, pl.DataFrame]:
    """A random 3-way count table of units (additive a and b; c non-additive: a unit may sit under
    several c codes; measure k at most n) with a share ``hide`` of its cells suppressed, and its true values."""
    rnd = random.Random(seed)
    dims = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"], "c": ["c1", "c2", "c3"]}
    units = [
        (rnd.choice(dims["a"]), rnd.choice(dims["b"]), set(rnd.sample(dims["c"], rnd.choice([1, 1, 2, 3]))))
        for _ in range(rnd.randint(40, 160))
    ]
    new = [rnd.random() < 0.4 for _ in units]
    rows = []
    for a, b, c in product(*[[*codes, "_T"] for codes in dims.values()]):
        inside = [
            i for i, (ua, ub, uc) in enumerate(units) if a in (ua, "_T") and b in (ub, "_T") and (c == "_T" or c in uc)
        ]
        for measure, n in (("n", len(inside)), ("k", sum(new[i] for i in inside))):
            if n:
                rows.append({"period": "p", "a": a, "b": b, "c": c, "measure": measure, "true": float(n)})
    long = pl.DataFrame(rows)
    hidden = pl.Series([rnd.random() < hide for _ in range(long.height)])
    table = long.with_columns(pl.when(hidden).then(None).otherwise(pl.col("true")).alias("value")).drop("true")
    meta = TableMeta(
        ["a", "b", "c"],
        {d: DimMeta(d != "c", {code: "_T" for code in codes}) for d, codes in dims.items()},
        {"k": "n"},
        "u",
        threshold=5,
    )
    s = system({"X": table}, {"X": meta})
    truth = s.cells.select("cell").with_columns(long["true"].alias("true"))
    return s, truth


@pytest.mark.parametrize("name", FIXTURES)
def test_warm_started_highs_gives_the_reference_linprog_intervals_on_sdctable_examples(name):
    tables, metas, _, _ = load(name, threshold=5)
    s = system(tables, metas)
    fast = intervals(s, exact=True)
    reference = intervals(s, exact=True, solver="linprog")
    assert fast.height > 0 and fast.equals(reference)


@pytest.mark.parametrize("seed", range(5))
def test_warm_started_highs_gives_the_reference_linprog_intervals_on_random_tables(seed):
    s, truth = _random_cube(seed)
    reference = intervals(s, exact=True, solver="linprog")
    assert reference.height > 5
    assert intervals(s, exact=True).equals(reference)
    # the quick proof (feasible points, batches, rays) reaches the same verdict for every cell, and its
    # inner bounds lie within the exact interval
    for quick in (intervals(s), intervals(s, truth=truth)):
        joined = quick.join(reference, on="cell", suffix="_exact")
        assert (joined["width"] >= joined["required"]).equals(joined["width_exact"] >= joined["required"])
        assert (joined["lower"] >= joined["lower_exact"]).all() and (joined["upper"] <= joined["upper_exact"]).all()


@pytest.mark.parametrize("seed", range(5))
def test_suppressions_quick_verdicts_bound_the_exact_intervals(seed):
    # suppression's mode: neighbourhood relaxations (outer bounds) and feasible points (inner bounds)
    s, truth = _random_cube(seed, hide=0.6)
    exact = intervals(s, exact=True)
    narrow = exact.filter(pl.col("width") < pl.col("required"))
    assert narrow.height > 0 and narrow.height < exact.height  # both verdicts occur
    quick = intervals(s, truth=truth, local=True).join(exact, on="cell", suffix="_exact")
    failing = quick.filter(pl.col("width") < pl.col("required"))
    # every cell is judged as the exact programs judge it, and a failing cell names what confines it
    assert sorted(failing["cell"]) == sorted(narrow["cell"])
    assert (failing["binding"].list.len() > 0).all()
    outer = failing.filter(~pl.col("exact"))
    assert ((outer["lower"] <= outer["lower_exact"]) & (outer["upper"] >= outer["upper_exact"])).all()
    # with nothing to confirm, a cell the points do not prove is reported failing (a suspect) and
    # never a cell the exact programs find narrow is reported wide
    suspects = intervals(s, truth=truth, local=True, confirm=pl.Series([], dtype=pl.Int64))
    flagged = set(suspects.filter(pl.col("width") < pl.col("required"))["cell"])
    assert set(narrow["cell"]) <= flagged
