"""The run report for the DPO: ``report.json`` (stable keys) and ``report.html`` (read in a browser).

It holds counts, figures, file hashes, key IDs and fingerprints — never a record, a value or a key.
Sections follow DPO-REPORT.md: A identity, B inputs, C field inventory, D pseudonymisation, E data
quality, F disclosure risk, G outputs, H decision.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from anonymise.policy import Policy
from flows.stages import SUPPRESSION_GUARANTEE, cell_key_guarantee
from flows.workspace import Workspace
from schemas.contract import SCHEMA_VERSION, field_inventory
from schemas.geography import GEOGRAPHY_VERSION

REPORT_VERSION = 1


def code_version() -> str:
    """Return the installed zakrila version (what decides the release's content)."""
    try:
        return f"zakrila {metadata.version('zakrila')}"
    except metadata.PackageNotFoundError:
        return "zakrila (not installed)"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _previous_policy(ws: Workspace, run_id: str) -> tuple[str | None, str | None]:
    """Return the policy text and run ID of the latest earlier report in the workspace, if any."""
    if not ws.reports.exists():
        return None, None
    earlier = sorted(p for p in ws.reports.iterdir() if p.is_dir() and p.name < run_id)
    for folder in reversed(earlier):
        try:
            data = json.loads((folder / "report.json").read_text("utf-8"))
            return data["identity"]["policy_text"], data["run_id"]
        except (OSError, ValueError, KeyError):
            continue
    return None, None


def build_report(ws: Workspace, facts: dict[str, Any]) -> dict[str, Any]:
    """Return the report as a JSON-ready dict from the facts a run gathered."""
    policy = facts["policy"]
    period = facts["period"]
    previous_text, previous_run = _previous_policy(ws, facts["run_id"])
    checks = facts["checks"]
    inputs: dict[str, dict[str, Any]] = {}
    input_files: dict[str, dict[str, Any]] = {}
    reasons: dict[str, dict[str, int]] = {}
    unexpected: dict[str, dict[str, list[str]]] = {}
    completeness: dict[str, dict[str, Any]] = {}
    batches = []
    for c in checks:
        batches.append({"partner": c["partner"], "batch": c["batch"], "status": c["status"], "error": c.get("error")})
        if c["status"] != "checked":
            continue
        p = c["partner"]
        for name, e in c["entities"].items():
            slot = inputs.setdefault(p, {}).setdefault(name, {"received": 0, "accepted": 0, "quarantined": 0})
            for k in slot:
                slot[k] += e[k]
            input_files.setdefault(p, {}).setdefault(c["batch"], []).append(
                {"file": e["file"], "sha256": e["sha256"], "rows": e["received"], "schema": SCHEMA_VERSION}
            )
            for r, n in e["reasons"].items():
                reasons.setdefault(p, {})[r] = reasons.get(p, {}).get(r, 0) + n
            if e["extra_columns"]:
                unexpected.setdefault(p, {})[name] = e.get("extra_column_findings") or [
                    {"column": c, "kinds": {}, "treatment": "dropped"} for c in e["extra_columns"]
                ]
            completeness.setdefault(p, {})[name] = {"completeness": e["completeness"], "declined": e["declined"]}
    reconciles = all(v["received"] == v["accepted"] + v["quarantined"] for p in inputs.values() for v in p.values())
    linkage = {s["partner"]: s["linkage"] for s in facts.get("stored", [])}
    text_scan = {s["partner"]: s["text_scan"] for s in facts.get("stored", [])}
    keys = facts["keys"]
    domains = [keys.info(d).__dict__ for d in facts["domains"]]
    release = facts.get("release")
    audit = facts.get("audit", {})
    finished = datetime.now(UTC)
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "run_id": facts["run_id"],
        "period": period.label,
        "jurisdiction": facts["jurisdiction"],
        "status": "released" if release else "no_release",
        "failure": facts.get("failure"),
        "policy_hash": policy.sha256,
        "release_id": release["release_id"] if release else None,
        "release_files": [f["name"] for f in release["files"]] if release else [],
        "inputs": inputs,
        "quarantine_reasons": reasons,
        "identity": {
            "run_id": facts["run_id"],
            "started": facts["started"].isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "triggered_by": facts["operator"],
            "code_version": code_version(),
            "git_commit": _git_commit(),
            "policy_source": policy.source,
            "policy_hash": policy.sha256,
            "policy_text": policy.text,
            "policy_diff": policy.diff(previous_text),
            "policy_previous_run": previous_run,
            "policy_approval": {k: v for k, v in (facts.get("approval") or {}).items() if k != "signature"},
            "purpose": policy.data["policy"]["purpose"],
            "legal_basis": policy.data.get("legal_basis", {}),
            "dpia_reference": policy.data["policy"]["dpia_reference"],
        },
        "input_batches": batches,
        "input_files": input_files,
        "skipped_folders": facts.get("skipped", []),
        "reference_data": {
            "schema": SCHEMA_VERSION,
            "geography": GEOGRAPHY_VERSION,
            "processing_jurisdiction": facts["jurisdiction"],
        },
        "field_inventory": {
            "fields": field_inventory().to_dicts(),
            "policy_overrides": policy.data.get("fields", {}),
            "unexpected_fields": {"found": unexpected, "treatment": "reported and dropped, never passed on"},
            "free_text": {"treatment": policy.data["treatments"]["FT"], "detections": text_scan},
        },
        "pseudonymisation": {
            "algorithm": "HMAC-SHA256 under per-domain keys derived with HKDF-SHA256 per purpose "
            "(person, family, case, staff, event, fallback); truncated to 128 bits (32 hex digits)",
            "normalisation": "national IDs validated and typed before hashing (egn:…, lnc:…, snils:…, passport:…, "
            "bc:…); fallback key = normalised given name | family name | birth date under its own key, "
            "names in NFKC, lower case, ё→е, Latin look-alikes mapped, transliterated (BG official system, "
            "RU ICAO 9303)",
            "domains": domains,
            "rotations": _rotations(ws),
            "linkage": linkage,
            "invalid_national_ids": {
                p: sum(n for r, n in reasons.get(p, {}).items() if r.endswith(":national_id")) for p in inputs
            },
            "national": facts.get("aggregates", {}).get("national"),
            "collisions": sum(v.get("collisions", 0) for v in linkage.values()),
            "erasure": facts.get("erasure"),
            "leak_scan": {
                "store_cells_equal_to_a_clear_identifier": sum(
                    s["leak_check"]["cells_equal_to_a_clear_value"] for s in facts.get("stored", [])
                ),
                "clear_identifiers_checked": sum(
                    s["leak_check"]["clear_values_checked"] for s in facts.get("stored", [])
                ),
                "key_material": facts.get("key_scan"),
            },
        },
        "quality": {
            "reconciles": reconciles,
            "completeness": completeness,
            "batches_failed": [b for b in batches if b["status"] != "checked"],
        },
        "disclosure": {
            **disclosure_method(policy, facts.get("control"), facts.get("ledger")),
            "history": facts.get("history"),
            "tables": {
                t: {**facts.get("protection", {}).get(t, {}), "audit": audit.get(t)}
                for t in facts.get("protection", {})
            },
            "risk": facts.get("aggregates", {}).get("risk"),
            "leak_guard": facts.get("leak_guard"),
        },
        "outputs": {
            "release_id": release["release_id"] if release else None,
            "release_dir": release["release_dir"] if release else None,
            "files": release["files"] if release else [],
            "classification": policy.data["release"]["classification"],
            "recipient": policy.data["release"]["recipient"],
            "retention": {
                "store_days": policy.data["release"].get("retention_days_store"),
                "intermediate_tables": "deleted at the end of the run",
            },
        },
        "decision": {
            "status": "pending",
            "options": ["approve", "approve_with_conditions", "reject"],
            "signature": None,
        },
    }
    return report


