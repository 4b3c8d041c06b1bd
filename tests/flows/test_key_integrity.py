"""The store stays one series of pseudonyms: the right keys, every period erased, no collisions.

Stage and library level on the small hand-written batch of ``tests/batches.py``; one Prefect run (a
run refused before it reads anything).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

import anonymise.pseudonymise as pseudonymise_module
from anonymise.keys import KeyStoreError
from anonymise.period import Period
from anonymise.pseudonym import pseudonym
from anonymise.pseudonymise import PseudonymCollision
from flows import stages
from flows.erasure import record
from flows.ingest import Batch
from flows.keystore import KeyStore, forget_unlocked, open_store
from flows.rotation import rotate
from flows.workspace import Workspace
from tests.batches import EVENTS, write_batch
from tests.workspaces import prepare

PARTNER = "ruse-svetilnik"
TODAY = date(2026, 1, 15)
PASSPHRASE_ENV = "ZAKRILA_KEYSTORE_PASSPHRASE"


@pytest.fixture(autouse=True)
def _fresh():
    forget_unlocked()
    yield
    forget_unlocked()


def _store_batch(
    ws: Workspace,
    inbox: Path,
    period: str,
    batch: str = "b1",
    rows: dict | None = None,
    run_id: str | None = None,
) -> dict:
    """Check a batch of the small inbox and pseudonymise it into the store of ``period``."""
    folder = write_batch(inbox, PARTNER, batch, rows)
    b = Batch(PARTNER, batch, folder)
    assert stages.check_batch(b, ws, TODAY)["status"] == "checked"
    return stages.pseudonymise_stage(b, ws, Period.parse(period), "bg", run_id)


def _masters(ws: Workspace) -> dict:
    """Return the key store's secrets as ZAKRILA_MASTER_KEYS JSON would give them (tests only)."""
    store = KeyStore.unlock(ws.keys, os.environ[PASSPHRASE_ENV])
    return {d: {str(g): m.hex() for g, m in store._masters[d].items()} for d in store.domains()}


def _signing_hex(ws: Workspace) -> str:
    store = KeyStore.unlock(ws.keys, os.environ[PASSPHRASE_ENV])
    return store.signing_key().private_bytes_raw().hex()


# -- 1. a store is continued only with the keys that made it --------------------------------------------


def test_a_consistent_store_of_two_periods_passes_the_key_check(tmp_path):
    ws = prepare(tmp_path / "ws")
    _store_batch(ws, tmp_path / "inbox", "2025")
    _store_batch(ws, tmp_path / "inbox", "2025-H2")
    record_ = json.loads((ws.store("bg", "2025") / PARTNER / "b1" / stages.STORE_KEYS).read_text("utf-8"))
    assert record_["bg-central"]["key_id"] == "bg-central#1" and record_["bg-central"]["generation"] == 1
    stages.check_run_keys(ws, open_store(ws.keys), "bg")  # nothing raised


def test_a_key_store_made_anew_is_refused_for_another_periods_store(tmp_path):
    """Key store deleted, `keys init` again, a run for 2025-H2 on a store of 2025: refused, no new series."""
    ws = prepare(tmp_path / "ws")
    _store_batch(ws, tmp_path / "inbox", "2025")
    shutil.rmtree(ws.keys)
    forget_unlocked()
    KeyStore.init(ws.keys, os.environ[PASSPHRASE_ENV], stages.domains_for("bg") + stages.domains_for("ru"))
    keys = open_store(ws.keys)
    folder = ws.store("bg", "2025") / PARTNER / "b1"
    with pytest.raises(KeyStoreError) as refused:
        stages.check_run_keys(ws, keys, "bg")
    message = str(refused.value)
    assert str(folder) in message and "\n" not in message
    assert f"made with local:{PARTNER}#1" in message and f"the key in use is local:{PARTNER}#1" in message
    assert "another key with the ID" in message and "use the key store" in message
    # and the folder being rewritten is refused by the stage too
    with pytest.raises(KeyStoreError, match="another key with the ID"):
        _store_batch(ws, tmp_path / "inbox", "2025")


