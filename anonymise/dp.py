"""Differentially private count tables with OpenDP, and the privacy-budget ledger of a release series.

Differential privacy (the third disclosure method of the ministry release) publishes every cell of a
table with random noise whose size is set by the privacy-loss parameter ε (and δ): whether or not any
one person's records are in the data changes the probability of any published table by at most a
factor e^ε (plus δ). Four things make that true, and each is explicit here:

- **bounded contributions** — a person counts at most once in a cell (the measure is unique persons)
  and in at most ``max_groups`` cells; further cells are dropped in a key-derived order (the keyed
  HMAC of person and cell), never by Python randomness, so the same data and key keep the same cells;
- **public keys** — the cells are the cross-product of the public code lists, so every combination is
  published, the empty ones too (with noise): which cells exist never depends on the data;
- **exact discrete noise** — OpenDP's discrete Laplace (pure ε-DP) or discrete Gaussian (ρ-zCDP,
  converted to (ε, δ)) on integer counts, sampled from the operating system's CSPRNG; the noise scale
  is the smallest OpenDP's privacy map accepts for ε (``opendp.binary_search_param``), and the ε and δ
  reported are what the measurement's ``map`` says for the declared sensitivity;
- **accounting** — a ``BudgetLedger`` per release series adds the ε and δ of each release (basic
  sequential composition) and refuses a release beyond the series' cap. A run *reserves* its charge
  (:func:`reserve_ledger`) before any noise is drawn — ``release_tables`` calls ``before_noise`` with
  the exact ε and δ its measurement spends, after calibration and before sampling — and marks it
  published (:func:`publish_ledger`) when the release is written; a run that fails in between keeps
  its charge: the budget is spent once noise may have been drawn. The file is changed only under an
  exclusive lock, re-read under the lock and replaced atomically (mode 0600), so two runs of a series
  can never both spend its last budget; a ledger file that cannot be trusted is a
  :class:`LedgerError` naming the file, never an empty ledger;
- **a sealed ledger** — every write seals the ledger with an HMAC-SHA256 (:class:`LedgerKey`) under
  the ``dp-ledger`` purpose key of the series' central key domain, derived from the key store and
  never stored, over the canonical JSON of everything else in the file (sorted keys, no whitespace,
  UTF-8; :func:`canonical`). The seal sits in the ledger itself (``"seal"``: algorithm, key ID, key
  fingerprint, MAC), which stays readable JSON for the DPO. Whoever can write the ledger but not unlock
  the key store cannot remove a charge, even with its totals fixed, without the run refusing the
  ledger. An unsealed ledger (written before seals) is refused until the DPO has reviewed it and
  sealed it with :func:`seal_ledger` (``zakrila ledger seal``), which records the review under the
  seal. What a seal cannot show is a ledger replaced by an *older* sealed copy of itself; the runs
  check that every differentially private release in ``releases/`` is still charged
  (``flows.stages.budget_ledger``), and backups of the ledger keep their history.

Relations after the noise (:mod:`anonymise.perturbed`), all post-processing of the noisy cells, which
never weakens the guarantee: negative noisy counts become 0; a measure the table bounds by another of
the same cell (T04's new entrants at most its unique persons) is published as the smaller of its noisy
value and its bound's published value; ``release_counts``' derived margins (``_T``) are sums of the
published cells. Not kept by ``release_tables``: margins are measured with their own noise, so they are
not the sums of the published children, and the same persons counted in two tables may publish two
values.

``release_counts`` publishes one table over flat code lists; ``release_tables`` publishes the count
tables of a ministry release from their specs: every cell of every hierarchy level the tables publish
is measured as unique persons, all in one OpenDP measurement whose ε and δ are the release's.

There is no seed: noise comes from the OS CSPRNG, so values differ on every run, and tests check the
noise's distribution, not its values.

>>> rows = pl.DataFrame({"person": ["a", "a", "b"], "sex": ["f", "f", "m"], "age_band": ["Y0T2", "Y3T6", "Y0T2"]})
>>> dims = {"sex": ["f", "m", "u"], "age_band": ["Y0T2", "Y3T6"]}
>>> release = release_counts(rows, "person", dims, epsilon=1.0, key=bytes(32), margins="none")
>>> release.table.height, release.epsilon, release.delta, release.scale
(6, 1.0, 0.0, 1.0)
>>> release.table["value"].min() >= 0
True
>>> ledger = BudgetLedger("T04-2025", epsilon_cap=1.5).charge("2025-Q1", release.epsilon, release.delta)
>>> ledger.epsilon_remaining
0.5
>>> ledger.charge("2025-Q2", 1.0)
Traceback (most recent call last):
...
anonymise.dp.BudgetExceeded: release '2025-Q2' would bring series 'T04-2025' to ε=2 against a cap of ε=1.5 (0.5 remains)
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from fractions import Fraction
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import opendp.prelude as dp
import polars as pl

from anonymise.keys import fingerprint
from anonymise.perturbed import at_most_of, bound_order, keep_relations
from anonymise.pseudonym import pseudonym
from anonymise.tables import TOTAL, Dim, TableSpec, _level_column, level_combinations

Mechanism = Literal["laplace", "gaussian"]
Margins = Literal["none", "derived", "measured"]

#: Significance of the published accuracy: 95 % of cells lie within ``accuracy`` of the bounded count.
ACCURACY_ALPHA = 0.05

#: The composition the ledger applies, as the report prints it.
COMPOSITION = (
    "basic sequential composition: the ε and the δ of the releases in a series add up; a release is charged "
    "before its noise is drawn, and the charge stays spent if its run then publishes nothing"
)


def _enable_opendp() -> None:
    """Opt in to the OpenDP features this module needs.

    ``contrib`` is the only one: ``make_laplace``, ``make_gaussian``, ``make_zCDP_to_approxDP`` and
    ``make_fix_delta`` are "contributed" components whose proofs have not yet completed OpenDP's vetting
    process, and the library refuses them until the caller opts in. ``floating-point`` is not needed
    (the counts and the noise are integers, so there is no floating-point attack surface) and neither is
    ``honest-but-curious`` (no user-supplied function or claim enters a privacy map).
    """
    dp.enable_features("contrib")


def bound_contributions(
    rows: pl.DataFrame, person: str, dims: Mapping[str, Sequence[str]], max_groups: int, key: bytes
) -> pl.DataFrame:
    """Return the distinct (person, cell) pairs kept: at most ``max_groups`` cells per person.

    Rows with no person, or with a category outside the public code lists, belong to no published cell
    and are dropped. Of a person's cells, those with the smallest keyed HMAC of (person, cell) are kept:
    the choice depends only on that person's own rows and the key, so adding or removing one person
    changes at most ``max_groups`` cells of the table, each by one — the sensitivity the noise is
    calibrated to.
    """
    if max_groups < 1:
        raise ValueError("max_groups must be at least 1")
    names = list(dims)
    in_domain = [pl.col(person).is_not_null(), *[pl.col(d).is_in(list(dims[d])) for d in names]]
    cell_of_person = pl.concat_str([pl.col(person).cast(pl.String), *[pl.col(d) for d in names]], separator="\x1f")
    return (
        rows.lazy()
        .select(person, *names)
        .filter(in_domain)
        .unique()
        .with_columns(pseudonym(cell_of_person, key).alias("_order"))
        .filter(pl.col("_order").rank("ordinal").over(person) <= max_groups)
        .drop("_order")
        .sort(person, *names)
        .collect()
    )


@dataclass(frozen=True, eq=False)
class DpRelease:
    """A differentially private count table and the figures that prove what it guarantees.

    ``table`` has one column per dimension (``_T`` in margins) and ``value``, the noisy count of unique
    persons, clamped at 0. ``scale`` is the noise scale of every measured cell; ``sensitivity`` the
    declared L1 (Laplace) or L2 (Gaussian) distance between the count vectors of two data sets that
    differ in one person; ``epsilon`` and ``delta`` what OpenDP's privacy map gives for it (``rho``
    the zCDP loss of the Gaussian before conversion); ``accuracy`` the half-width within which a measured
    cell lies of its bounded count with probability 1 − ``alpha``.
    """

    table: pl.DataFrame
    mechanism: Mechanism
    scale: float
    sensitivity: float
    epsilon: float
    delta: float
    rho: float | None
    accuracy: float
    alpha: float
    max_groups: int
    margins: Margins
    measured_cells: int
    clamped: bool = True

    def statement(self) -> str:
        """Return the sentence the DPO report prints about this table's guarantee."""
        noise = "discrete Laplace" if self.mechanism == "laplace" else "discrete Gaussian"
        loss = f"ε = {self.epsilon:.4g}, δ = {self.delta:.3g}"
        if self.rho is not None:
            loss += f"; ρ = {self.rho:.4g} zero-concentrated DP"
        cells = "1 cell" if self.max_groups == 1 else f"{self.max_groups} cells"
        margins = {
            "none": "No margins are published.",
            "derived": "Margins (_T) are sums of the published cells, which is post-processing and costs no budget.",
            "measured": "Margins (_T) are measured with their own noise and included in the ε above.",
        }[self.margins]
        return (
            f"Published with differential privacy (OpenDP, {noise} noise of scale {self.scale:.4g} on each of "
            f"{self.measured_cells} cells of the public code lists, empty cells included): each person counts "
            f"at most once in a cell and in at most {cells}, so adding or removing any one "
            f"person changes the probability of any published table by at most a factor e^ε plus δ ({loss}). "
            f"With probability {1 - self.alpha:.0%} a measured cell is within ±{math.floor(self.accuracy)} of "
            f"its true count after that bound. Negative values are set to 0 after the noise is added, which is "
            f"post-processing and keeps the guarantee. {margins}"
        )