def disclosure_method(policy: Policy, control: dict[str, Any] | None, ledger: dict[str, Any] | None) -> dict[str, Any]:
    """Return what the report states about the disclosure-control method: its parameters and guarantee.

    ``control`` holds the figures the protect stage proved it with (absent if the run stopped before);
    for the cell key method D, V, js and the p-table's properties (its actual variance per original
    count among them), for differential privacy the budget: ε and δ of this release, of the series so
    far and what remains of its cap, the contribution bounds, the mechanism, the noise scale and 95 %
    accuracy interval per table and measure, and the series' ledger (``ledger``, once the release is
    charged). Both perturbative methods state which relations the published values keep and which
    they do not (``relations``, per table).
    """
    control = control or {}
    out: dict[str, Any] = {
        "method": policy.method,
        "threshold": policy.threshold,
        "threshold_sensitive": policy.threshold_sensitive,
        "parameters": control.get("parameters"),
        "guarantee": control.get("guarantee", SUPPRESSION_GUARANTEE if policy.method == "suppression" else None),
        "refused": control.get("problem"),
    }
    if policy.method == "cell_key" and policy.cell_key is not None:
        out["parameters"] = asdict(policy.cell_key)
        out["guarantee"] = cell_key_guarantee(policy.cell_key.D, policy.cell_key.V, policy.cell_key.js)
        out["ptable"] = control.get("ptable")
        out["record_key"] = control.get("record_key")
        out["checks"] = control.get("checks")
        out["relations"] = _relations(control.get("relations"))
    if policy.method == "dp" and policy.dp is not None:
        out["parameters"] = asdict(policy.dp)
        spent = control.get("series_epsilon_spent"), control.get("series_delta_spent")
        # what the series may still spend: after this release once charged, else as it was before the run
        remaining = (
            (ledger["epsilon_remaining"], ledger["delta_remaining"])
            if ledger
            else (
                control.get("series_epsilon_remaining", control.get("series_epsilon_remaining_before")),
                control.get("series_delta_remaining", control.get("series_delta_remaining_before")),
            )
        )
        out["relations"] = _relations(control.get("relations"))
        out["budget"] = {
            "series": control.get("series"),
            "mechanism": policy.dp.mechanism,
            "epsilon_release": control.get("epsilon"),
            "delta_release": control.get("delta"),
            "rho_release": control.get("rho"),
            "epsilon_series": ledger["epsilon_spent"] if ledger else spent[0],
            "delta_series": ledger["delta_spent"] if ledger else spent[1],
            "epsilon_series_before": control.get("series_epsilon_spent_before"),
            "epsilon_remaining": remaining[0],
            "delta_remaining": remaining[1],
            "epsilon_cap": policy.dp.series_epsilon_cap,
            "delta_cap": policy.dp.series_delta_cap,
            "rows_per_person": policy.dp.rows_per_person,
            "groups_per_person": policy.dp.groups_per_person,
            "scale": control.get("scale"),
            "sensitivity": control.get("sensitivity"),
            "accuracy": control.get("accuracy"),
            "alpha": control.get("alpha"),
            "noise_by_measure": control.get("noise_by_measure"),
            "composition": control.get("composition"),
            "ledger": ledger,
        }
    return out


