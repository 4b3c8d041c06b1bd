"""The attacker's linear programs: how narrowly the published values confine each suppressed cell.

For every suppressed cell the attacker solves two linear programs with HiGHS (scipy): the minimum and
the maximum of the cell subject to every published value, every relation of the release
(:mod:`anonymise.constraints`) and non-negativity. The feasible interval ``[lower, upper]`` is what
the release gives away; a cell is protected when that interval is at least its protection width.

The system decomposes: suppressed cells that share no relation (directly or through other suppressed
cells) cannot inform each other, so each connected component is solved on its own. Within a
component every optimal solution is a feasible point; the feasible set is convex, so a cell already
seen at two values can lie anywhere between them. A cell whose observed spread already reaches its
protection width needs no program of its own unless exact intervals are asked for.

>>> import polars as pl
>>> from anonymise.constraints import DimMeta, TableMeta, system
>>> t = pl.DataFrame({"period": ["p"] * 3, "sex": ["f", "m", "_T"], "measure": ["n"] * 3,
...                   "value": [None, None, 7]})
>>> meta = {"X": TableMeta(["sex"], {"sex": DimMeta(True, {"f": "_T", "m": "_T"})}, {}, "u", threshold=5)}
>>> intervals(system({"X": t}, meta), exact=True).select("lower", "upper").rows()
[(0.0, 7.0), (0.0, 7.0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from anonymise.constraints import System

TOLERANCE = 1e-6


class InconsistentRelease(ValueError):
    """The published values contradict the release's own relations (no feasible table exists)."""


@dataclass(frozen=True)
class Component:
    """One connected block of suppressed cells and the relations among them."""

    cells: np.ndarray  # cell ids (the LP's variables, in order)
    a_eq: csr_matrix
    b_eq: np.ndarray
    a_ub: csr_matrix
    b_ub: np.ndarray


def components(s: System) -> list[Component]:
    """Return the LP blocks of a system: variables are suppressed cells, published values are constants."""
    cells = s.cells
    hidden = cells.filter(pl.col("value").is_null())["cell"].to_numpy()
    if hidden.size == 0:
        return []
    terms = s.terms.join(cells.select("cell", "value"), on="cell", how="left")
    known = terms.filter(pl.col("value").is_not_null())
    unknown = terms.filter(pl.col("value").is_null())
    rows_with_unknown = unknown["row"].unique().sort().to_numpy()
    # right-hand side of each row: − Σ coef · published value
    rhs = known.group_by("row").agg((-(pl.col("coef") * pl.col("value"))).sum().alias("rhs"))
    ops = s.rows.select("row", "op")
    var_index = {int(c): i for i, c in enumerate(hidden)}
    row_index = {int(r): i for i, r in enumerate(rows_with_unknown)}
    u = unknown.with_columns(
        pl.col("cell").replace_strict(var_index, return_dtype=pl.Int64).alias("v"),
        pl.col("row").replace_strict(row_index, return_dtype=pl.Int64).alias("r"),
    )
    n_rows, n_vars = len(rows_with_unknown), hidden.size
    # variables connected through shared rows: the graph of (variables + rows)
    graph = coo_matrix(
        (np.ones(u.height), (u["v"].to_numpy(), n_vars + u["r"].to_numpy())), shape=(n_vars + n_rows,) * 2
    )
    _, label = connected_components(graph, directed=False)
    var_label = label[:n_vars]
    row_label = label[n_vars:]
    row_meta = (
        pl.DataFrame({"row": rows_with_unknown, "r": np.arange(n_rows)})
        .join(ops, on="row", how="left")
        .join(rhs, on="row", how="left")
        .with_columns(pl.col("rhs").fill_null(0.0))
    )
    is_eq = (row_meta["op"] == "eq").to_numpy()
    b = row_meta["rhs"].to_numpy()
    coef = coo_matrix((u["coef"].to_numpy(), (u["r"].to_numpy(), u["v"].to_numpy())), shape=(n_rows, n_vars)).tocsr()
    out = []
    for comp in np.unique(var_label):
        vs = np.flatnonzero(var_label == comp)
        rs = np.flatnonzero(row_label == comp)
        sub = coef[rs][:, vs]
        eq = is_eq[rs]
        out.append(Component(hidden[vs], sub[eq], b[rs][eq], sub[~eq], b[rs][~eq]))
    return out


def _solve(c: Component, objective: np.ndarray) -> np.ndarray | None:
    """Return an optimal point of ``min objective · x``, or None if unbounded."""
    res = linprog(
        objective,
        A_ub=c.a_ub if c.a_ub.shape[0] else None,
        b_ub=c.b_ub if c.a_ub.shape[0] else None,
        A_eq=c.a_eq if c.a_eq.shape[0] else None,
        b_eq=c.b_eq if c.a_eq.shape[0] else None,
        bounds=(0, None),
        method="highs",
    )
    if res.status == 3:  # unbounded
        return None
    if res.status == 2:
        raise InconsistentRelease("the published values admit no table that satisfies the release's relations")
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed: {res.message}")
    return np.asarray(res.x)