def _levels(dims: Sequence[str], margins: Margins) -> list[tuple[str, ...]]:
    """Return the dimension sets measured or published, finest first (as ``tables.cube`` builds them)."""
    if margins == "none":
        return [tuple(dims)]
    return [kept for size in range(len(dims), -1, -1) for kept in combinations(dims, size)]


def _grid(dims: Mapping[str, Sequence[str]], levels: list[tuple[str, ...]]) -> pl.DataFrame:
    """Return every cell of the public code lists at each level, in code-list order (``_T`` last)."""
    parts = []
    for kept in levels:
        part = pl.DataFrame({"_cell": [0]})
        for d in dims:
            values = list(dims[d]) if d in kept else [TOTAL]
            part = part.join(pl.DataFrame({d: values}), how="cross")
        parts.append(part.drop("_cell"))
    order = [pl.col(d).cast(pl.Enum([*dims[d], TOTAL])) for d in dims]
    return pl.concat(parts).sort(order)


def _aggregate(frame: pl.DataFrame, names: list[str], levels: list[tuple[str, ...]], agg: pl.Expr) -> pl.DataFrame:
    """Return ``agg`` (aliased ``value``) per cell of each level, ``_T`` for the dimensions summed over."""
    parts = [
        (frame.group_by(list(kept)).agg(agg) if kept else frame.select(agg)).with_columns(
            [pl.lit(TOTAL).alias(d) for d in names if d not in kept]
        )
        for kept in levels
    ]
    return pl.concat([p.select(*names, "value") for p in parts])


def _l2_bound(n: int) -> float:
    """Return the smallest float not below √n, so the declared L2 sensitivity is never understated."""
    root = math.sqrt(n)
    while Fraction(root) ** 2 < n:
        root = math.nextafter(root, math.inf)
    return root


def _calibrate(
    mechanism: Mechanism, sensitivity: int, epsilon: float, delta: float
) -> tuple[Any, float, float, float, float | None]:
    """Return the measurement, its scale, and the ε, δ and ρ OpenDP's privacy map gives for it."""
    _enable_opendp()
    counts = dp.vector_domain(dp.atom_domain(T="i64"))
    if mechanism == "laplace":
        space = counts, dp.l1_distance(T="i64")
        scale = dp.binary_search_param(lambda s: dp.m.make_laplace(*space, scale=s), d_in=sensitivity, d_out=epsilon)
        laplace = dp.m.make_laplace(*space, scale=scale)
        return laplace, scale, float(laplace.map(sensitivity)), 0.0, None
    l2 = _l2_bound(sensitivity)
    space = counts, dp.l2_distance(T=float)

    def approximate(s: float) -> Any:
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(dp.m.make_gaussian(*space, scale=s)), delta)

    scale = dp.binary_search_param(approximate, d_in=l2, d_out=(epsilon, delta))
    gaussian = dp.m.make_gaussian(*space, scale=scale)
    spent_epsilon, spent_delta = approximate(scale).map(l2)
    return gaussian, scale, float(spent_epsilon), float(spent_delta), float(gaussian.map(l2))


