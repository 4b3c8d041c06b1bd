"""The stages of a run as plain functions: each takes paths and returns value-free figures.

The Prefect tasks in ``flows.pipeline`` are thin wrappers around these, so every stage can be tested
and replaced without Prefect, and no personal frame ever crosses a task boundary: the check stage
writes row numbers and reasons to quarantine; the pseudonymise stage reads the inbox again, drops
those rows and writes the pseudonymised store.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from typing import Any

import polars as pl

from anonymise.audit import audit_table
from anonymise.keys import KeyStore
from anonymise.period import Period
from anonymise.policy import Policy
from anonymise.pseudonymise import DomainKeys, pseudonymise_batch
from anonymise.risk import k_anonymity
from anonymise.suppression import suppress
from anonymise.tables import T04, T11, build_t04, build_t11
from expectations.contract import ROW, EntityOutcome, cascade, validate_entity
from flows.ingest import Batch, BatchError, read_batch
from flows.workspace import Workspace
from schemas.contract import ENTITIES
from schemas.partners import PARTNERS, partner

#: Which quarantined records pull which referring rows into quarantine with them.
CASCADES = (
    ("memberships", "person_id", "persons"),
    ("cases", "child_person_id", "persons"),
    ("events", "person_id", "persons"),
    ("participations", "person_id", "persons"),
    ("events", "case_id", "cases"),
)
SPECS = {"T04": T04, "T11": T11}


def domains_for(jurisdiction: str) -> list[str]:
    """Return the key domains a jurisdiction's run needs: each partner's and the central one."""
    central = "bg-central" if jurisdiction == "bg" else "ru"
    return [f"local:{p.id}" for p in PARTNERS.values() if p.country == jurisdiction] + [central]


def domain_keys(store: KeyStore, partner_id: str) -> DomainKeys:
    """Return the keys a partner's batch is pseudonymised under."""
    local = f"local:{partner_id}"
    central = partner(partner_id).domain
    return DomainKeys(
        person=store.key(local, "person"),
        family=store.key(local, "family"),
        case=store.key(local, "case"),
        staff=store.key(local, "staff"),
        event=store.key(local, "event"),
        central_person=store.key(central, "person"),
        central_fallback=store.key(central, "fallback"),
    )


def _key_id(frame: pl.DataFrame, column: str, quarantine: pl.DataFrame) -> pl.Series:
    """Return the IDs whose every row is quarantined (an ID with an accepted row stays usable)."""
    bad = frame.filter(pl.col(ROW).is_in(quarantine[ROW].implode()))[column].drop_nulls()
    good = frame.filter(~pl.col(ROW).is_in(quarantine[ROW].implode()))[column].drop_nulls()
    return bad.filter(~bad.is_in(good.implode())).unique()


def check_batch(batch: Batch, ws: Workspace, today: date) -> dict[str, Any]:
    """Check a batch against the contract; write its quarantine; return counts per entity.

    A batch that cannot be read returns ``status: failed`` and the reading error (file, line,
    problem); nothing of it is processed further.
    """
    try:
        raw = read_batch(batch)
    except BatchError as exc:
        return {"partner": batch.partner_id, "batch": batch.batch_id, "status": "failed", "error": str(exc)}
    outcomes: dict[str, EntityOutcome] = {}
    references: dict[str, pl.Series] = {}
    for name, item in raw.items():
        entity = ENTITIES[name]
        outcomes[name] = validate_entity(entity, item.frame, references, today, item.ragged_rows)
        for f in entity.fields:
            references[f"{name}.{f.name}"] = item.frame[f.name].drop_nulls().unique()
    for name, column, parent in CASCADES:
        if name in outcomes and parent in outcomes:
            key = ENTITIES[parent].key or column
            gone = _key_id(raw[parent].frame, key, outcomes[parent].quarantine)
            outcomes[name] = cascade(outcomes[name], raw[name].frame, column, gone)
    folder = ws.quarantine(batch.partner_id, batch.batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    entities: dict[str, Any] = {}
    for name, outcome in outcomes.items():
        outcome.quarantine.with_columns(pl.col("reasons").list.join(";")).write_csv(folder / f"{name}.csv")
        reasons = (
            outcome.quarantine.explode("reasons").group_by("reasons").len().sort("reasons").rows()
            if outcome.quarantined
            else []
        )
        entities[name] = {
            "file": raw[name].file.name,
            "sha256": raw[name].sha256,
            "received": outcome.received,
            "accepted": outcome.accepted,
            "quarantined": outcome.quarantined,
            "reasons": {r: int(n) for r, n in reasons},
            "completeness": outcome.completeness,
            "declined": outcome.declined,
            "extra_columns": raw[name].extra_columns,
            "expectations": outcome.expectations,
        }
    summary = {"partner": batch.partner_id, "batch": batch.batch_id, "status": "checked", "entities": entities}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True))
    return summary


