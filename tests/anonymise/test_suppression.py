import polars as pl
import pytest

from anonymise.audit import audit_table
from anonymise.period import Period
from anonymise.suppression import suppress
from anonymise.tables import TOTAL, TableSpec, build_t04, cube, long

SPEC = TableSpec("TX", "test", ("region", "sex"), frozenset({"region", "sex"}), ("n",), 5)


def table(cells: dict[tuple[str, str], int]) -> pl.DataFrame:
    """A two-way additive table with all margins."""
    rows = []
    regions = sorted({r for r, _ in cells})
    sexes = sorted({s for _, s in cells})
    for r in regions:
        for s in sexes:
            rows.append((r, s, cells.get((r, s), 0)))
        rows.append((r, TOTAL, sum(cells.get((r, s), 0) for s in sexes)))
    for s in sexes:
        rows.append((TOTAL, s, sum(cells.get((r, s), 0) for r in regions)))
    rows.append((TOTAL, TOTAL, sum(cells.values())))
    return (
        pl.DataFrame(rows, schema=["region", "sex", "value"], orient="row")
        .with_columns(pl.lit("2025").alias("period"), pl.lit("n").alias("measure"))
        .select("period", "region", "sex", "measure", "value")
    )


def test_small_counts_are_primary_and_zeros_are_published():
    out, summary = suppress(table({("a", "f"): 3, ("a", "m"): 20, ("b", "f"): 0, ("b", "m"): 30}), SPEC)
    status = {(r, s): c for r, s, c in out.select("region", "sex", "conf_status").iter_rows()}
    assert status[("a", "f")] == "C" and status[("b", "f")] == "F"
    assert status[(TOTAL, "f")] == "C"  # 3 + 0 is small too
    assert summary.primary == 2 and summary.secondary >= 1


def test_no_suppressed_cell_can_be_recomputed_from_a_margin():
    cells = {("a", "f"): 3, ("a", "m"): 20, ("b", "f"): 12, ("b", "m"): 30, ("c", "f"): 7, ("c", "m"): 2}
    out, _ = suppress(table(cells), SPEC)
    result = audit_table("TX", out, ["region", "sex"], {"region", "sex"}, 5)
    assert result.passed, result.findings
    assert result.narrowest_width is not None and result.narrowest_width >= 5


def test_audit_catches_a_lone_suppressed_cell():
    bad = table({("a", "f"): 3, ("a", "m"): 20, ("b", "f"): 12, ("b", "m"): 30}).with_columns(
        pl.when((pl.col("region") == "a") & (pl.col("sex") == "f")).then(None).otherwise(pl.col("value")).alias("value")
    )
    result = audit_table("TX", bad, ["region", "sex"], {"region", "sex"}, 5)
    assert not result.passed
    assert result.findings[0].width == 0 and result.findings[0].cell["region"] == "a"


def test_audit_catches_two_small_cells_that_only_hide_each_other():
    # a/f = 1 and b/f = 1 suppressed, all else published: the f column says they sum to 2.
    bad = table({("a", "f"): 1, ("a", "m"): 20, ("b", "f"): 1, ("b", "m"): 30}).with_columns(
        pl.when(pl.col("sex").eq("f") & pl.col("region").is_in(["a", "b"]))
        .then(None)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    result = audit_table("TX", bad, ["region", "sex"], {"region", "sex"}, 5)
    assert not result.passed


@pytest.mark.parametrize("threshold", [3, 5, 10])
def test_suppression_passes_its_own_audit_on_a_realistic_cube(threshold):
    import random

    rnd = random.Random(threshold)
    persons = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in range(800)],
            "person_pid": [f"l{i}" for i in range(800)],
            "partner_id": [rnd.choice(["a", "b"]) for _ in range(800)],
            "nuts3": [rnd.choice(["BG323", "BG421", "BG311"]) for _ in range(800)],
            "age_band": [rnd.choice(["Y0T2", "Y3T6", "Y30T54"]) for _ in range(800)],
            "sex": [rnd.choice("fm") for _ in range(800)],
        }
    )
    events = pl.DataFrame(
        {
            "person_cid": [f"p{rnd.randrange(800)}" for _ in range(3000)],
            "partner_id": [rnd.choice(["a", "b"]) for _ in range(3000)],
            "service_code": [rnd.choice(["s1", "s2", "s3"]) for _ in range(3000)],
            "month": [rnd.choice(["2024-12", "2025-03", "2025-07"]) for _ in range(3000)],
        }
    )
    from anonymise.tables import T04

    t04 = build_t04(persons, events, Period.parse("2025"), ["a", "b"])
    out, summary = suppress(t04, T04, threshold)
    result = audit_table("T04", out, list(T04.dimensions), set(T04.additive), threshold)
    assert result.passed and summary.primary > 0


def test_cube_totals_count_unique_persons_not_rows():
    rows = pl.DataFrame({"person_cid": ["x", "x", "y"], "partner": ["a", "b", "a"]})
    out = cube(rows, ("partner",), [pl.col("person_cid").n_unique().alias("n")])
    got = dict(out.iter_rows())
    assert got == {"a": 2, "b": 1, TOTAL: 2}


def test_long_form_is_sorted_and_typed():
    wide = pl.DataFrame({"region": ["b", "a"], "sex": ["f", "m"], "n": [1, 2]})
    out = long(wide, SPEC, Period.parse("2025"))
    assert out.columns == ["period", "region", "sex", "measure", "value"]
    assert out["region"].to_list() == ["a", "b"]


def test_a_zero_is_never_chosen_to_protect_a_cell():
    # new entrants: a/f = 2 (primary), a/m = 0, and the a total 2 is primary too; zeros stay published
    cells = {("a", "f"): 2, ("a", "m"): 0, ("b", "f"): 9, ("b", "m"): 11, ("c", "f"): 6, ("c", "m"): 8}
    out, _ = suppress(table(cells), SPEC)
    zeros = out.filter((pl.col("region") == "a") & (pl.col("sex") == "m"))
    assert zeros["conf_status"].item() == "F" and zeros["value"].item() == 0
    assert audit_table("TX", out, ["region", "sex"], {"region", "sex"}, 5).passed


def test_non_additive_lines_with_a_zero_total_fail_the_audit_if_a_part_is_hidden():
    spec_rows = [("2025", "s1", "n", 0), ("2025", "s2", "n", 0), ("2025", TOTAL, "n", 0)]
    t = pl.DataFrame(spec_rows, schema=["period", "service", "measure", "value"], orient="row")
    t = t.with_columns(pl.when(pl.col("service") != TOTAL).then(None).otherwise(pl.col("value")).alias("value"))
    assert not audit_table("TY", t, ["service"], set(), 5).passed
