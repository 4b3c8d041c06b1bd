"""The stages of a run as plain functions: each takes paths and returns value-free figures.

The Prefect tasks in ``flows.pipeline`` are thin wrappers around these, so every stage can be tested
and replaced without Prefect, and no personal frame ever crosses a task boundary: the check stage
writes row numbers and reasons to quarantine; the pseudonymise stage reads the inbox again, drops
those rows and writes the pseudonymised store.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.auditing import HIERARCHIES, audit_release, read_release
from anonymise.cellkey import perturb_cells, ptable, table_cell_keys
from anonymise.constraints import required_expr
from anonymise.dp import (
    COMPOSITION,
    LEDGER_PURPOSE,
    BudgetExceeded,
    BudgetLedger,
    LedgerError,
    LedgerKey,
    publish_ledger,
    published_cells,
    read_ledger,
    release_tables,
    reserve_ledger,
)
from anonymise.groups import FULL, NONE, ZERO_POPULATION_MULTIPLE, group_disclosure, with_cells
from anonymise.history import by_table, held, period_bounds, small_differences
from anonymise.identifiers import invalid_reason, unusable_identifiers
from anonymise.leaks import (
    cells_equal_to,
    clear_values,
    fingerprints,
    key_material_hits,
    strings_with_clear_values,
    strings_with_identifiers,
)
from anonymise.ministry import BUILDERS, ROWS, SPECS, Store, tabulate
from anonymise.period import Period
from anonymise.perturbed import at_most_of, broken_relations, relations
from anonymise.policy import Policy
from anonymise.pseudonymise import DomainKeys, pseudonymise_batch
from anonymise.risk import assess, k_anonymity
from anonymise.suppression import protect, statistic_figures, table_meta, with_statistics
from anonymise.tables import TOTAL, build_t11, statistic_cells
from anonymise.treatments import apply_to_store, policy_drops, without_fields
from expectations.contract import ROW, EntityOutcome, cascade, validate_entity
from flows.erasure import erase_from_store, load_register
from flows.ingest import Batch, BatchError, read_batch
from flows.keystore import KeyStore, KeyStoreError, open_store
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
#: The direct identifiers whose clear values must never reappear in the store.
DIRECT_IDENTIFIERS = {
    name: [f.name for f in entity.fields if f.field_class == "DI"] for name, entity in ENTITIES.items()
}


class LeakFound(RuntimeError):
    """A clear identifier or key was found where it must not be; the message holds counts only."""


def key_scan_stage(ws: Workspace, keys: KeyStore, paths: list[Path]) -> dict[str, Any]:
    """Return how many written files contain key material (must be 0), scanning every file under paths."""
    files = [f for p in paths if p.exists() for f in ([p] if p.is_file() else sorted(p.rglob("*"))) if f.is_file()]
    files = [f for f in files if not f.resolve().is_relative_to(ws.keys.resolve())]
    material = keys.material()
    hits = sum(key_material_hits([f.read_bytes()], material) for f in files)
    return {"files_scanned": len(files), "files_with_key_material": hits}


def central_domain(jurisdiction: str) -> str:
    """Return the domain a jurisdiction's persons are linked in (the partner registry's domain)."""
    return next(p.domain for p in PARTNERS.values() if p.country == jurisdiction)


def domains_for(jurisdiction: str) -> list[str]:
    """Return the key domains a jurisdiction's run needs: each partner's and the central one."""
    local = [f"local:{p.id}" for p in PARTNERS.values() if p.country == jurisdiction]
    return local + [central_domain(jurisdiction)]


def domain_keys(store: KeyStore, partner_id: str, generations: dict[str, int] | None = None) -> DomainKeys:
    """Return the keys a partner's batch is pseudonymised under (current generations unless given)."""
    local = f"local:{partner_id}"
    central = partner(partner_id).domain
    gens = generations or {}
    return DomainKeys(
        person=store.key(local, "person", gens.get(local)),
        family=store.key(local, "family", gens.get(local)),
        case=store.key(local, "case", gens.get(local)),
        staff=store.key(local, "staff", gens.get(local)),
        event=store.key(local, "event", gens.get(local)),
        central_person=store.key(central, "person", gens.get(central)),
        central_fallback=store.key(central, "fallback", gens.get(central)),
    )


STORE_KEYS = "_keys.json"


def store_key_record(store: KeyStore, partner_id: str, generations: dict[str, int] | None = None) -> dict[str, Any]:
    """Return the key IDs, generations and fingerprints a batch's store files are made under."""
    gens = generations or {}
    record = {}
    for domain in (f"local:{partner_id}", partner(partner_id).domain):
        gen = gens.get(domain, store.generation(domain))
        record[domain] = {
            "key_id": store.key_id(domain, gen),
            "generation": gen,
            "fingerprint": store.fingerprint(domain, gen),
        }
    return record


def write_store_keys(folder: Path, store: KeyStore, partner_id: str, generations: dict[str, int] | None = None) -> None:
    """Record in a store folder which key generations made its pseudonyms."""
    record = store_key_record(store, partner_id, generations)
    (folder / STORE_KEYS).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", "utf-8")


def store_folders(ws: Workspace, jurisdiction: str) -> list[Path]:
    """Return every batch folder of a jurisdiction's store, of every period (``<period>/<partner>/<batch>``)."""
    root = ws.root / "store" / jurisdiction
    return sorted(f for f in root.glob("*/*/*") if f.is_dir()) if root.exists() else []


def _recorded_generation(domain: str, item: dict[str, Any]) -> int | None:
    """Return the generation a store record names for a domain (None if it names none of that domain)."""
    key_id = str(item.get("key_id", ""))
    name, _, gen = key_id.rpartition("#")
    if name != domain or not gen.isdigit():
        return None
    return int(gen)


def store_key_problem(folder: Path, store: KeyStore, partner_id: str) -> str | None:
    """Return why a store folder cannot be added to with this key store's current keys (None: it can).

    A folder must have been made with the current generation of each of its domains, with the same
    secret (fingerprint): another key of the same ID, an unknown ID, an older (or destroyed) or newer
    generation would give its persons other pseudonyms than this run's, and linkage would end silently.
    """
    path = folder / STORE_KEYS
    period = folder.parent.parent.name
    again = f"move the folder out of the store and run period {period} again from the inbox"
    if not path.exists():
        if not any(folder.glob("*.parquet")):
            return None
        return f"store folder {folder} does not record which keys made its pseudonyms (no {STORE_KEYS}): {again}"
    try:
        made = json.loads(path.read_text("utf-8"))
    except ValueError:
        made = None
    if not isinstance(made, dict):
        return f"{path} is not a record of keys: {again}"
    central = PARTNERS[partner_id].domain if partner_id in PARTNERS else None
    expected = [f"local:{partner_id}"] + ([central] if central else [])
    for domain in expected + sorted(set(made) - set(expected)):
        item = made.get(domain)
        if not isinstance(item, dict):
            return f"store folder {folder} records no key for {domain}: {again}"
        gen = _recorded_generation(domain, item)
        if gen is None:
            return f"store folder {folder} records key {item.get('key_id')!r} for {domain}: {again}"
        made_with = f"{domain}#{gen} (fingerprint {item.get('fingerprint')})"
        if domain not in store.domains():
            return (
                f"store folder {folder} was made with {made_with}, but {store.source} has no key for {domain}: "
                f"use the key store the store was made with"
            )
        in_use = f"{store.key_id(domain)} (fingerprint {store.fingerprint(domain)})"
        state = store.state(domain, gen)
        if state in ("current", "retired") and item.get("fingerprint") == store.fingerprint(domain, gen):
            if state == "current":
                continue
            why = (
                f"{domain} was rotated to {store.key_id(domain)} and this folder was not re-keyed"
                if gen < store.generation(domain)
                else f"{domain}#{gen} is not the current generation (an unfinished rotation?)"
            )
            todo = again
        elif state in ("current", "retired"):
            why = (
                f"{store.source} holds another key with the ID {domain}#{gen} (the key store was made anew, "
                "or is another workspace's)"
            )
            todo = (
                "use the key store (or ZAKRILA_MASTER_KEYS) the store was made with; new keys would start "
                "new pseudonyms that never link to the old ones"
            )
        elif state == "destroyed":
            why = f"{domain}#{gen} was destroyed, so its pseudonyms can no longer be made or linked"
            todo = again
        else:
            why = f"{store.source} does not hold {domain}#{gen}"
            todo = f"use the key store (or ZAKRILA_MASTER_KEYS) that holds {domain}#{gen}"
        return f"store folder {folder} was made with {made_with}, but the key in use is {in_use}: {why}; {todo}"
    return None


