"""Reading any tabular file a partner might send, for column discovery.

CSV (UTF-8, or Windows-1251 as Excel writes it in a Bulgarian locale; comma, semicolon or tab),
XLSX (first sheet) and Parquet are read as text columns; what the columns hold is for
``anonymise.pii.discover`` to say.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl


class UnreadableFile(ValueError):
    """The file is not a table zakrila can read; the message names the file and the problem."""


def read_table(path: Path) -> pl.DataFrame:
    """Return a file's first table with every column as text."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(path)
            return frame.select([pl.col(c).cast(pl.String) for c in frame.columns])
        if suffix in (".xlsx", ".xlsm", ".xls"):
            return pl.read_excel(path, infer_schema_length=0)
    except Exception as exc:  # noqa: BLE001  (reported by type only: messages may quote cells)
        raise UnreadableFile(f"{path}: cannot be read as {suffix[1:].upper()} ({type(exc).__name__})") from None
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile(f"{path}: neither UTF-8 nor Windows-1251 text")
    head = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    try:
        return pl.read_csv(
            io.StringIO(text).read().encode(), separator=delimiter, infer_schema=False, truncate_ragged_lines=True
        )
    except pl.exceptions.PolarsError:
        raise UnreadableFile(f"{path}: not a delimited text table") from None
