"""The zakrila run as a Prefect flow: inbox → checks → pseudonymised store → tables → release → report.

Tasks pass paths and counts, never frames; no task result is persisted or cached; logs carry counts.
Each task wraps one function of ``flows.stages``, so a stage can be replaced without the others.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import secrets
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import polars as pl
from prefect import Task, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from anonymise.dp import BudgetExceeded, LedgerError
from anonymise.keys import KeyStoreError
from anonymise.period import Period
from anonymise.policy import Policy, PolicyError
from anonymise.pseudonym import pseudonym
from anonymise.pseudonymise import PseudonymCollision
from flows import stages
from flows.erasure import load_register
from flows.governance import approved_policy
from flows.ingest import Batch, discover_batches
from flows.keystore import KeyStore, open_store
from flows.publish import release_id, write_release
from flows.report import build_report, code_version, write_report
from flows.stages import LeakFound
from flows.workspace import Workspace

P = ParamSpec("P")
R = TypeVar("R")


class StageFailed(RuntimeError):
    """A stage failed unexpectedly; the message names the stage and the error type, never values."""


def stage(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Return the task decorator of a stage: never cached, result never persisted.

    An unexpected exception is replaced by :class:`StageFailed` naming the stage and the exception's
    type: the original message may quote a cell (Polars and pandas errors do), and Prefect stores
    task failures in its database. Set ``ZAKRILA_DEBUG=1`` on a secure machine to keep the original.
    """

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (RunFailed, StageFailed, LeakFound, KeyStoreError, PolicyError):  # ours: no values in them
                raise
            except Exception as exc:
                if os.environ.get("ZAKRILA_DEBUG") == "1":
                    raise
                raise StageFailed(f"stage {name} failed with {type(exc).__name__}") from None

        return task(name=name, persist_result=False, cache_policy=NO_CACHE, log_prints=False)(guarded)

    return decorate


class RunFailed(RuntimeError):
    """The run wrote no release; the message is one line a data officer can act on."""


@stage("check-contract")
def check_contract(batch: Batch, workspace: Path, today: date) -> dict[str, Any]:
    """Check one batch against interchange v1; quarantine failing rows."""
    result = stages.check_batch(batch, Workspace(workspace), today)
    logger = get_run_logger()
    if result["status"] == "failed":
        logger.error("batch %s failed: %s", batch.key, result["error"])
    else:
        for name, e in result["entities"].items():
            logger.info(
                "%s %s: received %d, accepted %d, quarantined %d",
                batch.key,
                name,
                e["received"],
                e["accepted"],
                e["quarantined"],
            )
    return result


@stage("pseudonymise")
def pseudonymise(
    batch: Batch, workspace: Path, period: Period, jurisdiction: str, run_id: str, treatments: dict[str, str]
) -> dict[str, Any]:
    """Pseudonymise a batch's accepted rows into the store, under the run's approved treatments."""
    result = stages.pseudonymise_stage(batch, Workspace(workspace), period, jurisdiction, run_id, treatments)
    get_run_logger().info("%s: stored %s", batch.key, result["rows"])
    return result


@stage("apply-erasures")
def erase(workspace: Path, jurisdiction: str, period: Period, batches: list[str]) -> dict[str, Any]:
    """Remove the subjects of the erasure register from the run's store batches."""
    result = stages.erase_stage(Workspace(workspace), jurisdiction, period, batches)
    get_run_logger().info(
        "erasure register: %d entries, %d persons erased", result["register_entries"], result["persons_erased"]
    )
    return result


@stage("scan-for-keys")
def scan_for_keys(workspace: Path, paths: list[Path]) -> dict[str, Any]:
    """Scan what the run wrote for key material."""
    ws = Workspace(workspace)
    return stages.key_scan_stage(ws, open_store(ws.keys), paths)


@stage("leak-guard")
def leak_guard(workspace: Path, run_id: str, tables: list[str], draft: dict[str, Any], language: str) -> dict[str, Any]:
    """Scan every string of the release and the report for personal data before anything is published."""
    return stages.leak_guard_stage(Workspace(workspace), run_id, tables, draft, language)


@stage("aggregate")
def aggregate(
    workspace: Path,
    jurisdiction: str,
    period: Period,
    batches: list[str],
    quality: list[dict[str, Any]],
    run_id: str,
    tables: list[str],
    method: str,
    coverage: list[dict[str, str]],
    treatments: dict[str, str],
) -> dict[str, Any]:
    """Build the release tables from the pseudonymised store (and what the disclosure method needs)."""
    return stages.aggregate_stage(
        Workspace(workspace), jurisdiction, period, batches, quality, run_id, tables, method, coverage, treatments
    )


@stage("control-disclosure")
def control_disclosure(
    workspace: Path, run_id: str, policy: Policy, tables: list[str], jurisdiction: str, period: Period
) -> dict[str, Any]:
    """Protect every count table by the policy's method: suppression (against this release and the
    series' earlier ones), the cell key method, or differential privacy within the series' budget."""
    result = stages.protect_stage(Workspace(workspace), run_id, policy, tables, jurisdiction, period)
    control = result["control"]
    get_run_logger().info("disclosure control: %s, %s", control["method"], "passed" if control["passed"] else "refused")
    return result


