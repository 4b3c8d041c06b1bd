"""The key store: master secrets per pseudonymisation domain and generation, sealed at rest.

A workspace's ``keys/keystore.json`` (mode 0600 in a 0700 folder) holds, per domain, every
generation's secret sealed with AES-256-GCM under a passphrase-derived key (scrypt), plus the
release-signing key. It is created by ``zakrila keys init`` and never on the fly: a run that finds no
key store, or no key for a domain, stops with a clear error rather than inventing new pseudonyms.

Where the passphrase comes from, first found wins:

1. ``ZAKRILA_KEYSTORE_PASSPHRASE`` (environment);
2. a Prefect Secret block named in ``ZAKRILA_KEYSTORE_PASSPHRASE_BLOCK`` (servers);
3. a prompt, for commands run by a person.

On servers the master secrets may instead come whole from ``ZAKRILA_MASTER_KEYS`` or a Prefect
Secret block named in ``ZAKRILA_MASTER_KEYS_BLOCK`` (read-only: rotation happens where the sealed
store lives), as JSON::

    {"<domain>": {"<generation>": "<64 hex digits>", ...}, ...,
     "release-signing": "<64 hex digits: the raw 32-byte Ed25519 private key>"}

The highest generation given is a domain's current one. A run needs ``release-signing`` to sign its
release, and refuses before reading anything if it is missing.

Like ssh with a private key, a key store file that its group or others may read or write is refused
(``chmod 600`` it).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anonymise.keys import (
    PURPOSES,
    SCRYPT_N,
    KeyStoreError,
    derive,
    fingerprint,
    passphrase_key,
    seal,
    unseal,
)

FORMAT = "zakrila-keystore-2"
FILE = "keystore.json"
SIGNING_SLOT = "release-signing#1"
PASSPHRASE_ENV = "ZAKRILA_KEYSTORE_PASSPHRASE"
PASSPHRASE_BLOCK_ENV = "ZAKRILA_KEYSTORE_PASSPHRASE_BLOCK"
MASTER_KEYS_ENV = "ZAKRILA_MASTER_KEYS"
MASTER_KEYS_BLOCK_ENV = "ZAKRILA_MASTER_KEYS_BLOCK"
SIGNING_ENTRY = "release-signing"
MASTER_KEYS_FORMAT = (
    '{"<domain>": {"<generation>": "<64 hex digits>"}, ..., '
    '"release-signing": "<64 hex digits: the raw Ed25519 private key>"}'
)

_UNLOCKED: dict[Path, KeyStore] = {}


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a domain key: ID, generation, creation, age and fingerprint."""

    domain: str
    key_id: str
    generation: int
    created: str
    age_days: int
    fingerprint: str
    retired_generations: list[int]
    destroyed_generations: list[int]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _secret_block(name: str) -> str:
    from prefect.blocks.system import Secret

    block: Any = Secret.load(name)  # typed as sync-or-async; sync outside an event loop, as here
    value = block.get()
    return value if isinstance(value, str) else json.dumps(value)


def passphrase_from_environment(prompt: Callable[[], str] | None = None) -> str:
    """Return the key store passphrase from the environment, a Prefect Secret block, or a prompt."""
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if os.environ.get(PASSPHRASE_BLOCK_ENV):
        return _secret_block(os.environ[PASSPHRASE_BLOCK_ENV])
    if prompt is not None:
        return prompt()
    raise KeyStoreError(
        f"no key store passphrase: set {PASSPHRASE_ENV}, or {PASSPHRASE_BLOCK_ENV} to a Prefect Secret block name"
    )


