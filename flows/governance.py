"""The DPO's part of a workspace: the policy in force, its approval, and the DPO's key.

```
<workspace>/policy.toml            the policy (a copy of the shipped default after 'zakrila keys init')
<workspace>/policy.approval.json   the DPO's Ed25519 signature over the policy's SHA-256
<workspace>/keys/dpo.pub.pem       the DPO's public key: approvals are checked against it
<workspace>/keys/dpo.key.pem       the DPO's private key, encrypted with the DPO's own passphrase
                                   (absent when the DPO keeps it elsewhere: 'keys init --dpo-public-key')
```

``zakrila run`` calls :func:`approved_policy` before it reads anything: no approval, an altered
policy, or a signature by another key stops the run with a one-line reason.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anonymise.keys import public_key_fingerprint, public_key_pem
from anonymise.policy import Policy, PolicyError, approval_problem, default_policy_text, parse_policy, sign_approval
from flows.workspace import Workspace

DPO_PUBLIC = "dpo.pub.pem"
DPO_PRIVATE = "dpo.key.pem"
APPROVAL = "policy.approval.json"
DPO_PASSPHRASE_ENV = "ZAKRILA_DPO_PASSPHRASE"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def init_governance(ws: Workspace, dpo_passphrase: str | None, dpo_public_key: Path | None) -> list[str]:
    """Create the DPO key pair (or take the DPO's public key) and the workspace policy; say what was done."""
    done: list[str] = []
    ws.keys.mkdir(parents=True, exist_ok=True)
    public_path = ws.keys / DPO_PUBLIC
    if dpo_public_key is not None:
        key = serialization.load_pem_public_key(Path(dpo_public_key).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise PolicyError(f"{dpo_public_key}: not an Ed25519 public key")
        public_path.write_bytes(public_key_pem(key))
        done.append(f"took the DPO's public key {public_key_fingerprint(key)[:16]}…")
    elif not public_path.exists():
        if not dpo_passphrase:
            raise PolicyError(f"set {DPO_PASSPHRASE_ENV} (the DPO's passphrase) or pass --dpo-public-key")
        private = Ed25519PrivateKey.generate()
        encrypted = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(dpo_passphrase.encode("utf-8")),
        )
        _write_private(ws.keys / DPO_PRIVATE, encrypted)
        public_path.write_bytes(public_key_pem(private.public_key()))
        done.append(
            f"created the DPO key pair {public_key_fingerprint(private.public_key())[:16]}… "
            f"({DPO_PRIVATE} is encrypted; hand it to the DPO)"
        )
    if not ws.policy.exists():
        ws.policy.write_text(default_policy_text(), "utf-8")
        done.append(f"wrote the default policy to {ws.policy} (not yet approved)")
    return done


def dpo_public_key(ws: Workspace) -> Ed25519PublicKey:
    """Return the workspace's DPO public key."""
    path = ws.keys / DPO_PUBLIC
    if not path.exists():
        raise PolicyError(f"no DPO key at {path}: run 'zakrila keys init'")
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise PolicyError(f"{path}: not an Ed25519 public key")
    return key


def read_policy(ws: Workspace) -> Policy:
    """Return the workspace's policy, validated (not yet checked for approval)."""
    if not ws.policy.exists():
        raise PolicyError(f"no policy at {ws.policy}: run 'zakrila keys init' to write the default")
    return parse_policy(ws.policy.read_text("utf-8"), str(ws.policy))


def approve(ws: Workspace, dpo_key_path: Path | None, dpo_passphrase: str | None) -> dict[str, str]:
    """Sign the workspace policy with the DPO's private key; return the approval record."""
    policy = read_policy(ws)
    path = dpo_key_path or ws.keys / DPO_PRIVATE
    try:
        key = serialization.load_pem_private_key(
            Path(path).read_bytes(), password=dpo_passphrase.encode("utf-8") if dpo_passphrase else None
        )
    except FileNotFoundError:
        raise PolicyError(f"no DPO private key at {path}") from None
    except (ValueError, TypeError):
        raise PolicyError(f"{path}: cannot open the DPO key (wrong passphrase?)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PolicyError(f"{path}: not an Ed25519 private key")
    if public_key_fingerprint(key.public_key()) != public_key_fingerprint(dpo_public_key(ws)):
        raise PolicyError(f"{path} is not the DPO key registered in {ws.keys / DPO_PUBLIC}")
    record = sign_approval(policy, key, datetime.now(UTC).replace(microsecond=0).isoformat())
    (ws.root / APPROVAL).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", "utf-8")
    return record


def approved_policy(ws: Workspace) -> tuple[Policy, dict[str, str]]:
    """Return the policy in force and its approval; PolicyError with the reason if not approved."""
    policy = read_policy(ws)
    path = ws.root / APPROVAL
    record = json.loads(path.read_text("utf-8")) if path.exists() else None
    problem = approval_problem(policy, record, dpo_public_key(ws))
    if problem:
        raise PolicyError(f"{ws.policy}: {problem}; no data was read")
    assert record is not None
    return policy, record
