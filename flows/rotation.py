"""Key rotation with a re-keying map, so the pseudonymised store keeps its linkage.

Rotating a domain creates the next generation of its secret. Pseudonyms cannot be re-keyed from
pseudonyms, so the map is made where the clear identifiers still are: the partners' batches in the
inbox are pseudonymised under every generation the store still holds and under the new one, and every
pseudonym that changes gives one pair ``old → new``.

The rotation is staged: the new generation is made in a copy of the key store beside the real one,
the map is built and every store folder of the domain's partners is checked against it; only then is
the key store replaced (atomically) with the one holding the new, current generation. A rotation that
fails before that point changes nothing — no orphan generation, no map, no store file.

A store folder is re-keyed only when the map explains every one of its pseudonyms the domain's key
made; then its ``_keys.json`` names the new generation. A folder the inbox does not fully explain (its
batch was not in the inbox, or differs) is left as it was, under its old generation, and counted and
named in the result; so are erasure-register entries the map does not explain. While any folder or
register entry still depends on a generation, :func:`destroy_generation` refuses to destroy it; a later
rotation with an inbox that holds the missing batches re-keys them (every held generation is mapped).

The maps hold pseudonyms only; they are written beside the keys (``keys/rekey/``, mode 0600) because
they link two generations, and they are deleted when either generation is destroyed. The rotation's
log (``keys/rekey/<domain>-g<old>-g<new>.json``) holds counts and folder names only and is kept.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.keys import KeyStoreError
from anonymise.pseudonymise import pseudonymise_batch
from flows import stages
from flows.erasure import load_register, save_register
from flows.ingest import LINE, ROW, BatchError, discover_batches, read_batch
from flows.keystore import FILE as KEYSTORE_FILE
from flows.keystore import KeyStore
from flows.stages import STORE_KEYS, domain_keys, write_store_keys
from flows.workspace import Workspace
from schemas.partners import PARTNERS

PSEUDONYM_COLUMNS = ("person_pid", "person_cid", "family_pid", "case_pid", "child_pid", "worker_pid", "event_pid")
#: The folder under ``keys/`` that holds the re-keying maps and the rotations' logs.
REKEY = "rekey"
#: The folder under ``keys/`` where a rotation stages the key store with the new generation.
STAGING = ".rotation-staging"


class RotationError(RuntimeError):
    """Rotation or destruction cannot proceed; nothing was changed."""


def partners_of(domain: str) -> list[str]:
    """Return the partners whose pseudonyms a domain's key makes."""
    if domain.startswith("local:"):
        return [domain.removeprefix("local:")]
    return [p.id for p in PARTNERS.values() if p.domain == domain]


def rotated_columns(domain: str) -> tuple[str, ...]:
    """Return the store columns whose pseudonyms a domain's key makes (a partner's: the ``*_pid``)."""
    if domain.startswith("local:"):
        return tuple(c for c in PSEUDONYM_COLUMNS if c.endswith("_pid"))
    return ("person_cid",)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _slug(domain: str) -> str:
    return domain.replace(":", "_")


def _map_name(domain: str, old: int, new: int) -> str:
    return f"{_slug(domain)}-g{old}-g{new}"


def store_folders(ws: Workspace, domain: str) -> list[Path]:
    """Return the store's batch folders (``store/<jurisdiction>/<period>/<partner>/<batch>``) of a domain."""
    root = ws.root / "store"
    if not root.exists():
        return []
    partners = set(partners_of(domain))
    folders = {p.parent for p in root.glob("*/*/*/*/*.parquet")}
    return sorted(f for f in folders if f.parent.name in partners)


def _relative(ws: Workspace, folder: Path) -> str:
    return str(folder.relative_to(ws.root))


def _pseudonymised(keys: KeyStore, raw: dict[str, pl.DataFrame], partner: str, domain: str, generation: int) -> Any:
    """Return a batch pseudonymised with ``domain`` at ``generation`` (the partner's other domain: current)."""
    country = PARTNERS[partner].country
    return pseudonymise_batch(
        raw, domain_keys(keys, partner, {domain: generation}), partner, date.today(), country, language=country
    )


