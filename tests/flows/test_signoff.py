"""The run report is signed with the release, and the DPO signs a decision over its hash (section H).

One small run through the CLI (two partners, the small release) gives the release and its report;
every test works on a copy of that workspace.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from flows.cli import app
from flows.publish import decision_message, report_message
from tests.batches import EVENTS, write_batch
from tests.flows.test_cli import fails_with_one_line
from tests.workspaces import prepare

runner = CliRunner()

DEFECTS = [
    ["e4", "", "p1", "2025-13-45", "health_consultation", "centre", "individual", "45", "paediatrician", "", ""],
    ["e5", "", "p1", "2025-02-03", "health_consultation", "nowhere", "alone", "45", "paediatrician", "", ""],
    ["e6", "", "p1"],
]


@pytest.fixture(scope="module")
def signed(tmp_path_factory, prefect_server):
    root = tmp_path_factory.mktemp("signoff")
    inbox = root / "inbox"
    write_batch(inbox, "ruse-svetilnik")
    write_batch(inbox, "plovdiv-ksuds", rows={"events": EVENTS + DEFECTS})
    ws = prepare(root / "ws")
    result = runner.invoke(app, ["run", "--inbox", str(inbox), "--workspace", str(ws.root), "--period", "2025-H1"])
    assert result.exit_code == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    return {"ws": ws.root, "out": out}


@pytest.fixture
def ws(signed, tmp_path) -> Path:
    """Return a copy of the signed run's workspace (each test decides on its own copy)."""
    copy = tmp_path / "ws"
    shutil.copytree(signed["ws"], copy)
    return copy


def _paths(ws: Path, signed) -> tuple[Path, Path, str]:
    run_id = signed["out"]["run_id"]
    return ws / "releases" / signed["out"]["release_id"], ws / "reports" / run_id, run_id


def _decide(ws: Path, run_id: str, verb: str, *args: str):
    return runner.invoke(app, ["report", verb, "--workspace", str(ws), "--run-id", run_id, *args])


def _verify(release: Path, *args: str):
    return runner.invoke(app, ["verify", str(release), *args])