def pseudonymise_stage(batch: Batch, ws: Workspace, period: Period, jurisdiction: str) -> dict[str, Any]:
    """Pseudonymise a checked batch's accepted rows into the store; return linkage and scan figures."""
    keys = KeyStore.open(ws.keys, domains_for(jurisdiction))
    raw = read_batch(batch)
    qfolder = ws.quarantine(batch.partner_id, batch.batch_id)
    accepted: dict[str, pl.DataFrame] = {}
    for name, item in raw.items():
        rejected = pl.read_csv(qfolder / f"{name}.csv", schema_overrides={ROW: pl.Int64}).get_column(ROW)
        accepted[name] = item.frame.filter(~pl.col(ROW).is_in(rejected.implode())).drop(ROW, "_line")
    result = pseudonymise_batch(
        accepted,
        domain_keys(keys, batch.partner_id),
        batch.partner_id,
        period.end,
        national_citizenship=partner(batch.partner_id).country,
    )
    out = ws.store(jurisdiction, period.label) / batch.partner_id / batch.batch_id
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in result.frames.items():
        frame.write_parquet(out / f"{name}.parquet", statistics=False)
    return {
        "partner": batch.partner_id,
        "batch": batch.batch_id,
        "store": str(out),
        "rows": {n: f.height for n, f in result.frames.items()},
        "linkage": result.linkage,
        "text_scan": result.text_scan,
    }


def read_store(ws: Workspace, jurisdiction: str, period: Period, entity: str, batches: list[str]) -> pl.DataFrame:
    """Return one entity of the store for the given ``partner/batch`` keys, concatenated."""
    root = ws.store(jurisdiction, period.label)
    files = [root / key / f"{entity}.parquet" for key in sorted(batches)]
    files = [f for f in files if f.exists()]
    if not files:
        raise FileNotFoundError(f"the store has no {entity} for {period.label}")
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def aggregate_stage(
    ws: Workspace, jurisdiction: str, period: Period, batches: list[str], quality: list[dict[str, Any]], run_id: str
) -> dict[str, Any]:
    """Build the release tables from the store and write them (unprotected) to the run's scratch."""
    work = ws.work(run_id) / "tables"
    work.mkdir(parents=True, exist_ok=True)
    persons = read_store(ws, jurisdiction, period, "persons", batches)
    events = read_store(ws, jurisdiction, period, "events", batches)
    order = [p.id for p in PARTNERS.values()]
    if jurisdiction == "bg":
        build_t04(persons, events, period, order).write_parquet(work / "T04.parquet")
    build_t11(quality, period).write_parquet(work / "T11.parquet")
    partners_per_person = events.group_by("person_cid").agg(pl.col("partner_id").n_unique().alias("n"))
    qi = ["age_band", "sex", "nuts3", "citizenship_group"]
    people = persons.unique("person_cid", keep="first")
    return {
        "tables": ["T04", "T11"] if jurisdiction == "bg" else ["T11"],
        "national": {
            "unique_persons": int(persons["person_cid"].n_unique()),
            "person_records": persons.height,
            "linked_across_partners": int((partners_per_person["n"] > 1).sum()),
        },
        "risk": {"quasi_identifiers": qi, **k_anonymity(people, qi)},
    }


def tables_for(policy: Policy, jurisdiction: str) -> list[str]:
    """Return the tables a jurisdiction's release holds (T04 is Bulgarian; T12 comes with issue 5)."""
    return [t for t in policy.tables if jurisdiction == "bg" or t != "T04"]


def protect_stage(ws: Workspace, run_id: str, policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Suppress small cells of each count table and write the protected tables to scratch."""
    work = ws.work(run_id)
    out = work / "protected"
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    for table_id in tables:
        table = pl.read_parquet(work / "tables" / f"{table_id}.parquet")
        spec = SPECS[table_id]
        if spec.threshold is None:
            table.write_parquet(out / f"{table_id}.parquet")
            figures[table_id] = {"cells": table.height, "primary": 0, "secondary": 0, "threshold": None}
            continue
        protected, summary = suppress(table, spec, policy.threshold)
        protected.write_parquet(out / f"{table_id}.parquet")
        figures[table_id] = {
            "cells": summary.cells,
            "primary": summary.primary,
            "secondary": summary.secondary,
            "rounds": summary.rounds,
            "threshold": summary.threshold,
        }
    return figures


def audit_stage(ws: Workspace, run_id: str, policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Audit every protected count table from its published values; report findings per table."""
    out: dict[str, Any] = {}
    for table_id in tables:
        spec = SPECS[table_id]
        if spec.threshold is None:
            out[table_id] = {"passed": True, "suppressed": 0, "narrowest_width": None, "findings": []}
            continue
        table = pl.read_parquet(ws.work(run_id) / "protected" / f"{table_id}.parquet")
        result = audit_table(table_id, table, list(spec.dimensions), set(spec.additive), policy.threshold)
        out[table_id] = {
            "passed": result.passed,
            "suppressed": result.suppressed,
            "narrowest_width": result.narrowest_width,
            "findings": [f.__dict__ for f in result.findings[:50]],
            "failing_cells": len(result.findings),
        }
    return out


def clean_work(ws: Workspace, run_id: str) -> None:
    """Delete a run's scratch folder."""
    shutil.rmtree(ws.work(run_id), ignore_errors=True)
    parent = ws.root / "work"
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