def rekeying_map(keys: KeyStore, domain: str, sources: list[int], new: int, inbox: Path) -> pl.DataFrame:
    """Return the ``old → new`` pairs (with the old pseudonym's ``generation``) the inbox's batches give.

    Every batch of a partner in ``domain`` is pseudonymised under each generation in ``sources`` and
    under ``new``; only the columns the domain's key makes are compared. RotationError if the inbox
    holds no such batch, a batch cannot be read, or an old pseudonym would map to two new ones.
    """
    if not Path(inbox).is_dir():
        raise RotationError(f"inbox {inbox} is not a folder; nothing was changed")
    partners = set(partners_of(domain))
    columns = rotated_columns(domain)
    pairs: list[pl.DataFrame] = []
    seen = 0
    for country in ("bg", "ru"):
        batches, _ = discover_batches(inbox, country)  # type: ignore[arg-type]
        for batch in batches:
            if batch.partner_id not in partners:
                continue
            seen += 1
            try:
                raw = {n: r.frame.drop(ROW, LINE) for n, r in read_batch(batch).items()}
            except BatchError as exc:
                raise RotationError(f"cannot read batch {batch.key}: {exc}; nothing was changed") from None
            after = _pseudonymised(keys, raw, batch.partner_id, domain, new)
            for source in sources:
                before = _pseudonymised(keys, raw, batch.partner_id, domain, source)
                for name, frame in before.frames.items():
                    for column in columns:
                        if column in frame.columns:
                            pairs.append(
                                pl.DataFrame(
                                    {
                                        "old": frame[column],
                                        "new": after.frames[name][column],
                                        "generation": pl.Series([source] * frame.height, dtype=pl.Int32),
                                    }
                                ).drop_nulls()
                            )
    if not seen:
        raise RotationError(
            f"the inbox {inbox} holds no batch of a partner in {domain}: the map would be empty; nothing was changed"
        )
    if not pairs:
        raise RotationError(f"the inbox's batches give no pseudonym made by {domain}; nothing was changed")
    mapping = pl.concat(pairs).unique().filter(pl.col("old") != pl.col("new"))
    if mapping["old"].n_unique() != mapping.height:
        raise RotationError("an old pseudonym maps to two new ones; the inbox is inconsistent; nothing was changed")
    return mapping.sort("generation", "old")


def plan(ws: Workspace, mapping: pl.DataFrame, domain: str) -> list[dict[str, Any]]:
    """Return, per store folder of the domain, how many of its pseudonyms the map explains and how many not.

    Only the columns the domain's key makes count; empty cells do not. Nothing is written.
    """
    known = mapping["old"].implode()
    columns = rotated_columns(domain)
    out = []
    for folder in store_folders(ws, domain):
        mapped = unmapped = 0
        for path in sorted(folder.glob("*.parquet")):
            present = [c for c in columns if c in pl.read_parquet_schema(path)]
            if not present:
                continue
            frame = pl.read_parquet(path, columns=present)
            for column in present:
                values = frame[column].drop_nulls()
                hit = int(values.is_in(known).sum())
                mapped += hit
                unmapped += values.len() - hit
        out.append({"folder": folder, "mapped": mapped, "unmapped": unmapped})
    return out


def _rekey_folder(folder: Path, mapping: pl.DataFrame, domain: str, keys: KeyStore, new: int) -> int:
    """Re-key a folder's files (each written beside and then moved into place); return the files written."""
    columns = rotated_columns(domain)
    files = 0
    for path in sorted(folder.glob("*.parquet")):
        frame = pl.read_parquet(path)
        present = [c for c in columns if c in frame.columns]
        if not present:
            continue
        frame = frame.with_columns(
            pl.col(c).replace_strict(mapping["old"], mapping["new"], default=pl.col(c)).alias(c) for c in present
        )
        tmp = path.with_name(f".{path.name}.rekey")
        frame.write_parquet(tmp, statistics=False)
        os.replace(tmp, path)
        files += 1
    record_path = folder / STORE_KEYS
    if record_path.exists():
        record = json.loads(record_path.read_text("utf-8"))
        record[domain] = {"key_id": keys.key_id(domain, new), "fingerprint": keys.fingerprint(domain, new)}
        tmp = record_path.with_name(f".{STORE_KEYS}.rekey")
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", "utf-8")
        os.replace(tmp, record_path)
    else:
        write_store_keys(folder, keys, folder.parent.name, {domain: new})
    return files


def _rekey_register(ws: Workspace, mapping: pl.DataFrame, domain: str, new: int) -> tuple[int, int]:
    """Re-key the erasure register's entries of a domain; return the entries mapped and not mapped."""
    entries = load_register(ws)
    lookup = dict(zip(mapping["old"].to_list(), mapping["new"].to_list(), strict=True))
    mapped = unmapped = 0
    for entry in entries:
        if entry["domain"] != domain:
            continue
        if entry["pseudonym"] in lookup:
            entry["pseudonym"] = lookup[entry["pseudonym"]]
            entry["key_id"] = f"{domain}#{new}"
            mapped += 1
        elif entry.get("key_id") != f"{domain}#{new}":
            unmapped += 1
    if mapped:
        save_register(ws, entries)
    return mapped, unmapped


