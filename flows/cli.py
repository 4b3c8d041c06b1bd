"""The ``zakrila`` command line: demo, synth, run, verify.

Every command exits 0 on success and otherwise prints one line saying why, and exits non-zero.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

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
    from flows.pipeline import RunFailed, StageFailed, run_pipeline

    try:
        Period.parse(period)
    except ValueError as exc:
        _fail(str(exc), 2)
    if not inbox.is_dir():
        _fail(f"inbox {inbox} is not a folder", 2)
    try:
        return run_pipeline(inbox=inbox, workspace=workspace, period=period, jurisdiction=jurisdiction)
    except (RunFailed, StageFailed, PolicyError, KeyStoreError) as exc:
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


@app.command()
def demo(workspace: Path = typer.Option(Path("workspace"), help="Workspace for the demo run.")) -> None:
    """Generate synthetic partners and run the pipeline on them; print where the results are."""
    from flows.synth import generate

    started = time.monotonic()
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


def main() -> None:
    """Run the CLI (entry point for ``python -m flows.cli``)."""
    app(prog_name="zakrila")


if __name__ == "__main__":
    main()
