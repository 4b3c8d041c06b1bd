"""The group-disclosure scan of T09: all or none of a published population in a sensitive group."""

from __future__ import annotations

import polars as pl

from anonymise.auditing import audit_tables
from anonymise.groups import group_disclosure, with_cells
from anonymise.ministry import SPECS
from anonymise.period import Period
from anonymise.suppression import protect, table_meta
from anonymise.tables import TOTAL, cube, long

T09 = SPECS["T09"]
SENSITIVE = ("disability", "minority", "homeless", "precarious_family")


def counts(cells: dict[tuple[str, str], dict[str, int]]) -> pl.DataFrame:
    """A hand-made long T09: per (geo, area) the population (``_T``) and each group's count, with
    ``declined`` 0; groups left out are absent, as a long table leaves out its zeros."""
    rows = [
        ("2025", geo, group, area, measure, n if measure == "children_reached" else 0)
        for (geo, area), groups in cells.items()
        for group, n in groups.items()
        for measure in ("children_reached", "declined")
    ]
    return pl.DataFrame(rows, schema=["period", *T09.dimensions, "measure", "value"], orient="row")


def flagged(table: pl.DataFrame, **kwargs: int) -> set[tuple[str, str, str, str]]:
    found = group_disclosure(table, T09, **kwargs)
    assert set(found["measure"]) <= {"children_reached"}
    return {(r["geo"], r["cg_area"], r["group"], r["reason"]) for r in found.iter_rows(named=True)}


def test_a_group_holding_the_whole_population_is_found_however_large() -> None:
    t = counts(
        {
            ("BG31", "health"): {TOTAL: 40, "disability": 40, "minority": 25, "homeless": 3, "precarious_family": 8},
            ("BG32", "health"): {TOTAL: 12, "disability": 11, "minority": 12, "homeless": 2, "precarious_family": 1},
        }
    )
    assert flagged(t) == {("BG31", "health", "disability", "100%"), ("BG32", "health", "minority", "100%")}


def test_a_zero_is_protected_below_twice_the_threshold_only() -> None:
    some = {"disability": 5, "minority": 5, "precarious_family": 5}  # homeless: 0, absent from the table
    t = counts(
        {
            ("BG31", "ecec"): {TOTAL: 14, **some},
            ("BG32", "ecec"): {TOTAL: 19, **some},
            ("BG33", "ecec"): {TOTAL: 20, **some},
            ("BG34", "ecec"): {TOTAL: 300, **some},
        }
    )
    assert flagged(t) == {("BG31", "ecec", "homeless", "0%"), ("BG32", "ecec", "homeless", "0%")}
    # the policy's higher threshold moves the limit with it
    assert ("BG33", "ecec", "homeless", "0%") in flagged(t, threshold=15)


def test_a_zero_a_published_zero_already_implies_is_not_flagged() -> None:
    cell = ("BG31", "ecec", "minority", "0%")
    small = {TOTAL: 14, "disability": 5, "homeless": 2, "precarious_family": 5}  # minority: 0 of 14
    region = {TOTAL: 35, "disability": 8, "homeless": 2, "precarious_family": 9}
    nation = {TOTAL: 60, "disability": 20, "homeless": 2, "precarious_family": 5}
    # no minority child in the region (0 of 35) nor in ecec nationally (0 of 60): both published
    assert cell not in flagged(counts({("BG31", "ecec"): small, ("BG31", TOTAL): region}))
    assert cell not in flagged(counts({("BG31", "ecec"): small, (TOTAL, "ecec"): nation}))
    # minority children elsewhere in the region and the country: the zero is this cell's own
    with_some = {("BG31", TOTAL): region | {"minority": 5}, (TOTAL, "ecec"): nation | {"minority": 5}}
    assert cell in flagged(counts({("BG31", "ecec"): small, **with_some}))
    # a coarser zero of a small population is protected itself, so it implies nothing
    tiny = counts({("BG31", "ecec"): {TOTAL: 14, "disability": 14}, ("BG31", TOTAL): {TOTAL: 15, "disability": 15}})
    assert {(g, a) for _, a, g, r in flagged(tiny) if r == "0%"} == {
        (g, a) for g in SENSITIVE[1:] for a in ("ecec", TOTAL)
    }


