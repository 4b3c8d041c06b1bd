"""Writing and verifying a ministry release: tables as CSV, a manifest of hashes, a signature.

A release is deterministic: the same inputs, keys and policy give the same bytes (sorted rows, no
timestamps, an ID derived from what went in, and Ed25519 signatures, which are deterministic).

```
releases/<release_id>/
  T04.csv, T10.csv, …  long tables: dimensions, measure, value, conf_status (F, C, D; for a statistic
                        row F shown, A too few units, M a base count suppressed)
  hierarchies.json     per table and dimension: additive or not, and each code's parent (``_T`` on top)
  manifest.json        release ID, period, policy hash, every file with its SHA-256 and rows
  manifest.sig         Ed25519 signature over manifest.json (hex)
  signing-key.pem      the public key that verifies it (check its fingerprint out of band)
```
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anonymise.keys import public_key_fingerprint, public_key_pem

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "signing-key.pem"


def escape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Return the frame with text cells that a spreadsheet would run as a formula prefixed by ``'``."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            starts = pl.any_horizontal([pl.col(name).str.starts_with(p) for p in FORMULA_START])
            exprs.append(
                pl.when(starts.fill_null(False)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
            )
    return frame.with_columns(exprs) if exprs else frame


def write_table_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write a release table as UTF-8 CSV with formulas escaped and a fixed line ending."""
    escape_formulas(frame).write_csv(path, line_terminator="\n", null_value="")


def release_id(
    period: str,
    jurisdiction: str,
    inputs: list[str],
    policy_hash: str,
    key_fingerprints: list[str],
    code_version: str,
    erasures: list[str] | None = None,
    draw: str | None = None,
) -> str:
    """Return a release ID that depends on everything that decides the release's content.

    ``erasures`` are the pseudonyms of the erasure register: an erasure changes the release, so it
    must change its ID too, never overwrite an earlier release under the same ID. ``draw`` names the
    run whose random noise a differentially private release holds: each run's tables differ, so each
    is its own release (and its own charge to the privacy budget).
    """
    material = json.dumps(
        {
            "period": period,
            "jurisdiction": jurisdiction,
            "inputs": sorted(inputs),
            "policy": policy_hash,
            "keys": sorted(key_fingerprints),
            "code": code_version,
            "erasures": sorted(erasures or []),
            **({"draw": draw} if draw is not None else {}),
        },
        sort_keys=True,
    )
    return f"{jurisdiction}-{period}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_release(
    releases: Path,
    rid: str,
    tables: dict[str, pl.DataFrame],
    meta: dict[str, Any],
    signing_key: Ed25519PrivateKey,
    documents: dict[str, Any] | None = None,
) -> tuple[Path, list[dict[str, Any]]]:
    """Write a release folder atomically and return its path and file list (name, SHA-256, rows).

    ``documents`` are JSON files published beside the tables (``hierarchies.json``), hashed and
    signed like them.
    """
    final = releases / rid
    staging = releases / f".{rid}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    files: list[dict[str, Any]] = []
    for table_id in sorted(tables):
        path = staging / f"{table_id}.csv"
        write_table_csv(tables[table_id], path)
        files.append({"name": path.name, "sha256": sha256_file(path), "rows": tables[table_id].height})
    for name, content in sorted((documents or {}).items()):
        path = staging / name
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        files.append({"name": name, "sha256": sha256_file(path), "rows": None})
    public = signing_key.public_key()
    (staging / PUBLIC_KEY).write_bytes(public_key_pem(public))
    manifest = {
        "release_id": rid,
        **meta,
        "files": files,
        "signature": {
            "algorithm": "Ed25519",
            "file": SIGNATURE,
            "public_key": PUBLIC_KEY,
            "public_key_sha256": public_key_fingerprint(public),
        },
    }
    body = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
    (staging / MANIFEST).write_bytes(body)
    (staging / SIGNATURE).write_text(signing_key.sign(body).hex() + "\n")
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return final, files


@dataclass(frozen=True)
class Verification:
    """The result of verifying a release folder."""

    ok: bool
    problems: list[str]
    public_key_sha256: str | None


def verify_release(folder: Path, trusted_key_sha256: str | None = None) -> Verification:
    """Return whether a release's signature and every file hash check out (and the key is trusted)."""
    folder = Path(folder)
    problems: list[str] = []
    try:
        body = (folder / MANIFEST).read_bytes()
        manifest = json.loads(body)
        signature = bytes.fromhex((folder / SIGNATURE).read_text().strip())
        key = serialization.load_pem_public_key((folder / PUBLIC_KEY).read_bytes())
    except (OSError, ValueError) as exc:
        return Verification(False, [f"{folder}: cannot read the release ({type(exc).__name__})"], None)
    if not isinstance(key, Ed25519PublicKey):
        return Verification(False, [f"{PUBLIC_KEY} is not an Ed25519 public key"], None)
    fp = public_key_fingerprint(key)
    try:
        key.verify(signature, body)
    except InvalidSignature:
        problems.append(f"{MANIFEST}: the signature does not match")
    if trusted_key_sha256 and fp != trusted_key_sha256:
        problems.append(f"{PUBLIC_KEY}: key {fp[:16]}… is not the trusted key {trusted_key_sha256[:16]}…")
    listed = set()
    for item in manifest.get("files", []):
        listed.add(item["name"])
        path = folder / item["name"]
        if not path.exists():
            problems.append(f"{item['name']}: listed in the manifest but missing")
        elif sha256_file(path) != item["sha256"]:
            problems.append(f"{item['name']}: SHA-256 differs from the manifest")
    for path in sorted(folder.iterdir()):
        if path.name not in listed | {MANIFEST, SIGNATURE, PUBLIC_KEY}:
            problems.append(f"{path.name}: not listed in the manifest")
    return Verification(not problems, problems, fp)
