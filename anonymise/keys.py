"""Key material for pseudonymisation: purpose keys, fingerprints, and sealing secrets at rest.

A pseudonymisation domain (EDPB Guidelines 01/2025) is the set of data in which one pseudonym means
one person: each partner has its own (``local:<partner>``), Bulgarian partners share ``bg-central``
for national de-duplication, and the Russian pilot has ``ru``, never linked to the others.

Each domain holds a 256-bit master secret per *generation* (rotation adds one). Keys for a purpose
(``person``, ``family``, ``case``, ``staff``, ``event``, ``fallback``, ``record``) are derived from it
with HKDF-SHA256, so a family's pseudonym can never equal a person's under the same partner key. One
purpose makes no pseudonym: ``dp-ledger`` (central domains only) keys the HMAC that seals a release
series' privacy-budget ledger (:mod:`anonymise.dp`); like every purpose key it is derived when needed
and never stored.

Secrets are sealed at rest with AES-256-GCM under a key derived from a passphrase with scrypt; the
domain and generation are bound as associated data, so a sealed secret cannot be moved to another
slot. Outside this module a key is known by its ID (``bg-central#2``) and fingerprint only.

This module is pure: bytes in, bytes out. The file-backed store is ``flows.keystore``.

>>> master = bytes(range(32))
>>> derive(master, "bg-central", "person") != derive(master, "bg-central", "family")
True
>>> kek = passphrase_key("correct horse", bytes(16), n=2**10)
>>> nonce, sealed = seal(master, kek, "bg-central#1", nonce=bytes(12))
>>> unseal(nonce, sealed, kek, "bg-central#1") == master
True
>>> unseal(nonce, sealed, kek, "ru#1")
Traceback (most recent call last):
...
anonymise.keys.KeyStoreError: the secret for ru#1 cannot be unsealed: wrong passphrase or a damaged key store
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

PURPOSES = ("person", "family", "case", "staff", "event", "fallback", "record", "dp-ledger")
SCRYPT_N = 2**15  # ~0.1 s and 32 MiB per unlock: slow for a guesser, fine for a run


class KeyStoreError(RuntimeError):
    """A key cannot be had; the message never holds key material."""


def fingerprint(secret: bytes) -> str:
    """Return a 16-hex-digit fingerprint that identifies a secret without revealing it."""
    return hashlib.sha256(b"zakrila-key-fingerprint\x00" + secret).hexdigest()[:16]


def derive(master: bytes, domain: str, purpose: str) -> bytes:
    """Return the 32-byte key for ``purpose`` in ``domain`` derived from the domain's master secret."""
    if purpose not in PURPOSES:
        raise KeyStoreError(f"unknown key purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"zakrila/v1/{domain}/{purpose}".encode())
    return hkdf.derive(master)


def passphrase_key(passphrase: str, salt: bytes, n: int = SCRYPT_N, r: int = 8, p: int = 1) -> bytes:
    """Return the 32-byte key-encryption key derived from a passphrase with scrypt."""
    if not passphrase:
        raise KeyStoreError("the key store passphrase is empty")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal(secret: bytes, kek: bytes, slot: str, nonce: bytes | None = None) -> tuple[bytes, bytes]:
    """Return (nonce, ciphertext) of a secret sealed with AES-256-GCM, bound to its slot name."""
    nonce = nonce if nonce is not None else os.urandom(12)
    return nonce, AESGCM(kek).encrypt(nonce, secret, slot.encode())


def unseal(nonce: bytes, ciphertext: bytes, kek: bytes, slot: str) -> bytes:
    """Return a sealed secret; KeyStoreError if the passphrase or the slot is wrong."""
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, slot.encode())
    except InvalidTag:
        raise KeyStoreError(
            f"the secret for {slot} cannot be unsealed: wrong passphrase or a damaged key store"
        ) from None


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    """Return a public key in PEM form, as published beside a release."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """Return the SHA-256 fingerprint of a public key's raw bytes (hex)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