def test_server_keys_of_a_destroyed_generation_are_refused_after_rotation(tmp_path, monkeypatch):
    """Store re-keyed to bg-central#2 and #1 destroyed; ZAKRILA_MASTER_KEYS holds generation 1 only."""
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    _store_batch(ws, inbox, "2025")
    old = _masters(ws)
    keys = open_store(ws.keys)
    assert rotate(ws, keys, "bg-central", inbox)["to"] == "bg-central#2"
    stages.check_run_keys(ws, keys, "bg")  # the re-keyed store goes on with #2
    keys.destroy("bg-central", 1)
    forget_unlocked()
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps(old | {"release-signing": _signing_hex(ws)}))
    server = open_store(ws.keys)
    assert server.key_id("bg-central") == "bg-central#1"
    with pytest.raises(KeyStoreError) as refused:
        stages.check_run_keys(ws, server, "bg")
    message = str(refused.value)
    assert "made with bg-central#2" in message and "the key in use is bg-central#1" in message
    assert "ZAKRILA_MASTER_KEYS does not hold bg-central#2" in message
    with pytest.raises(KeyStoreError, match="does not hold bg-central#2"):
        _store_batch(ws, inbox, "2025")  # never rewritten under the destroyed #1
    assert json.loads((ws.store("bg", "2025") / PARTNER / "b1" / stages.STORE_KEYS).read_text())["bg-central"][
        "key_id"
    ] == ("bg-central#2")


def test_a_folder_of_an_older_or_destroyed_generation_is_refused(tmp_path):
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    _store_batch(ws, inbox, "2025")
    stale = ws.store("bg", "2024") / PARTNER / "b1"  # a folder restored from before the rotation
    shutil.copytree(ws.store("bg", "2025") / PARTNER / "b1", stale)
    keys = open_store(ws.keys)
    new = keys.add_generation("bg-central")
    keys.make_current("bg-central", new)
    for folder in (ws.store("bg", "2025") / PARTNER / "b1",):
        stages.write_store_keys(folder, keys, PARTNER)  # as rotation re-keys the store
    with pytest.raises(KeyStoreError) as refused:
        stages.check_run_keys(ws, keys, "bg")
    assert str(stale) in str(refused.value) and "was rotated to bg-central#2 and this folder was not re-keyed" in str(
        refused.value
    )
    assert "run period 2024 again" in str(refused.value)
    keys.destroy("bg-central", 1)
    with pytest.raises(KeyStoreError, match="bg-central#1 was destroyed"):
        stages.check_run_keys(ws, keys, "bg")
    shutil.rmtree(stale)
    stages.check_run_keys(ws, keys, "bg")


def test_a_store_folder_that_does_not_record_its_keys_is_refused(tmp_path):
    ws = prepare(tmp_path / "ws")
    _store_batch(ws, tmp_path / "inbox", "2025")
    (ws.store("bg", "2025") / PARTNER / "b1" / stages.STORE_KEYS).unlink()
    with pytest.raises(KeyStoreError, match="does not record which keys made its pseudonyms"):
        stages.check_run_keys(ws, open_store(ws.keys), "bg")


# -- 2. erasure reaches every period's store -------------------------------------------------------------


def test_an_erased_subject_leaves_every_periods_store_and_is_counted_per_period(tmp_path):
    ws = prepare(tmp_path / "ws")
    inbox = tmp_path / "inbox"
    for period in ("2025", "2025-H2"):
        _store_batch(ws, inbox, period)
    keys = open_store(ws.keys)
    pid = pl.DataFrame({"v": ["p1"]}).select(pseudonym("v", keys.key(f"local:{PARTNER}", "person")))["v"].item()
    before = {
        p: {e: pl.read_parquet(ws.store("bg", p) / PARTNER / "b1" / f"{e}.parquet") for e in ("persons", "events")}
        for p in ("2025", "2025-H2")
    }
    cid = before["2025"]["persons"].filter(pl.col("person_pid") == pid)["person_cid"].item()
    record(ws, keys, PARTNER, person_id="p1")
    erased = stages.erase_stage(ws, "bg", Period.parse("2025-H2"), [f"{PARTNER}/b1"])  # a run of 2025-H2
    for p in ("2025", "2025-H2"):
        persons = pl.read_parquet(ws.store("bg", p) / PARTNER / "b1" / "persons.parquet")
        events = pl.read_parquet(ws.store("bg", p) / PARTNER / "b1" / "events.parquet")
        assert pid not in persons["person_pid"].to_list() and cid not in persons["person_cid"].to_list()
        assert not events["person_cid"].is_in([cid]).any()
        removed_events = before[p]["events"].height - events.height
        assert removed_events == before[p]["events"].filter(pl.col("person_cid") == cid).height > 0
        assert erased["by_period"][p]["persons_erased"] == 1
        assert erased["by_period"][p]["rows_removed"]["events"] == removed_events
    assert erased["persons_erased"] == 2 and erased["register_entries"] == 1
    assert erased["rows_removed"]["events"] == sum(erased["by_period"][p]["rows_removed"]["events"] for p in before)
    # a second run removes nothing more, and says so
    again = stages.erase_stage(ws, "bg", Period.parse("2025"), [f"{PARTNER}/b1"])
    assert again["persons_erased"] == 0 and again["rows_removed"] == {} and again["by_period"] == {}


