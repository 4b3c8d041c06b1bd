"""The disclosure audit of a release, from the release's files alone.

The audit plays the attacker. It reads what a recipient gets — the table CSVs, ``hierarchies.json``
and the disclosure section of ``manifest.json`` — rebuilds every relation the release states
(:mod:`anonymise.constraints`), and for every suppressed cell bounds what the attacker's two linear
programs (:mod:`anonymise.attack`) would give: feasible points of the whole release that lie its
protection width apart prove a cell protected, and a cell they do not prove gets both programs
solved exactly. A cell whose feasible interval is narrower than its protection width is a finding,
and a release with a finding is not written.

It shares no state with suppression: it never sees the unpublished values.

Statistics (``disclosure`` → table → ``statistics`` in the manifest: means, medians) are not counts:
their rows are set aside before the relations are built, and each is checked against its rule
instead (:func:`check_statistics`): a shown statistic needs every base count of its cell published
and at least ``min_n`` (and a mean must be its two published counts' quotient, as rounded), a hidden
one a blank value. A statistic shown beside a suppressed base count is a finding.

``manifest.json`` → ``disclosure``: per table ``method``, ``threshold``, ``threshold_sensitive``,
``sensitive`` (dimension → codes taking the higher threshold), ``universe``, ``at_most``
(measure → the measure it never exceeds) and ``statistics`` (name → kind, base counts, rule).
``hierarchies.json``: per table and dimension ``additive`` and ``parent`` (child code → parent code,
top level → ``_T``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.attack import intervals
from anonymise.constraints import DimMeta, TableMeta, cell_dict, system
from anonymise.tables import Statistic

HIERARCHIES = "hierarchies.json"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class AuditFinding:
    """A suppressed cell the published values confine to an interval narrower than it needs."""

    table: str
    cell: dict[str, str]
    lower: float
    upper: float
    width: float
    required: int

    def describe(self) -> str:
        """Return one line for a person: which cell, its interval and what it needed (no true value)."""
        where = ", ".join(f"{k}={v}" for k, v in self.cell.items() if k not in ("table",))
        return (
            f"{self.table} [{where}]: the published values confine it to [{self.lower:g}, {self.upper:g}] "
            f"(width {self.width:g}, needs {self.required})"
        )


@dataclass(frozen=True)
class StatisticFinding:
    """A statistic published against its rule (beside a suppressed base count, over too few units)."""

    table: str
    cell: dict[str, str]
    problem: str

    def describe(self) -> str:
        """Return one line for a person: which statistic of which cell, and what is wrong (no value)."""
        where = ", ".join(f"{k}={v}" for k, v in self.cell.items())
        return f"{self.table} [{where}]: {self.problem}"


@dataclass(frozen=True)
class AuditReport:
    """The audit of a release: findings, and per table the suppressed cells and narrowest interval."""

    findings: list[AuditFinding | StatisticFinding]
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Return whether every suppressed cell is protected."""
        return not self.findings


def read_release(folder: Path) -> tuple[dict[str, pl.DataFrame], dict[str, TableMeta]]:
    """Return the protected count tables of a release folder and what the release states about them."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    hierarchies = json.loads((folder / HIERARCHIES).read_text(encoding="utf-8"))
    tables: dict[str, pl.DataFrame] = {}
    metas: dict[str, TableMeta] = {}
    for tid, d in sorted(manifest.get("disclosure", {}).items()):
        if d.get("method") != "suppression":
            continue
        dims = list(hierarchies[tid])
        frame = pl.read_csv(folder / f"{tid}.csv", infer_schema=False)
        # statistics are not counts: no relation holds them, and they are checked by their rule instead
        frame = frame.filter(~pl.col("measure").is_in(sorted(d.get("statistics", {}))))
        tables[tid] = frame.with_columns(pl.col("value").cast(pl.Float64))
        metas[tid] = TableMeta(
            dims=dims,
            hierarchies={k: DimMeta.from_json(v) for k, v in hierarchies[tid].items()},
            at_most=dict(d.get("at_most", {})),
            universe=str(d["universe"]),
            threshold=int(d["threshold"]),
            threshold_sensitive=d.get("threshold_sensitive"),
            sensitive={k: list(v) for k, v in d.get("sensitive", {}).items()},
        )
    return tables, metas


def audit_tables(tables: dict[str, pl.DataFrame], metas: dict[str, TableMeta], exact: bool = False) -> AuditReport:
    """Return the audit of protected long tables (``value`` null where suppressed)."""
    if not tables:
        return AuditReport([], {})
    found = intervals(system(tables, metas), exact=exact).with_columns(
        pl.col("label").str.split(":").list.first().alias("table")
    )
    failing = found.filter(pl.col("width") < pl.col("required")).sort("cell")
    findings: list[AuditFinding | StatisticFinding] = []
    for row in failing.iter_rows(named=True):
        cell = cell_dict(row["label"])
        findings.append(
            AuditFinding(
                table=cell.pop("table"),
                cell=cell,
                lower=float(row["lower"]),
                upper=float(row["upper"]),
                width=float(row["width"]),
                required=int(row["required"]),
            )
        )
    per_table: dict[str, dict[str, Any]] = {}
    for tid in sorted(tables):
        mine = found.filter(pl.col("table") == tid)
        narrowest = mine["width"].min() if mine.height else None
        per_table[tid] = {
            "cells": tables[tid].height,
            "suppressed": mine.height,
            # a lower bound on every suppressed cell's interval width (exact where solved exactly)
            "narrowest_width": None if narrowest is None or math.isinf(float(narrowest)) else float(narrowest),  # type: ignore[arg-type]
            "solved_exactly": int(mine["exact"].sum()),
            "findings": int(mine.filter(pl.col("width") < pl.col("required")).height),
            "protection": metas[tid].threshold,
        }
    return AuditReport(findings, per_table)


def read_statistics(folder: Path) -> dict[str, tuple[pl.DataFrame, list[str], dict[str, Statistic]]]:
    """Return, per suppressed table of a release that publishes statistics, its file (as text), its
    dimensions and its statistics as the manifest states them."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    hierarchies = json.loads((folder / HIERARCHIES).read_text(encoding="utf-8"))
    out = {}
    for tid, d in sorted(manifest.get("disclosure", {}).items()):
        stats = {n: Statistic.from_manifest(n, e) for n, e in d.get("statistics", {}).items() if e.get("published")}
        if d.get("method") == "suppression" and stats:
            out[tid] = (pl.read_csv(folder / f"{tid}.csv", infer_schema=False), list(hierarchies[tid]), stats)
    return out


