"""Suppression over hierarchies and linked tables, proven by the independent audit's linear programs."""

import random

import polars as pl
import pytest

from anonymise.auditing import audit_tables
from anonymise.hierarchy import flat, make
from anonymise.ministry import T04, T10, Store, build_t04, build_t10
from anonymise.period import Period
from anonymise.suppression import dominance_primary, protect, table_meta
from anonymise.tables import TOTAL, Dim, Measure, TableSpec, cube, long

REGION = make(
    "region",
    {"a": "N", "b": "N", "c": "S", "N": TOTAL, "S": TOTAL},
    {"a": "r", "b": "r", "c": "r", "N": "g", "S": "g"},
    ["r", "g"],
)
SPEC = TableSpec(
    id="TX",
    title_bg="тест",
    title_en="test",
    jurisdiction="bg",
    dims=(Dim("region", REGION, additive=True), Dim("sex", flat("sex", ["f", "m"]), additive=True)),
    measures=(Measure("n", "person"),),
    threshold=5,
    universe="test",
)


def table(cells: dict[tuple[str, str], int], spec: TableSpec = SPEC) -> pl.DataFrame:
    """A region × sex table with every hierarchy level, built by the cube from unit rows."""
    rows, i = [], 0
    for (r, s), n in cells.items():
        for _ in range(n):
            rows.append({"unit": f"u{i}", "region": r, "sex": s})
            i += 1
    frame = pl.DataFrame(rows, schema={"unit": pl.String, "region": pl.String, "sex": pl.String})
    return long(cube({"n": frame}, spec), spec, Period.parse("2025"))


def audit(tables: dict[str, pl.DataFrame], specs: dict[str, TableSpec]):
    return audit_tables(tables, {t: table_meta(specs[t]) for t in tables}, exact=True)


def test_small_counts_are_primary_and_zeros_are_published():
    out, summary = protect(
        {"TX": table({("a", "f"): 3, ("a", "m"): 20, ("b", "m"): 30, ("c", "f"): 9, ("c", "m"): 12})}, {"TX": SPEC}
    )
    t = out["TX"]
    status = {(r, s): c for r, s, c in t.select("region", "sex", "conf_status").iter_rows()}
    assert status[("a", "f")] == "C"
    assert ("b", "f") not in status  # an empty cell is absent: zero, known to be zero
    assert status[("N", "f")] == "C"  # the group North: 3 + 0 is small too
    assert summary["TX"].primary == 2 and summary["TX"].secondary >= 2
    assert audit(out, {"TX": SPEC}).passed


def test_a_published_zero_is_never_suppressed():
    t = table({("a", "f"): 2, ("b", "f"): 9, ("b", "m"): 11, ("c", "f"): 6, ("c", "m"): 8, ("a", "m"): 7})
    t = pl.concat(
        [t, pl.DataFrame({"period": ["2025"], "region": ["a"], "sex": ["x"], "measure": ["n"], "value": [0]})]
    )
    spec = TableSpec(
        "TX", "т", "t", "bg", (SPEC.dims[0], Dim("sex", flat("sex", ["f", "m", "x"]), True)), SPEC.measures, 5, "test"
    )
    out, _ = protect({"TX": t}, {"TX": spec})
    zero = out["TX"].filter((pl.col("region") == "a") & (pl.col("sex") == "x"))
    assert zero["conf_status"].item() == "F" and zero["value"].item() == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_secondary_cell_is_needed(seed):
    # The must-hold: publish any one secondary cell back and the audit reports a finding.
    rnd = random.Random(seed)
    cells = {(r, s): rnd.choice([0, 1, 2, 3, 4, 6, 9, 14, 30]) for r in "abc" for s in "fm"}
    t = table(cells)
    out, summary = protect({"TX": t}, {"TX": SPEC})
    assert audit(out, {"TX": SPEC}).passed and summary["TX"].pruning_complete
    secondary = out["TX"].with_row_index("i").filter(pl.col("conf_status") == "D")["i"].to_list()
    for i in secondary:
        back = out["TX"].with_columns(
            pl.when(pl.int_range(pl.len()) == i).then(t["value"][i]).otherwise(pl.col("value")).alias("value")
        )
        assert not audit({"TX": back}, {"TX": SPEC}).passed, f"secondary cell {out['TX'].row(i)} was not needed"