def dependents(ws: Workspace, domain: str, generation: int) -> list[str]:
    """Return what still depends on a generation: store folders made under it, and erasure-register entries.

    A store folder of the domain's partners with no ``_keys.json`` counts too: which key made it is unknown.
    """
    key_id = f"{domain}#{generation}"
    out = []
    for folder in store_folders(ws, domain):
        path = folder / STORE_KEYS
        if not path.exists():
            out.append(f"{_relative(ws, folder)} (no {STORE_KEYS}: the key that made it is unknown)")
        elif json.loads(path.read_text("utf-8")).get(domain, {}).get("key_id") == key_id:
            out.append(_relative(ws, folder))
    entries = sum(1 for e in load_register(ws) if e["domain"] == domain and e.get("key_id") == key_id)
    if entries:
        out.append(f"{entries} erasure-register entr{'y' if entries == 1 else 'ies'}")
    return out


def jurisdictions_of(domain: str) -> list[str]:
    """Return the jurisdictions whose store holds pseudonyms a domain's key makes."""
    return sorted({PARTNERS[p].country for p in partners_of(domain) if p in PARTNERS})


def _foreign_key(folder: Path, keys: KeyStore) -> bool:
    """Return whether a store folder records a key this key store never held as it is (a foreign key).

    Foreign: a domain the key store has no key for, a generation it does not hold (absent), or a
    generation it holds with another secret (fingerprint). Not foreign: a folder left under a retired
    or destroyed generation of this key store (a rotation re-keys, or keeps, it), or a folder that
    records no keys (the map re-keys it only if it explains every pseudonym, i.e. this key store made them).
    """
    path = folder / STORE_KEYS
    if not path.exists():
        return False
    try:
        made = json.loads(path.read_text("utf-8"))
    except ValueError:
        return True
    if not isinstance(made, dict):
        return True
    held = set(keys.domains())
    for domain, item in made.items():
        if not isinstance(item, dict):
            return True
        name, _, gen = str(item.get("key_id", "")).rpartition("#")
        if name != domain or not gen.isdigit() or domain not in held:
            return True
        state = keys.state(domain, int(gen))
        if state == "absent":
            return True
        if state in ("current", "retired") and item.get("fingerprint") != keys.fingerprint(domain, int(gen)):
            return True
    return False


def check_foreign_folders(ws: Workspace, keys: KeyStore, domain: str) -> None:
    """Raise RotationError, naming the first and counting the rest, if the store of the domain's
    jurisdiction(s) holds a folder made with a foreign key: re-keying would stamp it with the new generation.

    ``stages.check_store`` says whether every folder was made with this key store's current keys; only its
    foreign-key findings refuse a rotation (folders left under a retired generation are what a rotation
    re-keys).
    """
    problems: list[str] = []
    for jurisdiction in jurisdictions_of(domain):
        try:
            stages.check_store(ws, keys, jurisdiction)
        except KeyStoreError:
            problems += [
                problem
                for folder in stages.store_folders(ws, jurisdiction)
                if _foreign_key(folder, keys)
                and (problem := stages.store_key_problem(folder, keys, folder.parent.name))
            ]
    if problems:
        more = f" (and {len(problems) - 1} more store folders)" if len(problems) > 1 else ""
        raise RotationError(f"{problems[0]}{more}; no rotation: nothing was changed")


