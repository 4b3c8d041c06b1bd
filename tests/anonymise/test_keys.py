import json
import stat

import pytest

from anonymise.keys import PURPOSES, KeyStore, KeyStoreError, derive, fingerprint


def test_store_is_created_owner_only_and_reopens_with_the_same_keys(tmp_path):
    store = KeyStore.open(tmp_path / "keys", ["bg-central", "local:ruse-svetilnik"])
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / "keystore.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys" / "release-signing.pem").stat().st_mode) == 0o600
    again = KeyStore.open(tmp_path / "keys", ["bg-central"])
    assert again.key("bg-central", "person") == store.key("bg-central", "person")


def test_keys_differ_across_domains_and_purposes(tmp_path):
    store = KeyStore.open(tmp_path, ["bg-central", "ru", "local:a"])
    keys = {(d, p): store.key(d, p) for d in ("bg-central", "ru", "local:a") for p in PURPOSES}
    assert len(set(keys.values())) == len(keys)


def test_info_shows_fingerprint_never_the_secret(tmp_path):
    store = KeyStore.open(tmp_path, ["bg-central"])
    info = store.info("bg-central")
    secret_hex = json.loads((tmp_path / "keystore.json").read_text())["domains"]["bg-central"]["secret"]
    assert info.key_id == "bg-central#1"
    assert info.fingerprint not in secret_hex and secret_hex not in repr(info)
    assert info.fingerprint == fingerprint(bytes.fromhex(secret_hex))


def test_missing_domain_is_a_clear_error_not_a_new_key(tmp_path):
    store = KeyStore.open(tmp_path, ["bg-central"])
    with pytest.raises(KeyStoreError, match="no key for domain 'ru'"):
        store.key("ru", "person")


def test_unknown_purpose_is_refused():
    with pytest.raises(KeyStoreError, match="unknown key purpose"):
        derive(bytes(32), "bg-central", "marketing")