def release_counts(
    rows: pl.DataFrame,
    person: str,
    dims: Mapping[str, Sequence[str]],
    epsilon: float,
    key: bytes,
    delta: float = 0.0,
    max_groups: int = 1,
    mechanism: Mechanism = "laplace",
    margins: Margins = "derived",
) -> DpRelease:
    """Return the unique persons of every cell of ``dims``' code lists, with differential privacy.

    ``rows`` holds a ``person`` column (the central pseudonym) and one column per dimension; ``dims``
    maps each dimension to its public code list. ``key`` (at least 256 bits) orders a person's cells
    when more than ``max_groups`` must be dropped. The Laplace mechanism gives pure ε-DP (``delta``
    must be 0); the Gaussian needs ``delta`` > 0 and suits tables where people fall in many cells, as
    its noise grows with √max_groups rather than max_groups.

    ``margins``: ``"derived"`` (default) adds every ``_T`` total as the sum of the published cells —
    free post-processing, and the table adds up; it counts person-cells, so a margin over a dimension
    that does not partition persons (service, partner) counts a person once per part when
    ``max_groups`` > 1, and the clamping at 0 biases it upwards. ``"measured"`` counts unique persons at
    every margin level with its own noise, spending the same ε over all levels (more noise per cell,
    tables need not add up). ``"none"`` publishes the cells alone.

    The ledger is the caller's: charge it with the ``epsilon`` and ``delta`` asked for (the release
    spends no more) before calling, since the noise is drawn here (``release_tables`` offers a hook
    that charges the exact figures before drawing).
    """
    if not dims:
        raise ValueError("a table needs at least one dimension")
    if person in dims:
        raise ValueError("the person column cannot be a dimension")
    for d, categories in dims.items():
        if not categories or len(set(categories)) != len(categories) or TOTAL in categories:
            raise ValueError(f"the code list of {d!r} must be non-empty, without repeats and without {TOTAL!r}")
    if not epsilon > 0:
        raise ValueError("epsilon must be positive")
    if mechanism == "laplace" and delta != 0:
        raise ValueError("the Laplace mechanism is pure ε-DP: delta must be 0")
    if mechanism == "gaussian" and not 0 < delta < 1:
        raise ValueError("the Gaussian mechanism needs 0 < delta < 1")

    names = list(dims)
    levels = _levels(names, "none" if margins == "derived" else margins)
    bounded = bound_contributions(rows, person, dims, max_groups, key)
    # Each level adds at most max_groups cells of one person, each by one.
    sensitivity = max_groups * len(levels)
    noise, scale, spent_epsilon, spent_delta, rho = _calibrate(mechanism, sensitivity, epsilon, delta)

    grid = _grid(dims, levels)
    true = _aggregate(bounded, names, levels, pl.col(person).n_unique().cast(pl.Int64).alias("value"))
    counts = grid.join(true, on=names, how="left", maintain_order="left")["value"].fill_null(0)
    noisy = pl.Series("value", noise(counts.cast(pl.Int64).to_list()), dtype=pl.Int64)
    table = grid.with_columns(noisy.clip(lower_bound=0))
    if margins == "derived":
        every = _levels(names, "derived")
        sums = _aggregate(table, names, every, pl.col("value").sum())
        table = _grid(dims, every).join(sums, on=names, how="left", maintain_order="left")

    return DpRelease(
        table=table,
        **_noise_figures(mechanism, scale, sensitivity, spent_epsilon, spent_delta, rho),
        max_groups=max_groups,
        margins=margins,
        measured_cells=grid.height,
    )


Combo = tuple[str, ...]


def _codes_at(d: Dim, level: str) -> list[str]:
    """Return the public code list of a dimension at one level: the codes ``cube`` can give a cell there."""
    if level == TOTAL:
        return [TOTAL]
    codes = pl.DataFrame({d.name: list(d.hierarchy.parent)}).select(_level_column(d, level))[d.name]
    return sorted(codes.drop_nulls().unique().to_list())


def _grid_of(spec: TableSpec, combo: Combo) -> pl.DataFrame:
    """Return every cell of one level combination from the public code lists (empty cells included)."""
    grid = pl.DataFrame({"_cell": [0]})
    for d, level in zip(spec.dims, combo, strict=True):
        grid = grid.join(pl.DataFrame({d.name: _codes_at(d, level)}, schema={d.name: pl.String}), how="cross")
    return grid.drop("_cell")


def published_cells(spec: TableSpec) -> int:
    """Return how many cells per measure a differentially private table publishes (every public cell once)."""
    return pl.concat([_grid_of(spec, combo) for combo in level_combinations(spec)]).n_unique()


def _bound(spec: TableSpec, combo: Combo, groups_per_person: int) -> int:
    """Return the cells of one level combination a person may count in.

    One where every detailed dimension is additive (a person's residence, age band and sex are taken
    once, so a person is in exactly one cell); ``groups_per_person`` where a dimension such as partner
    or service puts one person under several codes.
    """
    partitioned = all(d.additive or level == TOTAL for d, level in zip(spec.dims, combo, strict=True))
    return 1 if partitioned else groups_per_person