def check_store_keys(folder: Path, store: KeyStore, partner_id: str) -> None:
    """Raise KeyStoreError if an existing store folder was not made with this key store's current keys."""
    problem = store_key_problem(folder, store, partner_id)
    if problem:
        raise KeyStoreError(problem)


def check_store(ws: Workspace, store: KeyStore, jurisdiction: str) -> None:
    """Raise KeyStoreError if any store folder of the jurisdiction (every period and partner) was made
    with other keys than this key store's current ones; the message names the first and counts the rest.
    """
    problems = [p for f in store_folders(ws, jurisdiction) if (p := store_key_problem(f, store, f.parent.name))]
    if problems:
        more = f" (and {len(problems) - 1} more store folders)" if len(problems) > 1 else ""
        raise KeyStoreError(f"{problems[0]}{more}")


def check_run_keys(ws: Workspace, store: KeyStore, jurisdiction: str) -> None:
    """Refuse a run, before it reads anything, whose keys cannot continue the store or sign a release.

    The store's current keys for every domain of the jurisdiction, the release-signing key, and the
    keys that made every folder of the jurisdiction's store, in every period.
    """
    store.require(domains_for(jurisdiction))
    store.require_signing()
    check_store(ws, store, jurisdiction)


def _wholly_quarantined_ids(frame: pl.DataFrame, column: str, quarantine: pl.DataFrame) -> pl.Series:
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
        outcomes[name] = validate_entity(entity, item.frame, references, today, invalid_reason, item.ragged_rows)
        for f in entity.fields:
            references[f"{name}.{f.name}"] = item.frame[f.name].drop_nulls().unique()
    for name, column, parent in CASCADES:
        if name in outcomes and parent in outcomes:
            key = ENTITIES[parent].key or column
            gone = _wholly_quarantined_ids(raw[parent].frame, key, outcomes[parent].quarantine)
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
            "extra_column_findings": _discover_extras(raw[name], partner(batch.partner_id).country),
            "expectations": outcome.expectations,
        }
    summary = {"partner": batch.partner_id, "batch": batch.batch_id, "status": "checked", "entities": entities}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, sort_keys=True))
    return summary


def _discover_extras(raw: Any, language: str) -> list[dict[str, Any]]:
    """Return what the columns the contract does not know hold (kinds and shares; they are dropped)."""
    if raw.extra_frame is None:
        return []
    from anonymise.pii.discover import discover_frame

    findings = discover_frame(raw.extra_frame, language=language)
    return [f.to_json() | {"personal_data": f.personal, "treatment": "dropped"} for f in findings]


#: Per-run keys for the leak guard's fingerprints: in memory only, gone when the process ends, so the
#: fingerprints left in a run's scratch folder can never be matched against guesses afterwards.
_RUN_KEYS: dict[str, bytes] = {}
NAME_FIELDS = ("given_name", "middle_name", "family_name")


KEY_CHECK = "_key_check"


def run_key(run_id: str) -> bytes:
    """Return the in-memory key of a run's leak-guard fingerprints (created on first use)."""
    return _RUN_KEYS.setdefault(run_id, secrets.token_bytes(32))


def _key_check(key: bytes) -> str:
    return fingerprints(pl.Series([KEY_CHECK]), key).item()


def forget_run_key(run_id: str) -> None:
    """Drop a run's leak-guard key."""
    _RUN_KEYS.pop(run_id, None)


def _remember_fingerprints(ws: Workspace, run_id: str | None, batch: Batch, raw: dict[str, pl.DataFrame]) -> None:
    if run_id is None:
        return
    key = run_key(run_id)
    names = clear_values(raw, {"persons": list(NAME_FIELDS)})
    others = {e: [c for c in cols if c not in NAME_FIELDS] for e, cols in DIRECT_IDENTIFIERS.items()}
    prints = pl.concat([fingerprints(names, key, words=True), fingerprints(clear_values(raw, others), key)])
    folder = ws.work(run_id) / "fingerprints"
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"h": prints.unique()}).write_parquet(folder / f"{batch.partner_id}__{batch.batch_id}.parquet")
    (folder / KEY_CHECK).write_text(_key_check(key))


def leak_guard_stage(
    ws: Workspace, run_id: str, tables: list[str], report: dict[str, Any], language: str
) -> dict[str, Any]:
    """Scan every string of the release tables and the draft report; return where anything was found.

    The fingerprints can only be compared under the key that made them; if this process does not hold
    it (a task run elsewhere), the guard refuses rather than passing on no matches.
    """
    folder = ws.work(run_id) / "fingerprints"
    key = _RUN_KEYS.get(run_id)
    if key is None or not (folder / KEY_CHECK).exists() or (folder / KEY_CHECK).read_text() != _key_check(key):
        raise LeakFound("the leak guard cannot compare fingerprints: this process lacks the run's key; no release")
    strings: dict[str, str] = {}
    for table_id in tables:
        frame = pl.read_parquet(ws.work(run_id) / "protected" / f"{table_id}.parquet")
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                for i, value in enumerate(frame[column].drop_nulls().unique().sort().to_list()):
                    strings[f"{table_id}.csv: column {column} #{i}"] = value
    for path, value in _json_strings(report, "report.json"):
        strings[path] = value
    strings = {k: v for k, v in strings.items() if v}
    known = pl.concat([pl.read_parquet(f)["h"] for f in sorted(folder.glob("*.parquet"))])
    where = strings_with_clear_values(strings, known, key) + strings_with_identifiers(strings, language)
    places = sorted({w.split(" #")[0] for w in where})
    return {"strings_scanned": len(strings), "places_with_personal_data": places, "passed": not places}


def _json_strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Return (key path, string) of every string in a JSON-like value; the approved policy is skipped."""
    if isinstance(value, dict):
        return [
            item
            for k, v in value.items()
            if k != "policy_text"
            for item in _json_strings(v, f"{path}: {k}" if path.endswith(".json") else f"{path}.{k}")
        ]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _json_strings(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) else []


def pseudonymise_stage(
    batch: Batch,
    ws: Workspace,
    period: Period,
    jurisdiction: str,
    run_id: str | None = None,
    treatments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Pseudonymise a checked batch's accepted rows into the store; return linkage and scan figures.

    ``treatments`` (``entity.field`` → treatment) are those of the policy the run approved when it
    started, so that every batch of a run is treated alike; without them, the workspace's approved
    policy is read (PolicyError if it was changed and not approved again).
    """
    keys = open_store(ws.keys)
    out = ws.store(jurisdiction, period.label) / batch.partner_id / batch.batch_id
    check_store_keys(out, keys, batch.partner_id)
    treatments = store_treatments(ws) if treatments is None else treatments
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
        language=partner(batch.partner_id).country,
        keep_scrubbed_notes="scrub_then_keep" in treatments.values(),
        stand_in_key=_stand_in_key(run_id) if run_id is not None else None,
    )
    # the policy's treatments: a dropped field (or notes not kept) leaves before anything is stored
    result.frames = apply_to_store(result.frames, treatments)
    identifiers = clear_values(accepted, DIRECT_IDENTIFIERS)
    clear_hits = cells_equal_to(result.frames, identifiers)
    if clear_hits:
        raise LeakFound(f"{batch.key}: {clear_hits} pseudonymised cells equal a clear identifier; nothing was stored")
    out.mkdir(parents=True, exist_ok=True)
    write_store_keys(out, keys, batch.partner_id)  # first: a folder never holds pseudonyms of unrecorded keys
    for name, frame in result.frames.items():
        frame.write_parquet(out / f"{name}.parquet", statistics=False)
    _remember_fingerprints(ws, run_id, batch, accepted)
    _remember_pseudonyms(ws, run_id, batch, result.pairs)
    return {
        "partner": batch.partner_id,
        "batch": batch.batch_id,
        "store": str(out),
        "rows": {n: f.height for n, f in result.frames.items()},
        "linkage": result.linkage,
        "unusable_identifiers": unusable_identifiers(accepted["persons"], result.frames["persons"]["link_method"]),
        "collisions": result.collisions,
        "text_scan": result.text_scan,
        "leak_check": {"clear_values_checked": identifiers.len(), "cells_equal_to_a_clear_value": clear_hits},
    }


