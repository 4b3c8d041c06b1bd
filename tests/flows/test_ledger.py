"""The sealed privacy-budget ledger in a workspace: keys from the run's key store, the legacy path, the CLI.

No pipeline run here (tests/flows/test_methods.py runs the flow): the ledger functions of
``flows.stages`` and the ``zakrila ledger`` commands on a workspace prepared as an operator would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from anonymise.dp import LedgerError, charge_ledger, read_ledger, reserve_ledger
from anonymise.policy import parse_policy
from flows import stages
from flows.cli import app
from flows.keystore import KeyStore, forget_unlocked, open_store
from flows.workspace import Workspace
from tests.workspaces import prepare


@pytest.fixture(autouse=True)
def _fresh_keys():
    forget_unlocked()
    yield
    forget_unlocked()


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return prepare(tmp_path / "ws")


def dp_policy(ws: Workspace):
    return parse_policy(ws.policy.read_text("utf-8").replace('method = "suppression"', 'method = "dp"'))


def legacy_ledger(ws: Workspace) -> Path:
    """Write a ledger as zakrila wrote them before seals: one charge, no seal."""
    path = stages.ledger_path(ws, "bg")
    path.parent.mkdir(parents=True, exist_ok=True)
    legacy = {
        "series": "bg",
        "epsilon_cap": 4.0,
        "delta_cap": 0.0,
        "charges": [{"release_id": "bg-old", "epsilon": 1.0}],
    }
    path.write_text(json.dumps(legacy, indent=2), "utf-8")
    return path


def test_the_ledger_key_is_the_central_domains_dp_ledger_key_from_the_run_key_store(ws):
    store = open_store(ws.keys)
    bg, ru = stages.ledger_key(ws, "bg"), stages.ledger_key(ws, "ru")
    assert (bg.key_id, ru.key_id) == ("bg-central#1", "ru#1")
    path = stages.ledger_path(ws, "bg")
    charge_ledger(path, "bg", 4.0, 0.0, "bg-1", 0.5, key=bg)
    seal = json.loads(path.read_text("utf-8"))["seal"]
    assert seal["key_id"] == "bg-central#1"
    text = path.read_text("utf-8")
    assert not [m for m in store.material() if m.hex() in text]  # the derived key is never stored
    assert stages.budget_ledger(ws, "bg", 4.0, 0.0).epsilon_spent == 0.5


def test_a_ledger_sealed_under_the_other_jurisdictions_key_is_refused(ws):
    path = stages.ledger_path(ws, "bg")
    charge_ledger(path, "bg", 4.0, 0.0, "bg-1", 0.5, key=stages.ledger_key(ws, "ru"))
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="sealed with key ru#1, not a key of domain bg-central") as refused:
        stages.budget_ledger(ws, "bg", 4.0, 0.0)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == before


def test_a_ledger_under_another_key_store_is_a_clear_error_never_a_reset(ws, tmp_path):
    path = stages.ledger_path(ws, "bg")
    charge_ledger(path, "bg", 4.0, 0.0, "bg-1", 0.5, key=stages.ledger_key(ws, "bg"))
    other = prepare(tmp_path / "other")  # its own key store: the same key IDs, other secrets
    (other.root / "ledgers").mkdir()
    (other.root / "ledgers" / "bg.json").write_bytes(path.read_bytes())
    with pytest.raises(LedgerError, match="another key store") as wrong:
        stages.budget_ledger(other, "bg", 4.0, 0.0)
    assert "fingerprint" in str(wrong.value) and str(other.root / "ledgers" / "bg.json") in str(wrong.value)
    with pytest.raises(LedgerError, match="another key store"):
        reserve_ledger(
            other.root / "ledgers" / "bg.json", "bg", 4.0, 0.0, "run-x", 0.5, key=stages.ledger_key(other, "bg")
        )
    assert (other.root / "ledgers" / "bg.json").read_bytes() == path.read_bytes()
    for store in (open_store(ws.keys), open_store(other.keys)):
        assert not [m for m in store.material() if m.hex() in str(wrong.value)]


def test_a_key_rotation_keeps_the_seal_and_a_destroyed_generation_needs_the_dpo(ws):
    path = stages.ledger_path(ws, "bg")
    charge_ledger(path, "bg", 4.0, 0.0, "bg-1", 0.5, key=stages.ledger_key(ws, "bg"))
    store = open_store(ws.keys)
    store.make_current("bg-central", store.add_generation("bg-central"))
    assert stages.budget_ledger(ws, "bg", 4.0, 0.0).epsilon_spent == 0.5  # sealed by #1, verified by #1
    store.destroy("bg-central", 1)
    with pytest.raises(LedgerError, match="bg-central#1, which this key store does not hold.*zakrila ledger seal"):
        stages.budget_ledger(ws, "bg", 4.0, 0.0)
    result = CliRunner().invoke(
        app, ["ledger", "seal", "--workspace", str(ws.root), "--note", "after destroying #1", "--reviewed"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text("utf-8"))["seal"]["key_id"] == "bg-central#2"
    assert stages.budget_ledger(ws, "bg", 4.0, 0.0).reviews[-1].note == "after destroying #1"


def test_a_legacy_ledger_is_refused_until_sealed_with_the_cli_after_confirmation(ws):
    path = legacy_ledger(ws)
    with pytest.raises(LedgerError, match="is not sealed") as unsealed:
        stages.budget_ledger(ws, "bg", 4.0, 0.0)
    assert str(path) in str(unsealed.value) and "zakrila ledger seal" in str(unsealed.value)
    runner = CliRunner()
    args = ["ledger", "seal", "--workspace", str(ws.root), "--jurisdiction", "bg"]

    shown = runner.invoke(app, ["ledger", "show", "--workspace", str(ws.root)])
    assert shown.exit_code == 1 and "bg-old" in shown.output and "not sealed" in shown.output
    assert runner.invoke(app, args).exit_code != 0  # no --note: why it is sealed is kept in the ledger
    refused = runner.invoke(app, [*args, "--note", "DPO review"], input="yes\n")
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    with pytest.raises(LedgerError, match="is not sealed"):
        stages.budget_ledger(ws, "bg", 4.0, 0.0)

    sealed = runner.invoke(app, [*args, "--note", "DPO review of 2024"], input="bg\n")
    assert sealed.exit_code == 0, sealed.output
    ledger = stages.budget_ledger(ws, "bg", 4.0, 0.0)
    assert [c.release_id for c in ledger.charges] == ["bg-old"] and ledger.epsilon_spent == 1.0
    assert ledger.reviews[0].note == "DPO review of 2024" and ledger.reviews[0].found == "it is not sealed"
    shown = runner.invoke(app, ["ledger", "show", "--workspace", str(ws.root)])
    assert shown.exit_code == 0 and "seal verified" in shown.output
    again = runner.invoke(app, [*args, "--note", "again", "--reviewed"])
    assert again.exit_code == 0 and "nothing to seal" in again.output


def test_publishing_marks_the_runs_reservation_once_and_never_charges_again(ws):
    policy = dp_policy(ws)
    path, key = stages.ledger_path(ws, "bg"), stages.ledger_key(ws, "bg")
    reserve_ledger(path, "bg", 4.0, 0.0, "run-1", 0.9, key=key)
    with pytest.raises(LedgerError, match="reserves ε=0.9, δ=0 for run 'run-1', but the run's release spent ε=1"):
        stages.publish_charge(ws, policy, "bg", "run-1", "bg-2025-a", 1.0, 0.0)
    with pytest.raises(LedgerError, match="run 'run-2' reserved no charge"):
        stages.publish_charge(ws, policy, "bg", "run-2", "bg-2025-a", 0.9, 0.0)
    ledger = stages.publish_charge(ws, policy, "bg", "run-1", "bg-2025-a", 0.9, 0.0)
    assert ledger["epsilon_spent"] == 0.9 and ledger["charges"][0]["status"] == "published"
    with pytest.raises(LedgerError, match="already published as release 'bg-2025-a'"):
        stages.publish_charge(ws, policy, "bg", "run-1", "bg-2025-b", 0.9, 0.0)
    with pytest.raises(LedgerError, match="run 'run-1' already has a charge"):
        reserve_ledger(path, "bg", 4.0, 0.0, "run-1", 0.9, key=key)
    assert read_ledger(path, "bg", 4.0, key=key).epsilon_spent == 0.9


def test_keys_from_the_environment_seal_the_same_way(ws, monkeypatch):
    path = stages.ledger_path(ws, "bg")
    charge_ledger(path, "bg", 4.0, 0.0, "bg-1", 0.5, key=stages.ledger_key(ws, "bg"))
    store = KeyStore.unlock(ws.keys, os.environ["ZAKRILA_KEYSTORE_PASSPHRASE"])
    masters = {d: {"1": store._masters[d][1].hex()} for d in store.domains()}
    forget_unlocked()
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps(masters))
    assert stages.budget_ledger(ws, "bg", 4.0, 0.0).epsilon_spent == 0.5
