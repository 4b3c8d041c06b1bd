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


# The run report is signed with the release: the release-signing key signs the SHA-256 of report.json
# (report.sig beside it), and the report names the release and its manifest's SHA-256. The release
# itself holds nothing of the run (it stays byte-identical); its report is found in the workspace.
# The DPO's decision on a report lives beside it too (decision.json, decision.sig): report.json never
# changes after it is signed.

REPORT = "report.json"
REPORT_SIGNATURE = "report.sig"
DECISION = "decision.json"
DECISION_SIGNATURE = "decision.sig"
DPO_PUBLIC_KEY = "dpo.pub.pem"  # in <workspace>/keys/
REPORT_LABEL = b"zakrila run report v1\n"
DECISION_LABEL = b"zakrila DPO decision v1\n"
APPROVALS = ("approve", "approve_with_conditions")
DECISIONS = (*APPROVALS, "reject")


def report_message(report_sha256: str) -> bytes:
    """Return the bytes the release-signing key signs for a run report with this SHA-256 (hex)."""
    return REPORT_LABEL + report_sha256.encode("ascii")


def decision_message(body: bytes) -> bytes:
    """Return the bytes the DPO's key signs for a decision record (the bytes of decision.json)."""
    return DECISION_LABEL + body


def sign_report(folder: Path, signing_key: Ed25519PrivateKey) -> str:
    """Sign ``folder/report.json`` with the release-signing key; write report.sig (hex) and the public
    key (signing-key.pem) beside it, and return the report's SHA-256."""
    digest = sha256_file(folder / REPORT)
    (folder / PUBLIC_KEY).write_bytes(public_key_pem(signing_key.public_key()))
    (folder / REPORT_SIGNATURE).write_text(signing_key.sign(report_message(digest)).hex() + "\n")
    return digest


def _public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path.name} is not an Ed25519 public key")
    return key


def key_fingerprint(path: Path) -> str | None:
    """Return the fingerprint of the Ed25519 public key in a PEM file, or None if it holds none."""
    try:
        return public_key_fingerprint(_public_key(path))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class ReportCheck:
    """What a run report folder proves: report.json as signed, and the DPO's decision on it."""

    folder: Path
    run_id: str | None
    release_id: str | None
    sha256: str | None
    problems: list[str]  # why report.json cannot be trusted ([]: its signature verifies)
    key_source: str | None  # "release" (the release's signing-key.pem) or "report" (the key beside it)
    decision: dict[str, Any] | None  # the DPO's decision record, if there is one
    decision_problem: str | None  # why that decision does not hold (None: it verifies, or there is none)

    @property
    def intact(self) -> bool:
        """Return whether report.json is exactly what the run signed."""
        return not self.problems

    @property
    def approved(self) -> bool:
        """Return whether the report is intact and the DPO approved it (with or without conditions)."""
        return (
            self.intact
            and self.decision is not None
            and self.decision_problem is None
            and self.decision.get("decision") in APPROVALS
        )