#: Where a run's batches leave their pseudonyms paired with input stand-ins, for the collision check.
PSEUDONYM_PAIRS = "pseudonym-pairs"


def _stand_in_key(run_id: str) -> bytes:
    """Return the key of a run's input stand-ins: derived from the run's in-memory key, gone with it."""
    import hashlib

    return hashlib.blake2b(b"zakrila-collision-stand-ins", key=run_key(run_id), digest_size=32).digest()


def _stand_in_check(key: bytes) -> str:
    import hashlib

    return hashlib.blake2b(b"zakrila-stand-in-key-check", key=key, digest_size=16).hexdigest()


def _remember_pseudonyms(ws: Workspace, run_id: str | None, batch: Batch, pairs: dict[str, pl.DataFrame]) -> None:
    """Write a batch's (pseudonym, input stand-in) pairs per domain and purpose to the run's scratch."""
    if run_id is None or not pairs:
        return
    domain = {"local": f"local:{batch.partner_id}", "central": partner(batch.partner_id).domain}
    frame = pl.concat(
        [
            f.select(
                pl.lit(domain[kind.split("/")[0]]).alias("domain"),
                pl.lit(kind.split("/")[1]).alias("purpose"),
                pl.all(),
            )
            for kind, f in sorted(pairs.items())
        ]
    )
    folder = ws.work(run_id) / PSEUDONYM_PAIRS
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{batch.partner_id}__{batch.batch_id}"
    frame.write_parquet(folder / f"{name}.parquet")
    (folder / f"{name}.check").write_text(_stand_in_check(_stand_in_key(run_id)))


def collision_stage(ws: Workspace, run_id: str) -> dict[str, Any]:
    """Count pseudonym collisions over the whole run, per domain and purpose; PseudonymCollision if any.

    Every batch left its pseudonyms paired with keyed stand-ins of their inputs (never the inputs); a
    pseudonym paired with two stand-ins was given to two distinct inputs, within a batch or across
    batches and partners, and would merge two people (families, cases, events) in every count.
    """
    from anonymise.pseudonymise import PseudonymCollision

    folder = ws.work(run_id) / PSEUDONYM_PAIRS
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    if not files:
        return {"batches": 0, "by_domain": {}, "collisions": 0}
    key = _RUN_KEYS.get(run_id)
    check = _stand_in_check(_stand_in_key(run_id)) if key is not None else None
    for f in files:
        mark = f.with_suffix(".check")
        if check is None or not mark.exists() or mark.read_text() != check:
            raise PseudonymCollision(
                "pseudonym collisions cannot be counted: this process lacks the run's key that made the batches' "
                "input stand-ins (were they pseudonymised in another process?); no release"
            )
    pairs = pl.concat([pl.read_parquet(f) for f in files]).unique()
    counted = (
        pairs.group_by("domain", "purpose")
        .agg(
            inputs=pl.col("stand_in").n_unique(),
            pseudonyms=pl.col("pseudonym").n_unique(),
            pairs=pl.len(),
        )
        .sort("domain", "purpose")
    )
    by_domain = {
        f"{r['domain']}/{r['purpose']}": {
            "inputs": r["inputs"],
            "pseudonyms": r["pseudonyms"],
            "collisions": r["pairs"] - r["pseudonyms"],
        }
        for r in counted.iter_rows(named=True)
    }
    total = sum(v["collisions"] for v in by_domain.values())
    figures = {"batches": len(files), "by_domain": by_domain, "collisions": total}
    if total:
        hit = sorted(((v["collisions"], k) for k, v in by_domain.items() if v["collisions"]), reverse=True)
        where = ", ".join(f"{k}: {n}" for n, k in hit[:4]) + (f" and {len(hit) - 4} more" if len(hit) > 4 else "")
        raise PseudonymCollision(
            f"{total} pseudonym collisions in this run ({where}): distinct inputs were given the same pseudonym "
            "and would be counted as one; no release (the pseudonyms are shorter than they must be, or the "
            "pseudonymisation is faulty: report it to the maintainers)",
            figures,
        )
    return figures


def erase_stage(ws: Workspace, jurisdiction: str, period: Period, batches: list[str]) -> dict[str, Any]:
    """Remove the subjects of the erasure register from the jurisdiction's store; return counts.

    Every period's store folders, not only this run's ``period`` and ``batches`` (which are among
    them): an erased subject leaves the whole store. The counts are of rows removed by this run, in
    total and per period (``by_period``).
    """
    folders = [f for f in store_folders(ws, jurisdiction) if (f / "persons.parquet").exists()]
    return erase_from_store(folders, load_register(ws))


def read_store(ws: Workspace, jurisdiction: str, period: Period, entity: str, batches: list[str]) -> pl.DataFrame:
    """Return one entity of the store for the given ``partner/batch`` keys, concatenated."""
    root = ws.store(jurisdiction, period.label)
    files = [root / key / f"{entity}.parquet" for key in sorted(batches)]
    files = [f for f in files if f.exists()]
    if not files:
        raise FileNotFoundError(f"the store has no {entity} for {period.label}")
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


