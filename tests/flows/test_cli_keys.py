"""The key, policy and subject commands through the CLI: what they print, refuse and change.

No Prefect flow runs here: the small store the rotation tests need is made by the check and
pseudonymise stages directly, once per module, and copied for each test.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from anonymise.keys import KeyStoreError, public_key_fingerprint
from anonymise.period import Period
from anonymise.pseudonym import pseudonym
from anonymise.pseudonymise import pseudonymise_batch
from flows import rotation
from flows.cli import app
from flows.erasure import load_register
from flows.governance import DPO_HISTORY, DPO_PUBLIC, dpo_key_history
from flows.ingest import LINE, ROW, Batch, read_batch
from flows.keystore import KeyStore, forget_unlocked, open_store
from flows.stages import check_batch, domain_keys, pseudonymise_stage
from flows.workspace import Workspace
from tests.batches import PERSONS, write_batch
from tests.canaries import EGN, valid_egn
from tests.workspaces import prepare

PASSPHRASE = os.environ["ZAKRILA_KEYSTORE_PASSPHRASE"]
DPO_PASSPHRASE = os.environ["ZAKRILA_DPO_PASSPHRASE"]
#: plovdiv's batch differs from ruse's in one person: its p3 has a national ID (ruse's is linked by name
#: and birth date), so an inbox with ruse's batch alone cannot explain every central pseudonym of plovdiv
P3_EGN = valid_egn("900701021")  # born 1990-07-01, a woman
PLOVDIV_P3 = [*PERSONS[2][:5], P3_EGN, "egn", *PERSONS[2][7:]]


@pytest.fixture(autouse=True)
def _fresh():
    forget_unlocked()
    yield
    forget_unlocked()


def cli(*args: str | Path, env: dict[str, str] | None = None):
    forget_unlocked()  # each command is a new process in real life
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    forget_unlocked()
    return result


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Return a workspace whose store holds one batch of ruse-svetilnik and one of plovdiv-ksuds, and inboxes."""
    root = tmp_path_factory.mktemp("cli-keys")
    full, ruse_only = root / "inbox", root / "inbox-ruse"
    write_batch(full, "ruse-svetilnik")
    write_batch(full, "plovdiv-ksuds", rows={"persons": [*PERSONS[:2], PLOVDIV_P3]})
    write_batch(ruse_only, "ruse-svetilnik")
    ws = prepare(root / "ws")
    for partner in ("ruse-svetilnik", "plovdiv-ksuds"):
        batch = Batch(partner, "b1", full / partner / "b1")
        check_batch(batch, ws, date(2026, 1, 15))
        pseudonymise_stage(batch, ws, Period.parse("2025"), "bg")
    shutil.rmtree(ws.root / "quarantine")
    forget_unlocked()
    return {"ws": ws.root, "full": full, "ruse_only": ruse_only}


