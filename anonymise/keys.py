"""The key store: one master secret per pseudonymisation domain, purpose keys derived with HKDF.

A pseudonymisation domain (EDPB Guidelines 01/2025) is the set of data in which one pseudonym means
one person: each partner has its own (``local:<partner>``), Bulgarian partners share ``bg-central``
for national de-duplication, and the Russian pilot has ``ru``, never linked to the others.

Each domain holds one 256-bit master secret. Keys for a purpose (``person``, ``family``, ``case``,
``staff``, ``event``, ``fallback``, ``record``) are derived from it with HKDF-SHA256, so a pseudonym of
a family can never equal the pseudonym of a person with the same partner key.

Keys never leave this module except as bytes handed to the pseudonym expressions; the outside world
sees key IDs (``bg-central#1``) and fingerprints (a hash of the key under a fixed label, which
identifies the key without revealing it).

The store is a folder with ``keystore.json`` (mode 0600, folder 0700) and an Ed25519 release-signing
key. Encryption at rest and rotation come with the key-management work (issue 3).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSES = ("person", "family", "case", "staff", "event", "fallback", "record")
KEYSTORE_FILE = "keystore.json"
SIGNING_KEY_FILE = "release-signing.pem"


class KeyStoreError(RuntimeError):
    """The key store is missing, unreadable or lacks a domain; the message never holds key material."""


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a domain key: its ID, creation time and fingerprint."""

    domain: str
    key_id: str
    created: str
    fingerprint: str


def fingerprint(secret: bytes) -> str:
    """Return a 16-hex-digit fingerprint that identifies a secret without revealing it."""
    return hashlib.sha256(b"zakrila-key-fingerprint\x00" + secret).hexdigest()[:16]


def derive(master: bytes, domain: str, purpose: str) -> bytes:
    """Return the 32-byte key for ``purpose`` in ``domain`` derived from the domain's master secret."""
    if purpose not in PURPOSES:
        raise KeyStoreError(f"unknown key purpose {purpose!r}; known: {', '.join(PURPOSES)}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"zakrila/v1/{domain}/{purpose}".encode())
    return hkdf.derive(master)


class KeyStore:
    """A local key store in a folder; created on first use with owner-only permissions."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._path = self.folder / KEYSTORE_FILE
        self._data: dict[str, dict[str, str]] = {}
        if self._path.exists():
            try:
                self._data = json.loads(self._path.read_text())["domains"]
            except (ValueError, KeyError) as exc:
                raise KeyStoreError(f"key store {self._path} is unreadable ({type(exc).__name__})") from None

    @classmethod
    def open(cls, folder: Path, domains: list[str] | None = None) -> KeyStore:
        """Return the store in ``folder``, creating it and any missing ``domains`` on first use."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        store = cls(folder)
        missing = [d for d in (domains or []) if d not in store._data]
        if missing or not store._path.exists():
            for domain in missing:
                store._data[domain] = {
                    "secret": secrets.token_hex(32),
                    "generation": "1",
                    "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
                }
            store._save()
        store._ensure_signing_key()
        return store

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"format": "zakrila-keystore-1", "domains": self._data}, fh, indent=1, sort_keys=True)
        os.replace(tmp, self._path)
        os.chmod(self._path, 0o600)

    def _ensure_signing_key(self) -> None:
        path = self.folder / SIGNING_KEY_FILE
        if path.exists():
            return
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)

    def _master(self, domain: str) -> bytes:
        try:
            return bytes.fromhex(self._data[domain]["secret"])
        except KeyError:
            raise KeyStoreError(f"key store {self.folder} has no key for domain {domain!r}") from None

    def key(self, domain: str, purpose: str) -> bytes:
        """Return the derived key for ``purpose`` in ``domain``."""
        return derive(self._master(domain), domain, purpose)

    def info(self, domain: str) -> KeyInfo:
        """Return the showable facts about a domain key."""
        entry = self._data.get(domain)
        if entry is None:
            raise KeyStoreError(f"key store {self.folder} has no key for domain {domain!r}")
        return KeyInfo(
            domain=domain,
            key_id=f"{domain}#{entry['generation']}",
            created=entry["created"],
            fingerprint=fingerprint(self._master(domain)),
        )

    def domains(self) -> list[str]:
        """Return the domains the store holds keys for, sorted."""
        return sorted(self._data)

    def signing_key(self) -> Ed25519PrivateKey:
        """Return the Ed25519 key that signs release manifests."""
        key = serialization.load_pem_private_key((self.folder / SIGNING_KEY_FILE).read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def verify_key(self) -> Ed25519PublicKey:
        """Return the public half of the release-signing key."""
        return self.signing_key().public_key()


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    """Return a public key in PEM form, as published beside a release."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """Return the SHA-256 fingerprint of a public key's raw bytes (hex)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
