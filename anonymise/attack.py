"""The attacker's linear programs: how narrowly the published values confine each suppressed cell.

For every suppressed cell the attacker solves two linear programs: the minimum and the maximum of the
cell subject to every published value, every relation of the release (:mod:`anonymise.constraints`)
and non-negativity. The feasible interval ``[lower, upper]`` is what the release gives away; a cell is
protected when that interval is at least its protection width.

The system decomposes: suppressed cells that share no relation (directly or through other suppressed
cells) cannot inform each other, so each connected component is solved on its own. A component's
programs share their constraints and differ only in the objective, so the component is handed to
HiGHS (``highspy``) once and every further program re-starts from the previous optimal basis
(:class:`Programs`) instead of being presolved from scratch; scipy's ``linprog`` (also HiGHS) is kept
as the reference implementation (``solver="linprog"``), which the tests compare against.

Every optimal solution is a feasible point; the feasible set is convex, so a cell already seen at two
values can lie anywhere between them. A cell whose observed spread already reaches its protection
width is proved protected without a program of its own (unless exact intervals are asked for). Points
come from the true table (when the caller knows it), from programs that push many cells at once
(the sum of all cells down and up, random ± combinations of the cells not yet proved, then the sums
of groups of far-apart ones), and from every per-cell program solved on the way; only cells those
points cannot prove get their own two programs. A direction along which the feasible set is
unbounded proves every cell it increases. Suppression, which needs only a verdict per round, may
also judge a cell by its neighbourhood (a relaxation: narrow there is narrow everywhere) and reads
from the programs' duals which relations confine a failing cell (``local``).

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

import highspy
import numpy as np
import polars as pl
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix, vstack
from scipy.sparse.csgraph import connected_components

from anonymise.constraints import System

TOLERANCE = 1e-6
#: rounds of random ± objectives over the cells not yet proved, while each round proves enough of them
BATCH_ROUNDS = 12
#: a batch round that proves fewer than this share of the open cells ends the batching
BATCH_MIN_GAIN = 0.05
#: neighbourhoods (steps from a cell through relations) tried for a cheap proof that a cell fails
NEARBY_RADII = (1, 2)
#: at most this many groups of far-apart open cells get a pair of programs each (:func:`_apart`)
MAX_GROUPS = 40
#: the ``binding`` column of :func:`intervals` with ``local``
BINDING = pl.List(pl.Struct({"row": pl.Int64, "dual": pl.Float64, "side": pl.Int8}))


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
    row_eq: np.ndarray  # the system's row ids of a_eq's rows
    row_ub: np.ndarray  # … and of a_ub's

    def neighbourhood(self, i: int, radius: int) -> tuple[Component, np.ndarray]:
        """Return the relations within ``radius`` steps of variable ``i`` (a relation, then the variables
        in it, then their relations…) over the variables they hold, and ``i``'s index there.

        Dropping relations only widens the feasible set, so a cell's interval over its neighbourhood
        contains its interval over the whole component: narrow there, narrow everywhere.
        """
        in_eq, in_ub = abs(self.a_eq), abs(self.a_ub)
        reach = np.zeros(self.cells.size)
        reach[i] = 1.0
        for _ in range(radius):
            rows_eq, rows_ub = in_eq @ reach > 0, in_ub @ reach > 0
            reach = reach + in_eq.T @ rows_eq.astype(float) + in_ub.T @ rows_ub.astype(float)
        vs = np.flatnonzero(reach > 0)
        sub = Component(
            self.cells[vs],
            self.a_eq[rows_eq][:, vs],
            self.b_eq[rows_eq],
            self.a_ub[rows_ub][:, vs],
            self.b_ub[rows_ub],
            self.row_eq[rows_eq],
            self.row_ub[rows_ub],
        )
        return sub, vs


def components(s: System) -> list[Component]:
    """Return the LP blocks of a system: variables are suppressed cells, published values are constants."""
    cell_ids = s.cells["cell"].to_numpy()
    values = s.cells["value"].to_numpy(allow_copy=True).astype(float)  # NaN where suppressed
    order = np.argsort(cell_ids)
    cell_ids, values = cell_ids[order], values[order]
    hidden = cell_ids[np.isnan(values)]
    if hidden.size == 0:
        return []
    t_row = s.terms["row"].to_numpy()
    t_cell = s.terms["cell"].to_numpy()
    t_coef = s.terms["coef"].to_numpy().astype(float)
    t_value = values[np.searchsorted(cell_ids, t_cell)]
    unknown = np.isnan(t_value)
    # right-hand side of each row: − Σ coef · published value
    rows_with_unknown, r = np.unique(t_row[unknown], return_inverse=True)
    n_rows, n_vars = rows_with_unknown.size, hidden.size
    v = np.searchsorted(hidden, t_cell[unknown])
    known = ~unknown & np.isin(t_row, rows_with_unknown)
    op_row = s.rows["row"].to_numpy()
    at = np.argsort(op_row)[np.searchsorted(np.sort(op_row), rows_with_unknown)]
    op_eq = (s.rows["op"] == "eq").to_numpy()
    is_eq = op_eq[at]
    # the row's constant (an earlier release's bound; else 0) − Σ coef · published value
    b = s.rows["rhs"].to_numpy().astype(float)[at] if "rhs" in s.rows.columns else np.zeros(n_rows)
    np.add.at(b, np.searchsorted(rows_with_unknown, t_row[known]), -t_coef[known] * t_value[known])
    # variables connected through shared rows: the graph of (variables + rows)
    graph = coo_matrix((np.ones(v.size), (v, n_vars + r)), shape=(n_vars + n_rows,) * 2)
    _, label = connected_components(graph, directed=False)
    var_label = label[:n_vars]
    row_label = label[n_vars:]
    coef = coo_matrix((t_coef[unknown], (r, v)), shape=(n_rows, n_vars)).tocsr()
    var_order = np.argsort(var_label, kind="stable")
    row_order = np.argsort(row_label, kind="stable")
    var_bounds = np.searchsorted(var_label[var_order], np.arange(label.max() + 2))
    row_bounds = np.searchsorted(row_label[row_order], np.arange(label.max() + 2))
    out = []
    for comp in range(label.max() + 1):
        vs = var_order[var_bounds[comp] : var_bounds[comp + 1]]
        if vs.size == 0:
            continue
        rs = row_order[row_bounds[comp] : row_bounds[comp + 1]]
        sub = coef[rs][:, vs]
        eq = is_eq[rs]
        ids = rows_with_unknown[rs]
        out.append(Component(hidden[vs], sub[eq], b[rs][eq], sub[~eq], b[rs][~eq], ids[eq], ids[~eq]))
    return out


class Programs:
    """The attacker's programs over one component, held in HiGHS between solves.

    The constraints are passed once; :meth:`minimise` changes only the objective, and HiGHS re-starts
    from the last optimal basis. :meth:`fix` pins a variable (a cell published back, when suppression
    tries to release it) and :meth:`free` undoes it.
    """

    def __init__(self, c: Component) -> None:
        self.component = c
        self.n = c.cells.size
        self.a_eq, self.a_ub = c.a_eq, c.a_ub
        a = vstack([c.a_eq, c.a_ub]).tocsc()
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = np.full(self.n, inf)
        lp.row_lower_ = np.concatenate([c.b_eq, np.full(c.b_ub.size, -inf)])
        lp.row_upper_ = np.concatenate([c.b_eq, c.b_ub])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.n, a.shape[0]
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", 1)
        self.highs.passModel(lp)
        self.index = np.arange(self.n, dtype=np.int32)
        self.lower = np.zeros(self.n)
        self.upper = np.full(self.n, np.inf)

    def fix(self, j: int, value: float) -> None:
        """Pin variable ``j`` to ``value``."""
        self.highs.changeColBounds(j, value, value)
        self.lower[j] = self.upper[j] = value

    def free(self, j: int) -> None:
        """Release variable ``j`` again (non-negative)."""
        self.highs.changeColBounds(j, 0.0, highspy.kHighsInf)
        self.lower[j], self.upper[j] = 0.0, np.inf

    def _is_ray(self, d: np.ndarray) -> bool:
        """Return whether ``d`` is a direction along which every feasible point stays feasible."""
        scale = TOLERANCE * max(1.0, float(np.abs(d).max(initial=0.0)))
        pinned = self.lower == self.upper
        return bool(
            (d >= -scale).all()
            and (np.abs(d[pinned]) <= scale).all()
            and (np.abs(self.a_eq @ d) <= scale).all()
            and (self.a_ub @ d <= scale).all()
        )

    def binding(self) -> np.ndarray:
        """Return ``[[row id, dual], …]`` for the relations with a non-zero dual in the last optimum
        (see :func:`_binding`)."""
        return _binding(self.component, np.asarray(self.highs.getSolution().row_dual))

    def minimise(self, objective: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Return (an optimal point, None), or (None, an unbounded direction or None) if unbounded."""
        self.highs.changeColsCost(self.n, self.index, objective)
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            return np.asarray(self.highs.getSolution().col_value), None
        if status == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # presolve stopped short of telling which: decide without it
            self.highs.setOptionValue("presolve", "off")
            self.highs.run()
            status = self.highs.getModelStatus()
            if status == highspy.HighsModelStatus.kOptimal:
                return np.asarray(self.highs.getSolution().col_value), None
        if status == highspy.HighsModelStatus.kUnbounded:
            has_ray, ray = self.highs.getPrimalRay()[1:]  # type: ignore[attr-defined]
            ray = np.asarray(ray) if has_ray else None
            return None, ray if ray is not None and self._is_ray(ray) else None
        if status == highspy.HighsModelStatus.kInfeasible:
            raise InconsistentRelease("the published values admit no table that satisfies the release's relations")
        raise RuntimeError(f"HiGHS failed: {self.highs.modelStatusToString(status)}")


