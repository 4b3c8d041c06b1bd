import json
import stat

import pytest

from anonymise.keys import KeyStoreError
from flows.keystore import KeyStore, forget_unlocked, open_store

DOMAINS = ["bg-central", "local:ruse-svetilnik"]


@pytest.fixture(autouse=True)
def _fresh():
    forget_unlocked()
    yield
    forget_unlocked()


def test_init_creates_an_owner_only_store_with_no_secret_in_the_clear(tmp_path):
    store, added = KeyStore.init(tmp_path / "keys", "pass phrase", DOMAINS)
    assert added == DOMAINS
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / "keystore.json").stat().st_mode) == 0o600
    text = (tmp_path / "keys" / "keystore.json").read_text()
    for material in store.material():
        assert material.hex() not in text
    assert json.loads(text)["kdf"]["name"] == "scrypt"


def test_the_store_reopens_with_the_same_keys_and_refuses_a_wrong_passphrase(tmp_path):
    store, _ = KeyStore.init(tmp_path, "pass phrase", DOMAINS)
    again = KeyStore.unlock(tmp_path, "pass phrase")
    assert again.key("bg-central", "person") == store.key("bg-central", "person")
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore.unlock(tmp_path, "pass phrasE")


def test_init_again_keeps_keys_and_adds_missing_domains(tmp_path):
    store, _ = KeyStore.init(tmp_path, "p", ["bg-central"])
    before = store.key("bg-central", "person")
    again, added = KeyStore.init(tmp_path, "p", ["bg-central", "ru"])
    assert added == ["ru"] and again.key("bg-central", "person") == before


def test_a_missing_store_or_domain_is_a_clear_error_never_new_keys(tmp_path):
    with pytest.raises(KeyStoreError, match="no key store at .*: create it with 'zakrila keys init'"):
        KeyStore.unlock(tmp_path / "nothing", "p")
    assert not (tmp_path / "nothing").exists()
    store, _ = KeyStore.init(tmp_path, "p", ["bg-central"])
    with pytest.raises(KeyStoreError, match="no key for ru"):
        store.require(["bg-central", "ru"])


def test_generations_rotate_and_retired_ones_can_be_destroyed(tmp_path):
    store, _ = KeyStore.init(tmp_path, "p", ["bg-central"])
    g1 = store.key("bg-central", "person")
    new = store.add_generation("bg-central")
    assert store.generation("bg-central") == 1  # not current until made so
    store.make_current("bg-central", new)
    assert store.key_id("bg-central") == "bg-central#2" and store.key("bg-central", "person") != g1
    with pytest.raises(KeyStoreError, match="current generation"):
        store.destroy("bg-central", 2)
    store.destroy("bg-central", 1)
    reopened = KeyStore.unlock(tmp_path, "p")
    with pytest.raises(KeyStoreError, match="destroyed"):
        reopened.key("bg-central", "person", 1)
    info = reopened.info("bg-central")
    assert info.generation == 2 and info.destroyed_generations == [1]


def test_master_keys_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ZAKRILA_MASTER_KEYS", json.dumps({"bg-central": {"1": "00" * 32, "2": "11" * 32}}))
    store = open_store(tmp_path / "none")
    assert store.key_id("bg-central") == "bg-central#2"
    with pytest.raises(KeyStoreError, match="read-only"):
        store.add_generation("bg-central")


def test_the_passphrase_can_come_from_a_prefect_secret_block(tmp_path, monkeypatch, prefect_server):
    from prefect.blocks.system import Secret

    KeyStore.init(tmp_path, "from-a-block", ["bg-central"])
    Secret(value="from-a-block").save("zakrila-test-passphrase", overwrite=True)
    monkeypatch.delenv("ZAKRILA_KEYSTORE_PASSPHRASE")
    monkeypatch.setenv("ZAKRILA_KEYSTORE_PASSPHRASE_BLOCK", "zakrila-test-passphrase")
    assert open_store(tmp_path).key_id("bg-central") == "bg-central#1"
