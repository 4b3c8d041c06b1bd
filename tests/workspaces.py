"""Workspaces set up as an operator would: key store, DPO key pair, approved default policy."""

from __future__ import annotations

import os
from pathlib import Path

from flows.governance import approve, init_governance
from flows.keystore import KeyStore
from flows.stages import domains_for
from flows.workspace import Workspace


def prepare(root: Path) -> Workspace:
    """Return a workspace with keys for every domain and the default policy approved by its DPO."""
    ws = Workspace(Path(root))
    KeyStore.init(ws.keys, os.environ["ZAKRILA_KEYSTORE_PASSPHRASE"], domains_for("bg") + domains_for("ru"))
    init_governance(ws, os.environ["ZAKRILA_DPO_PASSPHRASE"], None)
    approve(ws, None, os.environ["ZAKRILA_DPO_PASSPHRASE"])
    return ws