def test_the_audit_finds_a_lone_suppressed_cell_and_names_it_without_its_value():
    t = table({("a", "f"): 3, ("a", "m"): 20, ("b", "f"): 12, ("b", "m"): 30, ("c", "f"): 8, ("c", "m"): 9})
    bad = t.with_columns(
        pl.when((pl.col("region") == "a") & (pl.col("sex") == "f")).then(None).otherwise(pl.col("value")).alias("value")
    )
    report = audit({"TX": bad}, {"TX": SPEC})
    assert [f.cell["region"] for f in report.findings] == ["a"]
    f = report.findings[0]
    assert f.width == 0 and f.lower == f.upper == 3
    assert "needs 5" in f.describe()


def test_two_small_cells_that_only_hide_each_other_are_a_finding():
    t = table({("a", "f"): 1, ("a", "m"): 20, ("b", "f"): 1, ("b", "m"): 30, ("c", "f"): 8, ("c", "m"): 9})
    bad = t.with_columns(
        pl.when(pl.col("sex").eq("f") & pl.col("region").is_in(["a", "b"]))
        .then(None)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    assert not audit({"TX": bad}, {"TX": SPEC}).passed


def test_non_additive_dimension_protects_with_its_own_relation():
    # one person under two services: the total is not the sum, and suppression must still protect
    svc = flat("service", ["s1", "s2", "s3"])
    spec = TableSpec("TS", "т", "t", "bg", (Dim("service", svc, additive=False),), (Measure("n", "person"),), 5, "ts")
    rows = pl.DataFrame(
        {
            "unit": ["p1", "p1", "p2", "p3", *[f"q{i}" for i in range(12)]],
            "service": ["s1", "s2", "s1", "s1", *(["s2"] * 6 + ["s3"] * 6)],
        }
    )
    t = long(cube({"n": rows}, spec), spec, Period.parse("2025"))
    assert dict(zip(t["service"], t["value"], strict=True)) == {"s1": 3, "s2": 7, "s3": 6, TOTAL: 15}
    out, _ = protect({"TS": t}, {"TS": spec})
    assert audit(out, {"TS": spec}).passed
    assert out["TS"].filter(pl.col("service") == "s1")["conf_status"].item() == "C"


def test_linked_tables_are_protected_together():
    # the same persons by region (TX) and by region and age group (TY): their region totals are equal
    age = flat("age", ["young", "old"])
    ty = TableSpec("TY", "т", "t", "bg", (SPEC.dims[0], Dim("age", age, True)), SPEC.measures, 5, "test")
    rnd = random.Random(7)
    rows = pl.DataFrame(
        [
            {
                "unit": f"u{i}",
                "region": rnd.choice("aabbbc"),
                "sex": rnd.choice("fm"),
                "age": rnd.choice(["young", "old"]),
            }
            for i in range(60)
        ]
    )
    tx = long(cube({"n": rows}, SPEC), SPEC, Period.parse("2025"))
    tyt = long(cube({"n": rows}, ty), ty, Period.parse("2025"))
    specs = {"TX": SPEC, "TY": ty}
    out, _ = protect({"TX": tx, "TY": tyt}, specs)
    assert audit(out, specs).passed
    # the region totals are one number in both tables: hidden in one, hidden in the other
    tot = {t: out[t].filter(pl.col("sex" if t == "TX" else "age") == TOTAL)["conf_status"].to_list() for t in out}
    assert tot["TX"] == tot["TY"]


def test_sdctable_linked_tables_protected_together_pass_the_joint_audit():
    # sdcTable's linked-tables example: each pattern alone is safe, together K is recomputable
    # (tests/anonymise/test_attack.py); protected together, no cell is pinned.
    from anonymise.hierarchy import make as make_h
    from tests.anonymise.sdctable import load

    tables, metas, _, truth = load("linked_tables_combined")
    specs, unprotected = {}, {}
    for tid, meta in metas.items():
        parent = dict(meta.hierarchies["region"].parent)
        level = {c: "x" for c in parent}
        h = make_h(tid, parent, level, ["x"])
        specs[tid] = TableSpec(tid, "т", "t", "bg", (Dim("region", h, True),), (Measure("n", "unit"),), 4, "u")
        unprotected[tid] = truth[tid].select("period", "region", "measure", pl.col("true").alias("value"))
    out, summary = protect(unprotected, specs)
    assert audit(out, specs).passed
    assert out["county"].filter(pl.col("region") == "K")["conf_status"].item() != "F"


def test_sensitive_groups_take_the_higher_threshold():
    spec = TableSpec(
        "TZ", "т", "t", "bg", SPEC.dims, SPEC.measures, 5, "tz", threshold_sensitive=10, sensitive={"sex": ("f",)}
    )
    t = table({("a", "f"): 7, ("a", "m"): 7, ("b", "f"): 20, ("b", "m"): 20, ("c", "f"): 30, ("c", "m"): 30}, spec)
    out, _ = protect({"TZ": t}, {"TZ": spec})
    st = {(r, s): c for r, s, c in out["TZ"].select("region", "sex", "conf_status").iter_rows()}
    assert st[("a", "f")] == "C" and st[("a", "m")] != "C"
    assert audit(out, {"TZ": spec}).passed


def test_dominance_rules_mark_cells_one_contributor_dominates():
    c = pl.DataFrame({"cell": ["a"] * 3 + ["b"] * 3 + ["c"] * 2, "v": [100, 5, 3, 40, 35, 30, 50, 50]})
    out = {r[0]: r[2:] for r in dominance_primary(c, ["cell"], "v").rows()}
    assert out["a"] == (True, True)  # one contributor holds 93 %
    assert out["b"] == (False, False)
    assert out["c"] == (True, True)  # two contributors: each knows the other's value exactly


def _store(n: int, seed: int) -> Store:
    rnd = random.Random(seed)
    munis = ["RSE27", "PDV22", "SOF46", "VID33"]
    persons = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in range(n)],
            "person_pid": [f"l{i}" for i in range(n)],
            "partner_id": [rnd.choice(["ruse-svetilnik", "plovdiv-ksuds"]) for _ in range(n)],
            "municipality_code": [rnd.choice(munis) for _ in range(n)],
            "age_band": [rnd.choice(["Y0T2", "Y3T6", "Y7T13", "Y30T54"]) for _ in range(n)],
            "sex": [rnd.choice("fm") for _ in range(n)],
            "rural": [rnd.random() < 0.3 for _ in range(n)],
        }
    )
    events = pl.DataFrame(
        {
            "person_cid": [f"p{rnd.randrange(n)}" for _ in range(4 * n)],
            "partner_id": [rnd.choice(["ruse-svetilnik", "plovdiv-ksuds"]) for _ in range(4 * n)],
            "service_code": [
                rnd.choice(["health_consultation", "school_readiness", "parent_psych_support"]) for _ in range(4 * n)
            ],
            "month": [rnd.choice(["2024-12", "2025-03", "2025-07"]) for _ in range(4 * n)],
        }
    )
    return Store(Period.parse("2025"), "bg", ["ruse-svetilnik", "plovdiv-ksuds"], persons, events)