# -- 3. collisions over the whole run --------------------------------------------------------------------


def _event_rows(ids: list[str]) -> list[list[str]]:
    return [[i, *EVENTS[n % len(EVENTS)][1:]] for n, i in enumerate(ids)]


def _one_hex(value: str) -> str:
    frame = pl.DataFrame({"v": [value]})
    return frame.select(pseudonym("v", bytes(32), 1))["v"].item()


def test_a_collision_across_batches_stops_the_run_even_if_no_batch_has_one(tmp_path, monkeypatch):
    real = pseudonymise_module.pseudonym

    def short_event_pseudonyms(column, key, length=32):
        # event pseudonyms of one hex digit under a fixed key: collisions we can place at will
        return real(column, bytes(32), 1) if column == "event_id" else real(column, key, length)

    monkeypatch.setattr(pseudonymise_module, "pseudonym", short_event_pseudonyms)
    first = ["e1", "e2", "e3"]
    seen = {_one_hex(i) for i in first}
    assert len(seen) == 3
    candidates = (f"x{n}" for n in range(1000))
    twin = next(i for i in candidates if _one_hex(i) == _one_hex("e1"))  # another event, the same pseudonym
    other = next(i for i in candidates if _one_hex(i) not in seen)
    ws = prepare(tmp_path / "ws")
    run_id = "run-collision-test"
    try:
        a = _store_batch(ws, tmp_path / "inbox", "2025", "b1", {"events": _event_rows(first)}, run_id)
        b = _store_batch(ws, tmp_path / "inbox", "2025", "b2", {"events": _event_rows([twin, other])}, run_id)
        assert sum(a["collisions"].values()) == 0 and sum(b["collisions"].values()) == 0  # none within a batch
        with pytest.raises(PseudonymCollision, match=r"1 pseudonym collisions in this run") as refused:
            stages.collision_stage(ws, run_id)
        assert f"local:{PARTNER}/event: 1" in str(refused.value) and "no release" in str(refused.value)
        assert refused.value.figures["by_domain"][f"local:{PARTNER}/event"] == {
            "inputs": 5,
            "pseudonyms": 4,
            "collisions": 1,
        }
    finally:
        stages.forget_run_key(run_id)
        stages.clean_work(ws, run_id)


def test_the_run_wide_count_keeps_no_input_and_needs_the_runs_key(tmp_path):
    ws = prepare(tmp_path / "ws")
    run_id = "run-no-collision-test"
    try:
        _store_batch(ws, tmp_path / "inbox", "2025", "b1", run_id=run_id)
        _store_batch(ws, tmp_path / "inbox", "2025", "b2", run_id=run_id)
        figures = stages.collision_stage(ws, run_id)
        assert figures["collisions"] == 0 and figures["batches"] == 2
        # the batch was sent twice: the same inputs, the same pseudonyms, counted once
        assert figures["by_domain"]["bg-central/person"] == {"inputs": 3, "pseudonyms": 3, "collisions": 0}
        assert figures["by_domain"][f"local:{PARTNER}/event"]["inputs"] == 3
        pairs = ws.work(run_id) / stages.PSEUDONYM_PAIRS
        frame = pl.read_parquet(next(pairs.glob("*.parquet")))
        assert frame.columns == ["domain", "purpose", "pseudonym", "stand_in"]
        assert frame["stand_in"].dtype == pl.UInt64
        written = b"".join(f.read_bytes() for f in pairs.iterdir())
        for clear in (b"1945120316", b"8503124564", b"ruse-svetilnik:p", b"national_id", "Мария".encode()):
            assert clear not in written
        stages.forget_run_key(run_id)  # as in a process that did not pseudonymise the batches
        with pytest.raises(PseudonymCollision, match="lacks the run's key"):
            stages.collision_stage(ws, run_id)
    finally:
        stages.forget_run_key(run_id)
        stages.clean_work(ws, run_id)