class ReferencePrograms:
    """The same programs solved from scratch by scipy's ``linprog`` (HiGHS): the reference."""

    def __init__(self, c: Component) -> None:
        self.component = c
        self.n = c.cells.size
        self.lower = np.zeros(self.n)
        self.upper = np.full(self.n, np.inf)
        self.dual = np.zeros(0)

    def fix(self, j: int, value: float) -> None:
        """Pin variable ``j`` to ``value``."""
        self.lower[j] = self.upper[j] = value

    def binding(self) -> np.ndarray:
        """Return ``[[row id, dual], …]`` for the relations with a non-zero dual in the last optimum."""
        return _binding(self.component, self.dual)

    def minimise(self, objective: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Return (an optimal point, None), or (None, None) if unbounded."""
        c = self.component
        res = linprog(
            objective,
            A_ub=c.a_ub if c.a_ub.shape[0] else None,
            b_ub=c.b_ub if c.a_ub.shape[0] else None,
            A_eq=c.a_eq if c.a_eq.shape[0] else None,
            b_eq=c.b_eq if c.a_eq.shape[0] else None,
            bounds=np.column_stack([self.lower, self.upper]),
            method="highs",
        )
        if res.status == 3:  # unbounded
            return None, None
        if res.status == 2:
            raise InconsistentRelease("the published values admit no table that satisfies the release's relations")
        if res.status != 0:
            raise RuntimeError(f"HiGHS failed: {res.message}")
        self.dual = np.concatenate(
            [
                res.eqlin.marginals if c.a_eq.shape[0] else np.zeros(0),
                res.ineqlin.marginals if c.a_ub.shape[0] else np.zeros(0),
            ]
        )
        return np.asarray(res.x), None


SOLVERS: dict[str, type[Programs] | type[ReferencePrograms]] = {"highs": Programs, "linprog": ReferencePrograms}


def _binding(c: Component, dual: np.ndarray) -> np.ndarray:
    """Return ``[[row id, dual], …]`` for the rows of ``c`` whose dual is non-zero.

    The duals price a change of the relations: a published cell that becomes a variable enters the
    program with the column of its coefficients, and moves the optimum as soon as that column has a
    non-zero product with the duals; suppression uses this to pick a cell that frees a failing one.
    """
    rows = np.concatenate([c.row_eq, c.row_ub])
    keep = np.abs(dual) > TOLERANCE
    return np.column_stack([rows[keep].astype(float), dual[keep]])


def rounded_width(lower: np.ndarray | float, upper: np.ndarray | float) -> np.ndarray | float:
    """Return the width of ``[lower, upper]`` once rounded inwards to the integers a count can take
    (HiGHS works in floating point; ``TOLERANCE`` absorbs its rounding error)."""
    with np.errstate(invalid="ignore"):
        return np.floor(np.asarray(upper) + TOLERANCE) - np.ceil(np.asarray(lower) - TOLERANCE)


def _sides(at_min: np.ndarray, at_max: np.ndarray) -> np.ndarray:
    """Return ``[[row id, dual, side], …]``: the binding rows at a cell's minimum (side 0) and maximum (1)."""
    return np.vstack(
        [np.column_stack([at_min, np.zeros(len(at_min))]), np.column_stack([at_max, np.ones(len(at_max))])]
    )


def _apart(c: Component, todo: np.ndarray) -> list[np.ndarray]:
    """Return ``todo`` split into groups of variables that share no relation and no neighbour.

    Pushing such a group's sum down (or up) moves each of its variables almost as far as its own
    program would: they are bound by different relations. One pair of programs per group settles
    many cells at once.
    """
    if todo.size < 2:
        return [todo] if todo.size else []
    incidence = abs(vstack([c.a_eq, c.a_ub])).tocsc()
    near = (incidence.T @ incidence).tocsr()  # variables sharing a relation
    footprint = (near @ near[:, todo]).tocsc()  # …and those sharing a neighbour
    groups: list[list[int]] = []
    taken: list[set[int]] = []
    for k, i in enumerate(todo):
        mine = set(footprint.indices[footprint.indptr[k] : footprint.indptr[k + 1]].tolist())
        for g, used in zip(groups, taken, strict=True):
            if not (mine & used):
                g.append(int(i))
                used |= mine
                break
        else:
            groups.append([int(i)])
            taken.append(mine)
        if len(groups) > MAX_GROUPS:
            break
    return [np.array(g) for g in groups]


def _nearby(
    programs: Programs | ReferencePrograms, i: int, required: float
) -> tuple[float, float, np.ndarray, bool] | None:
    """Return bounds on variable ``i`` from its neighbourhood alone, the relations that set them, and
    whether they already prove it narrower than ``required``; None where the neighbourhood is the
    whole component.

    The neighbourhood (:meth:`Component.neighbourhood`, one step, then two) is a relaxation: its
    interval contains the true one, so a narrow outer interval is a proof that the cell fails, bought
    with two small programs instead of two over the whole component; its duals name the relations
    around the cell that confine it.
    """
    found = None
    for radius in NEARBY_RADII:
        sub, vs = programs.component.neighbourhood(i, radius)
        if vs.size == programs.n:
            return found
        local = type(programs)(sub)
        for k in np.flatnonzero(programs.lower[vs] == programs.upper[vs]):
            local.fix(int(k), float(programs.lower[vs[k]]))
        j = int(np.searchsorted(vs, i))
        e = np.zeros(vs.size)
        e[j] = 1.0
        x_min, _ = local.minimise(e)
        assert x_min is not None
        rows = local.binding()
        x_max, _ = local.minimise(-e)
        high = np.inf if x_max is None else float(x_max[j])
        rows = _sides(rows, local.binding() if x_max is not None else np.zeros((0, 2)))
        found = (float(x_min[j]), high, rows, bool(rounded_width(x_min[j], high) < required))
        if found[3]:
            return found
    return found


def settle(
    programs: Programs | ReferencePrograms,
    required: np.ndarray,
    exact: bool,
    point: np.ndarray | None = None,
    local: bool = False,
    binding: dict[int, np.ndarray] | None = None,
    confirm: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (lower, upper, exact?) per variable of a component's programs.

    Exact: the two programs for every variable. Otherwise a variable is settled as soon as two feasible
    points are known whose values for it are ``required`` apart (rounded inwards to integers, as
    :func:`intervals` reports them), or a direction of unboundedness increases it; feasible points come
    from ``point``, the extremes of the total, batches of random ± objectives over the open variables
    (kept while they prove enough of them), and every program solved on the way. Settled variables
    report the points seen: an inner bound of their interval that proves it wide enough. With
    ``local``, a variable still open whose neighbourhood alone confines it below ``required`` reports
    those outer bounds (:func:`_nearby`): it fails, and by at least that much; and where ``confirm``
    (a mask) is given, an open variable outside it is not solved further: it reports the points seen,
    narrower than required, as a suspect. Every other open variable gets its two programs over the
    whole component. ``binding``, when given, receives for
    each variable found narrower than ``required`` the relations that confine it: ``[[row id, dual,
    side], …]`` with a non-zero dual at its minimum (side 0) or maximum (1).
    """
    n = programs.n
    lo_seen = np.full(n, np.inf)
    hi_seen = np.full(n, -np.inf)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    is_exact = np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)

    def see(result: tuple[np.ndarray | None, np.ndarray | None]) -> np.ndarray | None:
        x, ray = result
        if x is not None:
            np.minimum(lo_seen, x, out=lo_seen)
            np.maximum(hi_seen, x, out=hi_seen)
        if ray is not None:
            hi_seen[ray > TOLERANCE] = np.inf
        return x

    def open_() -> np.ndarray:
        return np.flatnonzero(~(rounded_width(lo_seen, hi_seen) >= required))

    if not exact:
        if point is not None:
            see((point, None))
        if open_().size:
            for sign in (1.0, -1.0):
                see(programs.minimise(np.full(n, sign)))
        rng = np.random.default_rng(seed)
        for _ in range(BATCH_ROUNDS):
            todo = open_()
            if todo.size <= 1:
                break
            signs = rng.choice([-1.0, 1.0], todo.size)
            for sign in (1.0, -1.0):
                objective = np.zeros(n)
                objective[todo] = sign * signs
                see(programs.minimise(objective))
            if todo.size - open_().size < BATCH_MIN_GAIN * todo.size:
                break
        for group in _apart(programs.component, open_()):
            for sign in (1.0, -1.0):
                objective = np.zeros(n)
                objective[group[rounded_width(lo_seen[group], hi_seen[group]) < required[group]]] = sign
                if objective.any():
                    see(programs.minimise(objective))
    for i in np.arange(n) if exact else open_():
        if not exact and rounded_width(lo_seen[i], hi_seen[i]) >= required[i]:
            continue
        if local and (nearby := _nearby(programs, int(i), float(required[i]))) is not None:
            low, high, rows, narrow = nearby
            if narrow or (confirm is not None and not confirm[i]):
                # narrow nearby: fails, by at least that much; else not proved: a suspect, reported by
                # the points seen (narrower than required), confined by the relations nearby
                lower[i], upper[i] = (low, high) if narrow else (lo_seen[i], hi_seen[i])
                decided[i] = True
                if binding is not None:
                    binding[int(i)] = rows
                continue
        e = np.zeros(n)
        e[i] = 1.0
        x_min = see(programs.minimise(e))
        assert x_min is not None  # bounded below by 0
        lower[i] = x_min[i]
        rows = programs.binding()
        x_max = see(programs.minimise(-e))
        upper[i] = np.inf if x_max is None else x_max[i]
        is_exact[i] = decided[i] = True
        if binding is not None and rounded_width(lower[i], upper[i]) < required[i]:
            binding[int(i)] = _sides(rows, programs.binding())
    lower[~decided] = lo_seen[~decided]
    upper[~decided] = hi_seen[~decided]
    return lower, upper, is_exact


def component_intervals(
    c: Component,
    required: np.ndarray,
    exact: bool,
    point: np.ndarray | None = None,
    solver: str = "highs",
    local: bool = False,
    binding: dict[int, np.ndarray] | None = None,
    confirm: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (lower, upper, exact?) per variable of a component (see :func:`settle`)."""
    if not exact and point is not None and (required <= TOLERANCE).all():
        return point.copy(), point.copy(), np.zeros(c.cells.size, dtype=bool)  # nothing to prove
    return settle(SOLVERS[solver](c), required, exact, point, local=local, binding=binding, confirm=confirm)


def _lookup(frame: pl.DataFrame, column: str, ids: np.ndarray) -> np.ndarray:
    """Return ``frame[column]`` for the given cell ids (every id present in ``frame``)."""
    cells = frame["cell"].to_numpy()
    order = np.argsort(cells)
    return frame[column].to_numpy(allow_copy=True).astype(float)[order][np.searchsorted(cells[order], ids)]


def intervals(
    s: System,
    exact: bool = False,
    truth: pl.DataFrame | None = None,
    solver: str = "highs",
    local: bool = False,
    confirm: pl.Series | None = None,
) -> pl.DataFrame:
    """Return, per suppressed cell: ``cell``, ``label``, ``lower``, ``upper``, ``width``, ``required``, ``exact``.

    With ``exact``, both programs are solved for every suppressed cell; otherwise only where the
    feasible points seen so far do not already prove the cell's protection width. ``truth`` (``cell``,
    ``true``) is the unprotected table, which suppression knows and the audit does not: it is one
    feasible point. ``solver``: ``highs`` (warm-started, :class:`Programs`) or ``linprog`` (the
    reference, :class:`ReferencePrograms`). ``local`` (for suppression, which needs only the verdict):
    a cell whose neighbourhood alone confines it below its width reports that outer interval (its
    true one is narrower still) instead of solving the whole component for it, and a further column
    ``binding`` lists per failing cell the relations that confine it (``row``, ``dual``, ``side``: 0 at
    its minimum, 1 at its maximum). With ``local`` and ``confirm`` (cell ids), only the cells named
    there get programs over their whole component; any other cell the feasible points do not prove
    is reported failing as it stands (a suspect: suppression repairs it, and confirms it if it is
    still open in a later round).
    """
    parts = []
    for c in components(s):
        required = _lookup(s.cells, "required", c.cells)
        point = _lookup(truth, "true", c.cells) if truth is not None else None
        binding: dict[int, np.ndarray] = {}
        mask = None if confirm is None else np.isin(c.cells, confirm.to_numpy())
        lo, hi, ex = component_intervals(c, required, exact, point, solver, local, binding, mask)
        part = pl.DataFrame({"cell": c.cells, "lower": lo, "upper": hi, "exact": ex})
        if local:
            rows = [
                [{"row": int(r), "dual": float(d), "side": int(sd)} for r, d, sd in binding.get(i, ())]
                for i in range(c.cells.size)
            ]
            part = part.with_columns(pl.Series("binding", rows, dtype=BINDING))
        parts.append(part)
    hidden = s.cells.filter(pl.col("value").is_null()).select("cell", "label", "required")
    columns = ["cell", "label", "lower", "upper", "width", "required", "exact", *(["binding"] if local else [])]
    if not parts:
        # a suppressed cell in no relation at all: the attacker knows only that it is non-negative
        return (
            hidden.with_columns(
                pl.lit(0.0).alias("lower"),
                pl.lit(np.inf).alias("upper"),
                pl.lit(True).alias("exact"),
                pl.lit([], dtype=BINDING).alias("binding"),
            )
            .with_columns((pl.col("upper") - pl.col("lower")).alias("width"))
            .select(columns)
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
        .select(columns)
        .sort("cell")
    )