def _relations(per_table: dict[str, dict[str, list[str]]] | None) -> dict[str, list[str]] | None:
    """Return the relations the perturbed tables keep and do not keep, once: what holds in every table
    as it is, what holds in some only prefixed by their table IDs (T04's at_most bounds)."""
    if not per_table:
        return None
    out: dict[str, list[str]] = {}
    for kind in ("hold", "do_not_hold"):
        seen: dict[str, list[str]] = {}
        for t, stated in sorted(per_table.items()):
            for text in stated.get(kind, []):
                seen.setdefault(text, []).append(t)
        out[kind] = [text if len(ts) == len(per_table) else f"{', '.join(ts)}: {text}" for text, ts in seen.items()]
    return out


def _rotations(ws: Workspace) -> list[dict[str, Any]]:
    """Return the rotations done in this workspace (from the re-keying logs; no pseudonyms)."""
    folder = ws.keys / "rekey"
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        data = json.loads(path.read_text("utf-8"))
        out.append({k: data[k] for k in ("from", "to", "pairs", "values_mapped", "register_unmapped") if k in data})
    return out


def write_report(ws: Workspace, facts: dict[str, Any]) -> Path:
    """Write report.json and report.html for a run; return the report folder."""
    report = build_report(ws, facts)
    folder = ws.reports / facts["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(
        json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True) + "\n", "utf-8"
    )
    (folder / "report.html").write_text(render_html(report), "utf-8")
    return folder


def render_html(report: dict[str, Any]) -> str:
    """Return the report as a self-contained HTML page (inline CSS and SVG, no scripts, no network)."""
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("flows").joinpath("templates", "report.html").read_text("utf-8"))
    return template.render(r=report, bars=_bars(report))


def _bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Return rows for the received/accepted/quarantined chart: one per partner and entity."""
    rows = []
    top = max((v["received"] for p in report["inputs"].values() for v in p.values()), default=1) or 1
    for partner, entities in sorted(report["inputs"].items()):
        for entity, v in entities.items():
            rows.append(
                {
                    "label": f"{partner} · {entity}",
                    **v,
                    "w_acc": 560 * v["accepted"] / top,
                    "w_q": max(560 * v["quarantined"] / top, 2 if v["quarantined"] else 0),
                }
            )
    return rows
