"""The run report for the DPO: ``report.json`` (stable keys) and ``report.html`` (read in a browser).

It holds counts, figures, file hashes, key IDs and fingerprints — never a record, a value or a key.
Sections follow DPO-REPORT.md: A identity, B inputs, C field inventory, D pseudonymisation, E data
quality, F disclosure risk, G outputs, H decision.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from anonymise.keys import KeyStoreError, public_key_fingerprint
from anonymise.policy import Policy, PolicyError
from anonymise.treatments import TREATMENTS, inventory, policy_drops, unused_by_release
from flows.governance import dpo_key_history, dpo_private_key, dpo_public_key
from flows.publish import (
    DECISION,
    DECISION_SIGNATURE,
    DECISIONS,
    MANIFEST,
    PUBLIC_KEY,
    REPORT,
    REPORT_LABEL,
    REPORT_SIGNATURE,
    check_report,
    decision_message,
    sha256_file,
    sign_report,
)
from flows.stages import SUPPRESSION_GUARANTEE, cell_key_guarantee
from flows.workspace import Workspace
from schemas.contract import SCHEMA_VERSION
from schemas.geography import GEOGRAPHY_VERSION

REPORT_VERSION = 2  # 2: quarantine_reasons by bare reason code (fields in quarantine_reasons_by_field); signed
ROW_REASON = "_row"  # the "field" of a reason about the whole row (wrong_field_count)


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
    reasons: dict[str, dict[str, int]] = {}  # partner → bare reason code → rows (summed over fields)
    reasons_by_field: dict[str, dict[str, dict[str, int]]] = {}  # partner → reason → field → rows
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
            for code, n in e["reasons"].items():  # "<reason>:<field>", or a bare reason about the whole row
                reason, _, field = code.partition(":")
                per_partner = reasons.setdefault(p, {})
                per_partner[reason] = per_partner.get(reason, 0) + n
                by_field = reasons_by_field.setdefault(p, {}).setdefault(reason, {})
                by_field[field or ROW_REASON] = by_field.get(field or ROW_REASON, 0) + n
            if e["extra_columns"]:
                unexpected.setdefault(p, {})[name] = e.get("extra_column_findings") or [
                    {"column": c, "kinds": {}, "treatment": "dropped"} for c in e["extra_columns"]
                ]
            completeness.setdefault(p, {})[name] = {"completeness": e["completeness"], "declined": e["declined"]}
    reconciles = all(v["received"] == v["accepted"] + v["quarantined"] for p in inputs.values() for v in p.values())
    text_scan = {s["partner"]: s["text_scan"] for s in facts.get("stored", [])}
    keys = facts["keys"]
    domains = [keys.info(d).__dict__ for d in facts["domains"]]
    release = facts.get("release")
    audit = facts.get("audit", {})
    signing = _signing_key_sha256(facts["keys"])
    run_collisions = facts.get("collisions") or None  # {} when they could not be counted
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
        "quarantine_reasons": {p: dict(sorted(rs.items())) for p, rs in sorted(reasons.items())},
        "quarantine_reasons_by_field": {
            p: {r: dict(sorted(fs.items())) for r, fs in sorted(rs.items())}
            for p, rs in sorted(reasons_by_field.items())
        },
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
            "dpo_key": dpo_key_history(ws),
        },
        "input_batches": batches,
        "input_files": input_files,
        "skipped_folders": facts.get("skipped", []),
        "reference_data": {
            "schema": SCHEMA_VERSION,
            "geography": GEOGRAPHY_VERSION,
            "processing_jurisdiction": facts["jurisdiction"],
        },
        "field_inventory": _field_inventory(policy, facts, unexpected, text_scan),
        "pseudonymisation": {
            "algorithm": "HMAC-SHA256 under per-domain keys derived with HKDF-SHA256 per purpose "
            "(person, family, case, staff, event, fallback); truncated to 128 bits (32 hex digits)",
            "normalisation": "national IDs validated and typed before hashing (egn:…, lnc:…, snils:…, passport:…, "
            "bc:…); fallback key = normalised given name | family name | birth date under its own key, "
            "names in NFKC, lower case, ё→е, Latin look-alikes mapped, transliterated (BG official system, "
            "RU ICAO 9303)",
            "domains": domains,
            "rotations": _rotations(ws),
            "linkage": _linkage_by_partner(facts.get("stored", [])),
            "invalid_national_ids": {
                p: sum(fs.get("national_id", 0) for fs in reasons_by_field.get(p, {}).values()) for p in inputs
            },
            # ЕГН, ЛНЧ, СНИЛС failing their check are quarantined, per reason (the python-stdnum error)
            "invalid_national_ids_by_reason": {
                p: {
                    r: fs["national_id"] for r, fs in sorted(reasons_by_field.get(p, {}).items()) if "national_id" in fs
                }
                for p in inputs
            },
            "without_usable_identifier": _without_usable_identifier(facts.get("stored", [])),
            "national": facts.get("aggregates", {}).get("national"),
            # over the whole run, per domain and purpose (None: not computed, the run stopped before)
            "collisions": run_collisions.get("collisions") if run_collisions else None,
            "collisions_run": run_collisions,
            # within each batch alone, summed over the batches (a pair across batches is counted above only)
            "collisions_within_batches": sum(s["linkage"].get("collisions", 0) for s in facts.get("stored", [])),
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
            "manifest_sha256": sha256_file(Path(release["release_dir"]) / MANIFEST) if release else None,
            "signing_key_sha256": signing,
            "classification": policy.data["release"]["classification"],
            "recipient": policy.data["release"]["recipient"],
            "retention": {
                "store_days": policy.data["release"].get("retention_days_store"),
                "intermediate_tables": "deleted at the end of the run",
            },
        },
        "signature": {
            "algorithm": "Ed25519",
            "file": REPORT_SIGNATURE,
            "public_key": PUBLIC_KEY,
            "public_key_sha256": signing,
            "message": f'"{REPORT_LABEL.decode().strip()}", a newline, and the SHA-256 (hex) of {REPORT}',
        }
        if signing
        else None,
        "decision": {
            "status": "pending",
            "options": list(DECISIONS),
            "record": f"{DECISION} beside this report, with the DPO's Ed25519 signature in {DECISION_SIGNATURE}: "
            f"it names this report's SHA-256, so {REPORT} itself never changes after it is signed",
        },
    }
    return report


def _signing_key_sha256(keys: Any) -> str | None:
    """Return the fingerprint of the release-signing key, or None if the key store has none."""
    try:
        return public_key_fingerprint(keys.signing_key().public_key())
    except KeyStoreError:
        return None


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
    """Write report.json, sign it with the release-signing key (report.sig) and write report.html;
    return the report folder."""
    report = build_report(ws, facts)
    folder = ws.reports / facts["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT).write_text(json.dumps(report, indent=1, ensure_ascii=False, sort_keys=True) + "\n", "utf-8")
    signed = report["signature"] is not None
    digest = sign_report(folder, facts["keys"].signing_key()) if signed else sha256_file(folder / REPORT)
    view = {"report_sha256": digest, "problems": [] if signed else [f"{REPORT} is not signed"]}
    (folder / "report.html").write_text(render_html(report, view), "utf-8")
    return folder


def render_html(report: dict[str, Any], signoff: dict[str, Any] | None = None) -> str:
    """Return the report as a self-contained HTML page (inline CSS and SVG, no scripts, no network).

    ``signoff`` is what section H shows beside the report: ``report_sha256``, ``problems`` (why
    report.json does not verify), and the DPO's ``decision`` with its ``decision_problem``.
    """
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("flows").joinpath("templates", "report.html").read_text("utf-8"))
    return template.render(r=report, s=signoff or {}, bars=_bars(report))


class SignOffError(RuntimeError):
    """The DPO's decision cannot be recorded; the message is one line saying why."""