@pytest.fixture
def ws(stored, tmp_path) -> Workspace:
    shutil.copytree(stored["ws"], tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _folder(ws: Workspace, partner: str) -> Path:
    return ws.root / "store" / "bg" / "2025" / partner / "b1"


def _key_ids(folder: Path) -> dict[str, str]:
    return {d: item["key_id"] for d, item in json.loads((folder / "_keys.json").read_text("utf-8")).items()}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _one_line_failure(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zakrila: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- keys init, show, a wrong passphrase ------------------------------------------------------------


def test_keys_init_then_show_prints_whole_ids_and_fingerprints_and_never_key_material(tmp_path):
    root = tmp_path / "ws"
    made = cli("keys", "init", "--workspace", root)
    assert made.exit_code == 0, made.output
    assert "created bg-central#1" in made.stderr and "created the DPO key pair" in made.stderr
    assert (root / "policy.toml").exists() and (root / "keys" / DPO_PUBLIC).exists()
    shown = cli("keys", "show", "--workspace", root)
    assert shown.exit_code == 0, shown.output
    store = KeyStore.unlock(root / "keys", PASSPHRASE)
    for domain in store.domains():
        info = store.info(domain)
        assert info.key_id in shown.stdout and info.fingerprint in shown.stdout  # not cut at 80 columns
    assert "…" not in shown.stdout
    secrets = store.material()
    assert len(secrets) > 20
    output = shown.output + made.output
    for secret in secrets:
        for form in (secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), secret.hex()[:16]):
            assert form not in output
    again = cli("keys", "init", "--workspace", root)  # keeps every key, adds nothing
    assert again.exit_code == 0 and "created" not in again.output
    assert KeyStore.unlock(root / "keys", PASSPHRASE).material() == secrets


def test_a_wrong_passphrase_exits_1_with_one_line(tmp_path):
    root = tmp_path / "ws"
    assert cli("keys", "init", "--workspace", root).exit_code == 0
    wrong = {"ZAKRILA_KEYSTORE_PASSPHRASE": "not-the-passphrase"}
    for command in (["keys", "show"], ["keys", "destroy", "--domain", "bg-central", "--generation", "1"]):
        _one_line_failure(cli(*command, "--workspace", root, env=wrong), "wrong passphrase")
    assert KeyStore.unlock(root / "keys", PASSPHRASE).info("bg-central").destroyed_generations == []


# -- keys rotate and destroy ------------------------------------------------------------------------


def test_rotation_with_an_incomplete_inbox_keeps_what_it_cannot_rekey_and_destroy_refuses(ws, stored):
    ruse, plovdiv = _folder(ws, "ruse-svetilnik"), _folder(ws, "plovdiv-ksuds")
    plovdiv_before = _files(plovdiv)
    # an erasure request for plovdiv's p3, in no batch of the inbox: its entry cannot be re-keyed either
    erased = cli("subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", P3_EGN, "--workspace", ws.root)
    assert erased.exit_code == 0, erased.output

    rotated = cli("keys", "rotate", "--domain", "bg-central", "--inbox", stored["ruse_only"], "--workspace", ws.root)
    assert rotated.exit_code == 0, rotated.output
    assert "not re-keyed: store/bg/2025/plovdiv-ksuds/b1" in rotated.stderr
    assert "1 erasure-register entries" in rotated.stderr
    assert "keep bg-central#1" in rotated.stderr and "keys destroy" not in rotated.output
    assert _files(plovdiv) == plovdiv_before  # untouched, and its _keys.json still says bg-central#1
    assert _key_ids(plovdiv)["bg-central"] == "bg-central#1"
    assert _key_ids(ruse) == {"bg-central": "bg-central#2", "local:ruse-svetilnik": "local:ruse-svetilnik#1"}
    log = json.loads((ws.keys / "rekey" / "bg-central-g1-g2.json").read_text("utf-8"))
    assert log["values_unmapped"] == log["folders_not_rekeyed"]["store/bg/2025/plovdiv-ksuds/b1"] > 0
    assert log["register_unmapped"] == 1 and log["folders_rekeyed"] == 1

    refused = cli("keys", "destroy", "--domain", "bg-central", "--generation", "1", "--workspace", ws.root)
    _one_line_failure(refused, "store/bg/2025/plovdiv-ksuds/b1", "1 erasure-register entry", "nothing was destroyed")
    assert open_store(ws.keys).key("bg-central", "person", 1)  # still held
    assert (ws.keys / "rekey" / "bg-central-g1-g2.parquet").exists()

    # with every batch in the inbox, a second rotation re-keys what the first could not (from #1 too)
    again = cli("keys", "rotate", "--domain", "bg-central", "--inbox", stored["full"], "--workspace", ws.root)
    assert again.exit_code == 0, again.output
    assert "not re-keyed" not in again.output and "keep" not in again.output
    assert "zakrila keys destroy --domain bg-central --generation 1" in again.stderr
    assert _key_ids(plovdiv)["bg-central"] == _key_ids(ruse)["bg-central"] == "bg-central#3"
    assert {e["key_id"] for e in load_register(ws)} == {"bg-central#3"}
    keys = open_store(ws.keys)
    for partner, folder in (("plovdiv-ksuds", plovdiv), ("ruse-svetilnik", ruse)):  # as bg-central#3 makes them
        raw = {
            n: r.frame.drop(ROW, LINE)
            for n, r in read_batch(Batch(partner, "b1", stored["full"] / partner / "b1")).items()
        }
        made = pseudonymise_batch(raw, domain_keys(keys, partner), partner, date(2026, 1, 15), "bg", language="bg")
        assert (
            pl.read_parquet(folder / "persons.parquet")["person_cid"]
            .sort()
            .equals(made.frames["persons"]["person_cid"].sort())
        )
    fresh = pl.DataFrame({"v": [f"egn:{P3_EGN}"]}).select(pseudonym("v", keys.key("bg-central", "person")))["v"]
    assert load_register(ws)[0]["pseudonym"] == fresh.item()
    destroyed = cli("keys", "destroy", "--domain", "bg-central", "--generation", "1", "--workspace", ws.root)
    assert destroyed.exit_code == 0, destroyed.output
    with pytest.raises(KeyStoreError, match="destroyed"):
        open_store(ws.keys).key("bg-central", "person", 1)


def test_a_failed_rotation_changes_nothing(ws, stored, monkeypatch, tmp_path):
    keystore = (ws.keys / "keystore.json").read_bytes()
    store = {p: p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()}
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = cli("keys", "rotate", "--domain", "bg-central", "--inbox", empty, "--workspace", ws.root)
    _one_line_failure(failed, "holds no batch", "nothing was changed")

    def broken(*args, **kwargs):
        raise rotation.RotationError("the store cannot be read; nothing was changed")

    monkeypatch.setattr(rotation, "plan", broken)  # fails after the new generation and the map are made
    failed = cli("keys", "rotate", "--domain", "bg-central", "--inbox", stored["full"], "--workspace", ws.root)
    _one_line_failure(failed, "the store cannot be read")
    assert (ws.keys / "keystore.json").read_bytes() == keystore
    assert sorted(p.name for p in ws.keys.iterdir()) == sorted(p.name for p in Path(stored["ws"], "keys").iterdir())
    assert {p: p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()} == store
    shown = cli("keys", "show", "--workspace", ws.root)
    row = next(line for line in shown.stdout.splitlines() if "bg-central#" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells[1] == "bg-central#1" and cells[5:] == ["", ""]  # no generation 2, retired or otherwise
    info = open_store(ws.keys).info("bg-central")
    assert (info.generation, info.retired_generations) == (1, [])


def test_destroying_a_generation_deletes_the_maps_that_link_it(ws, stored):
    rotated = cli("keys", "rotate", "--domain", "bg-central", "--inbox", stored["full"], "--workspace", ws.root)
    assert rotated.exit_code == 0, rotated.output
    assert "zakrila keys destroy --domain bg-central --generation 1" in rotated.stderr
    local = cli("keys", "rotate", "--domain", "local:ruse-svetilnik", "--inbox", stored["full"], "--workspace", ws.root)
    assert local.exit_code == 0, local.output
    rekey = ws.keys / "rekey"
    assert (rekey / "bg-central-g1-g2.parquet").exists() and (rekey / "local_ruse-svetilnik-g1-g2.parquet").exists()
    destroyed = cli("keys", "destroy", "--domain", "bg-central", "--generation", "1", "--workspace", ws.root)
    assert destroyed.exit_code == 0, destroyed.output
    assert "deleted the re-keying map keys/rekey/bg-central-g1-g2.parquet" in destroyed.stderr
    assert not list(rekey.glob("bg-central-*.parquet"))  # nothing links bg-central#1 to #2 any more
    assert (rekey / "local_ruse-svetilnik-g1-g2.parquet").exists()  # another domain's map stays
    log = json.loads((rekey / "bg-central-g1-g2.json").read_text("utf-8"))  # counts only, kept
    assert log["pairs"] > 0 and "bg-central#1" in log["maps_deleted"]
    current = cli("keys", "destroy", "--domain", "bg-central", "--generation", "2", "--workspace", ws.root)
    _one_line_failure(current, "current generation")


# -- the DPO's key and the policy -------------------------------------------------------------------


def _other_dpo(tmp_path: Path) -> tuple[Path, Path, str]:
    """Return the public and (encrypted) private key files of another Ed25519 pair and its fingerprint."""
    key = Ed25519PrivateKey.generate()
    public, private = tmp_path / "other.pub.pem", tmp_path / "other.key.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(DPO_PASSPHRASE.encode()),
        )
    )
    return public, private, public_key_fingerprint(key.public_key())


