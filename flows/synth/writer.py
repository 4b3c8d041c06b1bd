"""Writing batches in interchange format v1, and the truth file beside the inbox.

Files are UTF-8 without a BOM, comma-separated, with a header row, fields quoted only when they hold
a comma, a quote or a line break (RFC 4180), dates ISO, missing values empty, columns in the
contract's order. Large entities are appended block by block, so memory stays bounded.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from schemas.contract import ENTITIES


def contract_strings(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Return the entity's contract columns, in order, as strings (dates ISO, integers as digits)."""
    columns = ENTITIES[entity].columns
    return frame.select(
        [pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c) for c in columns]
    )


class EntityFile:
    """One entity file of a batch, written header first and then block by block."""

    def __init__(self, folder: Path, entity: str) -> None:
        self.path = folder / ENTITIES[entity].filename
        self.rows = 0
        self._handle = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        header = io.StringIO()
        pl.DataFrame(schema={c: pl.String for c in ENTITIES[entity].columns}).write_csv(header)
        self._handle.write(header.getvalue().encode("utf-8"))

    def append(self, frame: pl.DataFrame) -> None:
        """Append rows (already contract strings) to the file."""
        if frame.height:
            frame.write_csv(self._handle, include_header=False)
            self.rows += frame.height

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def write_truth(path: Path, truth: dict[str, Any]) -> None:
    """Write the truth file: stable JSON with sorted keys, UTF-8."""
    path.write_text(json.dumps(truth, ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")