def check_statistics(
    table_id: str, frame: pl.DataFrame, dims: list[str], statistics: dict[str, Statistic]
) -> list[StatisticFinding]:
    """Return every statistic row of a released table (values as text) that breaks its rule.

    Shown (``F``): every base count of its cell must be published (``F``), its ``of`` count at least
    ``min_n``, and a mean must equal its published total over its published ``of``, rounded as the
    manifest states. Hidden (any other flag): no value. Only published values are read.
    """
    keys = ["period", *dims]
    findings: list[StatisticFinding] = []
    for name, s in sorted(statistics.items()):
        rows = frame.filter(pl.col("measure") == name).select(*keys, "value", "conf_status")
        for i, base in enumerate(s.bases):
            rows = rows.join(
                frame.filter(pl.col("measure") == base).select(
                    *keys, pl.col("conf_status").alias(f"_s{i}"), pl.col("value").cast(pl.Int64).alias(f"_v{i}")
                ),
                on=keys,
                how="left",
            )
        shown = pl.col("conf_status") == "F"
        checks = [
            (~shown & pl.col("value").is_not_null(), "hidden, yet a value is published"),
            (shown & pl.col("value").is_null(), "shown without a value"),
            (shown & (pl.col("_v0").fill_null(0) < s.min_n), f"shown over fewer than {s.min_n} {s.of}"),
        ]
        for i, base in enumerate(s.bases):
            checks.append(
                (shown & (pl.col(f"_s{i}").fill_null("") != "F"), f"shown although {base} of the cell is suppressed")
            )
        if s.kind == "mean":
            checks.append(
                (
                    shown & (pl.col("_v0") > 0) & (pl.col("value") != s.text("_v1", "_v0")),
                    f"not {s.total} / {s.of} of the published counts, as rounded",
                )
            )
        for test, problem in checks:
            for row in rows.filter(test.fill_null(False)).select(keys).iter_rows(named=True):
                findings.append(StatisticFinding(table_id, {**row, "measure": name}, problem))
    return findings


def audit_release(folder: str | Path, exact: bool = False) -> AuditReport:
    """Return the full audit of a release folder (findings and per-table figures)."""
    tables, metas = read_release(Path(folder))
    report = audit_tables(tables, metas, exact=exact)
    findings: list[AuditFinding | StatisticFinding] = list(report.findings)
    for tid, (frame, dims, stats) in read_statistics(Path(folder)).items():
        bad = check_statistics(tid, frame, dims, stats)
        findings.extend(bad)
        if tid in report.tables:
            report.tables[tid]["statistics"] = {
                name: {
                    "shown": frame.filter((pl.col("measure") == name) & (pl.col("conf_status") == "F")).height,
                    "hidden": frame.filter((pl.col("measure") == name) & (pl.col("conf_status") != "F")).height,
                }
                for name in sorted(stats)
            }
            report.tables[tid]["statistic_findings"] = len(bad)
    return AuditReport(findings, report.tables)


def audit(release_dir: str | Path) -> list[AuditFinding | StatisticFinding]:
    """Return every suppressed cell of a release that the attacker can narrow below its protection.

    Works from the release's files alone; an empty list means the release passes.
    """
    return audit_release(release_dir).findings
