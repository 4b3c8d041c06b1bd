"""What a perturbed table keeps: the relations its published values satisfy after the noise.

The cell key method and differential privacy draw noise cell by cell, so on its own the noise breaks
relations the table states: a cell of T04 could show more new entrants than unique persons, and
differential privacy could show a negative count. Two rules, applied after the noise, restore them:

1. **no negative value** — a value below 0 is published as 0 (the cell key method's p-table never goes
   below 0; differential privacy's noise may);
2. **at most** — a measure the table specification bounds by another measure of the same cell
   (``Measure(..., at_most=...)``: T04's ``new_entrants`` at most ``unique_persons``) is published as
   the smaller of its own perturbed value and the *published* value of its bound in that cell. Bounds
   are applied bound first, so a chain (a ≤ b ≤ c) holds all along.

Both rules read only perturbed values, never a true count. Under differential privacy that makes them
post-processing, which costs no privacy budget. Under the cell key method a published value stays a
function of the contributors of its cell: its own (through its cell key) and, for a bounded measure,
those of its bound in the same cell — the same two sets of persons publish the same value in every
table and every release.

Neither rule moves a value away from the truth by more than the noise did: clamping at 0 moves it
towards the true count (never negative); a bounded value that is clamped ends between its bound's
published value and its own, so its error is at most the larger of its own noise and its bound's.

What does **not** hold after perturbation, and must not be "corrected" by the recipient: a margin
(``_T`` or any parent code) is not the sum of its published children, and may even be smaller than
one of them, since each cell gets its own noise; an ``at_most`` relation between *different* cells
(new entrants of a district against unique persons of its region) is not enforced.

>>> cells = pl.DataFrame({"sex": ["f", "f", "m", "m"], "measure": ["unique_persons", "new_entrants"] * 2,
...                       "value": [4, 6, -1, 2]})
>>> keep_relations(cells, {"new_entrants": "unique_persons"}, ["sex"])["value"].to_list()
[4, 4, 0, 0]
>>> broken_relations(pl.DataFrame(cells), {"new_entrants": "unique_persons"}, ["sex"])
{'negative': 1, 'above_at_most': 2}
>>> bound_order({"a": "b", "b": "a"})
Traceback (most recent call last):
...
ValueError: the at_most bounds of the measures form a cycle: a ≤ b ≤ a
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import polars as pl

from anonymise.tables import TableSpec

Method = Literal["cell_key", "dp"]


def at_most_of(spec: TableSpec) -> dict[str, str]:
    """Return the table's ``at_most`` relations: each bounded measure and the measure bounding it."""
    return {m.name: m.at_most for m in spec.measures if m.at_most}


def bound_order(at_most: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return the (measure, bound) pairs in the order to enforce them: a bound before what it bounds.

    ValueError if the bounds form a cycle (no order makes them all hold after clamping).
    """
    order: list[tuple[str, str]] = []
    done: set[str] = set()

    def visit(measure: str, path: tuple[str, ...]) -> None:
        if measure in done or measure not in at_most:
            return
        if measure in path:
            cycle = " ≤ ".join([*path[path.index(measure) :], measure])
            raise ValueError(f"the at_most bounds of the measures form a cycle: {cycle}")
        visit(at_most[measure], (*path, measure))
        order.append((measure, at_most[measure]))
        done.add(measure)

    for measure in at_most:
        visit(measure, ())
    return order


def keep_relations(
    frame: pl.DataFrame, at_most: Mapping[str, str], cell: Sequence[str], value: str = "value"
) -> pl.DataFrame:
    """Return the long table with ``value`` at least 0 and every ``at_most`` bound holding in each cell.

    ``frame`` is long (one row per cell and ``measure``); ``cell`` are the columns that identify a cell
    (the dimensions, and the period if present). A bounded measure becomes the minimum of its value and
    its bound's value in the same cell (already clamped, in :func:`bound_order`); a cell without the
    bound's row keeps its value. Null values stay null.
    """
    out = frame.with_columns(pl.col(value).clip(lower_bound=0))
    for measure, bound in bound_order(at_most):
        limit = pl.col(value).filter(pl.col("measure") == bound).first().over(list(cell))
        out = out.with_columns(
            pl.when((pl.col("measure") == measure) & pl.col(value).is_not_null())
            .then(pl.min_horizontal(pl.col(value), limit))
            .otherwise(pl.col(value))
            .alias(value)
        )
    return out


def broken_relations(
    frame: pl.DataFrame, at_most: Mapping[str, str], cell: Sequence[str], value: str = "value"
) -> dict[str, int]:
    """Return how many cells break each relation a perturbed table keeps (all 0 in a good table).

    ``negative``: values below 0; ``above_at_most``: values of a bounded measure above their bound's
    value in the same cell.
    """
    above = 0
    for measure, bound in at_most.items():
        mine = frame.filter(pl.col("measure") == measure).select(*cell, pl.col(value).alias("_mine"))
        theirs = frame.filter(pl.col("measure") == bound).select(*cell, pl.col(value).alias("_bound"))
        above += mine.join(theirs, on=list(cell), how="inner").filter(pl.col("_mine") > pl.col("_bound")).height
    return {"negative": frame.filter(pl.col(value) < 0).height, "above_at_most": above}


def relations(method: Method, at_most: Mapping[str, str], D: int | None = None, js: int = 0) -> dict[str, list[str]]:
    """Return the relations a table published with ``method`` keeps, and those it does not, as stated to
    the recipient (the manifest) and the DPO (the report).

    ``D`` and ``js`` are the cell key method's maximum noise and blocked small values.
    """
    hold = ["every published value is a non-negative integer"]
    hold += [
        f"{measure} ≤ {bound} in every cell: a perturbed {measure} above the published {bound} of its cell is "
        f"published as that {bound}"
        for measure, bound in bound_order(at_most)
    ]
    if method == "cell_key":
        hold.append("a cell without any person publishes 0")
        if js:
            hold.append(f"no published value is in 1..{js}")
        if D is not None:
            hold.append(f"every published value is within ±{D} of the true count")
        hold.append(
            "the same persons publish the same value in every table and every release that keeps the key and "
            "the p-table (for a measure bounded by another: the same persons, and the same persons in its bound)"
        )
    else:
        hold.append("every cell of the public code lists is published, the empty ones too")
    not_hold = [
        "a margin (_T or any parent code) is not the sum of its published children and may be smaller than one "
        "of them: every cell carries its own noise. Do not recompute margins from the children, and do not "
        "adjust children to add up to them",
        "an at_most relation between two different cells (e.g. new entrants of a district against unique "
        "persons of its region) is not enforced",
    ]
    if method == "cell_key":
        not_hold.append(
            "the difference of two published values (two cells, or one cell in two releases) is not the number of "
            "persons in one but not the other: both carry noise"
        )
    else:
        not_hold.append(
            "the same group of persons counted in two tables (e.g. the national totals of T04 and T10) may publish "
            "two different values: every cell is measured with its own noise"
        )
    return {"hold": hold, "do_not_hold": not_hold}
