"""Cell suppression of a release: primary cells, then secondary cells until the attacker's linear
programs can narrow no suppressed cell below its protection width.

**Primary.** A count in 1..threshold−1 (zeros are published); the threshold is the table's, or the
higher one for cells of sensitive groups. For sums (the value of material support) the p% rule and the
(n,k)-dominance rule mark cells dominated by one or a few contributors (:func:`dominance_primary`).

**Secondary**, over every hierarchy level and every linked table of the release at once (one system,
:mod:`anonymise.constraints`):

1. *line rule* — in every sum relation (a parent and its children) a single suppressed member is
   recomputed exactly, and several suppressed parts whose remainder is below the threshold are
   narrowed below it; each such relation gets one more suppressed member, the cheapest published
   non-zero one (and a published cell that bounds a suppressed one from above, below the protection
   that one needs, is suppressed too);
2. *attacker's programs* — :func:`anonymise.attack.intervals` over the whole pattern, knowing the
   true table: a cell is proved once feasible points show it wide enough, and stays proved while
   more cells are suppressed (they only add feasible points), so each round solves for the cells
   not yet proved. A cell that the points do not prove is repaired: the duals of its programs name
   the relations that confine it, and the cheapest published cell whose suppression moves its bound
   is suppressed. To keep rounds cheap, such a cell is judged by its neighbourhood (a relaxation that
   can prove it narrow) and by feasible points; only a cell still unproved after
   :data:`CONFIRM_AFTER` rounds gets its two programs over its whole component. Both steps repeat
   until every suppressed cell is proved by feasible points of the whole release — a proof, so
   nothing here is approximate except which cells are chosen.

**Earlier releases** of the series: values they published for a sub-period (super-period) of a count
that only grows with the period bound this release's cells from below (above)
(:func:`anonymise.history.period_bounds`). They enter the programs as relations, so secondary cells
are added until every primary keeps its width with the earlier values known. Only bounds the true
values satisfy are used (:func:`true_bounds`).

**Statistics** (:class:`~anonymise.tables.Statistic`: means, medians) are not counts: they are never
suppressed as cells and never enter the attacker's programs. :func:`with_statistics` decides, after
suppression, which are shown — only where every base count of the cell is published and the units
are at least ``min_n`` — so that no statistic lets a reader recompute or narrow a suppressed count
(a mean of events per user times the published users would give back suppressed events).

Cheapest means least information lost: the smallest value, then an interior cell before a margin.
This is a greedy heuristic (as sdcTable's SIMPLEHEURISTIC and τ-Argus's modular method are
heuristics), not an optimum; what it guarantees is proved afterwards by the audit, from the
published files alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from anonymise.attack import Programs, components, intervals, rounded_width, settle
from anonymise.constraints import DimMeta, System, TableMeta, system
from anonymise.tables import TOTAL, TableSpec

FREE, PRIMARY, SECONDARY = "F", "C", "D"
#: Flags of a statistic not shown: too few units (its base counts are published), a base count suppressed.
FEW, CONCEALED = "A", "M"
#: rounds a cell may stay unproved (repaired each time) before its two programs over its whole
#: component confirm that it fails; until then feasible points and its neighbourhood decide
CONFIRM_AFTER = 3


@dataclass(frozen=True)
class SuppressionSummary:
    """What suppression did to one table."""

    cells: int
    primary: int
    secondary: int
    rounds: int
    threshold: int
    suppressed_value: int  # sum of the suppressed cells' true values (information lost)
    pruned: int = 0  # secondary cells published back because later suppressions made them unnecessary
    pruning_complete: bool = True  # every remaining secondary cell was tried (within the time budget)


def table_meta(spec: TableSpec, threshold: int | None = None, threshold_sensitive: int | None = None) -> TableMeta:
    """Return what the release states about a table, from its spec and the policy's thresholds."""
    hier = spec.hierarchies_json()
    # the policy's thresholds are floors: a table whose specification asks for more keeps it
    floor = max(spec.threshold or 0, threshold or 0)
    sensitive_floor = max(spec.threshold_sensitive or floor, threshold_sensitive or floor)
    return TableMeta(
        dims=list(spec.dimensions),
        hierarchies={d: DimMeta.from_json(v) for d, v in hier.items()},
        at_most={m.name: m.at_most for m in spec.measures if m.at_most},
        universe=spec.universe,
        threshold=floor,
        threshold_sensitive=sensitive_floor,
        sensitive={k: list(v) for k, v in spec.sensitive.items()},
    )


