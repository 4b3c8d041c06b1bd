"""Load the sdcTable / τ-Argus examples in tests/anonymise/data/sdctable as zakrila long tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from anonymise.constraints import DimMeta, TableMeta

DATA = Path(__file__).parent / "data" / "sdctable"
TOTAL = "_T"


def _table(spec: dict[str, Any], threshold: int, universe: str) -> tuple[pl.DataFrame, TableMeta, pl.DataFrame]:
    # τ-Argus examples call their one dimension "cell"; zakrila's cell id column has that name
    spec = json.loads(json.dumps(spec).replace('"cell"', '"item"'))
    dims = list(spec["dimensions"])
    totals = {d: spec["dimensions"][d]["total"] for d in dims}

    def code(d: str, c: str) -> str:
        return TOTAL if c == totals[d] else c

    rows = [
        {
            "period": "p",
            **{d: code(d, cell[d]) for d in dims},
            "measure": "n",
            "value": None if cell["status"] != "published" else cell["value"],
            "true": cell["value"],
            "status": cell["status"],
        }
        for cell in spec["cells"]
    ]
    frame = pl.DataFrame(rows, schema_overrides={"value": pl.Int64, "true": pl.Int64})
    hier = {d: DimMeta(True, {c: code(d, p) for c, p in spec["dimensions"][d]["parent"].items()}) for d in dims}
    meta = TableMeta(dims, hier, {}, universe, threshold=threshold)
    return frame.select("period", *dims, "measure", "value"), meta, frame


def load(
    name: str, threshold: int = 1
) -> tuple[dict[str, pl.DataFrame], dict[str, TableMeta], dict[str, Any], dict[str, pl.DataFrame]]:
    """Return (tables, metas, expected, truth) of one example; linked examples share a universe."""
    spec = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    specs = spec.get("tables", {"X": spec})
    tables, metas, truth = {}, {}, {}
    for tid, t in specs.items():
        tables[tid], metas[tid], truth[tid] = _table(t, threshold, "u")
    return tables, metas, spec["expected"], truth
