"""Reading a partner batch: find the batch folders and parse their files into string frames.

Everything is read as text (types come later, in the contract checks) so that a bad value becomes a
quarantined row, not a crashed parse. A file that cannot be read at all — wrong encoding, truncated,
missing a contract column, not CSV — raises :class:`BatchError` naming the file, the line and the
problem, and never the content: the message travels into logs and the run report.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from schemas.contract import ENTITIES, Entity
from schemas.partners import PARTNERS, Country

ROW = "_row"  # 1-based record number in the file, header excluded
LINE = "_line"  # line of the file on which the record starts


class BatchError(Exception):
    """A batch file cannot be read; the message names file, line and problem, never values."""

    def __init__(self, file: Path | str, line: int | None, problem: str) -> None:
        self.file = str(file)
        self.line = line
        self.problem = problem
        where = f"{self.file}, line {line}" if line else self.file
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Batch:
    """One partner batch folder in the inbox."""

    partner_id: str
    batch_id: str
    path: Path

    @property
    def key(self) -> str:
        """Return ``partner/batch``, the batch's name in reports."""
        return f"{self.partner_id}/{self.batch_id}"


@dataclass
class RawEntity:
    """A parsed entity file: string columns plus row and line numbers, and what was set aside."""

    entity: Entity
    frame: pl.DataFrame
    file: Path
    sha256: str
    extra_columns: list[str] = field(default_factory=list)
    ragged_rows: list[int] = field(default_factory=list)
    extra_frame: pl.DataFrame | None = None  # the unexpected columns, held only to be discovered


def discover_batches(inbox: Path, jurisdiction: Country) -> tuple[list[Batch], list[str]]:
    """Return the batches of registered partners of ``jurisdiction``, and notes on folders skipped."""
    batches: list[Batch] = []
    skipped: list[str] = []
    for partner_dir in sorted(p for p in Path(inbox).iterdir() if p.is_dir()):
        partner = PARTNERS.get(partner_dir.name)
        if partner is None:
            skipped.append(f"{partner_dir.name}: not in the partner registry")
            continue
        if partner.country != jurisdiction:
            skipped.append(f"{partner_dir.name}: processed only in the {partner.country} jurisdiction")
            continue
        for batch_dir in sorted(b for b in partner_dir.iterdir() if b.is_dir()):
            batches.append(Batch(partner.id, batch_dir.name, batch_dir))
    return batches, skipped


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BatchError(
            path, line, f"not valid UTF-8 (byte {column} of the line); the contract requires UTF-8"
        ) from None


def _structure(path: Path, text: str, columns: list[str]) -> tuple[list[int], list[int]]:
    """Return each record's start line, and the rows whose field count differs from the header's."""
    reader = csv.reader(io.StringIO(text), strict=True)
    starts: list[int] = []
    ragged: list[int] = []
    previous_end = 1  # the header ends on line 1 unless it spans lines
    width = len(columns)
    try:
        next(reader)
        previous_end = reader.line_num
        for row, record in enumerate(reader, start=1):
            starts.append(previous_end + 1)
            previous_end = reader.line_num
            if len(record) != width:
                ragged.append(row)
    except csv.Error:
        raise BatchError(
            path, previous_end + 1, "a quoted field is never closed (the file is truncated or not RFC 4180 CSV)"
        ) from None
    if ragged and ragged[-1] == len(starts) and not text.endswith(("\n", "\r")):
        raise BatchError(
            path, starts[-1], f"truncated: the last record has fewer than {width} fields and no line break"
        )
    return starts, ragged


def read_entity(batch: Batch, entity: Entity) -> RawEntity | None:
    """Return the parsed entity file of a batch, or None if an optional file is absent."""
    path = batch.path / entity.filename
    if not path.exists():
        if entity.required_file:
            raise BatchError(path, None, f"required file {entity.filename} is missing")
        return None
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    text = _decode(path, data)
    if not text.strip():
        raise BatchError(path, 1, "the file is empty; a header row is required")
    try:
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    except (csv.Error, StopIteration):
        raise BatchError(path, 1, "the header row is not CSV") from None
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        raise BatchError(path, 1, "the header names a column twice")
    missing = [c for c in entity.columns if c not in header]
    if missing:
        raise BatchError(path, 1, f"missing column(s) {', '.join(missing)} required by interchange v1")
    starts, ragged = _structure(path, text, header)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            infer_schema=False,
            has_header=True,
            new_columns=header,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        raise BatchError(path, None, "the file could not be parsed as comma-separated CSV") from None
    if frame.height != len(starts):
        raise BatchError(path, None, f"parsed {frame.height} records but the file has {len(starts)}")
    extra = [c for c in header if c not in entity.columns]
    extra_frame = frame.select(extra) if extra else None
    frame = (
        frame.select(
            [
                pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
                for c in entity.columns
            ]
        )
        .with_row_index(ROW, offset=1)
        .with_columns(pl.Series(LINE, starts, dtype=pl.Int64))
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )
    return RawEntity(entity, frame, path, sha, extra, ragged, extra_frame)


def read_batch(batch: Batch) -> dict[str, RawEntity]:
    """Return every entity file of a batch that is present, parsed; BatchError on the first bad file."""
    out: dict[str, RawEntity] = {}
    for name, entity in ENTITIES.items():
        raw = read_entity(batch, entity)
        if raw is not None:
            out[name] = raw
    return out
