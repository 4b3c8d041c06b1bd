"""Release history: differences between releases of a series never reveal a small group."""

import polars as pl

from anonymise.auditing import audit_tables
from anonymise.constraints import required_expr
from anonymise.history import small_differences
from anonymise.ministry import T04, build_t04
from anonymise.suppression import protect, table_meta
from tests.anonymise.test_suppression import _store


def test_a_partner_added_to_the_series_reveals_no_small_group():
    # the ministry already holds the release without one partner's latest people; the new release
    # adds them. Cells that would differ by 1..4 are protected, the rest published.
    full = _store(300, 11)
    first = full.persons["person_cid"].head(296)
    partial = type(full)(
        full.period,
        "bg",
        full.partner_order,
        full.persons.filter(pl.col("person_cid").is_in(first.implode())),
        full.events.filter(pl.col("person_cid").is_in(first.implode())),
    )
    earlier, _ = protect({"T04": build_t04(partial)}, {"T04": T04})
    now = {"T04": build_t04(full)}
    meta = table_meta(T04)
    dims, required = {"T04": list(T04.dimensions)}, {"T04": required_expr(meta)}
    risky = small_differences(now, earlier, dims, required)
    assert risky.height > 0  # unprotected, the new totals would give the four newcomers away
    protected, _ = protect(now, {"T04": T04}, also_primary={"T04": risky})
    assert small_differences(protected, earlier, dims, required).height == 0
    assert audit_tables(protected, {"T04": meta}).passed
    grand = protected["T04"].filter(
        pl.all_horizontal([pl.col(d) == "_T" for d in T04.dimensions]) & (pl.col("measure") == "unique_persons")
    )
    assert grand["conf_status"].item() != "F"


def test_an_identical_release_has_no_difference():
    t = build_t04(_store(120, 2))
    out, _ = protect({"T04": t}, {"T04": T04})
    meta = table_meta(T04)
    assert small_differences(out, out, {"T04": list(T04.dimensions)}, {"T04": required_expr(meta)}).height == 0