def aggregate_stage(
    ws: Workspace,
    jurisdiction: str,
    period: Period,
    batches: list[str],
    quality: list[dict[str, Any]],
    run_id: str,
    tables: list[str],
    method: str = "suppression",
    coverage: list[dict[str, str]] | None = None,
    treatments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the release tables from the store and write them (unprotected) to the run's scratch.

    ``coverage`` lists every batch of the run with its status (read or unreadable), for T11;
    ``treatments`` are the run's (see :func:`pseudonymise_stage`; None: the approved policy's).

    The perturbative methods need more than the counts, and get it here, beside each table: the cell
    key method each cell's cell key (``cellkeys/``), differential privacy the *(person, atomic codes)*
    rows each measure counts (``rows/``), from which it bounds every person's contribution.
    """
    work = ws.work(run_id) / "tables"
    work.mkdir(parents=True, exist_ok=True)
    persons = read_store(ws, jurisdiction, period, "persons", batches)
    events = read_store(ws, jurisdiction, period, "events", batches)

    def optional(entity: str) -> pl.DataFrame | None:
        try:
            return read_store(ws, jurisdiction, period, entity, batches)
        except FileNotFoundError:
            return None

    store = Store(
        period=period,
        jurisdiction=jurisdiction,
        partner_order=[p.id for p in PARTNERS.values()],
        persons=persons,
        events=events,
        cases=optional("cases"),
        memberships=optional("memberships"),
        participations=optional("participations"),
    )
    record_key = None if method == "suppression" else record_key_of(ws, jurisdiction)
    for table_id in tables:
        if table_id not in BUILDERS:
            continue
        if record_key is None and SPECS[table_id].statistics:
            # a table's statistics (means, medians) from the rows it counts, shown after suppression
            table, rows = built_with_rows(table_id, store)
            table.write_parquet(work / f"{table_id}.parquet")
            (work.parent / "statistics").mkdir(exist_ok=True)
            statistic_cells(rows, SPECS[table_id], table).write_parquet(
                work.parent / "statistics" / f"{table_id}.parquet"
            )
            continue
        if record_key is None:
            BUILDERS[table_id](store).write_parquet(work / f"{table_id}.parquet")
            continue
        table, rows = built_with_rows(table_id, store)
        table.write_parquet(work / f"{table_id}.parquet")
        if method == "cell_key":
            (work.parent / "cellkeys").mkdir(exist_ok=True)
            cell_keys = table_cell_keys(rows, SPECS[table_id], record_key)
            cell_keys.write_parquet(work.parent / "cellkeys" / f"{table_id}.parquet")
        else:
            folder = work.parent / "rows" / table_id
            folder.mkdir(parents=True, exist_ok=True)
            for measure, frame in rows.items():
                frame.select("unit", *SPECS[table_id].dimensions).write_parquet(folder / f"{measure}.parquet")
    # a field the policy drops is not described in T11 either (its completeness, its declined rate)
    treatments = store_treatments(ws) if treatments is None else treatments
    build_t11(without_fields(quality, policy_drops(treatments)), period, coverage).write_parquet(work / "T11.parquet")
    spread = (
        persons.with_columns(pl.lit(batches[0]).alias("_b"))
        if len(batches) == 1
        else pl.concat(
            [read_store(ws, jurisdiction, period, "persons", [b]).with_columns(pl.lit(b).alias("_b")) for b in batches],
            how="diagonal_relaxed",
        )
    )
    # across batches = the same partner knows the person from more than one of its batches
    per_person = spread.group_by("person_cid").agg(pl.col("partner_id").n_unique().alias("partners"))
    repeat = spread.group_by("person_cid", "partner_id").agg(pl.col("_b").n_unique().alias("batches"))
    per_person = per_person.join(
        repeat.group_by("person_cid").agg(pl.col("batches").max()), on="person_cid", how="left"
    )
    earlier: set[str] = set()
    for other in sorted((ws.root / "store" / jurisdiction).glob("*")):
        if other.name != period.label:
            for f in other.rglob("persons.parquet"):
                earlier |= set(pl.read_parquet(f, columns=["person_cid"])["person_cid"].to_list())
    # the quasi-identifiers and sensitive fields the store holds: the policy may drop some
    qi: list[str] = [c for c in ("age_band", "sex", "nuts3", "citizenship_group") if c in persons.columns]
    people = persons.unique("person_cid", keep="first")
    sensitive: list[str] = [c for c in ("disability", "minority") if c in persons.columns]
    risk_of_store = (
        {"quasi_identifiers": qi, **k_anonymity(people, qi), **risk_figures(assess(people, qi, sensitive=sensitive))}
        if qi
        else {"quasi_identifiers": [], "note": "the policy drops every quasi-identifier of the risk measures"}
    )
    return {
        "tables": tables,
        "national": {
            "unique_persons": int(persons["person_cid"].n_unique()),
            "person_records": persons.height,
            "linked_across_partners": int((per_person["partners"] > 1).sum()),
            "linked_across_batches": int((per_person["batches"] > 1).sum()),
            "persons_by_method": dict(people.group_by("link_method").len().sort("link_method").iter_rows()),
            "new_pseudonyms": int((~per_person["person_cid"].is_in(sorted(earlier))).sum()),
            "seen_in_earlier_periods": int(per_person["person_cid"].is_in(sorted(earlier)).sum()),
        },
        "risk": risk_of_store,
    }


def record_key_of(ws: Workspace, jurisdiction: str) -> bytes:
    """Return the key of the record keys: the central domain's ``record`` purpose key.

    Under it, a unit's record key (cell key method) and the order in which a person's surplus cells
    are dropped (differential privacy) are fixed by the unit's pseudonym alone, in every run; a key
    rotation of the central domain changes them, as it changes the pseudonyms.
    """
    return open_store(ws.keys).key(central_domain(jurisdiction), "record")


def built_with_rows(table_id: str, store: Store) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Return a table and the *(unit, atomic codes)* rows it counts per measure (``ministry.ROWS``), so the
    perturbative methods start from exactly what the table counts."""
    rows = ROWS[table_id](store)
    return tabulate(rows, SPECS[table_id], store.period), rows


def risk_figures(risk: Any) -> dict[str, Any]:
    """Return the store's risk measures (sdcMicro and ARX semantics) as report figures (no records)."""
    return {
        "sdcmicro_violations": {str(k): v for k, v in risk.violations.items()},
        "expected_reidentifications": round(risk.expected_reidentifications, 3),
        "global_risk": round(risk.global_risk, 6),
        "individual_risk_max": round(float(risk.individual_risk.max() or 0.0), 6),
        "prosecutor_risk": {k: round(v, 6) for k, v in risk.prosecutor_risk.__dict__.items()},
        "journalist_risk": {k: round(v, 6) for k, v in risk.journalist_risk.__dict__.items()},
        "marketer_risk": round(risk.marketer_risk, 6),
        "sample_uniqueness": round(risk.sample_uniqueness, 6),
        "l_diversity": {
            k: {"distinct": v.distinct, "entropy": round(v.entropy, 4)} for k, v in risk.l_diversity.items()
        },
    }


def tables_for(policy: Policy, jurisdiction: str) -> list[str]:
    """Return the tables a jurisdiction's release holds: the policy's, built for that jurisdiction.

    T11 (data quality) belongs to every release; the others are built inside their own jurisdiction
    only (T12 is the Russian pilot's, never linked to Bulgarian data).
    """
    return [t for t in policy.tables if t == "T11" or (t in SPECS and SPECS[t].jurisdiction == jurisdiction)]


def store_treatments(ws: Workspace) -> dict[str, str]:
    """Return the treatment of every field under the workspace's approved policy (``entity.field`` → name).

    For a stage called on its own: what is stored is what the DPO approved, and an edited or unapproved
    policy stops the stage (PolicyError) as it stops a run.
    """
    from flows.governance import approved_policy

    return approved_policy(ws)[0].treatments


#: What suppression guarantees, as the report and the manifest state it.
SUPPRESSION_GUARANTEE = (
    "Primary: a count in 1..threshold−1 is suppressed (zeros are published). Secondary suppression covers "
    "every hierarchy level and every linked table of the release. Proof: for every suppressed cell the "
    "attacker's two linear programs (minimum and maximum of the cell, subject to every published value, every "
    "relation stated in hierarchies.json and the manifest, and non-negativity) are solved with HiGHS from the "
    "release files alone; each suppressed cell can lie anywhere in an interval at least its threshold wide "
    "(never pinned to 0 or to its value). The narrowest interval per table is shown below."
)
#: How each unit's record key is made, for the cell key method's statement.
RECORD_KEY = (
    "record key = first 32 bits of HMAC-SHA256(central 'record' key, the unit's pseudonym) / 2^32; cell key = "
    "sum of the record keys of the cell's distinct units, mod 1 (exact, in 32-bit fixed point)"
)


def cell_key_guarantee(D: int, V: float, js: int) -> str:
    """Return what the cell key method guarantees with these parameters, as report and manifest state it."""
    small = f"no count in 1..{js} is ever published; " if js else ""
    return (
        f"Every count is published with noise from the perturbation table (maximum entropy, as the ptable R "
        f"package builds it): at most ±{D}, mean 0 and variance at most {V:g} for every original count (exactly "
        f"{V:g} where the noise has room), zero stays zero, no published count is negative; {small}the noise is "
        f"chosen by the cell key, the sum of the cell's units' record keys mod 1, so the same contributors get the "
        f"same published value in every table and every release that keeps the key and the p-table. A measure "
        f"bounded by another in the same cell (new entrants at most unique persons) is published as the smaller of "
        f"its perturbed value and its bound's published value, so the bound holds; its value then depends on its "
        f"own contributors and its bound's. Published values need not add up along the hierarchies: every "
        f"margin carries its own noise and is not the sum of its published children."
    )