class KeyStore:
    """Master secrets per domain and generation, unlocked in memory."""

    def __init__(
        self,
        folder: Path | None,
        masters: dict[str, dict[int, bytes]],
        current: dict[str, int],
        meta: dict[str, dict[int, dict[str, Any]]],
        signing: bytes | None,
        source: str | None = None,
    ) -> None:
        self.folder = folder
        #: where the keys came from, for messages: the store's folder or the server source
        self.source = source or (str(folder) if folder is not None else MASTER_KEYS_ENV)
        self._doc: dict[str, Any] = {}
        self._kek = b""
        self._masters = masters
        self._current = current
        self._meta = meta
        self._signing = signing

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def init(cls, folder: Path, passphrase: str, domains: list[str]) -> tuple[KeyStore, list[str]]:
        """Create the store, or add missing domains to it; return it and the domains added."""
        folder = Path(folder)
        if (folder / FILE).exists():
            store = cls.unlock(folder, passphrase)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            store = cls(folder, {}, {}, {}, None)
            store._doc = {
                "format": FORMAT,
                "kdf": {"name": "scrypt", "salt": secrets.token_hex(16), "n": SCRYPT_N, "r": 8, "p": 1},
                "domains": {},
            }
            store._kek = cls._kek_for(store._doc, passphrase)
        added = [d for d in domains if d not in store._masters]
        for domain in added:
            store._add_generation(domain)
        if store._signing is None:
            store._signing = Ed25519PrivateKey.generate().private_bytes_raw()
            nonce, sealed = seal(store._signing, store._kek, SIGNING_SLOT)
            store._doc["signing"] = {"created": _now(), "nonce": nonce.hex(), "sealed": sealed.hex()}
        store._save()
        _UNLOCKED[folder.resolve()] = store
        return store, added

    @staticmethod
    def _kek_for(doc: dict[str, Any], passphrase: str) -> bytes:
        kdf = doc["kdf"]
        return passphrase_key(passphrase, bytes.fromhex(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])

    @classmethod
    def unlock(cls, folder: Path, passphrase: str) -> KeyStore:
        """Return the store in ``folder`` unlocked with ``passphrase``; KeyStoreError if it cannot be."""
        folder = Path(folder)
        path = folder / FILE
        if not path.exists():
            raise KeyStoreError(f"no key store at {folder}: create it with 'zakrila keys init'")
        _require_owner_only(path)
        try:
            doc = json.loads(path.read_text("utf-8"))
        except ValueError:
            raise KeyStoreError(f"key store {path} is not valid JSON") from None
        if doc.get("format") != FORMAT:
            raise KeyStoreError(f"key store {path} has format {doc.get('format')!r}, expected {FORMAT}")
        kek = cls._kek_for(doc, passphrase)
        masters: dict[str, dict[int, bytes]] = {}
        meta: dict[str, dict[int, dict[str, Any]]] = {}
        current: dict[str, int] = {}
        for domain, entry in doc["domains"].items():
            current[domain] = int(entry["current"])
            masters[domain] = {}
            meta[domain] = {}
            for gen_text, g in entry["generations"].items():
                gen = int(gen_text)
                meta[domain][gen] = {k: v for k, v in g.items() if k not in ("nonce", "sealed")}
                if g.get("sealed"):
                    masters[domain][gen] = unseal(
                        bytes.fromhex(g["nonce"]), bytes.fromhex(g["sealed"]), kek, f"{domain}#{gen}"
                    )
        signing = None
        if "signing" in doc:
            s = doc["signing"]
            signing = unseal(bytes.fromhex(s["nonce"]), bytes.fromhex(s["sealed"]), kek, SIGNING_SLOT)
        store = cls(folder, masters, current, meta, signing)
        store._doc, store._kek = doc, kek
        return store

    @classmethod
    def from_master_keys(cls, text: str, source: str = MASTER_KEYS_ENV) -> KeyStore:
        """Return a read-only store from JSON ``{domain: {generation: hex}, "release-signing": hex}`` (servers).

        ``source`` names where the JSON came from, for messages.
        """
        try:
            data = json.loads(text)
            signing_hex = data.pop(SIGNING_ENTRY, None)
            masters = {d: {int(g): bytes.fromhex(h) for g, h in gens.items()} for d, gens in data.items()}
            signing = bytes.fromhex(signing_hex) if signing_hex else None
            if signing is not None:
                Ed25519PrivateKey.from_private_bytes(signing)
            if any(not gens for gens in masters.values()):
                raise ValueError("a domain without generations")
        except (ValueError, AttributeError, TypeError):
            raise KeyStoreError(f"the master keys in {source} are not JSON of the form {MASTER_KEYS_FORMAT}") from None
        current = {d: max(g) for d, g in masters.items()}
        meta: dict[str, dict[int, dict[str, Any]]] = {
            d: {g: {"created": None} for g in gens} for d, gens in masters.items()
        }
        return cls(None, masters, current, meta, signing, source)

    # -- changing --------------------------------------------------------------------------------

    def _add_generation(self, domain: str) -> int:
        gen = max(self._masters.get(domain, {0: b""})) + 1
        secret = secrets.token_bytes(32)
        nonce, sealed = seal(secret, self._kek, f"{domain}#{gen}")
        entry = self._doc["domains"].setdefault(domain, {"current": gen, "generations": {}})
        entry["generations"][str(gen)] = {
            "created": _now(),
            "fingerprint": fingerprint(secret),
            "nonce": nonce.hex(),
            "sealed": sealed.hex(),
        }
        self._masters.setdefault(domain, {})[gen] = secret
        self._current.setdefault(domain, gen)  # a new domain starts at its first generation
        self._meta.setdefault(domain, {})[gen] = {
            "created": entry["generations"][str(gen)]["created"],
            "fingerprint": fingerprint(secret),
        }
        return gen

    def add_generation(self, domain: str) -> int:
        """Create the next generation of a domain's secret (not yet current); return its number."""
        self._require_writable()
        gen = self._add_generation(domain)
        self._save()
        return gen

    def make_current(self, domain: str, generation: int) -> None:
        """Make a generation the one new pseudonyms are made with."""
        self._require_writable()
        if generation not in self._masters.get(domain, {}):
            raise KeyStoreError(f"{domain}#{generation} does not exist or was destroyed")
        self._doc["domains"][domain]["current"] = generation
        self._current[domain] = generation
        self._save()

    def destroy(self, domain: str, generation: int) -> None:
        """Destroy a retired generation's secret for good (its pseudonyms can no longer be made)."""
        self._require_writable()
        if self._current.get(domain) == generation:
            raise KeyStoreError(f"{domain}#{generation} is the current generation; rotate before destroying it")
        entry = self._doc["domains"].get(domain, {}).get("generations", {}).get(str(generation))
        if entry is None or not entry.get("sealed"):
            raise KeyStoreError(f"{domain}#{generation} does not exist or was already destroyed")
        entry.pop("nonce")
        entry.pop("sealed")
        entry["destroyed"] = _now()
        self._masters[domain].pop(generation, None)
        self._meta[domain][generation]["destroyed"] = entry["destroyed"]
        self._save()

    def _require_writable(self) -> None:
        if self.folder is None:
            raise KeyStoreError("keys from the environment are read-only; rotate where the sealed store lives")

    def _save(self) -> None:
        assert self.folder is not None
        path = self.folder / FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self._doc, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
        os.chmod(path, 0o600)

    # -- using -----------------------------------------------------------------------------------

    def require(self, domains: list[str]) -> None:
        """Raise KeyStoreError naming every domain the store has no current key for."""
        missing = [d for d in domains if self._current.get(d) not in self._masters.get(d, {})]
        if missing:
            where = self.source
            raise KeyStoreError(
                f"key store {where} has no key for {', '.join(missing)}: add it with 'zakrila keys init' "
                "(existing keys are kept); a run never makes new keys silently"
            )

    def generation(self, domain: str) -> int:
        """Return the current generation of a domain."""
        self.require([domain])
        return self._current[domain]

    def state(self, domain: str, generation: int) -> str:
        """Return what a domain generation is to this store: current, retired, destroyed or absent."""
        if generation in self._masters.get(domain, {}):
            return "current" if self._current.get(domain) == generation else "retired"
        if self._meta.get(domain, {}).get(generation, {}).get("destroyed"):
            return "destroyed"
        return "absent"

    def key(self, domain: str, purpose: str, generation: int | None = None) -> bytes:
        """Return the key for ``purpose`` in ``domain`` (current generation unless given)."""
        gen = generation if generation is not None else self.generation(domain)
        try:
            master = self._masters[domain][gen]
        except KeyError:
            raise KeyStoreError(f"{domain}#{gen} does not exist or was destroyed") from None
        return derive(master, domain, purpose)

    def key_id(self, domain: str, generation: int | None = None) -> str:
        """Return the ID of a domain key (``domain#generation``)."""
        return f"{domain}#{generation if generation is not None else self.generation(domain)}"

    def fingerprint(self, domain: str, generation: int | None = None) -> str:
        """Return the fingerprint of a domain key's master secret."""
        gen = generation if generation is not None else self.generation(domain)
        try:
            return fingerprint(self._masters[domain][gen])
        except KeyError:
            raise KeyStoreError(f"{domain}#{gen} does not exist or was destroyed") from None

    def info(self, domain: str) -> KeyInfo:
        """Return the showable facts about a domain's current key."""
        gen = self.generation(domain)
        created = self._meta[domain][gen].get("created")
        age = (datetime.now(UTC) - datetime.fromisoformat(created)).days if created else 0
        return KeyInfo(
            domain=domain,
            key_id=self.key_id(domain, gen),
            generation=gen,
            created=created or "from environment",
            age_days=age,
            fingerprint=fingerprint(self._masters[domain][gen]),
            retired_generations=sorted(g for g in self._masters[domain] if g != gen),
            destroyed_generations=sorted(g for g, m in self._meta[domain].items() if m.get("destroyed")),
        )

    def material(self) -> list[bytes]:
        """Return every secret and derived key held, for leak scans only (never to be written)."""
        out = [m for gens in self._masters.values() for m in gens.values()]
        out += [derive(m, d, p) for d, gens in self._masters.items() for m in gens.values() for p in PURPOSES]
        if self._signing is not None:
            out.append(self._signing)
        return out

    def domains(self) -> list[str]:
        """Return the domains the store holds keys for, sorted."""
        return sorted(self._current)

    def require_signing(self) -> None:
        """Raise KeyStoreError, saying how to provide one, if the store has no release-signing key."""
        if self._signing is not None:
            return
        if self.folder is None:
            raise KeyStoreError(
                f"the keys in {self.source} have no release-signing key, so no release could be signed: add "
                f'"{SIGNING_ENTRY}": "<64 hex digits: the raw 32-byte Ed25519 private key>" beside the domains '
                f"(the JSON is {MASTER_KEYS_FORMAT})"
            )
        raise KeyStoreError(
            f"key store {self.source} has no release-signing key, so no release could be signed: "
            "add one with 'zakrila keys init' (existing keys are kept)"
        )

    def signing_key(self) -> Ed25519PrivateKey:
        """Return the Ed25519 key that signs release manifests."""
        self.require_signing()
        assert self._signing is not None
        return Ed25519PrivateKey.from_private_bytes(self._signing)


