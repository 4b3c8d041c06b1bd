"""Workspaces set up as an operator would: key store, DPO key pair, approved default policy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl

from anonymise.policy import default_policy_text
from flows.governance import approve, init_governance
from flows.keystore import KeyStore
from flows.stages import domains_for
from flows.workspace import Workspace

#: The release most tests need: T04 with the table it is linked to, and data quality. The full default
#: release (every table) is exercised once, by the end-to-end fixture of tests/flows/test_pipeline.py.
SMALL_RELEASE = ("T04", "T10", "T11")


def prepare(root: Path, tables: tuple[str, ...] | None = SMALL_RELEASE) -> Workspace:
    """Return a workspace with keys for every domain and the default policy approved by its DPO.

    ``tables`` narrows the policy's release (None: the default policy as shipped).
    """
    ws = Workspace(Path(root))
    KeyStore.init(ws.keys, os.environ["ZAKRILA_KEYSTORE_PASSPHRASE"], domains_for("bg") + domains_for("ru"))
    if tables is not None:
        text = default_policy_text()
        start = text.index("tables = [")
        end = text.index("]", start) + 1
        ws.root.mkdir(parents=True, exist_ok=True)
        ws.policy.write_text(text[:start] + "tables = " + json.dumps(list(tables)) + text[end:], "utf-8")
    init_governance(ws, os.environ["ZAKRILA_DPO_PASSPHRASE"], None)
    approve(ws, None, os.environ["ZAKRILA_DPO_PASSPHRASE"])
    return ws


def t04_totals(release_dir: Path | str, *, but: str | None = None) -> pl.DataFrame:
    """Return the released T04 rows of unique persons at the total of every dimension except ``but``."""
    t04 = pl.read_csv(Path(release_dir) / "T04.csv", infer_schema=False)
    dims = [d for d in ("geo", "partner", "service", "age_band", "sex") if d != but]
    return t04.filter(*(pl.col(d) == "_T" for d in dims), pl.col("measure") == "unique_persons")