def test_the_report_is_signed_with_the_release_and_names_its_manifest(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    body = (folder / "report.json").read_bytes()
    report = json.loads(body)
    key = serialization.load_pem_public_key((release / "signing-key.pem").read_bytes())
    key.verify(
        bytes.fromhex((folder / "report.sig").read_text().strip()), report_message(hashlib.sha256(body).hexdigest())
    )
    assert report["release_id"] == release.name
    assert report["outputs"]["manifest_sha256"] == hashlib.sha256((release / "manifest.json").read_bytes()).hexdigest()
    assert (
        report["signature"]["public_key_sha256"]
        == json.loads((release / "manifest.json").read_text())["signature"]["public_key_sha256"]
    )
    assert report["decision"]["status"] == "pending"
    # the release holds nothing of the run: it stays byte-identical for the same inputs, keys and policy
    assert sorted(p.name for p in release.iterdir()) == [
        "T04.csv", "T10.csv", "T11.csv", "hierarchies.json", "manifest.json", "manifest.sig", "signing-key.pem"
    ]  # fmt: skip
    for path in release.iterdir():
        assert run_id not in path.read_text("utf-8"), path.name
    verified = _verify(release)
    assert verified.exit_code == 0, verified.stderr
    assert f"report   {run_id}: signature verified; DPO decision pending" in verified.stderr


def test_quarantine_reasons_are_bare_codes_with_the_fields_beside_them(signed):
    report = json.loads((Path(signed["out"]["report"]) / "report.json").read_text("utf-8"))
    reasons, by_field = report["quarantine_reasons"], report["quarantine_reasons_by_field"]
    assert set(reasons) == set(by_field) == {"plovdiv-ksuds"}
    plovdiv = reasons["plovdiv-ksuds"]
    assert plovdiv and all(":" not in reason for reason in plovdiv)
    assert set(plovdiv) == set(by_field["plovdiv-ksuds"])
    for reason, n in plovdiv.items():
        assert sum(by_field["plovdiv-ksuds"][reason].values()) == n, reason
    assert by_field["plovdiv-ksuds"]["wrong_field_count"] == {"_row": 1}
    fields = {f for fs in by_field["plovdiv-ksuds"].values() for f in fs}
    assert {"date", "modality", "setting"} <= fields
    assert report["inputs"]["plovdiv-ksuds"]["events"]["quarantined"] == 3


def test_the_dpo_approves_and_the_decision_verifies(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    before = (folder / "report.json").read_bytes()
    result = _decide(ws, run_id, "approve", "--note", "checked section F")
    assert result.exit_code == 0, result.stderr
    body = (folder / "decision.json").read_bytes()
    record = json.loads(body)
    assert record["decision"] == "approve" and record["conditions"] is None and record["note"] == "checked section F"
    assert record["run_id"] == run_id and record["report_sha256"] == hashlib.sha256(before).hexdigest()
    dpo = serialization.load_pem_public_key((ws / "keys" / "dpo.pub.pem").read_bytes())
    dpo.verify(bytes.fromhex((folder / "decision.sig").read_text().strip()), decision_message(body))
    assert (folder / "report.json").read_bytes() == before  # the decision lives beside the report
    page = (folder / "report.html").read_text("utf-8")
    assert "approved" in page and "checked section F" in page and "signature verified" in page
    verified = _verify(release, "--require-approval")
    assert verified.exit_code == 0, verified.stderr
    assert "DPO decision: approve," in verified.stderr
    # a report is decided once
    again = _decide(ws, run_id, "reject")
    assert "decided once" in fails_with_one_line(again, 1)


def test_an_approval_with_conditions_records_them(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    result = _decide(ws, run_id, "approve", "--conditions", "publish T10 only after [ministry] review")
    assert result.exit_code == 0, result.stderr
    record = json.loads((folder / "decision.json").read_text("utf-8"))
    assert record["decision"] == "approve_with_conditions"
    assert record["conditions"] == "publish T10 only after [ministry] review"
    assert "approved with conditions" in (folder / "report.html").read_text("utf-8")
    verified = _verify(release, "--require-approval")
    assert verified.exit_code == 0, verified.stderr
    assert "approve with conditions (publish T10 only after [ministry] review)" in verified.stderr


def test_a_rejection_is_recorded_and_fails_require_approval(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    result = _decide(ws, run_id, "reject", "--note", "T10 too detailed")
    assert result.exit_code == 0, result.stderr
    assert json.loads((folder / "decision.json").read_text("utf-8"))["decision"] == "reject"
    assert "rejected" in (folder / "report.html").read_text("utf-8")
    assert _verify(release).exit_code == 0  # the release itself verifies
    line = fails_with_one_line(_verify(release, "--require-approval"), 1)
    assert "rejected" in line and "T10 too detailed" in line


def test_a_changed_report_cannot_be_approved_and_verify_flags_it(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    path = folder / "report.json"
    path.write_text(path.read_text("utf-8").replace('"status": "released"', '"status": "released" '), "utf-8")
    line = fails_with_one_line(_decide(ws, run_id, "approve"), 1)
    assert "does not match report.sig" in line
    assert not (folder / "decision.json").exists()
    verified = _verify(release)
    assert verified.exit_code == 0
    assert "NOT trusted" in verified.stderr and "does not match report.sig" in verified.stderr
    assert "does not verify" in fails_with_one_line(_verify(release, "--require-approval"), 1)


def test_a_report_changed_after_its_approval_loses_it(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    assert _decide(ws, run_id, "approve").exit_code == 0
    path = folder / "report.json"
    path.write_text(path.read_text("utf-8") + " ", "utf-8")
    assert "does not verify" in fails_with_one_line(_verify(release, "--require-approval"), 1)


def test_a_forged_decision_does_not_verify(ws, signed):
    release, folder, run_id = _paths(ws, signed)
    assert _decide(ws, run_id, "reject").exit_code == 0
    path = folder / "decision.json"
    path.write_text(path.read_text("utf-8").replace('"reject"', '"approve"'), "utf-8")
    verified = _verify(release)
    assert verified.exit_code == 0 and "does NOT hold" in verified.stderr
    assert "does not verify" in fails_with_one_line(_verify(release, "--require-approval"), 1)


def test_a_key_other_than_the_dpo_key_is_refused(ws, signed, tmp_path):
    _, folder, run_id = _paths(ws, signed)
    other = tmp_path / "other.key.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(os.environ["ZAKRILA_DPO_PASSPHRASE"].encode()),
        )
    )
    assert "is not the DPO key" in fails_with_one_line(_decide(ws, run_id, "approve", "--dpo-key", str(other)), 1)
    wrong = runner.invoke(
        app,
        ["report", "approve", "--workspace", str(ws), "--run-id", run_id],
        env={"ZAKRILA_DPO_PASSPHRASE": "not-the-passphrase"},
    )
    assert "wrong passphrase" in fails_with_one_line(wrong, 1)
    assert not (folder / "decision.json").exists()


def test_an_unknown_run_is_refused(ws):
    assert "no run report" in fails_with_one_line(_decide(ws, "run-19990101T000000Z-000000", "approve"), 1)


def test_a_dpo_key_swapped_by_hand_cannot_sign_off(ws, signed, tmp_path):
    """The sign-off takes the DPO's key where policy approval does: in force only if its history agrees."""
    _, folder, run_id = _paths(ws, signed)
    swapped = Ed25519PrivateKey.generate()
    private = tmp_path / "swapped.key.pem"
    private.write_bytes(
        swapped.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(os.environ["ZAKRILA_DPO_PASSPHRASE"].encode()),
        )
    )
    (ws / "keys" / "dpo.pub.pem").write_bytes(  # not through 'keys init --replace-dpo-key'
        swapped.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    line = fails_with_one_line(_decide(ws, run_id, "approve", "--dpo-key", str(private)), 1)
    assert "replaced without 'zakrila keys init --replace-dpo-key'" in line
    assert not (folder / "decision.json").exists()