def _require_owner_only(path: Path) -> None:
    """Refuse a key store file that its group or others may read or write, as ssh refuses a private key."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyStoreError(
            f"permissions {mode:04o} of key store {path} are too open: it must be readable by its owner only; "
            f"run 'chmod 600 {path}' and check who could have copied it"
        )


def open_store(folder: Path, prompt: Callable[[], str] | None = None) -> KeyStore:
    """Return the workspace's key store, unlocked once per process (environment keys win on servers)."""
    folder = Path(folder).resolve()
    if folder in _UNLOCKED:
        return _UNLOCKED[folder]
    if os.environ.get(MASTER_KEYS_ENV):
        store = KeyStore.from_master_keys(os.environ[MASTER_KEYS_ENV], MASTER_KEYS_ENV)
    elif os.environ.get(MASTER_KEYS_BLOCK_ENV):
        name = os.environ[MASTER_KEYS_BLOCK_ENV]
        store = KeyStore.from_master_keys(
            _secret_block(name), f"the Prefect Secret block {name!r} ({MASTER_KEYS_BLOCK_ENV})"
        )
    else:
        if not (folder / FILE).exists():  # say so before asking for a passphrase
            raise KeyStoreError(f"no key store at {folder}: create it with 'zakrila keys init'")
        store = KeyStore.unlock(folder, passphrase_from_environment(prompt))
    _UNLOCKED[folder] = store
    return store


def forget_unlocked() -> None:
    """Drop every unlocked store from memory (tests, and after rotation)."""
    _UNLOCKED.clear()
