"""Canaries: unique personal-looking values planted in an inbox, and a search for them in every file.

A canary found anywhere outside the inbox and the key store is a leak. A value can sit in a file in
more shapes than its UTF-8 bytes, so every file is searched for each canary

- in every byte form a writer may have given it (:func:`encodings`): UTF-8; JSON-escaped
  (``\\u041a…``, what ``json.dumps`` and SQLAlchemy's JSON columns write — Prefect's database holds
  flow parameters, states and artifacts that way), also escaped twice (JSON inside JSON); UTF-16;
  Windows-1251; percent-encoded — in upper and lower case for Cyrillic canaries, and ignoring the
  case of Latin letters (so of hex digits too);
- and after decoding: Parquet files (their pages may be compressed), gzip files, JSON files, and
  SQLite databases, read cell by cell through ``sqlite3`` from a copy of the database *with its
  write-ahead log* (a value written to ``-wal`` only, or split over overflow pages, is invisible to a
  byte search), JSON-looking cells parsed and their strings searched case-insensitively.

A database that cannot be read is reported as a hit: a search that could not look is not a clean one.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import polars as pl

from schemas.contract import ENTITIES


def valid_egn(prefix9: str) -> str:
    """Return the ЕГН with the given first nine digits and its check digit."""
    weights = (2, 4, 8, 5, 10, 9, 7, 3, 6)
    return prefix9 + str(sum(int(d) * w for d, w in zip(prefix9, weights, strict=True)) % 11 % 10)


EGN = valid_egn("184723071")  # born 2018-07-23 (+40 on the month), 9th digit odd: a girl
CANARIES = {
    "given_name": "Канарийка",
    "family_name": "Зюмбюлеврунова",
    "national_id": EGN,
    "phone": "+359 89 717 2931",
    "phone_digits": "897172931",
    "email": "kanariyka.zqx@example.invalid",
    "address": "с. Канарчево, ул. „Зюмбюлева“ № 99",
    "note": "Канарчето пее в полунощ над Зюмбюлевата река",
    "person_id": "CANARY-PID-7731",
    "case_note": "Семейство Зюмбюлеврунови получи подкрепа",
}


def _append(path: Path, row: dict[str, str], entity: str) -> None:
    with open(path, "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([row.get(c, "") for c in ENTITIES[entity].columns])


def plant(batch: Path) -> dict[str, str]:
    """Add a canary child with a family, a case and events to a batch folder; return the canaries."""
    c = CANARIES
    _append(
        batch / "persons.csv",
        {
            "person_id": c["person_id"],
            "role": "child",
            "given_name": c["given_name"],
            "middle_name": "Иванова",
            "family_name": c["family_name"],
            "national_id": c["national_id"],
            "national_id_type": "egn",
            "birth_date": "2018-07-23",
            "sex": "f",
            "citizenship": "bg",
            "settlement_code": "56784",
            "address": c["address"],
            "phone": c["phone"],
            "email": c["email"],
            "disability": "no",
            "minority": "no",
            "homeless": "no",
            "labour_status": "child",
            "notes": c["note"],
        },
        "persons",
    )
    _append(
        batch / "memberships.csv",
        {"family_id": "CANARY-FAM-1", "person_id": c["person_id"], "relation": "child"},
        "memberships",
    )
    if (batch / "cases.csv").exists():
        _append(
            batch / "cases.csv",
            {
                "case_id": "CANARY-CASE-1",
                "family_id": "CANARY-FAM-1",
                "child_person_id": c["person_id"],
                "case_type": "child_at_risk",
                "referral_source": "school",
                "opened": "2025-02-01",
                "outcome": "open",
                "worker_id": "W-CANARY",
                "notes": c["case_note"],
            },
            "cases",
        )
    for i, day in enumerate(("2025-02-03", "2025-03-04", "2025-06-05")):
        _append(
            batch / "events.csv",
            {
                "event_id": f"CANARY-EV-{i}",
                "person_id": c["person_id"],
                "date": day,
                "service_code": "speech_screening",
                "modality": "centre",
                "setting": "individual",
                "duration_min": "45",
                "specialist_role": "speech_therapist",
                "notes": f"{c['given_name']} дойде с майка си, тел. {c['phone']}",
            },
            "events",
        )
    return dict(c)


def needles() -> list[str]:
    """Return the strings whose presence in a file is a leak."""
    return [v for k, v in CANARIES.items() if k != "person_id"] + [
        "CANARY-PID",
        "CANARY-FAM",
        "CANARY-CASE",
        "CANARY-EV",
        "W-CANARY",
    ]


SQLITE_MAGIC = b"SQLite format 3\x00"
_JSON_DEPTH = 4


def encodings(needle: str) -> dict[bytes, str]:
    r"""Return the byte forms in which ``needle`` may stand in a file, each with how it was written.

    Matching is done on ASCII-lower-cased bytes (see :func:`find_leaks`), so the upper-case hex of
    ``\u041A`` or ``%d0%9a`` needs no form of its own.

    >>> forms = encodings("Кан")
    >>> forms[b"\\u041a\\u0430\\u043d"], forms["Кан".encode()], forms["КАН".encode()]
    ('json-escaped', 'utf-8', 'utf-8')
    """
    forms: dict[bytes, str] = {}
    variants = [needle] if needle.isascii() else list(dict.fromkeys([needle, needle.upper(), needle.lower()]))
    for v in variants:
        escaped = json.dumps(v, ensure_ascii=True)[1:-1]
        candidates = [
            (v.encode("utf-8"), "utf-8"),
            (escaped.encode("ascii"), "json-escaped"),
            (escaped.replace("/", "\\/").encode("ascii"), "json-escaped"),
            (json.dumps(escaped)[1:-1].encode("ascii"), "json-escaped twice"),
            (json.dumps(v, ensure_ascii=False)[1:-1].encode("utf-8"), "json"),
            (v.encode("utf-16-le"), "utf-16-le"),
            (v.encode("utf-16-be"), "utf-16-be"),
            (quote(v, safe="").encode("ascii"), "percent-encoded"),
            (quote_plus(v, safe="").encode("ascii"), "percent-encoded"),
        ]
        with contextlib.suppress(UnicodeEncodeError):
            candidates.append((v.encode("cp1251"), "cp1251"))
        for form, how in candidates:
            forms.setdefault(form, how)
    return forms


def _json_strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Yield every string (keys too) of a parsed JSON value, parsing strings that hold JSON again."""
    if isinstance(value, str):
        yield value
        if depth < _JSON_DEPTH:
            yield from _json_strings_of(value, depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _json_strings(v, depth)
    elif isinstance(value, list):
        for v in value:
            yield from _json_strings(v, depth)
    elif value is not None:
        yield str(value)


def _json_strings_of(text: str, depth: int = 0) -> Iterator[str]:
    """Yield the strings of ``text`` parsed as JSON (nothing if it does not look like JSON)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in '{["':
        return
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return
    yield from _json_strings(parsed, depth)


def _cell_texts(cell: Any) -> Iterator[str]:
    if cell is None:
        return
    text = cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)
    yield text
    yield from _json_strings_of(text)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_texts(path: Path, scratch: Path | None = None) -> tuple[dict[str, str], list[bytes]]:
    """Return the decoded text of every table of a SQLite database (with its WAL), and its blobs.

    The database and its ``-wal`` file are copied to a temporary folder (under ``scratch``) and the
    copy is opened, so SQLite replays the write-ahead log there and the original is never touched —
    not even its ``-shm``. Cells are joined per table; JSON-looking cells are parsed and their strings
    added. Raises ``sqlite3.DatabaseError`` if the copy cannot be read.
    """
    with tempfile.TemporaryDirectory(dir=scratch, prefix="canary-search-") as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(path, copy)
        wal = path.with_name(path.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        con = sqlite3.connect(copy)
        try:
            con.text_factory = lambda b: b.decode("utf-8", "replace")
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            texts: dict[str, str] = {}
            blobs: list[bytes] = []
            for table in tables:
                parts: list[str] = []
                for row in con.execute(f"SELECT * FROM {_quote_identifier(table)}"):
                    for cell in row:
                        if isinstance(cell, bytes):
                            blobs.append(cell)
                        parts.extend(_cell_texts(cell))
                texts[table] = "\n".join(parts)
            return texts, blobs
        finally:
            con.close()


def _scratch(roots: list[Path]) -> Path | None:
    """Return a writable folder outside every searched root for copies of databases (None: the default)."""
    for candidate in (Path(tempfile.gettempdir()), Path("/dev/shm"), Path("/tmp"), Path.home()):
        try:
            folder = candidate.resolve()
        except OSError:
            continue
        if folder.is_dir() and os.access(folder, os.W_OK) and not any(folder.is_relative_to(r) for r in roots):
            return folder
    return None


def _decoded(path: Path, data: bytes, scratch: Path | None) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """Return the byte and text haystacks of one file: raw bytes plus whatever decoding applies."""
    raw: list[tuple[str, bytes]] = [("", data)]
    texts: list[tuple[str, str]] = []
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        texts.append(("parquet", frame.write_csv() + ",".join(frame.columns)))
    if data.startswith(b"\x1f\x8b"):
        with contextlib.suppress(OSError, EOFError):
            raw.append(("gzip", gzip.decompress(data)))
    if data.startswith(SQLITE_MAGIC):
        error: Exception | None = None
        for attempt in range(3):  # a live database may be caught mid-checkpoint, its WAL just gone: look again
            try:
                tables, blobs = sqlite_texts(path, scratch)
            except (sqlite3.DatabaseError, OSError) as exc:
                error = exc
                time.sleep(0.2 * (attempt + 1))
                continue
            texts.extend((f"sqlite {table}", text) for table, text in tables.items())
            raw.extend(("sqlite blob", b) for b in blobs)
            error = None
            break
        if error is not None:
            raise _Unreadable(f"SQLite database could not be read ({type(error).__name__}: {error})")
    elif data[:1] in (b"{", b"[") or path.suffix == ".json":
        text = data.decode("utf-8", "replace")
        strings = list(_json_strings_of(text))
        if strings:
            texts.append(("json", "\n".join(strings)))
    return raw, texts


class _Unreadable(Exception):
    """A file that must be searched after decoding could not be decoded."""


def find_leaks(roots: list[Path], exclude: list[Path], needles_: list[str] | None = None) -> list[str]:
    """Return ``file [how]: needle`` for every canary found under ``roots``, outside ``exclude``.

    Inbox folders and truth files are where personal data is allowed, so they are never searched.
    One hit per file and canary, saying how it was found (``utf-8``, ``json-escaped``, ``sqlite
    flow_run``, …); a file that could not be decoded is a hit of its own (``… [unreadable: …]``).
    """
    hits: list[str] = []
    excluded = [e.resolve() for e in exclude]
    wanted = needles_ if needles_ is not None else needles()
    forms = {needle: {f.lower(): how for f, how in encodings(needle).items()} for needle in wanted}
    folded = {needle: needle.casefold() for needle in wanted}
    resolved_roots = [Path(r).resolve() for r in roots]
    scratch = _scratch(resolved_roots)
    for root in roots:
        # The list is taken first: nothing this search writes (database copies) is searched.
        paths = sorted(Path(root).rglob("*"))
        for path in paths:
            if not path.is_file() or any(path.resolve().is_relative_to(e) for e in excluded):
                continue
            if "inbox" in path.relative_to(root).parts or path.name.endswith(".truth.json"):
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # removed while the search ran (a temporary file)
            try:
                raw, texts = _decoded(path, data, scratch)
            except _Unreadable as exc:
                hits.append(f"{path} [unreadable: {exc}]: (not searched)")
                raw, texts = [("", data)], []
            lowered = [(label, blob.lower()) for label, blob in raw]
            casefolded = [(label, text.casefold()) for label, text in texts]
            for needle in wanted:
                found = next(
                    (
                        f"{label} {how}".strip()
                        for label, blob in lowered
                        for form, how in forms[needle].items()
                        if form in blob
                    ),
                    None,
                ) or next((label for label, text in casefolded if folded[needle] in text), None)
                if found is not None:
                    hits.append(f"{path} [{found}]: {needle}")
    return hits
