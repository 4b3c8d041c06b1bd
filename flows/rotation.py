"""Key rotation with a re-keying map, so the pseudonymised store keeps its linkage.

Rotating a domain creates the next generation of its secret. Pseudonyms cannot be re-keyed from
pseudonyms, so the map is made where the clear identifiers still are: the partners' batches in the
inbox are pseudonymised under the old and the new generation, and every pseudonym that changes gives
one pair ``old → new``. The map re-keys the store and the erasure register; then the new generation
becomes current and the old one can be destroyed (``zakrila keys destroy``). Store values the inbox no
longer explains are counted as unmapped: while there are any, the old generation should be kept.

The map holds pseudonyms only; it is written beside the keys (``keys/rekey/``, mode 0600) because it
links two generations.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.pseudonymise import pseudonymise_batch
from flows.erasure import load_register, save_register
from flows.ingest import LINE, ROW, discover_batches, read_batch
from flows.keystore import KeyStore
from flows.stages import domain_keys, write_store_keys
from flows.workspace import Workspace
from schemas.partners import PARTNERS

PSEUDONYM_COLUMNS = ("person_pid", "person_cid", "family_pid", "case_pid", "child_pid", "worker_pid", "event_pid")


class RotationError(RuntimeError):
    """Rotation cannot proceed; nothing was changed."""


def partners_of(domain: str) -> list[str]:
    """Return the partners whose pseudonyms a domain's key makes."""
    if domain.startswith("local:"):
        return [domain.removeprefix("local:")]
    return [p.id for p in PARTNERS.values() if p.domain == domain]


def rekeying_map(keys: KeyStore, domain: str, old: int, new: int, inbox: Path) -> pl.DataFrame:
    """Return the unique ``old → new`` pairs for every pseudonym the inbox's batches give in ``domain``."""
    partners = set(partners_of(domain))
    pairs: list[pl.DataFrame] = []
    for country in ("bg", "ru"):
        batches, _ = discover_batches(inbox, country)  # type: ignore[arg-type]
        for batch in batches:
            if batch.partner_id not in partners:
                continue
            raw = {n: r.frame.drop(ROW, LINE) for n, r in read_batch(batch).items()}
            country_code = PARTNERS[batch.partner_id].country
            before, after = (
                pseudonymise_batch(
                    raw,
                    domain_keys(keys, batch.partner_id, {domain: generation}),
                    batch.partner_id,
                    date.today(),
                    country_code,
                    language=country_code,
                )
                for generation in (old, new)
            )
            for name, frame in before.frames.items():
                for column in PSEUDONYM_COLUMNS:
                    if column in frame.columns:
                        pairs.append(
                            pl.DataFrame({"old": frame[column], "new": after.frames[name][column]}).drop_nulls()
                        )
    if not pairs:
        raise RotationError(f"the inbox holds no batch of a partner in {domain}: the map would be empty")
    mapping = pl.concat(pairs).unique().filter(pl.col("old") != pl.col("new"))
    if mapping["old"].n_unique() != mapping.height:
        raise RotationError("an old pseudonym maps to two new ones; the inbox is inconsistent")
    return mapping.sort("old")


def apply_map(ws: Workspace, mapping: pl.DataFrame, domain: str, keys: KeyStore, new_gen: int) -> dict[str, int]:
    """Re-key every store file and the erasure register; return mapped and unmapped counts."""
    old_values = mapping["old"].implode()
    mapped = unmapped = files = 0
    partners = set(partners_of(domain))
    store_root = ws.root / "store"
    for path in sorted(store_root.rglob("*.parquet")) if store_root.exists() else []:
        if path.parent.parent.name not in partners:
            continue
        frame = pl.read_parquet(path)
        changes = []
        for column in PSEUDONYM_COLUMNS:
            if column in frame.columns:
                hit = frame[column].is_in(old_values)
                mapped += int(hit.sum())
                changes.append(
                    pl.col(column).replace_strict(mapping["old"], mapping["new"], default=pl.col(column)).alias(column)
                )
        if changes:
            frame.with_columns(changes).write_parquet(path, statistics=False)
            files += 1
    for folder in {p.parent for p in store_root.rglob("persons.parquet")} if store_root.exists() else set():
        if folder.parent.name in partners:
            write_store_keys(folder, keys, folder.parent.name, {domain: new_gen})
    entries = load_register(ws)
    lookup = dict(zip(mapping["old"].to_list(), mapping["new"].to_list(), strict=True))
    for entry in entries:
        if entry["domain"] == domain:
            if entry["pseudonym"] in lookup:
                entry["pseudonym"] = lookup[entry["pseudonym"]]
                entry["key_id"] = f"{domain}#{new_gen}"
                mapped += 1
            else:
                unmapped += 1
    save_register(ws, entries)
    return {"store_files": files, "values_mapped": mapped, "register_unmapped": unmapped}


def rotate(ws: Workspace, keys: KeyStore, domain: str, inbox: Path) -> dict[str, Any]:
    """Rotate a domain's key, re-key the store and register, make the new generation current."""
    keys.require([domain])
    old = keys.generation(domain)
    new = keys.add_generation(domain)
    mapping = rekeying_map(keys, domain, old, new, inbox)
    folder = ws.keys / "rekey"
    folder.mkdir(mode=0o700, exist_ok=True)
    map_path = folder / f"{domain.replace(':', '_')}-g{old}-g{new}.parquet"
    mapping.write_parquet(map_path)
    os.chmod(map_path, 0o600)
    figures = apply_map(ws, mapping, domain, keys, new)
    keys.make_current(domain, new)
    result = {
        "domain": domain,
        "from": f"{domain}#{old}",
        "to": f"{domain}#{new}",
        "pairs": mapping.height,
        "map": str(map_path),
        **figures,
    }
    (folder / f"{map_path.stem}.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", "utf-8")
    return result