@stage("audit-disclosure")
def audit_disclosure(workspace: Path, run_id: str, policy: Policy, tables: list[str]) -> dict[str, Any]:
    """Audit the protected tables from their published values alone."""
    return stages.audit_stage(Workspace(workspace), run_id, policy, tables)


@stage("publish-release")
def publish_release(
    workspace: Path,
    run_id: str,
    rid: str,
    policy: Policy,
    period: Period,
    jurisdiction: str,
    table_ids: list[str],
    control: dict[str, Any],
    coverage: list[dict[str, str]],
) -> dict[str, Any]:
    """Write the signed release folder from the audited tables.

    The manifest states the release's coverage: the partners whose batches were read, and the
    batches that could not be read, so that nobody takes a national total for a complete one.

    A differentially private release was charged to its series' budget ledger before its noise was
    drawn (a charge reserved for this run); that charge is marked published with the release ID
    first, so that no release is ever out without its published charge, and the ledger comes back
    for the report. If the ledger refuses (it cannot be trusted, or the run's charge is missing or
    already published) the run fails with ``RunFailed`` and no release is written; the reserved
    budget stays spent.
    """
    ws = Workspace(workspace)
    keys = open_store(ws.keys)
    tables = {t: pl.read_parquet(ws.work(run_id) / "protected" / f"{t}.parquet") for t in table_ids}
    hierarchies = json.loads((ws.work(run_id) / "draft" / "hierarchies.json").read_text(encoding="utf-8"))
    ledger = None
    if control["method"] == "dp":
        try:
            ledger = stages.publish_charge(ws, policy, jurisdiction, run_id, rid, control["epsilon"], control["delta"])
        except (BudgetExceeded, LedgerError) as error:  # ids and budgets only, no values
            raise RunFailed(
                f"the privacy-budget charge of this run could not be marked published: {error} "
                f"(the budget it reserved stays spent)"
            ) from None
    flags = {
        "F": "free",
        "C": "primary confidential",
        "D": "secondary confidential",
        # statistics (mean, median) of a cell: see disclosure.<table>.statistics
        "A": "statistic hidden: too few units",
        "M": "statistic hidden: a count it derives from is suppressed",
    }
    meta = {
        "disclosure": stages.disclosure_meta(policy, table_ids),
        "disclosure_control": {k: v for k, v in control.items() if k != "passed"},
        "period": period.label,
        "jurisdiction": jurisdiction,
        "policy_sha256": policy.sha256,
        "classification": policy.data["release"]["classification"],
        "recipient": policy.data["release"]["recipient"],
        "code_version": code_version(),
        "conf_status": flags if control["method"] == "suppression" else {"F": "free", stages.PERTURBED: "perturbed"},
        "coverage": {
            "partners": sorted({c["partner"] for c in coverage if c["status"] == "checked"}),
            "unreadable_batches": sorted(f"{c['partner']}/{c['batch']}" for c in coverage if c["status"] != "checked"),
            "note": "the partner = _T rows cover the listed partners only; see T11, measure batches",
        },
    }
    folder, files = write_release(ws.releases, rid, tables, meta, keys.signing_key(), {"hierarchies.json": hierarchies})
    get_run_logger().info("release %s written with %d files", rid, len(files))
    return {"release_id": rid, "release_dir": str(folder), "files": files, "ledger": ledger}


def _operator_pseudonym(keys: KeyStore, central: str) -> str:
    user = pl.DataFrame({"u": [getpass.getuser()]}).select(pseudonym("u", keys.key(central, "staff"), 16))
    return f"staff:{user['u'].item()}"