def test_the_dpo_key_is_replaced_only_with_the_flag_and_every_change_is_recorded(tmp_path):
    ws = prepare(tmp_path / "ws")
    original = (ws.keys / DPO_PUBLIC).read_bytes()
    first = dpo_key_history(ws)
    assert [c["how"] for c in first["changes"]] == ["created"] and first["problem"] is None
    public, private, fingerprint = _other_dpo(tmp_path)

    swap = cli("keys", "init", "--workspace", ws.root, "--dpo-public-key", public)
    _one_line_failure(swap, "--replace-dpo-key", "nothing was changed")
    assert (ws.keys / DPO_PUBLIC).read_bytes() == original
    assert dpo_key_history(ws)["changes"] == first["changes"]

    replaced = cli("keys", "init", "--workspace", ws.root, "--dpo-public-key", public, "--replace-dpo-key")
    assert replaced.exit_code == 0, replaced.output
    assert "must be approved again" in replaced.stderr
    history = dpo_key_history(ws)
    assert history["problem"] is None and history["current_sha256"] == fingerprint
    change = history["changes"][-1]
    assert change["old_sha256"] == first["current_sha256"] and change["new_sha256"] == fingerprint
    assert change["changed_at"] and len(history["changes"]) == 2
    # the approval signed by the old key no longer counts: the new DPO approves again
    assert "not approved" in cli("policy", "show", "--workspace", ws.root).stderr
    approved = cli("policy", "approve", "--workspace", ws.root, "--dpo-key", private)
    assert approved.exit_code == 0, approved.output
    assert f"approved by DPO key {fingerprint[:16]}" in approved.stderr
    lines = (ws.keys / DPO_HISTORY).read_text("utf-8").splitlines()
    assert len(lines) == 2  # appended, never rewritten


