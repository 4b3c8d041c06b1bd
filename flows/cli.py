"""The ``zakrila`` command line: demo, synth, run, verify, report, keys, policy, ledger, subjects.

Every command exits 0 on success and otherwise prints one line saying why, and exits non-zero.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from anonymise.dp import BudgetLedger, LedgerKey
    from flows.publish import ReportCheck

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="zakrila — pseudonymise social-service records and publish GDPR-safe tables.",
)
console = Console(stderr=True, soft_wrap=True)  # soft wrap: a long line stays one line when piped
DEMO_PERIOD = "2025"


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print why on stderr as exactly one line ("zakrila: …", never wrapped, no markup) and exit."""
    line = " ".join(str(message).split())
    console.print(Text.assemble(("zakrila:", "bold red"), " ", line), soft_wrap=True, highlight=False)
    raise typer.Exit(code)


@app.command()
def synth(
    inbox: Path = typer.Option(..., help="Inbox folder to write partner batches into."),
    scale: float = typer.Option(1.0, help="1.0 is a pilot: about 3,000 persons and 75k service events over two years."),
    seed: int = typer.Option(0, help="Random seed; the same seed gives byte-identical files."),
    defects: float = typer.Option(0.01, help="Share of rows with a planted defect (0 disables)."),
) -> None:
    """Write realistic synthetic batches for the five partners (truth file beside the inbox)."""
    from flows.synth import generate
    from flows.synth.generate import truth_path_for

    if not (math.isfinite(scale) and scale > 0):
        _fail(f"--scale must be a positive number (1.0 is a pilot), not {scale}", 2)
    if not (math.isfinite(defects) and 0 <= defects < 1):
        _fail(f"--defects must be a share from 0 up to (not including) 1, not {defects}", 2)
    if inbox.exists() and not inbox.is_dir():
        _fail(f"--inbox {inbox} exists and is not a folder", 2)
    if truth_path_for(inbox).is_dir():
        _fail(f"the truth file's place {truth_path_for(inbox)} is a folder", 2)
    try:
        with console.status("generating synthetic partner batches…"):
            summary = generate(inbox, scale=scale, seed=seed, defects=defects)
    except (ValueError, OSError) as exc:
        _fail(f"cannot write the synthetic inbox {inbox}: {exc}")
    total = sum(sum(e.values()) for e in summary.counts.values())
    console.print(
        f"wrote {total:,} rows for {len(summary.counts)} partners into {inbox} "
        f"in {summary.seconds:.1f} s; truth file {summary.truth_path}"
    )


def _run(inbox: Path, workspace: Path, period: str, jurisdiction: str) -> dict[str, str]:
    from anonymise.keys import KeyStoreError
    from anonymise.period import Period
    from anonymise.policy import PolicyError
    from flows.governance import approved_policy
    from flows.ingest import discover_batches
    from flows.keystore import open_store
    from flows.pipeline import RunFailed, StageFailed, run_pipeline
    from flows.stages import LeakFound
    from flows.workspace import Workspace

    try:
        Period.parse(period)
    except ValueError as exc:
        _fail(str(exc), 2)
    if not inbox.is_dir():
        _fail(f"inbox {inbox} is not a folder", 2)
    try:  # refuse early, before a Prefect server is started, and unlock the keys once (prompting if needed)
        approved_policy(Workspace(workspace))
        open_store(Workspace(workspace).keys, prompt=_prompt_passphrase)
    except (PolicyError, KeyStoreError) as exc:
        _fail(str(exc))
    batches, skipped = discover_batches(inbox, jurisdiction)  # type: ignore[arg-type]
    if not batches:
        why = f"skipped {'; '.join(skipped)}" if skipped else "it holds no <partner>/<batch>/ folder"
        _fail(f"no {jurisdiction} batches in {inbox} ({why}); nothing was run")
    try:
        with _prefect_console_held(), console.status("running the pipeline…"):
            return run_pipeline(inbox=inbox, workspace=workspace, period=period, jurisdiction=jurisdiction)
    except (RunFailed, StageFailed, LeakFound, PolicyError, KeyStoreError) as exc:
        _fail(str(exc))
    except Exception as exc:  # the message may quote data: its type only (the details are in Prefect's run log)
        if os.environ.get("ZAKRILA_DEBUG") == "1":
            raise
        _fail(
            f"the run stopped on an unexpected {type(exc).__name__}; see the flow run's log in Prefect, or rerun "
            "with ZAKRILA_DEBUG=1 on a secure machine for the traceback"
        )


