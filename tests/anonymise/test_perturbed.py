import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.perturbed import bound_order, broken_relations, keep_relations, relations

CHAIN = {"returning": "new_entrants", "new_entrants": "unique_persons"}  # returning ≤ new ≤ unique


def long_cells(values: list[tuple[int, int, int]]) -> pl.DataFrame:
    """One cell per triple (unique persons, new entrants, returning), in long form."""
    return pl.DataFrame(
        [
            (f"c{n}", measure, value)
            for n, triple in enumerate(values)
            for measure, value in zip(("unique_persons", "new_entrants", "returning"), triple, strict=True)
        ],
        schema={"cell": pl.String, "measure": pl.String, "value": pl.Int64},
        orient="row",
    ).sample(fraction=1.0, shuffle=True, seed=3)  # row order must not matter


noisy = st.integers(-6, 30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(noisy, noisy, noisy), min_size=1, max_size=40))
def test_after_keep_relations_every_bound_holds_along_a_chain_and_nothing_is_negative(values):
    before = long_cells(values)
    after = keep_relations(before, CHAIN, ["cell"])
    assert broken_relations(after, CHAIN, ["cell"]) == {"negative": 0, "above_at_most": 0}
    joined = before.join(after, on=["cell", "measure"], suffix="_after")
    # values only move down to a bound, or up to 0; an unbounded measure is only clamped at 0
    assert (joined["value_after"] <= joined["value"].clip(lower_bound=0)).all()
    unbounded = joined.filter(pl.col("measure") == "unique_persons")
    assert (unbounded["value_after"] == unbounded["value"].clip(lower_bound=0)).all()
    # post-processing twice changes nothing more
    assert keep_relations(after, CHAIN, ["cell"]).sort("cell", "measure").equals(after.sort("cell", "measure"))


def test_a_clamped_value_is_the_published_value_of_its_bound():
    after = keep_relations(long_cells([(3, 7, 9), (5, -2, 1)]), CHAIN, ["cell"])
    got = {(c, m): v for c, m, v in after.iter_rows()}
    assert (got["c0", "new_entrants"], got["c0", "returning"]) == (3, 3)
    assert (got["c1", "new_entrants"], got["c1", "returning"]) == (0, 0)


def test_a_cell_without_its_bound_keeps_its_value_and_nulls_stay_null():
    frame = pl.DataFrame(
        {"cell": ["a", "b", "b"], "measure": ["new_entrants", "new_entrants", "unique_persons"], "value": [4, None, 2]}
    )
    after = keep_relations(frame, {"new_entrants": "unique_persons"}, ["cell"])
    assert after["value"].to_list() == [4, None, 2]


def test_bounds_are_ordered_bound_first_and_a_cycle_is_refused():
    assert bound_order(CHAIN) == [("new_entrants", "unique_persons"), ("returning", "new_entrants")]
    with pytest.raises(ValueError, match="cycle"):
        bound_order({"a": "b", "b": "c", "c": "a"})


def test_the_stated_relations_say_margins_are_not_sums_of_their_children():
    for method in ("cell_key", "dp"):
        stated = relations(method, {"new_entrants": "unique_persons"}, D=5, js=2)  # type: ignore[arg-type]
        assert any("new_entrants ≤ unique_persons" in x for x in stated["hold"])
        assert any("not the sum of its published children" in x for x in stated["do_not_hold"])
    cell_key = relations("cell_key", {}, D=5, js=2)["hold"]
    assert "no published value is in 1..2" in cell_key and any("±5" in x for x in cell_key)
