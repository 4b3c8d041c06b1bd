import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.keys import PURPOSES, KeyStoreError, derive, fingerprint, passphrase_key, seal, unseal

MASTER = bytes(range(32))


def test_keys_differ_across_domains_and_purposes():
    keys = {(d, p): derive(MASTER, d, p) for d in ("bg-central", "ru", "local:a") for p in PURPOSES}
    assert len(set(keys.values())) == len(keys)


def test_unknown_purpose_is_refused():
    with pytest.raises(KeyStoreError, match="unknown key purpose"):
        derive(MASTER, "bg-central", "marketing")


def test_fingerprint_identifies_without_revealing():
    fp = fingerprint(MASTER)
    assert len(fp) == 16 and fp not in MASTER.hex() and fp != fingerprint(bytes(32))


@settings(max_examples=10, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.text(min_size=1, max_size=20))
def test_sealed_secrets_open_only_with_their_passphrase_and_slot(secret, passphrase):
    kek = passphrase_key(passphrase, bytes(16), n=2**10)
    nonce, sealed = seal(secret, kek, "bg-central#1")
    assert secret not in sealed
    assert unseal(nonce, sealed, kek, "bg-central#1") == secret
    with pytest.raises(KeyStoreError):
        unseal(nonce, sealed, kek, "bg-central#2")
    with pytest.raises(KeyStoreError):
        unseal(nonce, sealed, passphrase_key(passphrase + "x", bytes(16), n=2**10), "bg-central#1")


def test_an_empty_passphrase_is_refused():
    with pytest.raises(KeyStoreError, match="empty"):
        passphrase_key("", bytes(16))