@dataclass(frozen=True, eq=False)
class DpTables:
    """The count tables of a release published with differential privacy, and what proves the guarantee.

    One OpenDP measurement adds noise to every cell of every table and measure at once, so ``epsilon``
    and ``delta`` are its privacy map's answer for the whole release. ``sensitivity`` sums, over
    every level combination of every table and measure, the cells one person may count in there
    (L1; its square root for the Gaussian's L2). ``tables`` are long: dimensions, ``measure``, ``value``.
    ``bounds`` are each table's ``at_most`` relations, enforced on the published values.
    """

    tables: dict[str, pl.DataFrame]
    mechanism: Mechanism
    scale: float
    sensitivity: float
    epsilon: float
    delta: float
    rho: float | None
    accuracy: float
    alpha: float
    groups_per_person: int
    levels: int
    cells: int
    bounds: dict[str, dict[str, str]] = field(default_factory=dict)

    def noise_by_measure(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Return, per table and measure, the noise scale, the 95 % accuracy interval and the cells published.

        One measurement adds the same noise distribution to every cell, so the scale and the interval
        (±``accuracy``: the noise stays inside it with probability 1 − ``alpha``) are the release's. A
        measure clamped to its ``at_most`` bound is within that interval of its true count whenever its
        own noise and its bound's are, so with probability at least 1 − 2·``alpha`` (given that its
        bounded count does not exceed its bound's, as the true counts never do).
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for t, table in self.tables.items():
            bounds = self.bounds.get(t, {})
            cells = dict(table.group_by("measure").len().iter_rows())
            out[t] = {
                str(m): {
                    "mechanism": self.mechanism,
                    "scale": self.scale,
                    "accuracy": self.accuracy,
                    "interval": [-math.floor(self.accuracy), math.floor(self.accuracy)],
                    "confidence": 1 - self.alpha if m not in bounds else 1 - 2 * self.alpha,
                    "cells": int(n),
                    "clamped_to": bounds.get(m),
                }
                for m, n in sorted(cells.items())
            }
        return out

    def statement(self) -> str:
        """Return the sentence the DPO report and the manifest print about the release's guarantee."""
        noise = "discrete Laplace" if self.mechanism == "laplace" else "discrete Gaussian"
        loss = f"ε = {self.epsilon:.4g}, δ = {self.delta:.3g}"
        if self.rho is not None:
            loss += f"; ρ = {self.rho:.4g} zero-concentrated DP"
        return (
            f"Published with differential privacy (OpenDP, {noise} noise of scale {self.scale:.4g} on each of the "
            f"{self.cells} cells of {self.levels} level combinations: every cell of the public code lists, empty "
            f"ones included, each counted as unique persons and measured directly): a person counts at most once "
            f"in a cell, in one cell of a level where every dimension partitions persons and in at most "
            f"{self.groups_per_person} where partner or service do not, so adding or removing any one person "
            f"changes the probability of any published release by at most a factor e^ε plus δ ({loss}). With "
            f"probability {1 - self.alpha:.0%} a cell is within ±{math.floor(self.accuracy)} of its true count "
            f"after that bound. Negative values are set to 0, and a measure bounded by another of the same cell "
            f"(new entrants at most unique persons) is set to its bound's published value where it exceeds it: "
            f"both are post-processing of the noisy values and keep the guarantee. Published values need not add "
            f"up along the hierarchies: every margin carries its own noise."
        )


def release_tables(
    rows: Mapping[str, Mapping[str, pl.DataFrame]],
    specs: Mapping[str, TableSpec],
    epsilon: float,
    key: bytes,
    delta: float = 0.0,
    groups_per_person: int = 1,
    mechanism: Mechanism = "laplace",
    unit: str = "unit",
    before_noise: Callable[[float, float], object] | None = None,
) -> DpTables:
    """Return a release's count tables with differential privacy, spending ``epsilon`` (and ``delta``) in all.

    ``rows[table][measure]`` is what the table's builder counts: a frame of ``unit`` (the person's
    central pseudonym; every measure must count persons) and the atomic codes of each dimension.
    Every cell the table publishes at any level, from the public code lists, gets its own noise; a
    person's cells of a level beyond their bound (:func:`_bound`) are dropped in the keyed order of
    :func:`bound_contributions`. A cell that two levels share (a code with no parent at a level, such
    as ``_U``) is measured once. After the noise, values below 0 become 0 and every ``at_most`` bound of
    a table holds between the measures of each cell (:func:`anonymise.perturbed.keep_relations`).

    ``before_noise`` is called with the ε and δ the calibrated measurement spends (what its privacy
    map says, never more than asked for) once the counts are made and before any noise is drawn: the
    caller charges the series' ledger there (:func:`reserve_ledger`), and if it raises, no noise is
    drawn and the exception propagates.
    """
    if not epsilon > 0:
        raise ValueError("epsilon must be positive")
    if mechanism == "laplace" and delta != 0:
        raise ValueError("the Laplace mechanism is pure ε-DP: delta must be 0")
    if mechanism == "gaussian" and not 0 < delta < 1:
        raise ValueError("the Gaussian mechanism needs 0 < delta < 1")
    measured: dict[str, list[pl.DataFrame]] = {}
    sensitivity = 0
    levels = 0
    for t in sorted(rows):
        spec = specs[t]
        dims = list(spec.dimensions)
        bad = [m.name for m in spec.measures if m.unit != "person"]
        if bad:
            raise ValueError(f"{t}: measures {bad} do not count persons; differential privacy bounds persons")
        bound_order(at_most_of(spec))  # a cycle of bounds is refused before any noise is drawn
        for m in spec.measure_names:
            units = rows[t][m].select(pl.col(unit).cast(pl.String), *dims).unique()
            for combo in level_combinations(spec):
                bound = _bound(spec, combo, groups_per_person)
                at_level = units.select(
                    unit,
                    *[
                        pl.lit(TOTAL).alias(d.name) if level == TOTAL else _level_column(d, level)
                        for d, level in zip(spec.dims, combo, strict=True)
                    ],
                )
                grid = _grid_of(spec, combo)
                codes = {d: grid[d].unique().to_list() for d in dims}
                kept = bound_contributions(at_level, unit, codes, bound, key)
                true = kept.group_by(dims).agg(pl.col(unit).n_unique().cast(pl.Int64).alias("value"))
                cells = grid.join(true, on=dims, how="left", maintain_order="left").with_columns(
                    pl.col("value").fill_null(0), pl.lit(m).alias("measure")
                )
                measured.setdefault(t, []).append(cells)
                sensitivity += bound
                levels += 1
    tables = {
        t: pl.concat(parts).unique([*specs[t].dimensions, "measure"], keep="first", maintain_order=True)
        for t, parts in measured.items()
    }
    noise, scale, spent_epsilon, spent_delta, rho = _calibrate(mechanism, sensitivity, epsilon, delta)
    counts = pl.concat([tables[t]["value"] for t in sorted(tables)])
    if before_noise is not None:
        before_noise(spent_epsilon, spent_delta)
    noisy = pl.Series("value", noise(counts.to_list()), dtype=pl.Int64).clip(lower_bound=0)
    offset = 0
    for t in sorted(tables):
        n = tables[t].height
        noisy_table = tables[t].with_columns(noisy.slice(offset, n).alias("value"))
        tables[t] = (
            keep_relations(noisy_table, at_most_of(specs[t]), specs[t].dimensions)
            .select(*specs[t].dimensions, "measure", "value")
            .sort(*specs[t].dimensions, "measure")
        )
        offset += n
    return DpTables(
        tables=tables,
        **_noise_figures(mechanism, scale, sensitivity, spent_epsilon, spent_delta, rho),
        groups_per_person=groups_per_person,
        levels=levels,
        cells=counts.len(),
        bounds={t: at_most_of(specs[t]) for t in tables if at_most_of(specs[t])},
    )


def _noise_figures(
    mechanism: str, scale: float, sensitivity: int, epsilon: float, delta: float, rho: float | None
) -> dict[str, Any]:
    """Return what a release states about its noise (the fields ``DpRelease`` and ``DpTables`` share)."""
    return {
        "mechanism": mechanism,
        "scale": scale,
        "sensitivity": float(sensitivity) if mechanism == "laplace" else _l2_bound(sensitivity),
        "epsilon": epsilon,
        "delta": delta,
        "rho": rho,
        "accuracy": _accuracy(mechanism, scale),
        "alpha": ACCURACY_ALPHA,
    }


def _accuracy(mechanism: str, scale: float) -> float:
    """Return the half-width that the noise stays within with probability 1 − ``ACCURACY_ALPHA``."""
    if mechanism == "laplace":
        return float(dp.discrete_laplacian_scale_to_accuracy(scale, ACCURACY_ALPHA))
    return float(dp.discrete_gaussian_scale_to_accuracy(scale, ACCURACY_ALPHA))


class BudgetExceeded(Exception):
    """A release would spend more privacy budget than its series' cap allows."""


ChargeStatus = Literal["reserved", "published"]
STATUSES: tuple[ChargeStatus, ...] = ("reserved", "published")


@dataclass(frozen=True)
class Charge:
    """One release charged to a series: its ID, the ε and δ it spent, and how far its run got.

    A run reserves its charge before it draws any noise (``status`` ``"reserved"``: its ``run_id``, no
    ``release_id`` yet) and marks it ``"published"`` with the release ID once the release is written.
    A reserved charge whose run published nothing stays reserved and counts in full: the noise was (or
    may have been) drawn, so the budget is spent. A charge made in one step (:meth:`BudgetLedger.charge`,
    and every charge of a ledger from before reservations) is published and may have no ``run_id``.
    """

    release_id: str | None
    epsilon: float
    delta: float = 0.0
    run_id: str | None = None
    status: ChargeStatus = "published"

    def name(self) -> str:
        """Return how messages name the charge: its release, else its run."""
        return f"release {self.release_id!r}" if self.release_id is not None else f"run {self.run_id!r}"


@dataclass(frozen=True)
class Review:
    """A DPO's sealing of a ledger after review (:func:`seal_ledger`): when, with which key, what the
    ledger's seal was found to be before (``found``), and why it was sealed (``note``)."""

    sealed_at: str
    key_id: str
    found: str
    note: str


@dataclass(frozen=True)
class BudgetLedger:
    """The privacy budget of one release series: its cap, the releases charged, what is spent and left.

    Releases compose by basic sequential composition (ε and δ add), which holds for any mix of
    mechanisms; Gaussian releases enter with the (ε, δ) their zCDP loss converts to, so the ledger is
    conservative for them. Reserved and published charges count alike. The ledger is immutable:
    ``charge``, ``reserve`` and ``publish`` return a new one, and persisting it is the caller's job.
    ``reviews`` records every sealing of the ledger by the DPO (:func:`seal_ledger`).
    """

    series: str
    epsilon_cap: float
    delta_cap: float = 0.0
    charges: tuple[Charge, ...] = field(default=())
    reviews: tuple[Review, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.epsilon_cap >= 0 or not 0 <= self.delta_cap < 1:
            raise ValueError("the caps must be ε ≥ 0 and 0 ≤ δ < 1")

    @property
    def epsilon_spent(self) -> float:
        """Return the ε spent by the series so far (reserved charges included)."""
        return math.fsum(c.epsilon for c in self.charges)

    @property
    def delta_spent(self) -> float:
        """Return the δ spent by the series so far (reserved charges included)."""
        return math.fsum(c.delta for c in self.charges)

    @property
    def epsilon_remaining(self) -> float:
        """Return the ε the series may still spend."""
        return max(0.0, self.epsilon_cap - self.epsilon_spent)

    @property
    def delta_remaining(self) -> float:
        """Return the δ the series may still spend."""
        return max(0.0, self.delta_cap - self.delta_spent)

    def charge(self, release_id: str, epsilon: float, delta: float = 0.0) -> BudgetLedger:
        """Return the ledger with a published release charged in one step; ``BudgetExceeded`` beyond a cap."""
        if any(c.release_id == release_id for c in self.charges):
            raise ValueError(f"release {release_id!r} is already charged to series {self.series!r}")
        return self._with(Charge(release_id, epsilon, delta))

    def reserve(self, run_id: str, epsilon: float, delta: float = 0.0) -> BudgetLedger:
        """Return the ledger with a run's charge reserved before its noise is drawn; ``BudgetExceeded``
        beyond a cap. A run reserves once: a rerun is another run, with its own noise and its own charge."""
        if not run_id:
            raise ValueError("a reservation needs the run's ID")
        if any(c.run_id == run_id for c in self.charges):
            raise ValueError(
                f"run {run_id!r} already has a charge in series {self.series!r}: a run is charged once, and a rerun "
                f"is a new run with its own noise and its own charge"
            )
        return self._with(Charge(None, epsilon, delta, run_id, "reserved"))

    def publish(self, run_id: str, release_id: str) -> BudgetLedger:
        """Return the ledger with a run's reserved charge marked published as ``release_id``.

        Nothing is charged again: the ε and δ were charged at the reservation. ValueError if the run
        reserved nothing, if its charge is already published (a release is published once), or if
        another charge already holds ``release_id``.
        """
        mine = [n for n, c in enumerate(self.charges) if c.run_id == run_id]
        if not mine:
            raise ValueError(f"run {run_id!r} reserved no charge in series {self.series!r}; nothing may be published")
        charge = self.charges[mine[0]]
        if charge.status == "published":
            raise ValueError(
                f"the charge of run {run_id!r} is already published as release {charge.release_id!r}: "
                f"a release is published once"
            )
        if any(c.release_id == release_id for c in self.charges):
            raise ValueError(f"release {release_id!r} is already charged to series {self.series!r}")
        charges = list(self.charges)
        charges[mine[0]] = replace(charge, release_id=release_id, status="published")
        return replace(self, charges=tuple(charges))

    def _with(self, new: Charge) -> BudgetLedger:
        """Return the ledger with ``new`` added; ``BudgetExceeded`` naming it if a cap would be passed."""
        if not new.epsilon >= 0 or not new.delta >= 0:
            raise ValueError("a release spends ε ≥ 0 and δ ≥ 0")
        spent_epsilon = math.fsum([*(c.epsilon for c in self.charges), new.epsilon])
        spent_delta = math.fsum([*(c.delta for c in self.charges), new.delta])
        if spent_epsilon > self.epsilon_cap:
            raise BudgetExceeded(
                f"{new.name()} would bring series {self.series!r} to ε={spent_epsilon:.6g} against a cap "
                f"of ε={self.epsilon_cap:.6g} ({self.epsilon_remaining:.6g} remains)"
            )
        if spent_delta > self.delta_cap:
            raise BudgetExceeded(
                f"{new.name()} would bring series {self.series!r} to δ={spent_delta:.6g} against a cap "
                f"of δ={self.delta_cap:.6g} ({self.delta_remaining:.6g} remains)"
            )
        return replace(self, charges=(*self.charges, new))

    def to_dict(self) -> dict[str, Any]:
        """Return the ledger as the JSON object its file holds (without the seal)."""
        return {
            "series": self.series,
            "composition": COMPOSITION,
            "epsilon_cap": self.epsilon_cap,
            "delta_cap": self.delta_cap,
            "charges": [
                {
                    "release_id": c.release_id,
                    "run_id": c.run_id,
                    "status": c.status,
                    "epsilon": c.epsilon,
                    "delta": c.delta,
                }
                for c in self.charges
            ],
            "epsilon_spent": self.epsilon_spent,
            "delta_spent": self.delta_spent,
            "epsilon_remaining": self.epsilon_remaining,
            "delta_remaining": self.delta_remaining,
            "reviews": [asdict(r) for r in self.reviews],
        }

    def to_json(self) -> str:
        """Return the ledger as JSON, with the totals spent and remaining for a human reader (no seal)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> BudgetLedger:
        """Return the ledger stored by ``to_json``; ValueError saying what is wrong if it is not one.

        Totals are recomputed from the charges; where the file states them (``to_json`` does), they
        must agree with the charges, so that a charge deleted or changed by hand is noticed. A seal is
        not checked here (:func:`read_ledger` does).
        """
        return _parse(text)[1]


def _parse(text: str) -> tuple[dict[str, Any], BudgetLedger]:
    """Return a ledger file's JSON object and the ledger it holds; ValueError saying what is wrong."""
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"it is not JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    missing = [k for k in ("series", "epsilon_cap", "delta_cap", "charges") if k not in data]
    if missing:
        raise ValueError(f"it has no {', '.join(missing)}")
    if not isinstance(data["series"], str) or not data["series"]:
        raise ValueError("its series is not a name")
    if not isinstance(data["charges"], list):
        raise ValueError("its charges are not a list")
    charges = tuple(_charge(c, n) for n, c in enumerate(data["charges"], start=1))
    for what in ("release_id", "run_id"):
        seen: set[str] = set()
        for c in charges:
            value = getattr(c, what)
            if value is None:
                continue
            if value in seen:
                raise ValueError(f"{'release' if what == 'release_id' else 'run'} {value!r} is charged twice")
            seen.add(value)
    reviews = data.get("reviews", [])
    if not isinstance(reviews, list):
        raise ValueError("its reviews are not a list")
    epsilon_cap, delta_cap = _number(data["epsilon_cap"], "epsilon_cap"), _number(data["delta_cap"], "delta_cap")
    ledger = BudgetLedger(
        data["series"], epsilon_cap, delta_cap, charges, tuple(_review(r, n) for n, r in enumerate(reviews, start=1))
    )
    for total, computed in (
        ("epsilon_spent", ledger.epsilon_spent),
        ("delta_spent", ledger.delta_spent),
        ("epsilon_remaining", ledger.epsilon_remaining),
        ("delta_remaining", ledger.delta_remaining),
    ):
        if total in data and not math.isclose(_number(data[total], total), computed, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"its {total} is {data[total]!r} but its charges give {computed!r}: it was edited by hand")
    return data, ledger


def _no_constant(name: str) -> float:
    raise ValueError(f"it holds {name}, which is not a number")


def _number(value: object, what: str) -> float:
    """Return a JSON number as a float; ValueError for anything else (a bool, a string, null)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"its {what} is {value!r}, not a number")
    return float(value)


def _charge(entry: object, n: int) -> Charge:
    """Return one charge of a ledger file; ValueError naming the charge if it is malformed."""
    if not isinstance(entry, dict):
        raise ValueError(f"charge {n} is not an object")
    status = entry.get("status", "published")
    if status not in STATUSES:
        raise ValueError(f"charge {n} has status {status!r}, not one of {', '.join(STATUSES)}")
    release, run = entry.get("release_id"), entry.get("run_id")
    if run is not None and (not isinstance(run, str) or not run):
        raise ValueError(f"charge {n} has a run_id that is not a name")
    if status == "published" and (not isinstance(release, str) or not release):
        raise ValueError(f"charge {n} has no release_id")
    if status == "reserved" and (release is not None or run is None):
        raise ValueError(f"charge {n} is reserved: it names its run_id and no release_id yet")
    name = release if status == "published" else run
    unknown = set(entry) - {"release_id", "run_id", "status", "epsilon", "delta"}
    if unknown:
        raise ValueError(f"charge {n} ({name}) has unknown fields {sorted(unknown)}")
    if "epsilon" not in entry:
        raise ValueError(f"charge {n} ({name}) has no epsilon")
    epsilon = _number(entry["epsilon"], f"epsilon of charge {n} ({name})")
    delta = _number(entry.get("delta", 0.0), f"delta of charge {n} ({name})")
    if epsilon < 0 or not 0 <= delta < 1:
        raise ValueError(f"charge {n} ({name}) spends ε={epsilon:g}, δ={delta:g}: not ε ≥ 0 and 0 ≤ δ < 1")
    return Charge(release, epsilon, delta, run, status)


def _review(entry: object, n: int) -> Review:
    """Return one review of a ledger file; ValueError naming it if it is malformed."""
    names = [f.name for f in fields(Review)]
    if not isinstance(entry, dict) or set(entry) != set(names) or not all(isinstance(entry[k], str) for k in names):
        raise ValueError(f"review {n} is not an object of the strings {', '.join(names)}")
    return Review(**entry)


class LedgerError(Exception):
    """A ledger file cannot be used: unreadable, corrupt, edited by hand, unsealed or not matching its
    seal, of another series, or locked."""


# --- the seal ----------------------------------------------------------------------------------------

#: The key store purpose whose key seals the ledgers (:mod:`anonymise.keys`).
LEDGER_PURPOSE = "dp-ledger"
#: The MAC of a ledger's seal.
SEAL_ALGORITHM = "HMAC-SHA256"
#: What the MAC is computed over besides the ledger, so that a seal means nothing elsewhere.
_SEAL_CONTEXT = b"zakrila/dp-ledger-seal/v1\x00"


def canonical(content: Mapping[str, Any]) -> bytes:
    """Return the bytes a seal's MAC covers: JSON with sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class LedgerKey:
    """The keys that seal the ledger of a release series, known by key ID and fingerprint only.

    ``keys`` maps key IDs (``bg-central#2``: the series' central domain and a generation) to the
    32-byte ``dp-ledger`` purpose key of that generation (:func:`anonymise.keys.derive`); ``key_id``
    is the one that seals what is written (the current generation). The others verify ledgers sealed
    before a key rotation, until the next charge seals them again under ``key_id``. The bytes never
    leave the object: its repr, and every message about a seal, name key IDs and fingerprints.
    """

    __slots__ = ("_keys", "key_id")

    def __init__(self, key_id: str, keys: Mapping[str, bytes]) -> None:
        if key_id not in keys:
            raise ValueError(f"the sealing key {key_id} is not among the ledger keys given")
        if any(len(k) < 32 for k in keys.values()):
            raise ValueError("a ledger key has at least 256 bits")
        if len({k.rsplit("#", 1)[0] for k in keys}) != 1:
            raise ValueError("the ledger keys of a series are generations of one domain")
        self.key_id = key_id
        self._keys = dict(keys)

    def __repr__(self) -> str:
        return f"LedgerKey({self.key_id!r}, verifies {sorted(self._keys)})"

    @property
    def domain(self) -> str:
        """Return the key store domain whose keys these are."""
        return self.key_id.rsplit("#", 1)[0]

    def _mac(self, key_id: str, content: Mapping[str, Any]) -> str:
        message = canonical({"algorithm": SEAL_ALGORITHM, "key_id": key_id, "ledger": content})
        return hmac.new(self._keys[key_id], _SEAL_CONTEXT + message, hashlib.sha256).hexdigest()

    def seal(self, content: Mapping[str, Any]) -> dict[str, str]:
        """Return the seal of a ledger's content (its file's JSON object without ``seal``) under ``key_id``."""
        return {
            "algorithm": SEAL_ALGORITHM,
            "key_id": self.key_id,
            "key_fingerprint": fingerprint(self._keys[self.key_id]),
            "mac": self._mac(self.key_id, content),
        }

    def problem(self, data: Mapping[str, Any]) -> str | None:
        """Return what is wrong with the seal of a ledger file's JSON object, or None if it verifies."""
        seal = data.get("seal")
        if seal is None:
            return "it is not sealed"
        if not isinstance(seal, dict) or not all(
            isinstance(seal.get(k), str) for k in ("algorithm", "key_id", "key_fingerprint", "mac")
        ):
            return "its seal is malformed"
        if seal["algorithm"] != SEAL_ALGORITHM:
            return f"it is sealed with {seal['algorithm']!r}, not {SEAL_ALGORITHM}"
        key_id = seal["key_id"]
        if key_id.rsplit("#", 1)[0] != self.domain:
            return f"it is sealed with key {key_id}, not a key of domain {self.domain}: another series' seal"
        if key_id not in self._keys:
            return (
                f"it is sealed with key {key_id}, which this key store does not hold (destroyed, or another key store)"
            )
        ours = fingerprint(self._keys[key_id])
        if not hmac.compare_digest(seal["key_fingerprint"], ours):
            return (
                f"it is sealed with a key {key_id} of fingerprint {seal['key_fingerprint']}, but this key store's "
                f"{key_id} has fingerprint {ours}: another key store"
            )
        content = {k: v for k, v in data.items() if k != "seal"}
        try:
            expected = self._mac(key_id, content)
        except ValueError:
            return "its content cannot be serialised to check the seal"
        if not hmac.compare_digest(seal["mac"], expected):
            return (
                f"its content does not match its seal ({SEAL_ALGORITHM} under {key_id}): it was changed outside zakrila"
            )
        return None


def _sealed_text(ledger: BudgetLedger, key: LedgerKey) -> str:
    """Return a ledger's file: its JSON object and the seal of that object, indented for the DPO."""
    content = ledger.to_dict()
    return json.dumps({**content, "seal": key.seal(content)}, ensure_ascii=False, indent=2) + "\n"


# --- the file ------------------------------------------------------------------------------------------

#: Permissions of a ledger file (and its lock): the budget of a series is the DPO's business alone.
LEDGER_MODE = 0o600
#: Seconds a run waits for another run of the series to finish charging before giving up.
LOCK_TIMEOUT = 60.0
#: What a refused ledger's message tells the operator to do.
_NEVER_RESET = (
    "It is never reset: restore it from a backup, or have the DPO review it and seal it with 'zakrila ledger seal'"
)


def lock_path(path: Path) -> Path:
    """Return the lock file of a ledger: beside it, never deleted (deleting a lock file races)."""
    return path.with_name(path.name + ".lock")


def _read(path: Path, series: str) -> tuple[dict[str, Any], BudgetLedger] | None:
    """Return a ledger file's JSON object and ledger (None if there is no file); LedgerError if unusable."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise LedgerError(f"the privacy-budget ledger {path} cannot be read: {error}") from error
    try:
        data, stored = _parse(text)
    except ValueError as error:
        raise LedgerError(
            f"the privacy-budget ledger {path} is corrupt: {error}. It is never reset: restore it from a backup, "
            f"or have the DPO repair it and record why"
        ) from error
    if stored.series != series:
        raise LedgerError(f"the privacy-budget ledger {path} belongs to series {stored.series!r}, not {series!r}")
    return data, stored


def stored_ledger(path: Path, series: str, *, key: LedgerKey | None) -> BudgetLedger | None:
    """Return the ledger of a series as its file holds it (its own caps), None if there is no file.

    With ``key`` the seal must verify (else :class:`LedgerError` naming the file and what is wrong);
    ``key=None`` reads without the key store, to show a ledger to the DPO — never to spend on it.
    """
    found = _read(path, series)
    if found is None:
        return None
    data, stored = found
    problem = key.problem(data) if key is not None else None
    if problem == "it is not sealed":
        raise LedgerError(
            f"the privacy-budget ledger {path} is not sealed: it was written before ledgers were sealed, or its "
            f"seal was removed. An unsealed ledger is never used: have the DPO check its charges against the "
            f"releases and run reports, then seal it with 'zakrila ledger seal', which records the review in it"
        )
    if problem is not None:
        raise LedgerError(f"the privacy-budget ledger {path} cannot be trusted: {problem}. {_NEVER_RESET}")
    return stored


def read_ledger(
    path: Path, series: str, epsilon_cap: float, delta_cap: float = 0.0, *, key: LedgerKey | None
) -> BudgetLedger:
    """Return the ledger of a series from its file, under the caps given (the approved policy's).

    A missing file is a series with nothing spent. A file that is not a ledger written by this module
    (not JSON, fields missing or of the wrong type, totals that disagree with the charges, a release or
    run charged twice, another series) is a :class:`LedgerError` naming the file: a ledger is never
    silently reset. With ``key`` (always, before spending) its seal must verify: an unsealed ledger, a
    seal by another domain's or another key store's key, and content that does not match its seal are
    refused too. Files are replaced atomically, so reading needs no lock.
    """
    stored = stored_ledger(path, series, key=key)
    if stored is None:
        return BudgetLedger(series, epsilon_cap, delta_cap)
    return BudgetLedger(series, epsilon_cap, delta_cap, stored.charges, stored.reviews)


def _update(
    path: Path,
    series: str,
    epsilon_cap: float,
    delta_cap: float,
    change: Callable[[BudgetLedger], BudgetLedger],
    key: LedgerKey,
    timeout: float,
) -> BudgetLedger:
    """Apply ``change`` to the ledger file under its lock, seal the result and write it atomically.

    Under an exclusive ``flock`` on :func:`lock_path` the file is read again (seal verified), changed
    (``BudgetExceeded`` beyond a cap, with the file unchanged) and the new ledger written to a temporary
    file in the same folder (mode 0600, synced) that then replaces the ledger: a reader sees the old or
    the new ledger, never half of one, and of two runs racing for the last budget exactly one gets it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path, timeout):
        try:
            ledger = change(read_ledger(path, series, epsilon_cap, delta_cap, key=key))
        except ValueError as error:
            raise LedgerError(f"the privacy-budget ledger {path} is left as it was: {error}") from error
        _write_atomically(path, _sealed_text(ledger, key))
    return ledger


def reserve_ledger(
    path: Path,
    series: str,
    epsilon_cap: float,
    delta_cap: float,
    run_id: str,
    epsilon: float,
    delta: float = 0.0,
    *,
    key: LedgerKey,
    timeout: float = LOCK_TIMEOUT,
) -> BudgetLedger:
    """Reserve a run's charge in the ledger file before its noise is drawn; return the ledger as written.

    The charge is spent from now on, whatever becomes of the run: a run that fails after drawing its
    noise has spent its budget (the conservative choice, and the standard one: the noise is a function
    of the data whether or not anyone publishes it). ``BudgetExceeded`` beyond a cap, ``LedgerError``
    if the ledger cannot be trusted or the run already has a charge.
    """
    return _update(
        path, series, epsilon_cap, delta_cap, lambda ledger: ledger.reserve(run_id, epsilon, delta), key, timeout
    )


def publish_ledger(
    path: Path,
    series: str,
    epsilon_cap: float,
    delta_cap: float,
    run_id: str,
    release_id: str,
    *,
    key: LedgerKey,
    timeout: float = LOCK_TIMEOUT,
) -> BudgetLedger:
    """Mark a run's reserved charge published as ``release_id`` (nothing is charged again).

    ``LedgerError`` if the run reserved nothing, its charge is already published, or the ledger cannot
    be trusted; called before the release is written, so that no release is out without its charge.
    """
    return _update(
        path, series, epsilon_cap, delta_cap, lambda ledger: ledger.publish(run_id, release_id), key, timeout
    )


def charge_ledger(
    path: Path,
    series: str,
    epsilon_cap: float,
    delta_cap: float,
    release_id: str,
    epsilon: float,
    delta: float = 0.0,
    *,
    key: LedgerKey,
    timeout: float = LOCK_TIMEOUT,
) -> BudgetLedger:
    """Charge a published release to the ledger file in one step (no reservation); return the ledger.

    For a release whose noise was drawn elsewhere; a run of this pipeline reserves
    (:func:`reserve_ledger`) before it draws and publishes (:func:`publish_ledger`) after.
    """
    return _update(
        path, series, epsilon_cap, delta_cap, lambda ledger: ledger.charge(release_id, epsilon, delta), key, timeout
    )


def seal_ledger(
    path: Path,
    series: str,
    *,
    key: LedgerKey,
    reviewed: bool,
    note: str,
    timeout: float = LOCK_TIMEOUT,
) -> BudgetLedger:
    """Seal a ledger the DPO has reviewed: the way back for an unsealed ledger, or one whose seal fails.

    A ledger written before ledgers were sealed, one sealed under a destroyed key generation, or one
    the DPO repaired by hand is refused by every run until it is sealed here. Sealing declares its
    charges right, so it needs ``reviewed=True`` (the DPO has checked every charge against the
    releases in ``releases/`` and the run reports) and a ``note`` saying why. The ledger must still be a
    well-formed ledger of ``series`` (totals agreeing with the charges); its charges and caps are kept
    and a :class:`Review` (time, key ID, the seal's state before, note) is added, under the seal. A
    ledger whose seal already verifies is returned unchanged.
    """
    if not reviewed:
        raise LedgerError(
            f"the privacy-budget ledger {path} is sealed only after the DPO has reviewed its charges against the "
            f"releases and run reports: confirm the review to seal it"
        )
    if not note.strip():
        raise LedgerError(f"say why the privacy-budget ledger {path} is sealed (the note is kept in the ledger)")
    if not path.exists():
        raise LedgerError(f"there is no privacy-budget ledger {path} to seal")
    with _locked(path, timeout):
        found = _read(path, series)
        if found is None:
            raise LedgerError(f"there is no privacy-budget ledger {path} to seal")
        data, stored = found
        problem = key.problem(data)
        if problem is None:
            return stored
        review = Review(datetime.now(UTC).isoformat(timespec="seconds"), key.key_id, problem, note.strip())
        ledger = replace(stored, reviews=(*stored.reviews, review))
        _write_atomically(path, _sealed_text(ledger, key))
    return ledger


@contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """Hold the exclusive lock of a ledger; LedgerError if another run holds it past ``timeout``."""
    lock = lock_path(path)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, LEDGER_MODE)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LedgerError(
                        f"the privacy-budget ledger {path} is locked by another run ({lock}) for over {timeout:g} s"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step: a synced temporary file, mode 0600, renamed over it."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, LEDGER_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
