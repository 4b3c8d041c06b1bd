"""The command line: exit codes, and on failure exactly one line on stderr saying why.

Most cases fail before Prefect starts and run in-process (typer's CliRunner keeps stderr apart from
stdout). One case fails inside the flow, in a subprocess as an operator would run it, so that
Prefect's own console output (its temporary server, its traceback of the failed run) is seen too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.batches import write_batch
from tests.workspaces import prepare

runner = CliRunner()


def fails_with_one_line(result, code: int | None = None) -> str:
    """Assert the command failed (with ``code``) and printed exactly one line on stderr; return it."""
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zakrila: ") and lines[0].strip() != "zakrila:", lines
    return lines[0]


def test_a_policy_error_is_one_line_and_keeps_its_bracketed_section_names(tmp_path):
    ws = prepare(tmp_path / "ws-with-a-long-name-so-that-the-reason-is-longer-than-eighty-columns")
    text = ws.policy.read_text("utf-8")
    ws.policy.write_text(text.replace('DI = "pseudonymise_or_drop"', 'DI = "keep"'), "utf-8")
    (tmp_path / "inbox").mkdir()
    result = runner.invoke(
        app, ["run", "--inbox", str(tmp_path / "inbox"), "--workspace", str(ws.root), "--period", "2025"]
    )
    line = fails_with_one_line(result, 1)
    assert "[treatments] DI = 'keep' is not allowed" in line
    assert len(line) > 80  # longer than Rich's default width off a terminal, and still one line
    assert ", line " in line  # errors name the line


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "2025-Q9"], "YYYY-Qn"),
        (["--period", "2025", "--jurisdiction", "xx"], "bg or ru"),
    ],
)
def test_run_usage_errors_exit_2_with_one_line(tmp_path, args, says):
    (tmp_path / "inbox").mkdir()
    result = runner.invoke(app, ["run", "--inbox", str(tmp_path / "inbox"), "--workspace", str(tmp_path / "w"), *args])
    assert says in fails_with_one_line(result, 2)


def test_a_missing_inbox_is_a_usage_error(tmp_path):
    result = runner.invoke(
        app, ["run", "--inbox", str(tmp_path / "nowhere"), "--workspace", str(tmp_path / "w"), "--period", "2025"]
    )
    assert "is not a folder" in fails_with_one_line(result, 2)


def test_a_bg_run_of_an_inbox_without_bg_batches_names_the_folders_it_skipped(tmp_path):
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    (inbox / "samara-krug" / "b20251231").mkdir(parents=True)
    (inbox / "acme-centre" / "b1").mkdir(parents=True)
    result = runner.invoke(app, ["run", "--inbox", str(inbox), "--workspace", str(ws.root), "--period", "2025"])
    line = fails_with_one_line(result, 1)
    assert "no bg batches" in line and "no batch could be read" not in line
    assert "samara-krug: processed only in the ru jurisdiction" in line
    assert "acme-centre: not in the partner registry" in line
    assert not (ws.root / "reports").exists()  # refused before the run: nothing was read or written


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--defects", "1.5"], "--defects"),
        (["--defects", "-0.1"], "--defects"),
        (["--scale", "-1"], "--scale"),
        (["--scale", "0"], "--scale"),
        (["--scale", "nan"], "--scale"),
    ],
)
def test_synth_rejects_bad_numbers_with_one_line(tmp_path, args, says):
    result = runner.invoke(app, ["synth", "--inbox", str(tmp_path / "inbox"), *args])
    assert says in fails_with_one_line(result, 2)
    assert not (tmp_path / "inbox").exists()


def test_synth_refuses_an_inbox_that_is_a_file(tmp_path):
    (tmp_path / "inbox").write_text("not a folder\n")
    result = runner.invoke(app, ["synth", "--inbox", str(tmp_path / "inbox")])
    assert "is not a folder" in fails_with_one_line(result, 2)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synth_writes_an_inbox_with_the_truth_beside_it_and_the_same_seed_gives_the_same_bytes(tmp_path):
    outputs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        inbox = tmp_path / name / "inbox"
        result = runner.invoke(app, ["synth", "--inbox", str(inbox), "--scale", "0.05", "--seed", str(seed)])
        assert result.exit_code == 0, result.stderr
        truth = tmp_path / name / "inbox.truth.json"
        assert truth.is_file() and str(truth) in result.stderr
        assert not any(p.name.endswith(".truth.json") for p in inbox.rglob("*"))  # beside the inbox, never in it
        assert {p.name for p in inbox.iterdir()} >= {"ruse-svetilnik", "plovdiv-ksuds", "samara-krug"}
        outputs.append((_files(inbox), truth.read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] != outputs[2][0]
    assert json.loads(outputs[0][1])["counts"]


def test_verify_of_a_broken_release_is_one_line(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.flows.test_publish import _release

    folder, _ = _release(tmp_path, Ed25519PrivateKey.generate())
    ok = runner.invoke(app, ["verify", str(folder)])
    assert ok.exit_code == 0, ok.stderr
    assert "none of" in ok.stderr and "names this release" in ok.stderr  # no run report beside it: said, not failed
    assert "no run report" in fails_with_one_line(runner.invoke(app, ["verify", str(folder), "--require-approval"]))
    (folder / "T04.csv").write_text("period\n")
    assert "T04.csv" in fails_with_one_line(runner.invoke(app, ["verify", str(folder)]), 1)


def test_a_run_that_fails_inside_the_flow_prints_one_line_and_persists_no_result(tmp_path, prefect_server):
    from prefect.settings import PREFECT_API_URL

    inbox = tmp_path / "inbox"
    (write_batch(inbox) / "persons.csv").write_bytes(b"\xff\xfe not a csv")
    prepare(tmp_path / "ws")
    home = tmp_path / "prefect-home"  # its own, to see what the run stored; the session's server (no start-up)
    env = os.environ | {"PREFECT_HOME": str(home), "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "80"}
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--inbox", str(inbox), "--workspace", str(tmp_path / "ws")]
        + ["--period", "2025"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr[-3000:]
    assert lines[0].startswith("zakrila: no batch could be read; see ") and str(tmp_path / "ws") in lines[0]
    assert run.stdout == ""
    # Prefect ran the flow, and kept no pickled result of the failure
    storage = home / "storage"
    assert not storage.exists() or not any(storage.iterdir()), sorted(storage.iterdir())


def test_demo_refuses_a_workspace_that_is_a_file(tmp_path):
    (tmp_path / "ws").write_text("not a folder\n")
    result = runner.invoke(app, ["demo", "--workspace", str(tmp_path / "ws")])
    assert "is not a folder" in fails_with_one_line(result, 2)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--inbox", "x"], "Missing option '--workspace'"),
        (["run", "--inbox", "x", "--workspace", "y", "--period", "2025", "--bogus"], "No such option: --bogus"),
        (["frob"], "No such command 'frob'"),
    ],
)
def test_the_console_script_gives_usage_errors_one_line_too(args, says):
    """Click's usage errors (a missing or unknown option) come from the entry point, not a command."""
    run = subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"COLUMNS": "80"},
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zakrila: ") and says in lines[0], run.stderr


def test_a_workspace_without_a_key_store_says_so_without_asking_for_a_passphrase(tmp_path):
    result = runner.invoke(
        app, ["keys", "show", "--workspace", str(tmp_path / "new")], env={"ZAKRILA_KEYSTORE_PASSPHRASE": ""}
    )
    line = fails_with_one_line(result, 1)
    assert "no key store at" in line and "keys init" in line and "passphrase" not in result.output