class _HeldConsole(logging.Filter):
    """Holds what one of Prefect's console handlers would print while the CLI runs a flow.

    Prefect prints its progress and, when a run fails, the exception's traceback before the CLI's
    reason. The CLI holds those records (Prefect's API handler still sends them to its database, so
    the run's log keeps every detail): after a run that wrote a release they are printed as Prefect
    would have printed them; after a failure they are dropped, and so is anything below ERROR that
    Prefect prints later in the process (it stops its temporary server at exit). Library use of the
    flow is unaffected: only the CLI installs these filters.
    """

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__("zakrila-cli")
        self.handler = handler
        self.mode = "pass"  # "hold" while a run is under way; "failed" after a run that failed
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.mode == "hold":
            self.held.append(record)
            return False
        return self.mode == "pass" or record.levelno >= logging.ERROR

    def release(self, replay: bool) -> None:
        """Stop holding: print what was held (``replay``), or drop it and keep quiet below ERROR."""
        held, self.held = self.held, []
        self.mode = "pass" if replay else "failed"
        for record in held if replay else []:
            if record.levelno >= self.handler.level:
                self.handler.handle(record)


def _prefect_console_filters() -> list[_HeldConsole]:
    """Return the CLI's filter on each of Prefect's console handlers (installed once per handler)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in ("prefect", "uvicorn", "fastapi")
    ]
    filters: dict[int, _HeldConsole] = {}
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) or type(handler).__name__ == "_SafeStreamHandler":
                mine = [f for f in handler.filters if isinstance(f, _HeldConsole)]
                if not mine:
                    mine = [_HeldConsole(handler)]
                    handler.addFilter(mine[0])
                filters[id(handler)] = mine[0]
    return list(filters.values())


@contextmanager
def _prefect_console_held() -> Iterator[None]:
    """Hold Prefect's console output while a flow runs: printed if it succeeds, dropped if it fails."""
    import flows.pipeline  # noqa: F401  (Prefect configures its logging handlers when it is imported)

    filters = _prefect_console_filters()
    for f in filters:
        f.release(replay=False)
        f.mode = "hold"
    try:
        yield
    except BaseException:
        for f in filters:
            f.release(replay=os.environ.get("ZAKRILA_DEBUG") == "1")
        raise
    for f in filters:
        f.release(replay=True)


@app.command()
def run(
    inbox: Path = typer.Option(..., help="Inbox with <partner>/<batch>/ folders."),
    workspace: Path = typer.Option(..., help="Workspace to write the store, release and report into."),
    period: str = typer.Option(..., help="Reporting period: YYYY, YYYY-Hn or YYYY-Qn."),
    jurisdiction: str = typer.Option("bg", help="bg (Bulgarian partners) or ru (the Russian pilot)."),
) -> None:
    """Run the pipeline: check, pseudonymise, aggregate, protect, audit, publish, report."""
    if jurisdiction not in ("bg", "ru"):
        _fail("jurisdiction must be bg or ru", 2)
    result = _run(inbox, workspace, period, jurisdiction)
    console.print(f"release  {result['release_dir']}")
    console.print(f"report   {result['report']}/report.html")
    print(json.dumps(result))


def _prompt_passphrase() -> str:
    return str(typer.prompt("key store passphrase", hide_input=True))


