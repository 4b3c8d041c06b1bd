"""The DPO's part of a workspace: the policy in force, its approval, and the DPO's key.

```
<workspace>/policy.toml            the policy (a copy of the shipped default after 'zakrila keys init')
<workspace>/policy.approval.json   the DPO's Ed25519 signature over the policy's SHA-256
<workspace>/keys/dpo.pub.pem       the DPO's public key: approvals are checked against it
<workspace>/keys/dpo.key.pem       the DPO's private key, encrypted with the DPO's own passphrase
                                   (absent when the DPO keeps it elsewhere: 'keys init --dpo-public-key')
<workspace>/keys/dpo.history.jsonl every change of the DPO's key, appended: time, old and new SHA-256,
                                   each line chained to the one before by its SHA-256
```

``zakrila run`` calls :func:`approved_policy` before it reads anything: no approval, an altered
policy, a signature by another key, or a DPO key that is not the one its history ends with stops the
run with a one-line reason.

Whoever registers a DPO key can approve any policy, so an existing DPO key is replaced only on
purpose (``keys init --dpo-public-key NEW --replace-dpo-key``), every change is appended to the
history, and :func:`dpo_key_history` gives it to section A of the run report. A key swapped by hand
(not through ``keys init``) no longer matches the history's last entry: approvals and runs stop.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anonymise.keys import public_key_fingerprint, public_key_pem
from anonymise.policy import Policy, PolicyError, approval_problem, default_policy_text, parse_policy, sign_approval
from flows.workspace import Workspace

DPO_PUBLIC = "dpo.pub.pem"
DPO_PRIVATE = "dpo.key.pem"
APPROVAL = "policy.approval.json"
DPO_PASSPHRASE_ENV = "ZAKRILA_DPO_PASSPHRASE"
DPO_HISTORY = "dpo.history.jsonl"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _write_public(path: Path, key: Ed25519PublicKey) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(public_key_pem(key))
    os.replace(tmp, path)


def _history_lines(ws: Workspace) -> list[bytes]:
    path = ws.keys / DPO_HISTORY
    return [line for line in path.read_bytes().split(b"\n") if line.strip()] if path.exists() else []


def _record_dpo_key(ws: Workspace, old: str | None, new: str, how: str) -> dict[str, str | None]:
    """Append a change of the DPO key to the history (old and new SHA-256, time, how); return the entry."""
    lines = _history_lines(ws)
    entry: dict[str, str | None] = {
        "changed_at": _now(),
        "old_sha256": old,
        "new_sha256": new,
        "how": how,
        "previous_entry_sha256": hashlib.sha256(lines[-1]).hexdigest() if lines else None,
    }
    fd = os.open(ws.keys / DPO_HISTORY, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as fh:
        fh.write(json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n")
    return entry


def dpo_key_history(ws: Workspace) -> dict[str, Any]:
    """Return the DPO key's history for section A of the run report: the key in force and every change.

    ``{"current_sha256", "changes": [{"changed_at", "old_sha256", "new_sha256", "how", …}],
    "unrecorded_changes", "problem"}``: ``unrecorded_changes`` names earlier replacements by hand that a
    later recorded change covered (an entry whose old key is not the one the entry before registered);
    ``problem`` says (or is None) whether the history is broken, or does not end with the key in force
    (the key was replaced by hand), or was never kept (a workspace set up before it was).
    """
    path = ws.keys / DPO_HISTORY
    public = ws.keys / DPO_PUBLIC
    current = None
    problem = None
    try:
        current = public_key_fingerprint(dpo_public_key(ws)) if public.exists() else None
    except PolicyError as exc:
        problem = str(exc)
    except ValueError:
        problem = f"{public}: not a PEM public key"
    changes: list[dict[str, Any]] = []
    unrecorded: list[str] = []
    previous = None
    for number, line in enumerate(_history_lines(ws), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            problem = problem or f"{path}, line {number}: not JSON — the history was edited"
            break
        if entry.get("previous_entry_sha256") != previous:
            problem = problem or f"{path}, line {number}: does not follow the line before — the history was edited"
        if changes and entry.get("old_sha256") != changes[-1].get("new_sha256"):
            unrecorded.append(
                f"before {entry.get('changed_at')}: the key in force was {str(entry.get('old_sha256'))[:16]}…, "
                f"not {str(changes[-1].get('new_sha256'))[:16]}… — replaced by hand"
            )
        changes.append(entry)
        previous = hashlib.sha256(line).hexdigest()
    if problem is None and current is not None:
        if not changes:
            problem = f"no history of the DPO key ({path} absent: the workspace was set up before it was kept)"
        elif changes[-1].get("new_sha256") != current:
            problem = (
                f"{public} (SHA-256 {current[:16]}…) is not the DPO key {path} ends with: it was replaced "
                "without 'zakrila keys init --replace-dpo-key'"
            )
    return {"current_sha256": current, "changes": changes, "unrecorded_changes": unrecorded, "problem": problem}


def check_dpo_key(ws: Workspace) -> None:
    """Raise PolicyError if the DPO key in force is not the one its history ends with, or the history was edited.

    A workspace whose history was never kept passes (the report says so).
    """
    history = dpo_key_history(ws)
    if history["problem"] and history["changes"]:
        raise PolicyError(history["problem"])


def init_governance(
    ws: Workspace, dpo_passphrase: str | None, dpo_public_key: Path | None, replace_dpo_key: bool = False
) -> list[str]:
    """Create the DPO key pair (or take the DPO's public key) and the workspace policy; say what was done.

    An existing, different DPO key is replaced only with ``replace_dpo_key``; every change is recorded
    in ``keys/dpo.history.jsonl``. PolicyError (and nothing changed) otherwise.
    """
    done: list[str] = []
    ws.keys.mkdir(parents=True, exist_ok=True)
    public_path = ws.keys / DPO_PUBLIC
    history = dpo_key_history(ws)
    existing = history["current_sha256"]
    if public_path.exists() and existing is None and not replace_dpo_key:
        raise PolicyError(f"{history['problem']}; replace it with --dpo-public-key … --replace-dpo-key")
    if dpo_public_key is not None:
        try:
            key = serialization.load_pem_public_key(Path(dpo_public_key).read_bytes())
        except (OSError, ValueError) as exc:
            raise PolicyError(f"{dpo_public_key}: cannot read a public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise PolicyError(f"{dpo_public_key}: not an Ed25519 public key")
        new = public_key_fingerprint(key)
        if new == existing:
            done.append(f"the DPO's public key {new[:16]}… is already registered")
        elif existing is not None and not replace_dpo_key:
            raise PolicyError(
                f"{public_path} already holds the DPO key {existing[:16]}…; whoever holds a DPO key can approve "
                "policies, so it is replaced only with --replace-dpo-key (the change is recorded in "
                f"{ws.keys / DPO_HISTORY}); nothing was changed"
            )
        if existing is not None and not history["changes"]:
            _record_dpo_key(ws, None, existing, "first recorded (registered before the history was kept)")
        if new != existing:
            private_path = ws.keys / DPO_PRIVATE
            if existing is not None and private_path.exists():
                aside = ws.keys / f"dpo.key.{existing[:16]}.replaced.pem"
                os.replace(private_path, aside)
                done.append(f"moved the replaced DPO key's encrypted private key to {aside}")
            _write_public(public_path, key)
            _record_dpo_key(ws, existing, new, "replaced with --replace-dpo-key" if existing else "registered")
            if existing is None:
                done.append(f"took the DPO's public key {new[:16]}…")
            else:
                done.append(
                    f"replaced the DPO key {existing[:16]}… with {new[:16]}… (recorded in {ws.keys / DPO_HISTORY}); "
                    "the policy must be approved again with the new key"
                )
    elif existing is not None and not history["changes"]:
        _record_dpo_key(ws, None, existing, "first recorded (registered before the history was kept)")
    elif existing is None:
        if not dpo_passphrase:
            raise PolicyError(f"set {DPO_PASSPHRASE_ENV} (the DPO's passphrase) or pass --dpo-public-key")
        private = Ed25519PrivateKey.generate()
        encrypted = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(dpo_passphrase.encode("utf-8")),
        )
        _write_private(ws.keys / DPO_PRIVATE, encrypted)
        _write_public(public_path, private.public_key())
        new = public_key_fingerprint(private.public_key())
        _record_dpo_key(ws, None, new, "created")
        done.append(f"created the DPO key pair {new[:16]}… ({DPO_PRIVATE} is encrypted; hand it to the DPO)")
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


def dpo_private_key(ws: Workspace, dpo_key_path: Path | None, dpo_passphrase: str | None) -> Ed25519PrivateKey:
    """Return the DPO's private key (default: keys/dpo.key.pem); PolicyError unless it is the DPO key in force.

    In force: registered in keys/dpo.pub.pem, and the key its change history ends with. Policy approval
    and the sign-off of run reports both take the DPO's key from here.
    """
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
    check_dpo_key(ws)
    return key


def approve(ws: Workspace, dpo_key_path: Path | None, dpo_passphrase: str | None) -> dict[str, str]:
    """Sign the workspace policy with the DPO's private key; return the approval record."""
    policy = read_policy(ws)
    key = dpo_private_key(ws, dpo_key_path, dpo_passphrase)
    record = sign_approval(policy, key, datetime.now(UTC).replace(microsecond=0).isoformat())
    (ws.root / APPROVAL).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", "utf-8")
    return record


def approved_policy(ws: Workspace) -> tuple[Policy, dict[str, str]]:
    """Return the policy in force and its approval; PolicyError with the reason if not approved."""
    policy = read_policy(ws)
    path = ws.root / APPROVAL
    record = json.loads(path.read_text("utf-8")) if path.exists() else None
    problem = approval_problem(policy, record, dpo_public_key(ws))
    if not problem:
        history = dpo_key_history(ws)
        problem = history["problem"] if history["changes"] else None
    if problem:
        raise PolicyError(f"{ws.policy}: {problem}; no data was read")
    assert record is not None
    return policy, record