# Prefect writes a failed flow's exception to result storage even with persist_result=False (its flow
# engine always persists failures); a storage path under /dev/null cannot be created, so nothing is
# written (Prefect logs "Failed to write result" and the run fails as it should).
@flow(
    name="zakrila-run",
    persist_result=False,
    result_storage=Path(os.devnull) / "zakrila-never-persists-flow-results",
    log_prints=False,
    validate_parameters=True,
)
def run_pipeline(inbox: Path, workspace: Path, period: str, jurisdiction: str = "bg") -> dict[str, Any]:
    """Run zakrila on an inbox for a period; return the release and report paths (or raise RunFailed).

    The policy's approval and the keys are checked before anything is read.
    """
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = f"run-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    ws = Workspace(Path(workspace))
    the_period = Period.parse(period)
    policy, approval = approved_policy(ws)
    tables = stages.tables_for(policy, jurisdiction)
    keys = open_store(ws.keys)
    domains = stages.domains_for(jurisdiction)
    # the current keys, the release-signing key, and the keys that made every store folder of the jurisdiction
    stages.check_run_keys(ws, keys, jurisdiction)
    central = stages.central_domain(jurisdiction)
    batches, skipped = discover_batches(Path(inbox), jurisdiction)  # type: ignore[arg-type]
    logger.info("run %s: %d batches for %s, period %s", run_id, len(batches), jurisdiction, the_period.label)

    try:  # scratch files and the run's fingerprint key go, whatever happens
        checks = [check_contract(b, ws.root, started.date()) for b in batches]
        good = [b for b, c in zip(batches, checks, strict=True) if c["status"] == "checked"]
        stored = [pseudonymise(b, ws.root, the_period, jurisdiction, run_id, policy.treatments) for b in good]
        batch_keys = [f"{b.partner_id}/{b.batch_id}" for b in good]
        facts: dict[str, Any] = {
            "run_id": run_id,
            "started": started,
            "period": the_period,
            "jurisdiction": jurisdiction,
            "policy": policy,
            "approval": approval,
            "keys": keys,
            "checks": checks,
            "stored": stored,
            "skipped": skipped,
            "domains": domains,
            "operator": _operator_pseudonym(keys, central),
        }
        if not good:
            report = write_report(ws, facts | {"failure": "no batch could be read"})
            raise RunFailed(f"no batch could be read; see {report}")
        try:  # over the whole run, per domain and purpose: a collision would merge two people in every count
            facts["collisions"] = stages.collision_stage(ws, run_id)
        except PseudonymCollision as collided:
            report = write_report(ws, facts | {"collisions": collided.figures, "failure": str(collided)})
            raise RunFailed(f"{collided}; see {report}") from None
        facts["erasure"] = erase(ws.root, jurisdiction, the_period, batch_keys)

        quality = [
            {
                "partner": c["partner"],
                "entity": name,
                **{k: e[k] for k in ("received", "accepted", "quarantined", "reasons", "completeness", "declined")},
            }
            for c in checks
            if c["status"] == "checked"
            for name, e in c["entities"].items()
        ]
        coverage = [{"partner": c["partner"], "batch": c["batch"], "status": c["status"]} for c in checks]
        aggregates = aggregate(
            ws.root,
            jurisdiction,
            the_period,
            batch_keys,
            quality,
            run_id,
            tables,
            policy.method,
            coverage,
            policy.treatments,
        )
        protected = control_disclosure(ws.root, run_id, policy, tables, jurisdiction, the_period)
        protection, history, control = protected["tables"], protected["history"], protected["control"]
        facts |= {"aggregates": aggregates, "protection": protection, "history": history, "control": control}
        if not control["passed"]:
            report = write_report(ws, facts | {"failure": control["problem"]})
            raise RunFailed(f"{control['problem']}: no release written; see {report}")
        audit = audit_disclosure(ws.root, run_id, policy, tables)
        facts["audit"] = audit
        if not history["passed"]:
            report = write_report(ws, facts | {"failure": "release history: differences reveal small groups"})
            raise RunFailed(
                f"release history check failed: {len(history['violations'])} cells differ from an earlier "
                f"release by fewer than their threshold: no release written; see {report}"
            )
        failed = [t for t, a in audit.items() if not a["passed"]]
        if failed:
            report = write_report(ws, facts | {"failure": f"disclosure audit failed for {', '.join(failed)}"})
            raise RunFailed(f"disclosure audit failed for {', '.join(failed)}: no release written; see {report}")
        facts["leak_guard"] = leak_guard(ws.root, run_id, tables, build_report(ws, facts), jurisdiction)
        if not facts["leak_guard"]["passed"]:
            places = "; ".join(facts["leak_guard"]["places_with_personal_data"])
            report = write_report(ws, facts | {"failure": f"leak guard found personal data in: {places}"})
            raise RunFailed(f"leak guard found personal data in {places}: no release written; see {report}")
        inputs = [e["sha256"] for c in checks if c["status"] == "checked" for e in c["entities"].values()]
        fingerprints = [keys.fingerprint(d) for d in domains]
        erased = [e["pseudonym"] for e in load_register(ws)]
        # differential privacy draws fresh noise in every run: its release is this run's, never an earlier one's
        draw = run_id if policy.method == "dp" else None
        rid = release_id(
            the_period.label, jurisdiction, inputs, policy.sha256, fingerprints, code_version(), erased, draw
        )
        try:
            release = publish_release(ws.root, run_id, rid, policy, the_period, jurisdiction, tables, control, coverage)
        except RunFailed as refused:
            report = write_report(ws, facts | {"failure": str(refused)})
            raise RunFailed(f"{refused}: no release written; see {report}") from None
        facts |= {"release": release, "ledger": release["ledger"]}
        facts["key_scan"] = scan_for_keys(
            ws.root, [ws.store(jurisdiction, the_period.label), Path(release["release_dir"]), ws.root / "quarantine"]
        )
        if facts["key_scan"]["files_with_key_material"]:
            shutil.rmtree(release["release_dir"], ignore_errors=True)
            report = write_report(ws, facts | {"release": None, "failure": "key material found in outputs"})
            raise RunFailed(f"key material found in the outputs: release withdrawn; see {report}")
        report = write_report(ws, facts)
    finally:
        stages.clean_work(ws, run_id)
        stages.forget_run_key(run_id)
    logger.info("run %s finished: release %s", run_id, release["release_id"])
    return {
        "run_id": run_id,
        "release_id": release["release_id"],
        "release_dir": release["release_dir"],
        "report": str(report),
    }