def test_none_is_not_a_sensitive_group() -> None:
    t = counts({("BG31", "ecec"): {TOTAL: 30, "none": 30}, ("BG32", "ecec"): {TOTAL: 12, "none": 12}})
    found = flagged(t)
    assert all(g != "none" for _, _, g, _ in found)
    assert {g for _, _, g, _ in found} == set(SENSITIVE)  # BG32: 0 of 12 in every group
    assert not [c for c in found if c[0] == "BG31"]


def test_a_cell_without_population_is_ignored() -> None:
    # a cell present with no child reached (only another measure counts there)
    t = counts({("BG31", "ecec"): {TOTAL: 0, "disability": 0}})
    assert flagged(t) == set()


def test_with_cells_gives_an_absent_flagged_zero_a_row_for_every_measure() -> None:
    t = counts({("BG31", "ecec"): {TOTAL: 14, "disability": 14}})
    cells = group_disclosure(t, T09)
    out = with_cells(t, cells, T09)
    added = out.join(t, on=[*T09.dimensions, "measure"], how="anti")
    assert added.height == 2 * 3  # minority, homeless, precarious_family × both measures
    assert set(added["value"]) == {0} and set(added["period"]) == {"2025"}
    assert out.schema == t.schema
    assert with_cells(out, cells, T09) is out  # nothing missing: unchanged


def t09(children: list[tuple[str, str, tuple[str, ...], int]]) -> pl.DataFrame:
    """T09 as the cube builds it, from (geo, area, groups, number of children) rows."""
    rows, i = [], 0
    for geo, area, groups, n in children:
        for _ in range(n):
            rows += [(f"c{i}", geo, group, area) for group in groups]
            i += 1
    reached = pl.DataFrame(rows, schema=["unit", "geo", "group", "cg_area"], orient="row")
    return long(cube({"children_reached": reached, "declined": reached.head(0)}, T09), T09, Period.parse("2025"))


def test_protect_suppresses_the_flagged_cells_and_the_audit_finds_nothing() -> None:
    t = t09(
        [
            ("BG31", "ecec", ("disability",), 12),
            ("BG31", "ecec", ("none",), 13),
            ("BG31", "health", ("disability",), 15),  # all 15 have a disability
            ("BG32", "ecec", ("minority",), 10),
            ("BG32", "ecec", ("precarious_family",), 10),
            ("BG32", "ecec", ("none",), 10),
            ("BG32", "health", ("minority", "homeless"), 4),
            ("BG32", "health", ("none",), 30),
            ("BG33", "housing", ("homeless", "precarious_family"), 11),
            ("BG33", "housing", ("precarious_family",), 3),  # all 14 in a precarious family, none disabled
        ]
    )
    cells = group_disclosure(t, T09)
    keys = [*T09.dimensions, "measure"]
    full = cells.filter(pl.col("reason") == "100%")
    assert {("BG31", "disability", "health"), ("BG33", "precarious_family", "housing")} <= set(
        full.select(T09.dimensions).rows()
    )
    assert ("BG33", "disability", "housing") in cells.filter(pl.col("reason") == "0%").select(T09.dimensions).rows()

    plain, _ = protect({"T09": t}, {"T09": T09})
    assert set(plain["T09"].join(full, on=keys, how="semi")["conf_status"]) == {"F"}  # the threshold alone

    out, summary = protect({"T09": with_cells(t, cells, T09)}, {"T09": T09}, also_primary={"T09": cells})
    protected = out["T09"].join(cells, on=keys, how="semi")
    assert protected.height == cells.height and set(protected["conf_status"]) == {"C"}
    assert protected["value"].is_null().all()
    assert summary["T09"].primary >= cells.height
    assert audit_tables(out, {"T09": table_meta(T09)}, exact=True).passed