def test_a_dpo_key_swapped_by_hand_stops_approval_and_the_run(tmp_path):
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    write_batch(inbox, "ruse-svetilnik")
    public, private, _ = _other_dpo(tmp_path)
    shutil.copy(public, ws.keys / DPO_PUBLIC)  # not through 'keys init --replace-dpo-key'
    approve = cli("policy", "approve", "--workspace", ws.root, "--dpo-key", private)
    _one_line_failure(approve, "replaced without 'zakrila keys init --replace-dpo-key'")
    assert "replaced without" in cli("policy", "show", "--workspace", ws.root).stderr
    run = cli("run", "--inbox", inbox, "--workspace", ws.root, "--period", "2025")
    assert run.exit_code == 1
    for folder in ("quarantine", "store", "releases", "reports", "work"):
        assert not (ws.root / folder).exists(), folder


def test_policy_show_and_approve_through_the_cli(tmp_path):
    root = tmp_path / "ws"
    assert cli("keys", "init", "--workspace", root).exit_code == 0
    shown = cli("policy", "show", "--workspace", root)
    assert shown.exit_code == 0 and "[disclosure]" in shown.stdout
    assert "not approved" in shown.stderr and "has not been approved" in shown.stderr
    wrong = cli("policy", "approve", "--workspace", root, env={"ZAKRILA_DPO_PASSPHRASE": "not-the-dpo-passphrase"})
    _one_line_failure(wrong, "wrong passphrase")
    approved = cli("policy", "approve", "--workspace", root)
    assert approved.exit_code == 0, approved.output
    record = json.loads((root / "policy.approval.json").read_text("utf-8"))
    assert record["policy_sha256"][:16] in approved.stderr
    shown = cli("policy", "show", "--workspace", root)
    assert f"SHA-256 {record['policy_sha256']}: approved {record['approved_at']}" in shown.stderr
    assert "DPO key " in shown.stderr and "1 recorded change" in shown.stderr