def true_bounds(
    tables: Mapping[str, pl.DataFrame], specs: Mapping[str, TableSpec], bounds: Mapping[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """Return the bounds of earlier releases that the true values (``tables``) satisfy.

    An erasure (persons removed since the half-year was published) or late data can leave this
    release's true cell below a sub-period's value or above a super-period's. The attacker would
    assume the bound all the same — and narrow towards a wrong value; suppression, which knows the
    truth, leaves such a bound out: the true table must stay a feasible point of the programs (the
    proofs rest on it), and a wrong assumption discloses nothing true.
    """
    out = {}
    for t, known in bounds.items():
        if t not in tables or known.height == 0:
            continue
        keys = ["period", *specs[t].dimensions, "measure"]
        truth = tables[t].select(*keys, pl.col("value").cast(pl.Float64).alias("_true"))
        kept = known.join(truth, on=keys, how="inner").filter(
            pl.when(pl.col("side") == "lower")
            .then(pl.col("_true") >= pl.col("bound"))
            .otherwise(pl.col("_true") <= pl.col("bound"))
        )
        out[t] = kept.drop("_true")
    return out


def primary_status(s: System) -> pl.DataFrame:
    """Return ``cell``, ``true``, ``required`` and ``status``: primary where 1 ≤ value < required."""
    return s.cells.select(
        "cell",
        pl.col("value").alias("true"),
        "required",
        pl.when((pl.col("value") >= 1) & (pl.col("value") < pl.col("required")))
        .then(pl.lit(PRIMARY))
        .otherwise(pl.lit(FREE))
        .alias("status"),
    )


def _line_rule(s: System, status: pl.DataFrame) -> pl.Series:
    """Return the cells to suppress next by the line rule (one per failing parent–children relation).

    For a sum (additive) relation: a single suppressed member is recomputed exactly; several suppressed
    children under a published parent share a remainder, which must reach the threshold. For a
    non-additive relation (parent at least its largest child, at most their sum): a suppressed parent
    over published children lies in [largest, sum]; a single suppressed child under a published
    parent lies in [parent − the other children, parent]; several lie in [0, parent]. For a bound
    between two cells (a measure at most another, a child at most its non-additive parent): a
    suppressed smaller cell lies in [0, the larger one], so a published larger one below the
    protection the smaller needs is suppressed too. Each interval must be as wide as the protection
    the suppressed cells need.
    """
    groups = s.rows.filter(pl.col("kind").str.ends_with(":sum") | pl.col("kind").str.ends_with(":at_most_sum"))
    members = (
        s.terms.join(groups.select("row", "kind"), on="row", how="inner")
        .join(status, on="cell", how="left")
        .with_columns((pl.col("coef") > 0).alias("is_parent"), pl.col("kind").str.ends_with(":sum").alias("additive"))
    )
    hidden = pl.col("status") != FREE
    child = ~pl.col("is_parent")
    stats = members.group_by("row").agg(
        pl.col("additive").first(),
        hidden.sum().alias("k"),
        (hidden & pl.col("is_parent")).any().alias("parent_hidden"),
        pl.col("true").filter(pl.col("is_parent")).sum().alias("parent"),
        pl.col("true").filter(~hidden & child).sum().alias("published_children"),
        pl.col("true").filter(child).sum().alias("children_sum"),
        pl.col("true").filter(child).max().alias("children_max"),
        pl.col("required").filter(hidden).max().alias("need"),
        (~hidden & (pl.col("true") > 0)).any().alias("has_candidate"),
    )
    k, need = pl.col("k"), pl.col("need")
    remainder = pl.col("parent") - pl.col("published_children")
    additive_bad = (k == 1) | ((k >= 2) & ~pl.col("parent_hidden") & (remainder < need))
    non_additive_bad = (
        pl.when(pl.col("parent_hidden"))
        .then((k == 1) & (pl.col("children_sum") - pl.col("children_max") < need))
        .when(k == 1)
        .then(pl.min_horizontal("parent", "published_children") < need)
        .otherwise((k >= 2) & (pl.col("parent") < need))
    )
    bad = stats.filter(
        pl.col("has_candidate") & pl.when(pl.col("additive")).then(additive_bad).otherwise(non_additive_bad)
    ).select("row")
    by_sum = (
        members.join(bad, on="row", how="semi")
        .filter(~hidden & (pl.col("true") > 0))
        .sort("row", "is_parent", "true", "margin", "cell")
        .unique("row", keep="first")["cell"]
    )
    bounds = s.rows.filter(pl.col("kind").str.contains("<=") | pl.col("kind").str.ends_with(":at_least_child"))
    pairs = s.terms.join(bounds.select("row"), on="row", how="semi").join(status, on="cell", how="left")
    small = pairs.filter(pl.col("coef") > 0).select("row", pl.col("status").alias("s_status"), "required")
    big = pairs.filter(pl.col("coef") < 0).select("row", "cell", "status", "true")
    by_bound = small.join(big, on="row", how="inner").filter(
        (pl.col("s_status") != FREE)
        & (pl.col("status") == FREE)
        & (pl.col("true") > 0)
        & (pl.col("true") < pl.col("required"))
    )["cell"]
    return pl.concat([by_sum, by_bound]).unique()


def _repair(s: System, status: pl.DataFrame, failing: pl.DataFrame) -> pl.Series:
    """Return one more cell to suppress for each failing cell (``cell``, ``width``, ``required``, ``binding``).

    The attacker's programs price what would free a failing cell (``binding``: the duals of the
    relations at its minimum and maximum). A published cell that is suppressed enters those programs
    with its coefficients; where their product with the duals is non-zero, it moves the failing cell's
    bound. The pick is the cheapest such cell whose value covers the missing width, else the largest
    one; a cell confirmed failing by its own programs gets one for its minimum and one for its maximum
    (it has resisted repairs at one bound already). A failing cell without one takes the cheapest
    published non-zero cell sharing any relation with it (else with any suppressed cell of its
    relations).
    """
    need = (
        failing.select(
            pl.col("cell").alias("failing"),
            (pl.col("required") - pl.col("width")).alias("gap"),
            "binding",
            pl.col("exact").alias("confirmed"),
        )
        .explode("binding")
        .drop_nulls("binding")
        .unnest("binding")
    )
    priced = (
        need.join(s.terms, on="row", how="inner")
        .group_by("failing", "side", "cell")
        .agg(
            pl.col("gap").first(),
            pl.col("confirmed").first(),
            (pl.col("dual") * pl.col("coef")).sum().abs().alias("price"),
        )
        .filter(pl.col("price") > 1e-6)
        .join(status, on="cell", how="left")
        .filter((pl.col("status") == FREE) & (pl.col("true") > 0))
        .with_columns(
            (pl.col("true") < pl.col("gap")).alias("short"),
            pl.when(pl.col("true") < pl.col("gap")).then(-pl.col("true")).otherwise(pl.col("true")).alias("cost"),
        )
        .sort("failing", "short", "cost", "margin", "cell")
        .unique(["failing", "side"], keep="first", maintain_order=True)
        # a cell its own programs confirmed failing is freed at both bounds, else at the first one
        .filter(pl.col("confirmed") | (pl.int_range(pl.len()).over("failing") == 0))
    )
    rest = failing["cell"].filter(~failing["cell"].is_in(priced["failing"].implode()))
    picked = priced["cell"]
    if rest.len():
        picked = pl.concat([picked, _nearest(s, status, rest)])
    return picked.unique()


def _nearest(s: System, status: pl.DataFrame, failing: pl.Series) -> pl.Series:
    """Return the cheapest published non-zero cell sharing a relation with each failing cell (else with
    any suppressed cell of its relations)."""
    rows = s.terms.filter(pl.col("cell").is_in(failing.implode())).select("row", pl.col("cell").alias("failing"))
    cand = (
        rows.join(s.terms.select("row", "cell"), on="row", how="inner")
        .join(status, on="cell", how="left")
        .filter((pl.col("status") == FREE) & (pl.col("true") > 0))
        .sort("failing", "true", "margin", "cell")
        .unique("failing", keep="first")
    )
    picked = cand["cell"].unique()
    if picked.len() == 0:
        # every neighbour is suppressed or zero: widen to the neighbours' relations
        neighbours = rows.join(s.terms.select("row", "cell"), on="row", how="inner")["cell"].unique()
        if neighbours.len() > failing.len():
            return _nearest(s, status, neighbours)
    return picked


def _pattern(s: System, status: pl.DataFrame, proven: pl.Series | None = None) -> System:
    """Return the system as published under ``status`` (suppressed cells' values null).

    ``proven`` cells keep no requirement: a feasible point has already shown them wide enough, and
    suppressing more cells only adds feasible points (a point of the smaller pattern, with the newly
    suppressed cells at their true values, still satisfies every relation), so they stay proved.
    """
    cells = s.cells.drop("value").join(
        status.select("cell", pl.when(pl.col("status") == FREE).then(pl.col("true")).alias("value")), on="cell"
    )
    if proven is not None and proven.len():
        cells = cells.with_columns(
            pl.when(pl.col("cell").is_in(proven.implode())).then(0).otherwise(pl.col("required")).alias("required")
        )
    return System(cells.select(s.cells.columns), s.rows, s.terms)


def _prune(s: System, status: pl.DataFrame, seconds: float) -> tuple[pl.DataFrame, list[int], bool]:
    """Publish back secondary cells that later suppressions made unnecessary; return (status, pruned, complete).

    Greedy rounds can leave secondary cells that later ones made unnecessary: publish back each one
    (largest first: the most information) whose release keeps every suppressed cell protected.
    Publishing a cell can only affect the suppressed cells of its connected block, so each trial is
    solved on that block alone: the block's programs are held in HiGHS (:class:`~anonymise.attack.Programs`),
    a trial pins the cell to its value, and a failed trial releases it again.
    """
    started = time.monotonic()
    pattern = _pattern(s, status)
    truth = status.sort("cell")
    true_of = truth["true"].to_numpy(allow_copy=True).astype(float)
    required_of = pattern.cells.sort("cell")["required"].to_numpy().astype(float)
    cell_ids = truth["cell"].to_numpy()
    blocks = components(pattern)
    where: dict[int, tuple[int, int]] = {int(c): (k, j) for k, b in enumerate(blocks) for j, c in enumerate(b.cells)}
    programs: dict[int, tuple[Programs, np.ndarray, np.ndarray, System]] = {}

    def block(k: int) -> tuple[Programs, np.ndarray, np.ndarray, System]:
        if k not in programs:
            ids = blocks[k].cells
            at = np.searchsorted(cell_ids, ids)
            rows = s.terms.filter(pl.col("cell").is_in(pl.Series(ids).implode()))["row"].unique()
            terms = s.terms.filter(pl.col("row").is_in(rows.implode()))
            sub = System(
                s.cells.join(terms.select("cell").unique(), on="cell", how="semi"),
                s.rows.filter(pl.col("row").is_in(rows.implode())),
                terms,
            )
            programs[k] = (Programs(blocks[k]), true_of[at], required_of[at].copy(), sub)
        return programs[k]

    pruned: list[int] = []
    for cell in status.filter(pl.col("status") == SECONDARY).sort("true", "cell", descending=[True, False])["cell"]:
        if time.monotonic() - started > seconds:
            return status, pruned, False
        if int(cell) not in where:
            continue
        k, j = where[int(cell)]
        lp, point, required, sub = block(k)
        unconfirmed = np.zeros(lp.n, dtype=bool)  # a trial the points cannot prove is refused
        trial = status.with_columns(
            pl.when(pl.col("cell") == cell).then(pl.lit(FREE)).otherwise(pl.col("status")).alias("status")
        )
        if _line_rule(sub, trial.join(sub.cells.select("cell"), on="cell", how="semi")).len():
            continue
        lp.fix(j, point[j])
        need = required.copy()
        need[j] = 0.0
        lower, upper, _ = settle(lp, need, exact=False, point=point, local=True, confirm=unconfirmed)
        if (rounded_width(lower, upper) >= need).all():
            status = trial
            required[j] = 0.0
            pruned.append(int(cell))
        else:
            lp.free(j)
    return status, pruned, True


def protect(
    tables: Mapping[str, pl.DataFrame],
    specs: Mapping[str, TableSpec],
    threshold: int | None = None,
    threshold_sensitive: int | None = None,
    max_rounds: int = 200,
    prune_seconds: float = 60.0,
    also_primary: Mapping[str, pl.DataFrame] | None = None,
    bounds: Mapping[str, pl.DataFrame] | None = None,
) -> tuple[dict[str, pl.DataFrame], dict[str, SuppressionSummary]]:
    """Return the protected tables (``conf_status`` F/C/D, ``value`` empty where suppressed) and a
    summary per table. ``tables`` are long count tables of one release; linked tables (same universe)
    are protected together. ``also_primary`` names further cells (dimensions and measure) to protect as
    primary: those whose difference from an earlier release would reveal a small group. ``bounds``:
    per table, what earlier releases state about its cells (``period``, dimensions, ``measure``,
    ``bound``, ``side``; :func:`anonymise.history.by_table`): the attacker's programs include them, so
    that every suppressed cell keeps its width with them known. A bound the true value violates is
    dropped (:func:`true_bounds`)."""
    metas = {t: table_meta(specs[t], threshold, threshold_sensitive) for t in tables}
    s = system(tables, metas, true_bounds(tables, specs, bounds or {}))
    dims_of = {t: list(specs[t].dimensions) for t in tables}
    margin = pl.concat(
        [
            tables[t].select(
                pl.sum_horizontal([(pl.col(d) == TOTAL).cast(pl.Int32) for d in dims_of[t]]).alias("margin")
            )
            for t in sorted(tables)
        ]
    )["margin"]
    status = primary_status(s).with_columns(margin.alias("margin"))
    forced = []
    offset = 0
    for t in sorted(tables):
        extra = (also_primary or {}).get(t)
        if extra is not None and extra.height:
            keys = [*specs[t].dimensions, "measure"]
            ids = (
                tables[t]
                .with_row_index("_i")
                .join(extra.select(keys).unique(), on=keys, how="semi")["_i"]
                .cast(pl.Int64)
                + offset
            )
            forced.append(ids)
        offset += tables[t].height
    if forced:
        status = status.with_columns(
            pl.when(pl.col("cell").is_in(pl.concat(forced).implode()))
            .then(pl.lit(PRIMARY))
            .otherwise(pl.col("status"))
            .alias("status")
        )

    def mark(cells: pl.Series) -> pl.DataFrame:
        return status.with_columns(
            pl.when(pl.col("cell").is_in(cells.implode()) & (pl.col("status") == FREE))
            .then(pl.lit(SECONDARY))
            .otherwise(pl.col("status"))
            .alias("status")
        )

    rounds = 0
    proven = pl.Series("cell", [], dtype=pl.Int64)
    suspected = pl.DataFrame(schema={"cell": pl.Int64, "rounds": pl.Int64})
    while rounds < max_rounds:
        rounds += 1
        while (more := _line_rule(s, status)).len():
            status = mark(more)
        confirm = suspected.filter(pl.col("rounds") >= CONFIRM_AFTER)["cell"]
        found = intervals(_pattern(s, status, proven), truth=status, local=True, confirm=confirm)
        proven = pl.concat([proven, found.filter(pl.col("width") >= pl.col("required"))["cell"]]).unique()
        failing = found.filter(pl.col("width") < pl.col("required"))
        if failing.height == 0:
            break
        suspected = (
            failing.select("cell")
            .join(suspected, on="cell", how="left")
            .select("cell", (pl.col("rounds").fill_null(0) + 1).alias("rounds"))
        )
        protectors = _repair(s, status, failing)
        if protectors.len() == 0:
            raise RuntimeError("suppression cannot protect the table: no published cell left to suppress")
        status = mark(protectors)
    else:
        raise RuntimeError(f"suppression did not converge in {max_rounds} rounds")

    status, pruned, pruning_complete = _prune(s, status, prune_seconds)

    out: dict[str, pl.DataFrame] = {}
    summaries: dict[str, SuppressionSummary] = {}
    offset = 0
    for t in sorted(tables):
        n = tables[t].height
        st = status.slice(offset, n)
        offset += n
        frame = (
            tables[t]
            .with_columns(st["status"].alias("conf_status"))
            .with_columns(pl.when(pl.col("conf_status") == FREE).then(pl.col("value")).otherwise(None).alias("value"))
        )
        out[t] = frame
        summaries[t] = SuppressionSummary(
            cells=n,
            primary=int((st["status"] == PRIMARY).sum()),
            secondary=int((st["status"] == SECONDARY).sum()),
            rounds=rounds,
            threshold=metas[t].threshold,
            suppressed_value=int(st.filter(pl.col("status") != FREE)["true"].sum()),
            pruned=int(st["cell"].is_in(pruned).sum()),
            pruning_complete=pruning_complete,
        )
    return out, summaries


def with_statistics(protected: pl.DataFrame, stats: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Return a protected long table with its statistics' rows added, each shown or hidden by its rule.

    ``stats`` are the true values (:func:`anonymise.tables.statistic_cells`). A statistic is shown
    (``F``) only where every base count of its cell is published (``F``) and its ``of`` count and
    the units with a value are at least ``min_n``; else its value is blank and its flag says why: ``M``
    when a base count is suppressed (whatever the units: the flag never tells more about a
    suppressed count than the count's own mark), else ``A``. Hiding depends on published counts
    only, so a shown mean is a function of two published counts and adds nothing an attacker did not
    have. The table's ``value`` becomes text (counts as integers, statistics with their decimals).
    """
    dims = list(spec.dimensions)
    keys = ["period", *dims]
    out = protected.with_columns(pl.col("value").cast(pl.Int64).cast(pl.String))
    if not spec.statistics:
        return out
    status = protected.select(*keys, "measure", pl.col("conf_status").alias("_status"), pl.col("value").alias("_v"))
    parts = [out]
    for s in spec.statistics:
        cells = stats.filter(pl.col("measure") == s.name).select(*keys, "known", "num", "den")
        concealed = pl.lit(False)
        for i, base in enumerate(s.bases):
            b = status.filter(pl.col("measure") == base).select(
                *keys, pl.col("_status").alias(f"_s{i}"), pl.col("_v").alias(f"_v{i}")
            )
            cells = cells.join(b, on=keys, how="left")
            concealed = concealed | (pl.col(f"_s{i}").fill_null(FREE) != FREE)
        n = pl.col("_v0").fill_null(0)  # the published ``of`` count (where it is published)
        few = (n < s.min_n) | (pl.col("known").fill_null(0) < s.min_n) | pl.col("den").is_null()
        flag = pl.when(concealed).then(pl.lit(CONCEALED)).when(few).then(pl.lit(FEW)).otherwise(pl.lit(FREE))
        parts.append(
            cells.with_columns(flag.alias("conf_status"))
            .with_columns(
                pl.when(pl.col("conf_status") == FREE).then(s.text("num", "den")).alias("value"),
                pl.lit(s.name).alias("measure"),
            )
            .select(out.columns)
        )
    return pl.concat(parts).sort(*keys, "measure")


def statistic_figures(released: pl.DataFrame, spec: TableSpec) -> dict[str, dict[str, int]]:
    """Return, per statistic of a released table, how many cells show it and how many hide it and why."""
    out = {}
    for s in spec.statistics:
        flags = released.filter(pl.col("measure") == s.name)["conf_status"]
        out[s.name] = {
            "shown": int((flags == FREE).sum()),
            "hidden_few_units": int((flags == FEW).sum()),
            "hidden_base_suppressed": int((flags == CONCEALED).sum()),
        }
    return out


def dominance_primary(
    contributions: pl.DataFrame, by: list[str], value: str, p: float = 10.0, n: int = 2, k: float = 85.0
) -> pl.DataFrame:
    """Return, per cell of a magnitude table (a sum over contributors), whether the p% rule or the
    (n,k)-dominance rule makes it sensitive.

    ``contributions`` has one row per contributor and cell (contributors already summed within a
    cell). p% rule: the second largest contributor could estimate the largest to within p % —
    ``total − x1 − x2 < p/100 · x1``. (n,k) rule: the ``n`` largest contributors hold more than ``k`` %
    of the total.

    >>> c = pl.DataFrame({"cell": ["a", "a", "a", "b", "b", "b"], "v": [100, 5, 3, 40, 35, 30]})
    >>> dominance_primary(c, ["cell"], "v").sort("cell").rows()
    [('a', 108, True, True), ('b', 105, False, False)]
    """
    ranked = contributions.with_columns(pl.col(value).rank("ordinal", descending=True).over(by).alias("_rank"))
    return (
        ranked.group_by(by)
        .agg(
            pl.col(value).sum().alias("total"),
            pl.col(value).filter(pl.col("_rank") == 1).sum().alias("_x1"),
            pl.col(value).filter(pl.col("_rank") == 2).sum().alias("_x2"),
            pl.col(value).filter(pl.col("_rank") <= n).sum().alias("_top"),
        )
        .with_columns(
            ((pl.col("total") - pl.col("_x1") - pl.col("_x2")) < pl.col("_x1") * p / 100).alias("p_percent"),
            (pl.col("_top") > pl.col("total") * k / 100).alias("nk_dominance"),
        )
        .select(*by, "total", "p_percent", "nk_dominance")
    )