# -- 4. a key store others may read is refused -----------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_store_file_others_may_read_is_refused_like_ssh_does(tmp_path, mode):
    KeyStore.init(tmp_path / "keys", "p", ["bg-central"])
    path = tmp_path / "keys" / "keystore.json"
    path.chmod(mode)
    with pytest.raises(KeyStoreError, match=rf"permissions {mode:04o} of key store {path} are too open") as refused:
        KeyStore.unlock(tmp_path / "keys", "p")
    assert f"chmod 600 {path}" in str(refused.value)
    path.chmod(0o600)
    assert KeyStore.unlock(tmp_path / "keys", "p").key_id("bg-central") == "bg-central#1"


# -- 5. server key sources -------------------------------------------------------------------------------


def test_server_keys_without_a_signing_key_are_refused_before_the_run_reads_anything(tmp_path, monkeypatch):
    ws = prepare(tmp_path / "ws")
    masters = _masters(ws)
    forget_unlocked()
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps(masters))  # as documented: {domain: {gen: hex}}
    with pytest.raises(KeyStoreError) as refused:
        stages.check_run_keys(ws, open_store(ws.keys), "bg")
    message = str(refused.value)
    assert "ZAKRILA_MASTER_KEYS have no release-signing key" in message
    assert '"release-signing": "<64 hex digits' in message and "Ed25519" in message
    forget_unlocked()
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps(masters | {"release-signing": _signing_hex(ws)}))
    keys = open_store(ws.keys)
    stages.check_run_keys(ws, keys, "bg")
    assert keys.signing_key().private_bytes_raw().hex() == _signing_hex(ws)


def test_malformed_server_keys_are_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps({"bg-central": {"1": "00" * 32}, "release-signing": "zz"}))
    with pytest.raises(KeyStoreError, match='in ZAKRILA_MASTER_KEYS are not JSON of the form {"<domain>"'):
        open_store(tmp_path / "none")


def test_the_master_keys_can_come_from_a_prefect_secret_block(tmp_path, monkeypatch, prefect_server):
    from prefect.blocks.system import Secret

    text = json.dumps({"bg-central": {"1": "00" * 32, "2": "11" * 32}, "release-signing": "22" * 32})
    Secret(value=text).save("zakrila-test-master-keys", overwrite=True)
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS_BLOCK", "zakrila-test-master-keys")
    monkeypatch.delenv(PASSPHRASE_ENV)  # the block is enough: no sealed store, no passphrase
    store = open_store(tmp_path / "none")
    assert store.key_id("bg-central") == "bg-central#2" and store.folder is None
    assert store.fingerprint("bg-central", 1) != store.fingerprint("bg-central")
    assert store.signing_key().private_bytes_raw() == bytes.fromhex("22" * 32)
    assert "zakrila-test-master-keys" in store.source
    with pytest.raises(KeyStoreError, match="read-only"):
        store.add_generation("bg-central")


def test_a_run_with_server_keys_but_no_signing_key_stops_before_reading(tmp_path, monkeypatch, prefect_server):
    from flows.pipeline import run_pipeline

    ws = prepare(tmp_path / "ws")
    write_batch(tmp_path / "inbox", PARTNER, "b1")
    masters = _masters(ws)
    forget_unlocked()
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps(masters))
    with pytest.raises(KeyStoreError, match="no release-signing key"):
        run_pipeline(inbox=tmp_path / "inbox", workspace=ws.root, period="2025", jurisdiction="bg")
    for folder in ("quarantine", "store", "releases", "reports", "work"):
        assert not (ws.root / folder).exists(), folder