def decide(
    ws: Workspace,
    run_id: str,
    decision: str,
    conditions: str | None,
    note: str | None,
    dpo_key_path: Path | None,
    dpo_passphrase: str | Callable[[], str] | None,
) -> dict[str, Any]:
    """Record the DPO's decision on a run report: approve, approve_with_conditions or reject.

    The decision record names the run, the SHA-256 of its report.json, the decision, conditions, note,
    time and the DPO key's fingerprint; it is written to decision.json and signed with the DPO's
    Ed25519 key (decision.sig), and report.html is rendered again to show it. report.json is not
    touched. Refused if report.json is not what the run signed, if the key is not the workspace's DPO
    key, or if the report already has a decision. ``dpo_passphrase`` may be a function that asks for it:
    it is called only once the report is found to verify.
    """
    if decision not in DECISIONS:
        raise SignOffError(f"decision must be one of {', '.join(DECISIONS)}")
    if (decision == "approve_with_conditions") != bool(conditions and conditions.strip()):
        raise SignOffError("conditions go with, and only with, an approval with conditions")
    folder = ws.reports / run_id
    if not (folder / REPORT).is_file():
        raise SignOffError(f"no run report {folder / REPORT}")
    try:
        dpo_public = dpo_public_key(ws)
    except PolicyError as exc:
        raise SignOffError(str(exc)) from None
    check = check_report(folder, dpo_public)
    if check.problems:
        raise SignOffError(f"{folder / REPORT} cannot be signed off: {'; '.join(check.problems)}")
    if (folder / DECISION).exists():
        made = check.decision or {}
        raise SignOffError(
            f"{folder / DECISION} exists ({made.get('decision', 'unreadable')}, {made.get('decided_at', '?')}"
            f"{'; ' + check.decision_problem if check.decision_problem else ''}): a report is decided once"
        )
    passphrase = dpo_passphrase() if callable(dpo_passphrase) else dpo_passphrase
    try:
        key = dpo_private_key(ws, dpo_key_path, passphrase)
    except PolicyError as exc:
        raise SignOffError(str(exc)) from None
    record = {
        "decision_version": 1,
        "run_id": run_id,
        "report_sha256": check.sha256,
        "release_id": check.release_id,
        "decision": decision,
        "conditions": conditions.strip() if conditions else None,
        "note": note.strip() if note and note.strip() else None,
        "decided_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "dpo_key_sha256": public_key_fingerprint(dpo_public),
    }
    body = json.dumps(record, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"
    (folder / DECISION_SIGNATURE).write_text(key.sign(decision_message(body)).hex() + "\n")
    (folder / DECISION).write_bytes(body)
    render_signed(folder)
    return record


def render_signed(folder: Path) -> Path:
    """Render report.html again from report.json and the DPO's decision beside it; return its path."""
    check = check_report(folder)
    view = {
        "report_sha256": check.sha256,
        "problems": check.problems,
        "decision": check.decision,
        "decision_problem": check.decision_problem,
        "approved": check.approved,
    }
    report = json.loads((folder / REPORT).read_text("utf-8"))
    (folder / "report.html").write_text(render_html(report, view), "utf-8")
    return folder / "report.html"


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


def _field_inventory(
    policy: Policy, facts: dict[str, Any], unexpected: dict[str, Any], text_scan: dict[str, Any]
) -> dict[str, Any]:
    """Return section C: every input field with its class and the treatment the policy applies."""
    tables = (facts.get("aggregates") or {}).get("tables") or policy.tables
    applied = policy.treatments
    notes = {n: t for n, t in applied.items() if n.endswith(".notes")}
    fields = inventory(policy.data["treatments"], policy.data.get("fields", {}), tables)
    return {
        "fields": fields,
        "treatments": TREATMENTS,
        "policy_overrides": policy.data.get("fields", {}),
        "dropped_by_policy": sorted(policy_drops(applied)),
        "unused_by_release": unused_by_release(tables, applied),
        # every field collected (stored or not) that no output is made from
        "collected_not_used": [f"{f['entity']}.{f['field']}" for f in fields if not f["used_by"]],
        "unexpected_fields": {"found": unexpected, "treatment": "reported and dropped, never passed on"},
        "free_text": {
            "treatment": next(iter(set(notes.values())))
            if len(set(notes.values())) == 1
            else "; ".join(f"{n}: {t}" for n, t in notes.items()),
            "treatments": notes,
            "detections": text_scan,
        },
    }


def _linkage_by_partner(stored: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Return the linkage figures of the stored batches summed per partner."""
    out: dict[str, dict[str, int]] = {}
    for s in stored:
        slot = out.setdefault(s["partner"], {})
        for k, v in s["linkage"].items():
            if isinstance(v, int):
                slot[k] = slot.get(k, 0) + v
    return out


def _without_usable_identifier(stored: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Return per partner the persons linked without their identifier (not quarantined: a passport or
    birth certificate that fails its shape, an identifier of no linkable type, none at all), by type and
    reason, and the fallback used: ``fallback`` (name and birth date) or ``none`` (own pseudonym)."""
    counts: dict[str, dict[tuple[str, str, str], int]] = {}
    for s in stored:
        slot = counts.setdefault(s["partner"], {})
        for row in s.get("unusable_identifiers") or []:
            key = (row["id_type"], row["reason"], row["fallback"])
            slot[key] = slot.get(key, 0) + int(row["persons"])
    out: dict[str, dict[str, Any]] = {}
    for partner, slot in counts.items():
        by_reason: dict[str, int] = {}
        by_fallback: dict[str, int] = {}
        for (id_type, reason, fallback), n in sorted(slot.items()):
            by_reason[f"{id_type}:{reason}"] = by_reason.get(f"{id_type}:{reason}", 0) + n
            by_fallback[fallback] = by_fallback.get(fallback, 0) + n
        out[partner] = {
            "persons": sum(slot.values()),
            "by_reason": by_reason,
            "by_fallback": by_fallback,
            "detail": [
                {"id_type": t, "reason": r, "fallback": f, "persons": n} for (t, r, f), n in sorted(slot.items())
            ],
        }
    return out