#: Why a perturbative method publishes no statistic (the manifest states it per statistic).
STATISTICS_NOT_PERTURBED = (
    "not published under a perturbative method: a statistic of the true counts or values would bypass the noise "
    "(the mean of the true events over the true users; a median, which tells that its count is at least min_n), "
    "and one of the perturbed counts adds nothing a reader cannot compute"
)


def disclosure_meta(policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Return the release's disclosure section: per table the method and its parameters.

    Suppression: thresholds and relations (the policy's thresholds are floors: a table whose
    specification asks for more keeps it). Cell key method: D, V, js and the p-table's hash.
    Differential privacy: the mechanism, the release's ε and δ, the contribution bounds, the series
    and its caps (what this release spent is in the manifest's ``disclosure_control``). Both
    perturbative methods state ``published_relations``: which relations the published values keep and
    which they do not (margins are not sums of their children), so that the recipient does not "fix"
    them. Every method states the measures that grow with the period and the dimensions measured at a
    date (``grows_with_period``, ``varies_with_period``): the relations between releases of the series
    that release history protects against. A table with statistics (means, medians) states each one:
    of which counts, its rule, its flags and whether the method publishes it (suppression only).
    """
    out: dict[str, Any] = {}
    for t in tables:
        spec = SPECS[t]
        if spec.threshold is None:
            out[t] = {"method": "none", "reason": "no personal data (counts of records and shares)"}
            continue
        common = {
            "universe": spec.universe,
            "at_most": {m.name: m.at_most for m in spec.measures if m.at_most},
            # what release history relies on: counts that only grow when the period does bound the same
            # cell of a sub-period (from below) or a super-period (from above), where every dimension
            # measured at a date is at its total
            "grows_with_period": [m.name for m in spec.measures if m.grows_with_period],
            "varies_with_period": [d.name for d in spec.dims if d.varies_with_period],
        }
        if spec.statistics:
            # what each statistic is and its rule; only suppression shows them
            common["statistics"] = {
                st.name: st.manifest(policy.method == "suppression", STATISTICS_NOT_PERTURBED) for st in spec.statistics
            }
        if policy.method == "cell_key" and policy.cell_key is not None:
            ck = policy.cell_key
            out[t] = {
                "method": "cell_key",
                "D": ck.D,
                "V": ck.V,
                "js": ck.js,
                "ptable_sha256": ptable(D=ck.D, V=ck.V, js=ck.js).properties()["sha256"],
                "record_key": RECORD_KEY,
                "published_relations": relations("cell_key", at_most_of(spec), D=ck.D, js=ck.js),
                **common,
            }
            continue
        if policy.method == "dp" and policy.dp is not None:
            p = policy.dp
            out[t] = {
                "method": "dp",
                "mechanism": p.mechanism,
                "epsilon_release": p.epsilon,
                "delta_release": p.delta,
                "rows_per_person": p.rows_per_person,
                "groups_per_person": p.groups_per_person,
                "series_epsilon_cap": p.series_epsilon_cap,
                "series_delta_cap": p.series_delta_cap,
                "published_relations": relations("dp", at_most_of(spec)),
                **common,
            }
            continue
        meta = table_meta(spec, policy.threshold, policy.threshold_sensitive)
        out[t] = {
            "method": "suppression",
            "threshold": meta.threshold,
            "threshold_sensitive": meta.threshold_sensitive,
            "sensitive": {k: list(v) for k, v in spec.sensitive.items()},
            **common,
        }
    return out


def hierarchies_meta(tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Return ``hierarchies.json``: per table and dimension, additivity and the child → parent map.

    T11's dimensions are flat: their parents are taken from the codes the table holds.
    """
    out: dict[str, Any] = {}
    for t, frame in sorted(tables.items()):
        spec = SPECS[t]
        if spec.threshold is not None:
            out[t] = spec.hierarchies_json()
            continue
        out[t] = {
            d: {"additive": False, "parent": {c: TOTAL for c in sorted(set(frame[d].to_list()) - {TOTAL})}}
            for d in spec.dimensions
        }
    return out


def write_draft(folder: Path, tables: dict[str, pl.DataFrame], disclosure: dict[str, Any]) -> None:
    """Write the release's files as a recipient will read them (for the audit), without signing."""
    from flows.publish import write_table_csv

    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in tables.items():
        write_table_csv(frame, folder / f"{t}.csv")
    (folder / HIERARCHIES).write_text(json.dumps(hierarchies_meta(tables), indent=1, sort_keys=True), encoding="utf-8")
    (folder / "manifest.json").write_text(
        json.dumps({"disclosure": disclosure}, indent=1, sort_keys=True), encoding="utf-8"
    )


#: The flag of a perturbed cell (SDMX-style, beside F free, C primary and D secondary confidential).
PERTURBED = "P"
#: The workspace folder of the privacy-budget ledgers, one JSON file per release series.
LEDGERS = "ledgers"


def protect_stage(
    ws: Workspace, run_id: str, policy: Policy, tables: list[str], jurisdiction: str, period: Period
) -> dict[str, Any]:
    """Apply the policy's disclosure-control method to every count table of the release; write them.

    Returns per table figures, the release-history check and ``control``: the method, its parameters,
    the figures that prove its guarantee, and ``passed``: false when a differentially private release
    would exceed its series' budget (then no noise is drawn and nothing is written) or when the cell
    key method's own checks fail; the run then writes no release.
    """
    work = ws.work(run_id)
    disclosure = disclosure_meta(policy, tables)
    count_tables = [t for t in tables if disclosure[t]["method"] != "none"]
    if policy.method == "dp":
        protected, figures, control = _release_with_dp(ws, run_id, policy, count_tables, jurisdiction, period)
        if not control["passed"]:
            return {"tables": {}, "history": _history_by_perturbation(jurisdiction, policy.method), "control": control}
    else:
        counted = {t: pl.read_parquet(work / "tables" / f"{t}.parquet") for t in count_tables}
        if policy.method != "cell_key":
            return _suppress(ws, work, policy, tables, counted, disclosure, jurisdiction, period)
        protected, figures, control = _perturb_with_cell_keys(work, policy, counted)
    _write_protected(work, tables, protected, figures, disclosure)
    return {"tables": figures, "history": _history_by_perturbation(jurisdiction, policy.method), "control": control}


def _write_protected(
    work: Path,
    tables: list[str],
    protected: dict[str, pl.DataFrame],
    figures: dict[str, Any],
    disclosure: dict[str, Any],
) -> None:
    """Write the protected tables (tables without personal data as built) and the draft release."""
    out = work / "protected"
    out.mkdir(parents=True, exist_ok=True)
    for t in tables:
        frame = protected.get(t)
        if frame is None:
            frame = pl.read_parquet(work / "tables" / f"{t}.parquet")
            figures[t] = {"cells": frame.height, "primary": 0, "secondary": 0, "threshold": None}
        frame.write_parquet(out / f"{t}.parquet")
        protected[t] = frame
    write_draft(work / "draft", protected, disclosure)


def _history_by_perturbation(jurisdiction: str, method: str) -> dict[str, Any]:
    """Return the release-history entry of a perturbed release: differences are noisy, not compared."""
    how = {
        "cell_key": "the same contributors publish the same value in every release, and a difference of two "
        "releases is a difference of two noisy values",
        "dp": "every release of the series is charged to its privacy-budget ledger, so the guarantee covers "
        "all of them together",
    }[method]
    return {"series": jurisdiction, "compared": [], "not_needed": how, "violations": [], "passed": True}


def _perturb_with_cell_keys(
    work: Path, policy: Policy, counted: dict[str, pl.DataFrame]
) -> tuple[dict[str, pl.DataFrame], dict[str, Any], dict[str, Any]]:
    """Return the tables published with the cell key method, per table figures, and the method's proof."""
    if policy.cell_key is None:
        raise ValueError("the policy's cell key method has no [disclosure.cell_key] parameters")
    params = policy.cell_key
    table = ptable(D=params.D, V=params.V, js=params.js)
    protected: dict[str, pl.DataFrame] = {}
    figures: dict[str, Any] = {}
    keyed = []
    broken: dict[str, dict[str, int]] = {}
    for t, frame in counted.items():
        keys = [*SPECS[t].dimensions, "measure"]
        cells = frame.join(
            pl.read_parquet(work / "cellkeys" / f"{t}.parquet"), on=keys, how="left", maintain_order="left"
        )
        # a cell `long` made explicit holds no unit: count 0, and a zero is never perturbed
        cells = cells.with_columns(pl.col("count").fill_null(0), pl.col("cell_key").fill_null(0.0))
        if cells.filter(pl.col("count") != pl.col("value")).height:
            raise RuntimeError(f"{t}: the cell keys were not made from the rows the table counts")
        cells = perturb_cells(cells, SPECS[t], table, count="value")
        deviation = (cells["published"] - cells["value"]).abs()
        figures[t] = {
            "cells": cells.height,
            "perturbed": cells.height,
            "changed": int((deviation > 0).sum()),
            "largest_deviation": max(deviation.to_list(), default=0),
            "D": params.D,
            "V": params.V,
            "js": params.js,
            "clamped_to_at_most": int((cells["published"] != cells["perturbed"]).sum()),
        }
        cell = [c for c in ("period", *SPECS[t].dimensions) if c in cells.columns]
        broken[t] = broken_relations(cells, at_most_of(SPECS[t]), cell, "published")
        bounded = pl.col("measure").is_in(list(at_most_of(SPECS[t])))
        keyed.append(
            cells.select("value", "cell_key", "perturbed", pl.when(~bounded).then(pl.col("published")).alias("free"))
        )
        protected[t] = cells.select(
            *[pl.col("published").alias(c) if c == "value" else pl.col(c) for c in frame.columns],
            pl.lit(PERTURBED).alias("conf_status"),
        )
    # same contributors (count and cell key): one noise everywhere, and one published value for every
    # measure without an at_most bound (a bounded one also depends on its bound's contributors)
    every = pl.concat(keyed) if keyed else pl.DataFrame({"value": [], "cell_key": [], "perturbed": [], "free": []})
    consistent = every.group_by("value", "cell_key").agg(
        pl.col("perturbed").n_unique().alias("noise"), pl.col("free").drop_nulls().n_unique().alias("published")
    )
    properties = table.properties()
    checks = {
        "mean_zero": all(abs(row.mean) < 1e-6 for row in table.rows),
        "variance_at_most_V": all(row.variance <= params.V + 1e-6 for row in table.rows),
        "deviation_at_most_D": all(f["largest_deviation"] <= params.D for f in figures.values()),
        "same_contributors_same_value": consistent.filter((pl.col("noise") > 1) | (pl.col("published") > 1)).is_empty(),
        "relations_hold": not any(n for b in broken.values() for n in b.values()),
    }
    control = {
        "method": "cell_key",
        "parameters": {"D": params.D, "V": params.V, "js": params.js},
        "ptable": properties,
        "record_key": RECORD_KEY,
        "checks": checks,
        "passed": all(checks.values()),
        "guarantee": cell_key_guarantee(params.D, params.V, params.js),
        "relations": {t: relations("cell_key", at_most_of(SPECS[t]), D=params.D, js=params.js) for t in counted},
    }
    if not control["passed"]:
        control["problem"] = "cell key method: " + ", ".join(k for k, ok in checks.items() if not ok) + " failed"
    return protected, figures, control


def ledger_path(ws: Workspace, series: str) -> Path:
    """Return the ledger file of a release series (``ledgers/<series>.json``; its lock file beside it)."""
    return ws.root / LEDGERS / f"{series}.json"


def ledger_key(ws: Workspace, series: str) -> LedgerKey:
    """Return the keys that seal a series' ledger, from the key store the run opens.

    The ``dp-ledger`` purpose key of the series' central domain (``bg-central`` for ``bg``, ``ru`` for
    ``ru``): the current generation seals, every generation still held verifies, so a key rotation
    does not break a ledger's seal (its next charge seals it under the new generation). A destroyed
    generation's seal cannot be verified: the DPO re-seals after review (``zakrila ledger seal``).
    """
    store = open_store(ws.keys)
    domain = central_domain(series)
    info = store.info(domain)
    generations = [info.generation, *info.retired_generations]
    keys = {store.key_id(domain, g): store.key(domain, LEDGER_PURPOSE, g) for g in generations}
    return LedgerKey(store.key_id(domain), keys)


def budget_ledger(ws: Workspace, series: str, epsilon_cap: float, delta_cap: float) -> BudgetLedger:
    """Return the privacy-budget ledger of a release series, under the caps the policy in force sets.

    The ledger (``ledgers/<series>.json`` in the workspace) holds release and run IDs and the ε and δ
    each spent — no data — sealed with the series' ledger key (:func:`ledger_key`). The caps come from
    the approved policy, not from the file: a DPO who lowers them blocks further releases of a series
    that has spent more. ``LedgerError`` naming the file if it is corrupt, unsealed or does not match
    its seal, or if a differentially private release of the series in ``releases/`` is not charged in
    it as published (the ledger was reset, replaced or edited): a ledger is never silently reset.
    """
    path = ledger_path(ws, series)
    ledger = read_ledger(path, series, epsilon_cap, delta_cap, key=ledger_key(ws, series))
    charged = {c.release_id for c in ledger.charges if c.status == "published"}
    missing = [rid for rid in _dp_releases(ws, series) if rid not in charged]
    if missing:
        raise LedgerError(
            f"the privacy-budget ledger {path} does not charge the differentially private release(s) "
            f"{', '.join(missing)} of series {series!r} in {ws.releases}: it was reset, replaced or edited. "
            f"No release of the series is possible until the DPO restores it"
        )
    return ledger


def _dp_releases(ws: Workspace, series: str) -> list[str]:
    """Return the IDs of the series' releases in the workspace that were published with differential privacy."""
    out = []
    for manifest in sorted(ws.releases.glob("*/manifest.json")) if ws.releases.exists() else []:
        try:
            meta = json.loads(manifest.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # not a release this check can read; verify_release judges it
        control = meta.get("disclosure_control") if isinstance(meta, dict) else None
        if meta.get("jurisdiction") == series and isinstance(control, dict) and control.get("method") == "dp":
            out.append(str(meta.get("release_id", manifest.parent.name)))
    return out


def publish_charge(
    ws: Workspace, policy: Policy, series: str, run_id: str, release: str, epsilon: float, delta: float
) -> dict[str, Any]:
    """Mark the charge a run reserved before drawing its noise as published under its release ID; write
    the ledger and return it as the report prints it.

    Nothing is charged again: the ε and δ were charged when the run reserved them
    (:func:`_release_with_dp`), and they must be what the run's measurement spent. ``LedgerError`` if
    the ledger cannot be trusted, the run reserved nothing or its charge is already published (a
    release is published once, a rerun is a new run with its own charge). Called before the release
    is written, so a release is never out without its published charge.
    """
    if policy.dp is None:
        raise ValueError("the policy sets no [disclosure.dp] budget")
    caps = policy.dp.series_epsilon_cap, policy.dp.series_delta_cap
    path, key = ledger_path(ws, series), ledger_key(ws, series)
    before = budget_ledger(ws, series, *caps)  # refuse a reset or corrupt ledger before taking the lock
    reserved = [c for c in before.charges if c.run_id == run_id]
    if reserved and (reserved[0].epsilon, reserved[0].delta) != (epsilon, delta):
        raise LedgerError(
            f"the privacy-budget ledger {path} reserves ε={reserved[0].epsilon:g}, δ={reserved[0].delta:g} for run "
            f"{run_id!r}, but the run's release spent ε={epsilon:g}, δ={delta:g}"
        )
    ledger = publish_ledger(path, series, *caps, run_id, release, key=key)
    data: dict[str, Any] = json.loads(ledger.to_json())
    return data


def _release_with_dp(
    ws: Workspace, run_id: str, policy: Policy, count_tables: list[str], series: str, period: Period
) -> tuple[dict[str, pl.DataFrame], dict[str, Any], dict[str, Any]]:
    """Return the tables published with differential privacy, per table figures, and the method's proof.

    Reserve, then draw: the series' budget is checked first with the ε and δ the policy allows one
    release (a release that could exceed the cap is refused at once); then, once the measurement is
    calibrated and before any noise is drawn, the exact ε and δ it spends are reserved for this run
    in the ledger, under its lock (:func:`anonymise.dp.reserve_ledger`). A run that loses the race for
    the last budget is refused there, with no noise drawn. The reservation is spent from then on:
    if the run fails later (audit, leak guard, publication), its budget stays charged, as a
    ``"reserved"`` charge naming the run, and the report's series figures include it. At publication
    the charge is marked published with the release ID (:func:`publish_charge`).
    """
    if policy.dp is None:
        raise ValueError("the policy's differential privacy has no [disclosure.dp] parameters")
    p = policy.dp
    caps = p.series_epsilon_cap, p.series_delta_cap
    try:
        ledger = budget_ledger(ws, series, *caps)
        key = ledger_key(ws, series)
    except LedgerError as error:
        problem = f"{error}; no noise was drawn"
        return {}, {}, {"method": "dp", "series": series, "passed": False, "problem": problem}
    control: dict[str, Any] = {
        "method": "dp",
        "parameters": {
            "mechanism": p.mechanism,
            "epsilon": p.epsilon,
            "delta": p.delta,
            "rows_per_person": p.rows_per_person,
            "groups_per_person": p.groups_per_person,
        },
        "series": series,
        "composition": COMPOSITION,
        "series_epsilon_cap": p.series_epsilon_cap,
        "series_delta_cap": p.series_delta_cap,
        "series_epsilon_spent_before": ledger.epsilon_spent,
        "series_delta_spent_before": ledger.delta_spent,
        "series_epsilon_remaining_before": ledger.epsilon_remaining,
        "series_delta_remaining_before": ledger.delta_remaining,
        "releases_before": len(ledger.charges),
    }
    try:
        ledger.reserve(run_id, p.epsilon, p.delta)
    except BudgetExceeded:
        problem = (
            f"privacy budget of series {series!r} exceeded: a release may spend ε={p.epsilon:g}, δ={p.delta:g} and "
            f"the series has spent ε={ledger.epsilon_spent:g}, δ={ledger.delta_spent:g} of its cap "
            f"ε={p.series_epsilon_cap:g}, δ={p.series_delta_cap:g} in {len(ledger.charges)} releases; no noise was "
            f"drawn (the DPO may approve a policy with a smaller epsilon or a higher cap)"
        )
        return {}, {}, control | {"passed": False, "problem": problem}
    except ValueError as error:  # this run already holds a charge: never charged twice
        return {}, {}, control | {"passed": False, "problem": f"{error}; no noise was drawn"}
    work = ws.work(run_id)
    rows = {
        t: {m: pl.read_parquet(work / "rows" / t / f"{m}.parquet") for m in SPECS[t].measure_names}
        for t in count_tables
    }
    reserved: list[BudgetLedger] = []

    def reserve(epsilon: float, delta: float) -> None:
        reserved.append(reserve_ledger(ledger_path(ws, series), series, *caps, run_id, epsilon, delta, key=key))

    try:
        result = release_tables(
            rows,
            SPECS,
            p.epsilon,
            record_key_of(ws, series),
            p.delta,
            p.groups_per_person,
            p.mechanism,  # type: ignore[arg-type]
            before_noise=reserve,
        )
    except BudgetExceeded as error:
        problem = (
            f"privacy budget of series {series!r} exceeded when this run came to reserve it (another run spent it "
            f"meanwhile): {error}; no noise was drawn"
        )
        return {}, {}, control | {"passed": False, "problem": problem}
    except LedgerError as error:
        return {}, {}, control | {"passed": False, "problem": f"{error}; no noise was drawn"}
    spent = reserved[-1]
    protected: dict[str, pl.DataFrame] = {}
    figures: dict[str, Any] = {}
    for t, table in result.tables.items():
        protected[t] = table.select(
            pl.lit(period.label).alias("period"), pl.all(), pl.lit(PERTURBED).alias("conf_status")
        )
        figures[t] = {"cells": table.height, "perturbed": table.height, "public_cells": table.height}
    control |= {
        "passed": True,
        "epsilon": result.epsilon,
        "delta": result.delta,
        "rho": result.rho,
        "scale": result.scale,
        "sensitivity": result.sensitivity,
        "accuracy": result.accuracy,
        "alpha": result.alpha,
        "levels": result.levels,
        "cells": result.cells,
        # after this run's reservation: spent whether or not the release is then published
        "series_epsilon_spent": spent.epsilon_spent,
        "series_delta_spent": spent.delta_spent,
        "series_epsilon_remaining": spent.epsilon_remaining,
        "series_delta_remaining": spent.delta_remaining,
        "noise_by_measure": result.noise_by_measure(),
        "relations": {t: relations("dp", at_most_of(SPECS[t])) for t in result.tables},
        "guarantee": result.statement(),
    }
    return protected, figures, control


def _suppress(
    ws: Workspace,
    work: Path,
    policy: Policy,
    tables: list[str],
    counted: dict[str, pl.DataFrame],
    disclosure: dict[str, Any],
    jurisdiction: str,
    period: Period,
) -> dict[str, Any]:
    """Suppress the count tables of the release together (linked tables share cells) and write them.

    Cells whose difference from an earlier release of the series would reveal a small group are
    protected as primary; afterwards no published cell may still differ that little (``history``).
    Values an earlier release published for a sub-period (super-period) of a count that grows with
    the period bound this release's cells (:func:`anonymise.history.period_bounds`): the attacker's
    programs in suppression include those the true values satisfy (``history.bounds_used``; those an
    erasure or late data breaks are counted as ``bounds_not_held`` and left out).
    So are the cells of a table declaring a group scan that reveal all or none of a population to be
    in a sensitive group (:mod:`anonymise.groups`); the table's figures count them.
    """
    figures: dict[str, Any] = {}
    protected: dict[str, pl.DataFrame] = {}
    earlier_periods = earlier_releases_with_periods(ws, jurisdiction, period)
    earlier = {rid: tables for rid, (_, tables) in earlier_periods.items()}
    metas = {t: table_meta(SPECS[t], policy.threshold, policy.threshold_sensitive) for t in counted}
    dims = {t: list(SPECS[t].dimensions) for t in counted}
    required = {t: required_expr(m) for t, m in metas.items()}
    # cells revealing that all or none of a population is in a sensitive group; a flagged zero the
    # table leaves out (absent means zero) becomes a row, so that it can carry its suppression
    grouped = {
        t: group_disclosure(frame, SPECS[t], threshold=metas[t].threshold)
        for t, frame in counted.items()
        if SPECS[t].group_scan is not None
    }
    counted = {t: with_cells(frame, grouped[t], SPECS[t]) if t in grouped else frame for t, frame in counted.items()}
    risky = [small_differences(counted, old, dims, required) for old in earlier.values()]
    also = {
        t: pl.concat([r.filter(pl.col("table") == t) for r in risky], how="diagonal")
        for t in counted
        if any(r.filter(pl.col("table") == t).height for r in risky)
    }
    found = [period_bounds(counted, old, SPECS, period, then) for then, old in earlier_periods.values()]
    candidates = pl.concat(found, how="diagonal_relaxed") if found else pl.DataFrame()
    used = held(candidates) if candidates.height else candidates
    history: dict[str, Any] = {
        "series": jurisdiction,
        "compared": sorted(earlier),
        "cells_protected_for_history": {t: f.select([*dims[t], "measure"]).unique().height for t, f in also.items()},
        # earlier values of sub-/super-periods as bounds in the attacker's programs (counts only)
        "bounds_used": used.height,
        "bounds_not_held": candidates.height - used.height,
    }
    for t, cells in grouped.items():
        if cells.height:
            also[t] = pl.concat([f for f in (also.get(t), cells) if f is not None], how="diagonal")
    if counted:
        protected, summaries = protect(
            counted,
            SPECS,
            policy.threshold,
            policy.threshold_sensitive,
            also_primary=also,
            bounds=by_table(used, SPECS) if used.height else None,
        )
        for t, summary in summaries.items():
            figures[t] = {
                "cells": summary.cells,
                "primary": summary.primary,
                "secondary": summary.secondary,
                "pruned": summary.pruned,
                "pruning_complete": summary.pruning_complete,
                "rounds": summary.rounds,
                "threshold": summary.threshold,
                "threshold_sensitive": disclosure[t]["threshold_sensitive"],
                "suppressed_share": round((summary.primary + summary.secondary) / max(summary.cells, 1), 4),
            }
            if t in grouped:
                # counts only: which cells, and their values, stay out of the report
                reasons = grouped[t]["reason"]
                figures[t]["group_disclosure"] = {
                    FULL: int((reasons == FULL).sum()),
                    NONE: int((reasons == NONE).sum()),
                    "zero_protected_below": ZERO_POPULATION_MULTIPLE * metas[t].threshold,
                }
    # statistics join the released tables only: the release history compares counts
    released = {t: _with_statistics(work, t, frame, figures) for t, frame in protected.items()}
    _write_protected(work, tables, released, figures, disclosure)
    published = {t: protected[t] for t in counted}
    left = [(rid, small_differences(published, old, dims, required)) for rid, old in earlier.items()]

    def where(row: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("table", "difference") and v is not None)

    history["violations"] = [
        f"{row['table']} [{where(row)}] differs from release {rid} by fewer than its threshold"
        for rid, frame in left
        for row in frame.iter_rows(named=True)
    ]
    history["passed"] = not history["violations"]
    control = {
        "method": "suppression",
        "parameters": {"threshold": policy.threshold, "threshold_sensitive": policy.threshold_sensitive},
        "passed": True,
        "guarantee": SUPPRESSION_GUARANTEE,
    }
    return {"tables": figures, "history": history, "control": control}


def _with_statistics(work: Path, table_id: str, frame: pl.DataFrame, figures: dict[str, Any]) -> pl.DataFrame:
    """Return a suppressed table with its statistics shown or hidden by their rule (figures: how many)."""
    spec = SPECS[table_id]
    if not spec.statistics:
        return frame
    released = with_statistics(frame, pl.read_parquet(work / "statistics" / f"{table_id}.parquet"), spec)
    figures.setdefault(table_id, {})["statistics"] = statistic_figures(released, spec)
    return released


def earlier_releases(ws: Workspace, jurisdiction: str, period: Period) -> dict[str, dict[str, pl.DataFrame]]:
    """Return the published count tables of every earlier release of the series whose period overlaps."""
    return {rid: tables for rid, (_, tables) in earlier_releases_with_periods(ws, jurisdiction, period).items()}


def earlier_releases_with_periods(
    ws: Workspace, jurisdiction: str, period: Period
) -> dict[str, tuple[Period, dict[str, pl.DataFrame]]]:
    """Return the period and published count tables of every earlier release of the series whose period overlaps."""
    out: dict[str, tuple[Period, dict[str, pl.DataFrame]]] = {}
    if not ws.releases.exists():
        return out
    for folder in sorted(ws.releases.iterdir()):
        manifest = folder / "manifest.json"
        if not manifest.exists() or not (folder / HIERARCHIES).exists():
            continue
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if meta.get("jurisdiction") != jurisdiction:
            continue
        then = Period.parse(str(meta["period"]))
        if not set(then.months) & set(period.months):
            continue
        tables, _ = read_release(folder)
        out[str(meta["release_id"])] = (then, tables)
    return out


def audit_stage(ws: Workspace, run_id: str, policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Audit the protected tables from the release's files alone, by what the method guarantees.

    Suppression: the attacker's linear programs. Perturbation: the method's own promises, checked on
    the files as a recipient reads them (every count flagged perturbed, a non-negative integer, at most
    its ``at_most`` bound in the same cell, never in 1..js under the cell key method; every cell of the
    public code lists under differential privacy).
    """
    if policy.method != "suppression":
        return _check_perturbed(ws.work(run_id) / "draft", policy, tables)
    report = audit_release(ws.work(run_id) / "draft")
    out: dict[str, Any] = {}
    for t in tables:
        figures = report.tables.get(t)
        mine = [f for f in report.findings if f.table == t]
        if figures is None:
            out[t] = {"passed": True, "suppressed": 0, "narrowest_width": None, "findings": [], "method": "none"}
            continue
        out[t] = {
            **figures,
            "passed": not mine,
            "findings": [f.describe() for f in mine[:50]],
            "failing_cells": len(mine),
            "method": "linear programs (HiGHS), every relation of the release",
        }
    return out


def _check_perturbed(draft: Path, policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Return, per table, whether its published file keeps the perturbative method's promises."""
    disclosure = json.loads((draft / "manifest.json").read_text("utf-8"))["disclosure"]
    out: dict[str, Any] = {}
    for t in tables:
        meta = disclosure[t]
        if meta["method"] == "none":
            out[t] = {"passed": True, "suppressed": 0, "narrowest_width": None, "findings": [], "method": "none"}
            continue
        frame = pl.read_csv(draft / f"{t}.csv", infer_schema=False)
        value = pl.col("value").cast(pl.Int64, strict=False)
        cell = [c for c in frame.columns if c not in ("measure", "value", "conf_status")]
        bounds = broken_relations(frame.with_columns(value), meta.get("at_most", {}), cell)
        problems = {
            "cells without a published non-negative integer": frame.filter(value.is_null() | (value < 0)).height,
            "cells above their at_most bound in the same cell": bounds["above_at_most"],
            "cells not flagged perturbed (P)": frame.filter(pl.col("conf_status") != PERTURBED).height,
            "cells published twice": frame.height - frame.select(pl.exclude("value", "conf_status")).n_unique(),
        }
        if meta["method"] == "cell_key" and meta["js"]:
            problems[f"cells published in 1..{meta['js']}"] = frame.filter(value.is_between(1, meta["js"])).height
        if meta["method"] == "dp":
            expected = published_cells(SPECS[t]) * len(SPECS[t].measures)
            problems["cells of the public code lists missing"] = max(expected - frame.height, 0)
        findings = [f"{t}: {n} {what}" for what, n in problems.items() if n]
        out[t] = {
            "passed": not findings,
            "suppressed": 0,
            "narrowest_width": None,
            "findings": findings,
            "failing_cells": sum(problems.values()),
            "method": {
                "cell_key": "cell key method: every count perturbed, none negative, none in 1..js, at_most bounds hold",
                "dp": "differential privacy: every cell of the public code lists published, perturbed, non-negative, "
                "at_most bounds hold",
            }[meta["method"]],
        }
    return out


def clean_work(ws: Workspace, run_id: str) -> None:
    """Delete a run's scratch folder."""
    shutil.rmtree(ws.work(run_id), ignore_errors=True)
    parent = ws.root / "work"
    if parent.exists() and not any(parent.iterdir()):
        parent.rmdir()