def rotate(ws: Workspace, keys: KeyStore, domain: str, inbox: Path) -> dict[str, Any]:
    """Rotate a domain's key, re-key the store and register, make the new generation current.

    ``keys`` is updated in place once the new generation is committed. RotationError (or KeyStoreError)
    before the commit leaves the key store, the store and the register as they were; so does a store
    folder of the domain's jurisdiction made with a foreign key (refused before anything is done).
    """
    keys.require([domain])
    check_foreign_folders(ws, keys, domain)
    if keys.folder is None:
        raise RotationError("keys from the environment are read-only; rotate where the sealed store lives")
    folder = Path(keys.folder)
    info = keys.info(domain)
    old = info.generation
    sources = [old, *info.retired_generations]
    staging = folder / STAGING
    shutil.rmtree(staging, ignore_errors=True)  # left by a rotation that was killed: never committed
    staging.mkdir(mode=0o700)
    staged = copy.deepcopy(keys)
    staged.folder = staging
    rekey = folder / REKEY
    rekey_made = not rekey.exists()
    written: list[Path] = []
    try:
        new = staged.add_generation(domain)  # saved in the staging folder only
        mapping = rekeying_map(staged, domain, sources, new, inbox)
        folders = plan(ws, mapping, domain)
        staged.make_current(domain, new)
        rekey.mkdir(mode=0o700, exist_ok=True)
        maps = {}
        for source in sources:
            part = mapping.filter(pl.col("generation") == source).select("old", "new")
            if part.height:
                path = rekey / f"{_map_name(domain, source, new)}.parquet"
                written.append(path)
                part.write_parquet(path)
                os.chmod(path, 0o600)
                maps[f"{domain}#{source}"] = str(path)
        os.replace(staging / KEYSTORE_FILE, folder / KEYSTORE_FILE)  # the commit
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if rekey_made and rekey.exists() and not any(rekey.iterdir()):
            rekey.rmdir()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    staged.folder = folder
    vars(keys).update(vars(staged))  # the caller's (and the process cache's) store now has the new generation

    files = 0
    rekeyed: list[str] = []
    kept: dict[str, int] = {}
    for item in folders:
        if item["unmapped"]:
            kept[_relative(ws, item["folder"])] = item["unmapped"]
        else:
            files += _rekey_folder(item["folder"], mapping, domain, keys, new)
            rekeyed.append(_relative(ws, item["folder"]))
    register_mapped, register_unmapped = _rekey_register(ws, mapping, domain, new)
    in_use = {keys.key_id(domain, g): dependents(ws, domain, g) for g in sources}
    result: dict[str, Any] = {
        "domain": domain,
        "from": f"{domain}#{old}",
        "to": f"{domain}#{new}",
        "rotated": _now(),
        "pairs": mapping.height,
        "maps": maps,
        "store_files": files,
        "folders_rekeyed": len(rekeyed),
        "values_mapped": sum(i["mapped"] for i in folders if not i["unmapped"]),
        "values_unmapped": sum(kept.values()),
        "folders_not_rekeyed": kept,
        "register_mapped": register_mapped,
        "register_unmapped": register_unmapped,
        "still_in_use": {k: v for k, v in in_use.items() if v},
        "destroyable": [k for k, v in in_use.items() if not v],
    }
    log = rekey / f"{_map_name(domain, old, new)}.json"
    log.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", "utf-8")
    os.chmod(log, 0o600)
    return result


def delete_maps(ws: Workspace, domain: str, generation: int) -> list[str]:
    """Delete the re-keying maps that link ``domain#generation`` to another generation; return their names.

    The rotations' logs are kept (counts only) and note when their maps were deleted.
    """
    folder = ws.keys / REKEY
    if not folder.exists():
        return []
    pattern = re.compile(rf"^{re.escape(_slug(domain))}-g(\d+)-g(\d+)\.parquet$")
    deleted = []
    for path in sorted(folder.glob("*.parquet")):
        match = pattern.match(path.name)
        if match and generation in (int(match[1]), int(match[2])):
            path.unlink()
            deleted.append(path.name)
    for log in sorted(folder.glob(f"{_slug(domain)}-g*-g*.json")) if deleted else []:
        data = json.loads(log.read_text("utf-8"))
        gone = {k: _now() for k, p in data.get("maps", {}).items() if Path(p).name in deleted}
        if gone:
            data["maps_deleted"] = data.get("maps_deleted", {}) | gone
            log.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
    return deleted


def destroy_generation(ws: Workspace, keys: KeyStore, domain: str, generation: int) -> dict[str, Any]:
    """Destroy a retired generation for good, and the re-keying maps that link it to another generation.

    RotationError, naming them, while store folders or erasure-register entries still depend on it
    (nothing is destroyed then); KeyStoreError if it is current, unknown or already destroyed.
    """
    if keys.generation(domain) != generation:
        blockers = dependents(ws, domain, generation)
        if blockers:
            raise RotationError(
                f"{domain}#{generation} still makes the pseudonyms of {'; '.join(blockers)} — destroyed, they "
                "could never be re-keyed or linked again. Rotate again with an inbox that holds their batches "
                "(every generation still held is re-keyed) or delete those folders, then destroy; "
                "nothing was destroyed"
            )
    keys.destroy(domain, generation)
    return {"destroyed": f"{domain}#{generation}", "maps_deleted": delete_maps(ws, domain, generation)}
