"""The ``zakrila`` command line: demo, synth, run, verify, keys, policy, ledger, subjects.

Every command exits 0 on success and otherwise prints one line saying why, and exits non-zero.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from anonymise.dp import BudgetLedger, LedgerKey

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="zakrila — pseudonymise social-service records and publish GDPR-safe tables.",
)
console = Console(stderr=True)
DEMO_PERIOD = "2025"


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]zakrila:[/] {message}")
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

    with console.status("generating synthetic partner batches…"):
        summary = generate(inbox, scale=scale, seed=seed, defects=defects)
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
    try:
        return run_pipeline(inbox=inbox, workspace=workspace, period=period, jurisdiction=jurisdiction)
    except (RunFailed, StageFailed, LeakFound, PolicyError, KeyStoreError) as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


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
    import os

    from flows.governance import DPO_PASSPHRASE_ENV
    from flows.keystore import PASSPHRASE_ENV
    from flows.synth import generate

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
) -> None:
    """Verify a release: the manifest's signature and every file's SHA-256."""
    from flows.publish import verify_release

    result = verify_release(release, key_sha256)
    if not result.ok:
        _fail("; ".join(result.problems))
    console.print(
        f"[green]ok[/] {release}: signature and {len(json.loads((release / 'manifest.json').read_text())['files'])}"
        f" file hashes verified (key {result.public_key_sha256})"
    )


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


def _init(workspace: Path, dpo_public_key: Path | None) -> None:
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
        done = init_governance(ws, os.environ.get(DPO_PASSPHRASE_ENV), dpo_public_key)
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
) -> None:
    """Create the key store (one key per domain), the DPO key pair and the workspace policy."""
    _init(workspace, dpo_public_key)


@keys_app.command("show")
def keys_show(workspace: Path = WORKSPACE) -> None:
    """Print key IDs, generations, creation dates and fingerprints — never key material."""
    from rich.table import Table

    from anonymise.keys import KeyStoreError
    from flows.keystore import open_store
    from flows.workspace import Workspace

    try:
        store = open_store(Workspace(workspace).keys, prompt=_prompt_passphrase)
    except KeyStoreError as exc:
        _fail(str(exc))
    table = Table("domain", "key ID", "created", "age (days)", "fingerprint", "retired", "destroyed")
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
    Console().print(table)


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
        f"{result['values_mapped']:,} store values re-keyed, {result['register_unmapped']} register entries unmapped"
    )
    console.print(
        f"the old generation can be destroyed: zakrila keys destroy --domain {domain} "
        f"--generation {result['from'].rsplit('#', 1)[1]}"
    )


@keys_app.command("destroy")
def keys_destroy(
    domain: str = typer.Option(...), generation: int = typer.Option(...), workspace: Path = WORKSPACE
) -> None:
    """Destroy a retired key generation for good."""
    from anonymise.keys import KeyStoreError
    from flows.keystore import open_store
    from flows.workspace import Workspace

    try:
        open_store(Workspace(workspace).keys, prompt=_prompt_passphrase).destroy(domain, generation)
    except KeyStoreError as exc:
        _fail(str(exc))
    console.print(f"destroyed {domain}#{generation}")


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
    from flows.governance import approved_policy, read_policy
    from flows.workspace import Workspace

    ws = Workspace(workspace)
    try:
        policy = read_policy(ws)
    except PolicyError as exc:
        _fail(str(exc))
    print(policy.text)
    try:
        _, record = approved_policy(ws)
        console.print(f"SHA-256 {policy.sha256}: approved {record['approved_at']}")
    except PolicyError as exc:
        console.print(f"SHA-256 {policy.sha256}: [bold red]not approved[/] — {exc}")


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
    national_id: str = typer.Option(None, help="The subject's national ID (ЕГН, ЛНЧ, СНИЛС …)."),
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
    try:
        entry = record(ws, open_store(ws.keys, prompt=_prompt_passphrase), partner, person_id, national_id, id_type)
    except (KeyStoreError, ErasureError, UnknownPartner) as exc:
        _fail(str(exc))
    console.print(f"recorded for erasure under {entry['key_id']} (by {entry['by']}); applied from the next run")


def main() -> None:
    """Run the CLI (entry point for ``python -m flows.cli``)."""
    app(prog_name="zakrila")


if __name__ == "__main__":
    main()
