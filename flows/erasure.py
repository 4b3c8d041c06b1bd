"""Erasure and objection: a register of subjects, by pseudonym only, whose rows leave the store.

``zakrila subjects erase`` turns a partner's person ID (or a national ID) into the keyed pseudonym the
store uses and records only that, with the key ID it was made under. Every later run removes the
subject's rows from the store before anything is aggregated — across partners, through the central
pseudonym, and in every period's store, not only the period run — so they are in no later release.
Rotation re-keys the register with the store.

```
<workspace>/erasures.json   {"format": "zakrila-erasures-1", "entries": [{"domain", "pseudonym", "key_id", …}]}
```
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.identifiers import linkage_value
from anonymise.pseudonym import pseudonym
from flows.keystore import KeyStore
from flows.workspace import Workspace
from schemas.partners import partner as registry_partner

FILE = "erasures.json"
FORMAT = "zakrila-erasures-1"


class ErasureError(ValueError):
    """An erasure request cannot be recorded; the message holds no identifier."""


def register_path(ws: Workspace) -> Path:
    """Return the path of a workspace's erasure register."""
    return ws.root / FILE


def load_register(ws: Workspace) -> list[dict[str, Any]]:
    """Return the register's entries (empty if there is none)."""
    path = register_path(ws)
    if not path.exists():
        return []
    data = json.loads(path.read_text("utf-8"))
    return list(data["entries"])


def save_register(ws: Workspace, entries: list[dict[str, Any]]) -> None:
    """Write the register's entries."""
    register_path(ws).write_text(
        json.dumps({"format": FORMAT, "entries": entries}, indent=1, sort_keys=True) + "\n", "utf-8"
    )


def record(
    ws: Workspace,
    keys: KeyStore,
    partner_id: str,
    person_id: str | None = None,
    national_id: str | None = None,
    id_type: str = "egn",
) -> dict[str, Any]:
    """Record a subject by pseudonym; return the entry (it holds no identifier in the clear)."""
    partner = registry_partner(partner_id)
    if (person_id is None) == (national_id is None):
        raise ErasureError("give exactly one of --person-id and --national-id")
    if person_id is not None:
        domain, purpose, value, by = f"local:{partner.id}", "person", person_id, "person_id"
    else:
        linkage = linkage_value(national_id or "", id_type)
        if linkage is None:
            raise ErasureError(f"the {id_type} given is not valid, so it cannot be matched; check it and retry")
        domain, purpose, value, by = partner.domain, "person", linkage, "national_id"
    key = keys.key(domain, purpose)
    entry = {
        "domain": domain,
        "partner": partner.id,
        "by": by,
        "pseudonym": pl.DataFrame({"v": [value]}).select(pseudonym("v", key))["v"].item(),
        "key_id": keys.key_id(domain),
        "recorded": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    entries = load_register(ws)
    if any(e["domain"] == domain and e["pseudonym"] == entry["pseudonym"] for e in entries):
        return next(e for e in entries if e["domain"] == domain and e["pseudonym"] == entry["pseudonym"])
    entries.append(entry)
    save_register(ws, entries)
    return entry


def erase_from_store(batch_dirs: list[Path], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Remove registered subjects' rows from the store batches; return counts (no pseudonyms).

    ``batch_dirs`` are store folders ``…/<period>/<partner>/<batch>`` of one jurisdiction, of every
    period: a subject leaves the whole store, not only the period being run. The counts are of the
    rows this call removed (rows an earlier run removed are gone already), in total and per period
    (``by_period``, only periods where something was removed).
    """
    if not entries:
        return {"register_entries": 0, "persons_erased": 0, "rows_removed": {}, "by_period": {}}
    local = {(e["partner"], e["pseudonym"]) for e in entries if e["domain"].startswith("local:")}
    central = {e["pseudonym"] for e in entries if not e["domain"].startswith("local:")}
    persons_of = {
        folder: pl.read_parquet(folder / "persons.parquet", columns=["person_pid", "person_cid"])
        for folder in batch_dirs
    }
    # a subject named by a partner's person ID goes everywhere its central pseudonym goes
    for folder, persons in persons_of.items():
        partner = folder.parent.name
        pids = [p for (pa, p) in local if pa == partner]
        if pids:
            central |= set(persons.filter(pl.col("person_pid").is_in(pids))["person_cid"].drop_nulls().to_list())
    erased = sorted(central)
    removed: dict[str, int] = {}
    by_period: dict[str, dict[str, Any]] = {}
    persons_erased = 0
    for folder, persons in persons_of.items():
        gone = persons.filter(pl.col("person_cid").is_in(erased))
        if not gone.height:
            continue  # every row of a subject in this folder hangs on its person row here
        persons_erased += gone.height
        period = by_period.setdefault(folder.parent.parent.name, {"persons_erased": 0, "rows_removed": {}})
        period["persons_erased"] += gone.height
        gone_pids = gone["person_pid"].implode()
        for path in sorted(folder.glob("*.parquet")):
            frame = pl.read_parquet(path)
            keep = pl.lit(True)
            if "person_cid" in frame.columns:
                keep = keep & ~pl.col("person_cid").is_in(erased).fill_null(False)
            if "person_pid" in frame.columns:
                keep = keep & ~pl.col("person_pid").is_in(gone_pids).fill_null(False)
            if "child_pid" in frame.columns:
                keep = keep & ~pl.col("child_pid").is_in(gone_pids).fill_null(False)
            kept = frame.filter(keep)
            if kept.height != frame.height:
                n = frame.height - kept.height
                removed[path.stem] = removed.get(path.stem, 0) + n
                period["rows_removed"][path.stem] = period["rows_removed"].get(path.stem, 0) + n
                kept.write_parquet(path, statistics=False)
    return {
        "register_entries": len(entries),
        "persons_erased": persons_erased,
        "rows_removed": removed,
        "by_period": dict(sorted(by_period.items())),
    }