def test_t04_and_t10_of_a_small_store_pass_the_audit():
    store = _store(300, 5)
    tables = {"T04": build_t04(store), "T10": build_t10(store)}
    specs = {"T04": T04, "T10": T10}
    out, summary = protect(tables, specs)
    assert summary["T04"].primary > 0 and audit(out, specs).passed


def test_t04_hierarchies_add_up_and_non_additive_totals_are_bounded():
    t = build_t04(_store(200, 3))
    up = t.filter(pl.col("measure") == "unique_persons")
    key = ["partner", "service", "age_band", "sex"]
    nuts3 = up.filter(pl.col("geo").str.len_chars() == 5, pl.col("geo").str.starts_with("BG"))
    nuts2 = up.filter(pl.col("geo").str.len_chars() == 4)
    parent = {c: p for c, p in T04.dim("geo").hierarchy.parent.items()}
    summed = (
        nuts3.with_columns(pl.col("geo").replace_strict(parent).alias("geo"))
        .group_by("geo", *key)
        .agg(pl.col("value").sum())
    )
    joined = nuts2.join(summed, on=["geo", *key], how="left", suffix="_sum")
    assert (joined["value"] == joined["value_sum"]).all()
    by_partner = (
        up.filter(pl.col("partner") != TOTAL)
        .group_by("geo", "service", "age_band", "sex")
        .agg(pl.col("value").sum().alias("s"), pl.col("value").max().alias("m"))
    )
    total = up.filter(pl.col("partner") == TOTAL).join(by_partner, on=["geo", "service", "age_band", "sex"])
    assert ((total["value"] >= total["m"]) & (total["value"] <= total["s"])).all()
    ne = t.pivot(on="measure", index=["geo", *key], values="value")
    assert (ne["new_entrants"] <= ne["unique_persons"]).all()