@app.command()
def demo(workspace: Path = typer.Option(Path("workspace"), help="Workspace for the demo run.")) -> None:
    """Generate synthetic partners and run the pipeline on them; print where the results are."""
    from flows.governance import DPO_PASSPHRASE_ENV
    from flows.keystore import PASSPHRASE_ENV
    from flows.synth import generate

    if workspace.exists() and not workspace.is_dir():
        _fail(f"--workspace {workspace} exists and is not a folder", 2)
    started = time.monotonic()
    if not os.environ.get(PASSPHRASE_ENV):
        os.environ[PASSPHRASE_ENV] = "zakrila-demo-only"
        os.environ.setdefault(DPO_PASSPHRASE_ENV, "zakrila-demo-dpo-only")
        console.print("[yellow]demo:[/] key store and DPO key use fixed demo passphrases — never for real data")
    _init(workspace, None)
    _approve(workspace, None)
    inbox = workspace / "inbox"
    with console.status("generating synthetic partner batches…"):
        summary = generate(inbox, scale=1.0, seed=2025, defects=0.01)
    console.print(f"synthetic inbox: {inbox} ({sum(sum(e.values()) for e in summary.counts.values()):,} rows)")
    result = _run(inbox, workspace, DEMO_PERIOD, "bg")
    console.print(f"[bold green]release[/]  {result['release_dir']}")
    console.print(f"[bold green]report[/]   {result['report']}/report.html  (and report.json)")
    console.print(f"done in {time.monotonic() - started:.0f} s")


@app.command()
def verify(
    release: Path = typer.Argument(..., help="A release folder."),
    key_sha256: str = typer.Option(None, help="SHA-256 of the trusted public key (from the data officer)."),
    require_approval: bool = typer.Option(
        False, "--require-approval", help="Exit non-zero unless the DPO approved the release's run report."
    ),
) -> None:
    """Verify a release: the manifest's signature and every file's SHA-256; then say whether its run
    report (in the release's workspace, reports/*/report.json) verifies and what the DPO decided."""
    from flows.publish import release_reports, standing_decision, verify_release

    result = verify_release(release, key_sha256)
    if not result.ok:
        _fail("; ".join(result.problems))
    files = len(json.loads((release / "manifest.json").read_text())["files"])
    checks = release_reports(release)
    standing = standing_decision(checks)
    if require_approval and (standing is None or not standing.approved):
        _fail(f"{release}: the release verifies, but {_no_approval(release, checks, standing)}")
    console.print(
        Text.assemble(
            ("ok", "green"), f" {release}: signature and {files} file hashes verified (key {result.public_key_sha256})"
        )
    )
    if not checks:
        console.print(Text(f"report   none of {release.resolve().parent.parent / 'reports'} names this release"))
    for check in checks:
        console.print(Text(f"report   {_signoff_line(check)}"))


def _signoff_line(check: ReportCheck) -> str:
    """Return one line on a run report: whether it verifies, and the DPO's decision on it."""
    head = f"{check.run_id or check.folder.name}: "
    head += "signature verified" if check.intact else "NOT trusted — " + "; ".join(check.problems)
    d = check.decision
    if d is None:
        return head + ("; DPO decision pending" if check.decision_problem is None else f"; {check.decision_problem}")
    what = str(d.get("decision", "")).replace("_", " ")
    if d.get("conditions"):
        what += f" ({d['conditions']})"
    made = f"{what}, {d.get('decided_at')} by DPO key {str(d.get('dpo_key_sha256'))[:16]}…"
    if check.decision_problem:
        return head + f"; DPO decision {made} does NOT hold: {check.decision_problem}"
    return head + f"; DPO decision: {made}, signature verified"