def check_report(folder: Path, dpo_public: Ed25519PublicKey | None = None) -> ReportCheck:
    """Return whether a report folder's report.json verifies, and whether its DPO decision does.

    The report is verified with the signing key of the release it names when that release is in the
    workspace (and that release's manifest must be the one the report names), otherwise with the key
    written beside it. The decision is verified with ``dpo_public`` (default: the workspace's DPO key).
    """
    folder = Path(folder)
    ws = folder.resolve().parent.parent
    problems: list[str] = []
    try:
        body = (folder / REPORT).read_bytes()
        report = json.loads(body)
    except (OSError, ValueError) as exc:
        return ReportCheck(
            folder, None, None, None, [f"{folder / REPORT}: cannot read ({type(exc).__name__})"], None, None, None
        )
    digest = hashlib.sha256(body).hexdigest()
    run_id, rid = report.get("run_id"), report.get("release_id")
    release = ws / "releases" / rid if rid else None
    source = "release" if release is not None and (release / PUBLIC_KEY).exists() else "report"
    try:
        key = _public_key((release if release is not None and source == "release" else folder) / PUBLIC_KEY)
        signature = bytes.fromhex((folder / REPORT_SIGNATURE).read_text().strip())
    except (OSError, ValueError) as exc:
        problems.append(f"{REPORT} is not signed: {REPORT_SIGNATURE} or its key cannot be read ({type(exc).__name__})")
    else:
        fp = public_key_fingerprint(key)
        stated = (report.get("signature") or {}).get("public_key_sha256")
        if stated and stated != fp:
            problems.append(f"{REPORT} names signing key {stated[:16]}…, not the release's key {fp[:16]}…")
        # a report without its release carries its own key: it must be the key the workspace signs releases with
        other = next(iter(sorted(ws.glob(f"releases/*/{PUBLIC_KEY}"))), None)
        if source == "report" and other is not None and fp != key_fingerprint(other):
            problems.append(f"{REPORT} is signed with key {fp[:16]}…, not the key of this workspace's releases")
        try:
            key.verify(signature, report_message(digest))
        except InvalidSignature:
            problems.append(f"{REPORT} does not match {REPORT_SIGNATURE}: it was changed after the run signed it")
    if release is not None and source == "release":
        named = (report.get("outputs") or {}).get("manifest_sha256")
        if not (release / MANIFEST).exists() or sha256_file(release / MANIFEST) != named:
            problems.append(f"{release.name}/{MANIFEST} is not the manifest this report names")
    decision, decision_problem = None, None
    if (folder / DECISION).exists():
        decision, decision_problem = _check_decision(folder, ws, dpo_public, digest, run_id)
    return ReportCheck(folder, run_id, rid, digest, problems, source, decision, decision_problem)


def _check_decision(
    folder: Path, ws: Path, dpo_public: Ed25519PublicKey | None, report_sha256: str, run_id: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        body = (folder / DECISION).read_bytes()
        record = json.loads(body)
        signature = bytes.fromhex((folder / DECISION_SIGNATURE).read_text().strip())
        dpo = dpo_public or _public_key(ws / "keys" / DPO_PUBLIC_KEY)
    except (OSError, ValueError) as exc:
        return None, f"the DPO's decision cannot be read ({type(exc).__name__})"
    if not isinstance(record, dict) or record.get("decision") not in DECISIONS:
        return None, f"{DECISION} is not a decision record"
    try:
        dpo.verify(signature, decision_message(body))
    except InvalidSignature:
        return record, f"the DPO's signature over {DECISION} does not verify"
    if record.get("dpo_key_sha256") != public_key_fingerprint(dpo):
        return record, "the decision was signed with another key than the workspace's DPO key"
    if record.get("report_sha256") != report_sha256 or record.get("run_id") != run_id:
        return record, f"the decision was made on another {REPORT} (its SHA-256 differs)"
    return record, None


def release_reports(release: Path, dpo_public: Ed25519PublicKey | None = None) -> list[ReportCheck]:
    """Return the checks of every run report in the release's workspace that names the release.

    A release lives in ``<workspace>/releases/<release_id>/``; its reports in
    ``<workspace>/reports/<run_id>/``. Runs with the same inputs, keys and policy write the same
    release, so several reports may name one release. [] if none is found.
    """
    release = Path(release).resolve()
    try:
        rid = json.loads((release / MANIFEST).read_text("utf-8"))["release_id"]
    except (OSError, ValueError, KeyError):
        return []
    reports = release.parent.parent / "reports"
    found = []
    for path in sorted(reports.glob(f"*/{REPORT}")) if reports.is_dir() else []:
        try:
            named = json.loads(path.read_text("utf-8")).get("release_id")
        except (OSError, ValueError):
            named = None
        if named == rid:
            found.append(check_report(path.parent, dpo_public))
    return found


def standing_decision(checks: list[ReportCheck]) -> ReportCheck | None:
    """Return the report whose DPO decision stands for a release: the latest verified decision on an
    intact report (by the time it was made), or None if no report has one."""
    decided = [c for c in checks if c.intact and c.decision is not None and c.decision_problem is None]
    return max(decided, key=lambda c: str((c.decision or {}).get("decided_at", "")), default=None)