def component_intervals(
    c: Component, required: np.ndarray, exact: bool, point: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (lower, upper, exact?) per variable of a component.

    Exact: two programs over the whole component per variable. Otherwise, a variable is settled as
    soon as two feasible points are known whose values for it are ``required`` apart (the feasible
    set is convex, so the cell can lie anywhere between them). Feasible points come from the extreme
    points of the total, from ``point`` (the true table, when the caller knows it) and from every
    program solved on the way; variables still unsettled get the two full programs. Settled variables
    report the points seen: an inner bound of their interval that proves it wide enough.

    (Programs over a cell's neighbourhood with the rest held fixed were tried as a cheaper proof; in
    a cube of five crossed dimensions they prove almost nothing, so they are not used.)
    """
    n = c.cells.size
    lo_seen = np.full(n, np.inf)
    hi_seen = np.full(n, -np.inf)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    is_exact = np.zeros(n, dtype=bool)

    def see(x: np.ndarray) -> None:
        np.minimum(lo_seen, x, out=lo_seen)
        np.maximum(hi_seen, x, out=hi_seen)

    def settled(i: int) -> bool:
        return bool(hi_seen[i] - lo_seen[i] >= required[i] - TOLERANCE)

    if not exact:
        for sign in (1.0, -1.0):
            x = _solve(c, np.full(n, sign))
            if x is not None:
                see(x)
        if point is not None:
            see(point)
    for i in range(n):
        if not exact and settled(i):
            continue
        e = np.zeros(n)
        e[i] = 1.0
        x_min = _solve(c, e)
        assert x_min is not None  # bounded below by 0
        see(x_min)
        lower[i] = x_min[i]
        x_max = _solve(c, -e)
        if x_max is None:
            upper[i] = np.inf
        else:
            see(x_max)
            upper[i] = x_max[i]
        is_exact[i] = True
    rest = ~is_exact
    lower[rest] = lo_seen[rest]
    upper[rest] = hi_seen[rest]
    return lower, upper, is_exact


def intervals(s: System, exact: bool = False, truth: pl.DataFrame | None = None) -> pl.DataFrame:
    """Return, per suppressed cell: ``cell``, ``label``, ``lower``, ``upper``, ``width``, ``required``, ``exact``.

    With ``exact``, both programs are solved for every suppressed cell; otherwise only where the
    feasible points seen so far do not already prove the cell's protection width. ``truth`` (``cell``,
    ``true``) is the unprotected table, which suppression knows and the audit does not: it is one
    feasible point.
    """
    req = dict(zip(s.cells["cell"].to_list(), s.cells["required"].to_list(), strict=True))
    known = dict(zip(truth["cell"].to_list(), truth["true"].to_list(), strict=True)) if truth is not None else None
    parts = []
    for c in components(s):
        required = np.array([req[int(i)] for i in c.cells], dtype=float)
        point = np.array([known[int(i)] for i in c.cells], dtype=float) if known is not None else None
        lo, hi, ex = component_intervals(c, required, exact, point=point)
        parts.append(pl.DataFrame({"cell": c.cells, "lower": lo, "upper": hi, "exact": ex}))
    hidden = s.cells.filter(pl.col("value").is_null()).select("cell", "label", "required")
    if not parts:
        # a suppressed cell in no relation at all: the attacker knows only that it is non-negative
        return (
            hidden.with_columns(pl.lit(0.0).alias("lower"), pl.lit(np.inf).alias("upper"), pl.lit(True).alias("exact"))
            .with_columns((pl.col("upper") - pl.col("lower")).alias("width"))
            .select("cell", "label", "lower", "upper", "width", "required", "exact")
        )
    found = pl.concat(parts).with_columns(pl.col("cell").cast(pl.Int64))
    return (
        hidden.join(found, on="cell", how="left")
        .with_columns(
            pl.col("lower").fill_null(0.0),
            pl.col("upper").fill_null(np.inf),
            pl.col("exact").fill_null(True),
        )
        .with_columns(
            # HiGHS works in floating point: round bounds to the integers they stand for
            (pl.col("lower") - TOLERANCE).ceil().clip(lower_bound=0.0).abs().alias("lower"),
            pl.when(pl.col("upper").is_infinite())
            .then(pl.col("upper"))
            .otherwise((pl.col("upper") + TOLERANCE).floor())
            .alias("upper"),
        )
        .with_columns((pl.col("upper") - pl.col("lower")).alias("width"))
        .select("cell", "label", "lower", "upper", "width", "required", "exact")
        .sort("cell")
    )