def test_run_refuses_a_policy_edited_after_approval_and_reads_nothing(tmp_path):
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    write_batch(inbox, "ruse-svetilnik")
    ws.policy.write_text(ws.policy.read_text("utf-8").replace("threshold = 5", "threshold = 3"), "utf-8")
    run = cli("run", "--inbox", inbox, "--workspace", ws.root, "--period", "2025")
    _one_line_failure(run, "changed after the DPO approved it", "no data was read")
    assert not run.stdout
    for folder in ("quarantine", "store", "releases", "reports", "work", "ledgers"):
        assert not (ws.root / folder).exists(), folder


# -- subjects erase ---------------------------------------------------------------------------------


def test_subjects_erase_records_a_pseudonym_only(tmp_path):
    ws = prepare(tmp_path / "ws")
    by_national = cli("subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", EGN, "--workspace", ws.root)
    assert by_national.exit_code == 0, by_national.output
    assert "recorded for erasure under bg-central#1 (by national_id)" in by_national.stderr
    by_person = cli("subjects", "erase", "--partner", "ruse-svetilnik", "--person-id", "p1", "--workspace", ws.root)
    assert by_person.exit_code == 0 and "local:ruse-svetilnik#1 (by person_id)" in by_person.stderr
    again = cli("subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", EGN, "--workspace", ws.root)
    assert again.exit_code == 0
    entries = load_register(ws)
    assert len(entries) == 2
    keys = open_store(ws.keys)
    expected = pl.DataFrame({"v": [f"egn:{EGN}"]}).select(pseudonym("v", keys.key("bg-central", "person")))["v"]
    assert entries[0]["pseudonym"] == expected.item()
    text = (ws.root / "erasures.json").read_text("utf-8") + by_national.output + by_person.output
    assert EGN not in text and '"p1"' not in text
    invalid = cli(
        "subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", "1234567890", "--workspace", ws.root
    )
    _one_line_failure(invalid, "not valid")
    assert "1234567890" not in invalid.output
    unknown = cli("subjects", "erase", "--partner", "nowhere", "--person-id", "p1", "--workspace", ws.root)
    assert unknown.exit_code == 1 and len(load_register(ws)) == 2


def test_a_national_id_can_come_from_standard_input_and_stays_off_the_command_line(tmp_path):
    ws = prepare(tmp_path / "ws")
    forget_unlocked()
    piped = CliRunner().invoke(
        app,
        ["subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", "-", "--workspace", str(ws.root)],
        input=f"{EGN}\n",
    )
    forget_unlocked()
    assert piped.exit_code == 0, piped.output
    keys = open_store(ws.keys)
    expected = pl.DataFrame({"v": [f"egn:{EGN}"]}).select(pseudonym("v", keys.key("bg-central", "person")))["v"]
    assert load_register(ws)[0]["pseudonym"] == expected.item()
    assert EGN not in piped.output
    empty = cli("subjects", "erase", "--partner", "plovdiv-ksuds", "--national-id", "-", "--workspace", ws.root)
    assert empty.exit_code == 2 and empty.stderr.strip() == "zakrila: no national ID on standard input"
    assert len(load_register(ws)) == 1


def test_rotation_refuses_a_store_folder_made_with_a_foreign_key_and_changes_nothing(ws, stored):
    plovdiv = _folder(ws, "plovdiv-ksuds")
    record = json.loads((plovdiv / "_keys.json").read_text("utf-8"))
    record["bg-central"]["fingerprint"] = "0" * len(record["bg-central"]["fingerprint"])  # same ID, other secret
    (plovdiv / "_keys.json").write_text(json.dumps(record), "utf-8")
    keystore = (ws.keys / "keystore.json").read_bytes()
    store = {p: p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()}
    refused = cli("keys", "rotate", "--domain", "bg-central", "--inbox", stored["full"], "--workspace", ws.root)
    _one_line_failure(refused, str(plovdiv), "holds another key with the ID bg-central#1", "nothing was changed")
    assert (ws.keys / "keystore.json").read_bytes() == keystore
    assert {p: p.read_bytes() for p in (ws.root / "store").rglob("*") if p.is_file()} == store
    assert not (ws.keys / "rekey").exists()
