"""Workspaces set up as an operator would: key store, DPO key pair, approved default policy."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.period import Period
from anonymise.policy import Policy, default_policy_text
from flows.governance import approve, init_governance
from flows.keystore import KeyStore, open_store
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


def report_facts(
    ws: Workspace, policy: Policy, check: dict[str, Any], stored: dict[str, Any], **more: Any
) -> dict[str, Any]:
    """Return the facts ``flows.report.build_report`` needs for one checked and stored batch (``more`` adds)."""
    return {
        "policy": policy,
        "period": Period.parse("2025"),
        "run_id": "run-20260115T000000Z-000000",
        "checks": [check],
        "stored": [stored],
        "keys": open_store(ws.keys),
        "domains": domains_for("bg"),
        "started": datetime(2026, 1, 15, tzinfo=UTC),
        "operator": "staff:test",
        "jurisdiction": "bg",
        **more,
    }