def _no_approval(release: Path, checks: list[ReportCheck], standing: ReportCheck | None) -> str:
    """Return why a release has no valid DPO approval (for --require-approval)."""
    if not checks:
        return f"no run report in {release.resolve().parent.parent / 'reports'} names it"
    if standing is not None and standing.decision is not None:
        d = standing.decision
        note = f": {d['note']}" if d.get("note") else ""
        return f"the DPO rejected its run report {standing.run_id} ({d.get('decided_at')}){note}"
    intact = [c for c in checks if c.intact]
    if not intact:
        return "its run report does not verify: " + "; ".join(p for c in checks for p in c.problems)
    broken = [c.decision_problem for c in intact if c.decision_problem]
    if broken:
        return "the DPO's decision on its run report does not hold: " + "; ".join(broken)
    return f"the DPO has not decided on its run report ({', '.join(str(c.run_id) for c in intact)})"


@app.command()
def discover(
    file: Path = typer.Argument(..., help="A CSV, XLSX or Parquet file."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {column, kinds}."),
    language: str = typer.Option("bg", help="bg or ru: the language of names and addresses."),
    sample: int = typer.Option(200, help="Values sampled per column."),
) -> None:
    """Report which columns hold names, national IDs, phones, e-mails, addresses, dates of birth or free
    text, with the share of matching values — never the values."""
    from anonymise.pii.discover import discover_frame
    from flows.discovery import UnreadableFile, read_table

    try:
        frame = read_table(file)
    except UnreadableFile as exc:
        _fail(str(exc), 2)
    findings = discover_frame(frame, language=language, sample=sample)
    if as_json:
        print(json.dumps([{"column": f.column, "kinds": f.kinds} for f in findings], ensure_ascii=False, indent=1))
        return
    from rich.table import Table

    table = Table("column", "sampled", "personal data found (share of values)")
    for f in findings:
        found = ", ".join(f"{k} {v:.0%}" for k, v in sorted(f.kinds.items(), key=lambda kv: -kv[1])) or "—"
        table.add_row(f.column, str(f.sampled), f"[red]{found}[/]" if f.personal else found)
    Console().print(table)


keys_app = typer.Typer(no_args_is_help=True, help="The key store: init, show, rotate, destroy.")
policy_app = typer.Typer(no_args_is_help=True, help="The anonymisation policy: show, approve.")
subjects_app = typer.Typer(no_args_is_help=True, help="Data subjects' rights: erase.")
ledger_app = typer.Typer(no_args_is_help=True, help="The privacy-budget ledgers of differential privacy: show, seal.")
app.add_typer(keys_app, name="keys")
app.add_typer(policy_app, name="policy")
app.add_typer(ledger_app, name="ledger")
app.add_typer(subjects_app, name="subjects")
WORKSPACE = typer.Option(Path("workspace"), help="The workspace (keys/, policy.toml, store/ …).")


def _init(workspace: Path, dpo_public_key: Path | None, replace_dpo_key: bool = False) -> None:
    import os

    from anonymise.keys import KeyStoreError
    from anonymise.policy import PolicyError
    from flows.governance import DPO_PASSPHRASE_ENV, init_governance
    from flows.keystore import KeyStore, passphrase_from_environment
    from flows.stages import domains_for
    from flows.workspace import Workspace

    ws = Workspace(workspace)
    try:
        store, added = KeyStore.init(
            ws.keys, passphrase_from_environment(_prompt_passphrase), domains_for("bg") + domains_for("ru")
        )
        done = init_governance(ws, os.environ.get(DPO_PASSPHRASE_ENV), dpo_public_key, replace_dpo_key)
    except (KeyStoreError, PolicyError) as exc:
        _fail(str(exc))
    for domain in added:
        console.print(f"created {store.key_id(domain)}  fingerprint {store.fingerprint(domain)}")
    for line in done:
        console.print(line)


@keys_app.command("init")
def keys_init(
    workspace: Path = WORKSPACE,
    dpo_public_key: Path = typer.Option(None, help="The DPO's Ed25519 public key (PEM), if the DPO keeps the pair."),
    replace_dpo_key: bool = typer.Option(
        False,
        "--replace-dpo-key",
        help="Replace a registered DPO key with --dpo-public-key (recorded in keys/dpo.history.jsonl; the policy "
        "must then be approved again).",
    ),
) -> None:
    """Create the key store (one key per domain), the DPO key pair and the workspace policy.

    An existing DPO key is never replaced without --replace-dpo-key: whoever holds it approves policies.
    """
    _init(workspace, dpo_public_key, replace_dpo_key)


@keys_app.command("show")
def keys_show(workspace: Path = WORKSPACE) -> None:
    """Print key IDs, generations, creation dates and fingerprints — never key material."""
    from rich.measure import Measurement
    from rich.table import Table

    from anonymise.keys import KeyStoreError
    from flows.keystore import open_store
    from flows.workspace import Workspace

    try:
        store = open_store(Workspace(workspace).keys, prompt=_prompt_passphrase)
    except KeyStoreError as exc:
        _fail(str(exc))
    table = Table("domain", "key ID", "created", "age (days)", "fingerprint", "retired", "destroyed")
    for column in table.columns:
        column.no_wrap = True  # IDs and fingerprints are never cut ("bg-cent…"), whatever the width
    for domain in store.domains():
        i = store.info(domain)
        table.add_row(
            i.domain,
            i.key_id,
            i.created,
            str(i.age_days),
            i.fingerprint,
            ",".join(map(str, i.retired_generations)),
            ",".join(map(str, i.destroyed_generations)),
        )
    terminal = Console()
    needed = Measurement.get(terminal, terminal.options.update_width(1000), table).maximum
    Console(width=max(terminal.width, needed)).print(table)


@keys_app.command("rotate")
def keys_rotate(
    domain: str = typer.Option(..., help="The domain to rotate, e.g. bg-central or local:plovdiv-ksuds."),
    inbox: Path = typer.Option(..., help="The inbox whose batches give the re-keying map."),
    workspace: Path = WORKSPACE,
) -> None:
    """Make a new key generation and re-key the store and the erasure register to it."""
    from anonymise.keys import KeyStoreError
    from flows.keystore import forget_unlocked, open_store
    from flows.rotation import RotationError, rotate
    from flows.workspace import Workspace

    ws = Workspace(workspace)
    try:
        result = rotate(ws, open_store(ws.keys, prompt=_prompt_passphrase), domain, inbox)
    except (KeyStoreError, RotationError) as exc:
        _fail(str(exc))
    forget_unlocked()
    console.print(
        f"rotated {result['from']} → {result['to']}: {result['pairs']:,} pseudonyms mapped, "
        f"{result['values_mapped']:,} store values in {result['folders_rekeyed']} folders re-keyed, "
        f"{result['register_mapped']} register entries re-keyed",
        soft_wrap=True,
    )
    for folder, values in result["folders_not_rekeyed"].items():
        console.print(
            f"[yellow]not re-keyed:[/] {folder}: {values:,} pseudonyms the inbox does not explain (kept as they were)",
            soft_wrap=True,
        )
    if result["register_unmapped"]:
        console.print(
            f"[yellow]not re-keyed:[/] {result['register_unmapped']} erasure-register entries "
            "the inbox does not explain",
            soft_wrap=True,
        )
    for key_id, blockers in result["still_in_use"].items():
        console.print(
            f"[yellow]keep {key_id}[/]: still in use by {'; '.join(blockers)} — rotate again with an inbox that holds "
            "their batches before destroying it",
            soft_wrap=True,
        )
    for key_id in result["destroyable"]:
        generation = key_id.rsplit("#", 1)[1]
        console.print(
            f"{key_id} is no longer used: zakrila keys destroy --domain {domain} --generation {generation}",
            soft_wrap=True,
        )


@keys_app.command("destroy")
def keys_destroy(
    domain: str = typer.Option(...), generation: int = typer.Option(...), workspace: Path = WORKSPACE
) -> None:
    """Destroy a retired key generation for good, and the re-keying maps that link it to another one.

    Refused while a store folder or an erasure-register entry still depends on the generation.
    """
    from anonymise.keys import KeyStoreError
    from flows.keystore import open_store
    from flows.rotation import RotationError, destroy_generation
    from flows.workspace import Workspace

    ws = Workspace(workspace)
    try:
        result = destroy_generation(ws, open_store(ws.keys, prompt=_prompt_passphrase), domain, generation)
    except (KeyStoreError, RotationError) as exc:
        _fail(str(exc))
    console.print(f"destroyed {result['destroyed']}", soft_wrap=True)
    for name in result["maps_deleted"]:
        console.print(f"deleted the re-keying map keys/rekey/{name}", soft_wrap=True)


def _approve(workspace: Path, dpo_key: Path | None) -> None:
    import os

    from anonymise.policy import PolicyError
    from flows.governance import DPO_PASSPHRASE_ENV, approve
    from flows.workspace import Workspace

    passphrase = os.environ.get(DPO_PASSPHRASE_ENV) or typer.prompt("DPO key passphrase", hide_input=True)
    try:
        record = approve(Workspace(workspace), dpo_key, passphrase)
    except PolicyError as exc:
        _fail(str(exc))
    console.print(f"policy {record['policy_sha256'][:16]}… approved by DPO key {record['dpo_key_sha256'][:16]}…")


@policy_app.command("approve")
def policy_approve(
    workspace: Path = WORKSPACE,
    dpo_key: Path = typer.Option(None, help="The DPO's private key (default: keys/dpo.key.pem)."),
) -> None:
    """Sign the workspace policy with the DPO's Ed25519 key."""
    _approve(workspace, dpo_key)


@policy_app.command("show")
def policy_show(workspace: Path = WORKSPACE) -> None:
    """Print the policy in force, its hash and whether the DPO approved it."""
    from anonymise.policy import PolicyError
    from flows.governance import approved_policy, dpo_key_history, read_policy
    from flows.workspace import Workspace

    ws = Workspace(workspace)
    try:
        policy = read_policy(ws)
    except PolicyError as exc:
        _fail(str(exc))
    print(policy.text)
    try:
        _, record = approved_policy(ws)
        console.print(f"SHA-256 {policy.sha256}: approved {record['approved_at']}", soft_wrap=True)
    except PolicyError as exc:
        console.print(f"SHA-256 {policy.sha256}: [bold red]not approved[/] — {exc}", soft_wrap=True, highlight=False)
    history = dpo_key_history(ws)
    if history["current_sha256"]:
        last = history["changes"][-1]["changed_at"] if history["changes"] else "never recorded"
        console.print(
            f"DPO key {history['current_sha256']}: {len(history['changes'])} recorded change(s), last {last}",
            soft_wrap=True,
        )
    for note in [*history["unrecorded_changes"], *([history["problem"]] if history["problem"] else [])]:
        console.print(f"[bold red]DPO key:[/] {note}", soft_wrap=True, highlight=False)


JURISDICTION = typer.Option("bg", help="The release series: bg or ru.")


def _ledger(workspace: Path, jurisdiction: str) -> tuple[Path, LedgerKey, BudgetLedger, str | None]:
    """Return a series' ledger path, key, ledger as stored (None: no file) and what is wrong with its seal."""
    from anonymise.dp import LedgerError, stored_ledger
    from anonymise.keys import KeyStoreError
    from flows.keystore import open_store
    from flows.stages import ledger_key, ledger_path
    from flows.workspace import Workspace

    if jurisdiction not in ("bg", "ru"):
        _fail("jurisdiction must be bg or ru", 2)
    ws = Workspace(workspace)
    path = ledger_path(ws, jurisdiction)
    try:
        open_store(ws.keys, prompt=_prompt_passphrase)
        key = ledger_key(ws, jurisdiction)
        stored = stored_ledger(path, jurisdiction, key=None)
    except (KeyStoreError, LedgerError) as exc:
        _fail(str(exc))
    if stored is None:
        _fail(f"no privacy-budget ledger {path}: the series has spent nothing")
        raise AssertionError("unreachable")
    try:
        stored_ledger(path, jurisdiction, key=key)
        problem = None
    except LedgerError as exc:
        problem = str(exc)
    return path, key, stored, problem


def _print_ledger(path: Path, ledger: BudgetLedger, problem: str | None) -> None:
    from rich.table import Table

    table = Table("release", "run", "status", "ε", "δ", title=f"{path} — series {ledger.series}")
    for c in ledger.charges:
        table.add_row(c.release_id or "—", c.run_id or "—", c.status, f"{c.epsilon:.6g}", f"{c.delta:.3g}")
    Console().print(table)
    console.print(
        f"spent ε={ledger.epsilon_spent:.6g}, δ={ledger.delta_spent:.3g} of the caps stored in the ledger "
        f"ε={ledger.epsilon_cap:.6g}, δ={ledger.delta_cap:.3g} (the approved policy's caps apply to runs)"
    )
    for r in ledger.reviews:
        console.print(f"sealed after review {r.sealed_at} under {r.key_id} (found: {r.found}): {r.note}")
    console.print("[green]seal verified[/]" if problem is None else f"[bold red]not trusted:[/] {problem}")


@ledger_app.command("show")
def ledger_show(workspace: Path = WORKSPACE, jurisdiction: str = JURISDICTION) -> None:
    """Print a series' ledger (release and run IDs, ε and δ, reviews) and whether its seal verifies."""
    path, _, stored, problem = _ledger(workspace, jurisdiction)
    _print_ledger(path, stored, problem)
    if problem is not None:
        raise typer.Exit(1)


@ledger_app.command("seal")
def ledger_seal(
    note: str = typer.Option(..., help="Why the ledger is sealed (kept in the ledger), e.g. the review's reference."),
    reviewed: bool = typer.Option(
        False, "--reviewed", help="Declare that every charge was checked against releases/ and the run reports."
    ),
    workspace: Path = WORKSPACE,
    jurisdiction: str = JURISDICTION,
) -> None:
    """Seal a series' ledger after the DPO's review: a ledger from before seals, or one whose seal fails.

    Sealing declares the ledger's charges right: check each against the releases in releases/ and the
    run reports first (a charge removed is budget spent that the series forgets). Without --reviewed
    the command shows the ledger and asks for the series name to confirm.
    """
    from anonymise.dp import LedgerError, seal_ledger

    path, key, stored, problem = _ledger(workspace, jurisdiction)
    _print_ledger(path, stored, problem)
    if problem is None:
        console.print("the seal verifies: nothing to seal")
        return
    if not reviewed:
        typed = typer.prompt(f"reviewed every charge? type the series name ({jurisdiction}) to seal the ledger")
        reviewed = typed.strip() == jurisdiction
        if not reviewed:
            _fail("not confirmed: the ledger is left as it was")
    try:
        sealed = seal_ledger(path, jurisdiction, key=key, reviewed=reviewed, note=note)
    except LedgerError as exc:
        _fail(str(exc))
    console.print(f"sealed {path} under {sealed.reviews[-1].key_id}; the review is recorded in the ledger")


@subjects_app.command("erase")
def subjects_erase(
    partner: str = typer.Option(..., help="The partner that holds the subject's record."),
    person_id: str = typer.Option(None, help="The partner's person ID of the subject."),
    national_id: str = typer.Option(
        None,
        help="The subject's national ID (ЕГН, ЛНЧ, СНИЛС …); '-' reads it from standard input (asked for "
        "without echo at a terminal), so that it stays out of the process list and the shell's history.",
    ),
    id_type: str = typer.Option("egn", help="egn, lnc, snils, passport or birth_certificate."),
    workspace: Path = WORKSPACE,
) -> None:
    """Record an erasure or objection: the subject's rows leave the store and every later release."""
    from anonymise.keys import KeyStoreError
    from flows.erasure import ErasureError, record
    from flows.keystore import open_store
    from flows.workspace import Workspace
    from schemas.partners import UnknownPartner

    ws = Workspace(workspace)
    if national_id == "-":
        import sys

        national_id = (
            str(typer.prompt("national ID", hide_input=True)) if sys.stdin.isatty() else sys.stdin.readline()
        ).strip()
        if not national_id:
            _fail("no national ID on standard input", 2)
    try:
        entry = record(ws, open_store(ws.keys, prompt=_prompt_passphrase), partner, person_id, national_id, id_type)
    except (KeyStoreError, ErasureError, UnknownPartner) as exc:
        _fail(str(exc))
    console.print(f"recorded for erasure under {entry['key_id']} (by {entry['by']}); applied from the next run")


report_app = typer.Typer(
    no_args_is_help=True, help="Run reports: the DPO approves (with or without conditions) or rejects one."
)
app.add_typer(report_app, name="report")
RUN_ID = typer.Option(..., "--run-id", help="The run whose report is decided: reports/<run_id>/.")
NOTE = typer.Option(None, help="The DPO's note, kept in the decision record.")
DPO_KEY = typer.Option(None, help="The DPO's private key (default: keys/dpo.key.pem).")


def _decide(
    workspace: Path, run_id: str, decision: str, conditions: str | None, note: str | None, dpo_key: Path | None
) -> None:
    from flows.governance import DPO_PASSPHRASE_ENV
    from flows.report import SignOffError, decide
    from flows.workspace import Workspace

    def passphrase() -> str:
        return os.environ.get(DPO_PASSPHRASE_ENV) or str(typer.prompt("DPO key passphrase", hide_input=True))

    try:
        record = decide(Workspace(workspace), run_id, decision, conditions, note, dpo_key, passphrase)
    except SignOffError as exc:
        _fail(str(exc))
    console.print(
        Text(
            f"{record['decision'].replace('_', ' ')}: report {run_id} (SHA-256 {record['report_sha256'][:16]}…) "
            f"signed by DPO key {record['dpo_key_sha256'][:16]}…: {workspace / 'reports' / run_id / 'decision.json'}"
        )
    )


@report_app.command("approve")
def report_approve(
    run_id: str = RUN_ID,
    conditions: str = typer.Option(None, help="Approve with these conditions (kept in the decision record)."),
    note: str = NOTE,
    dpo_key: Path = DPO_KEY,
    workspace: Path = WORKSPACE,
) -> None:
    """Approve a run report (with --conditions: approve with conditions) by the DPO's signature over its hash."""
    _decide(workspace, run_id, "approve_with_conditions" if conditions else "approve", conditions, note, dpo_key)


@report_app.command("reject")
def report_reject(run_id: str = RUN_ID, note: str = NOTE, dpo_key: Path = DPO_KEY, workspace: Path = WORKSPACE) -> None:
    """Reject a run report by the DPO's signature over its hash."""
    _decide(workspace, run_id, "reject", None, note, dpo_key)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (the ``zakrila`` console script and ``python -m flows.cli``).

    A usage error (a missing or malformed option) is one line too, like every other failure, with
    exit code 2; ``--help`` and Click's own messages are unchanged.
    """
    import sys

    try:  # typer vendors Click from 0.22 on; older versions use Click itself
        from typer._click.exceptions import ClickException, UsageError
    except ImportError:  # pragma: no cover
        from click.exceptions import ClickException, UsageError  # type: ignore[assignment]

    try:
        code = typer.main.get_command(app).main(args=argv, prog_name="zakrila", standalone_mode=False)
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "zakrila"
        hint = f" (see '{where} --help')"
        console.print(
            Text.assemble(("zakrila:", "bold red"), " ", f"{where}: {' '.join(exc.format_message().split())}{hint}"),
            soft_wrap=True,
            highlight=False,
        )
        sys.exit(2)
    except typer.Abort:
        console.print(Text.assemble(("zakrila:", "bold red"), " ", "aborted"), soft_wrap=True, highlight=False)
        sys.exit(1)
    except ClickException as exc:
        console.print(
            Text.assemble(("zakrila:", "bold red"), " ", " ".join(exc.format_message().split())), soft_wrap=True
        )
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
