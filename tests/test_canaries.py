"""The canary search must be able to fail: it finds canaries in every shape a run could write them.

Prefect keeps flow parameters, states and artifacts in SQLite as JSON with ``\\uXXXX`` escapes, so a
Cyrillic name that leaked there has no UTF-8 bytes in the file; a row may also sit only in the
write-ahead log, or be split over overflow pages. Each test first shows that a plain UTF-8 byte
search would miss the canary, then that :func:`find_leaks` reports it.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from pathlib import Path

import polars as pl

from tests.canaries import CANARIES, encodings, find_leaks

NAME = CANARIES["family_name"]  # Зюмбюлеврунова: Cyrillic only


def _utf8_search(root: Path, needle: str) -> list[Path]:
    """The old search: raw UTF-8 bytes of every file."""
    return [p for p in root.rglob("*") if p.is_file() and needle.encode("utf-8") in p.read_bytes()]


def _any_form(root: Path, needle: str) -> list[Path]:
    """Files holding the needle in any byte form the search knows (ignoring ASCII case)."""
    forms = [f.lower() for f in encodings(needle)]
    return [p for p in root.rglob("*") if p.is_file() and any(f in p.read_bytes().lower() for f in forms)]


def _prefect_like_db(path: Path, parameters: dict[str, object]) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE flow_run (id TEXT PRIMARY KEY, name TEXT, parameters JSON, state_details JSON)")
    con.execute(
        "INSERT INTO flow_run VALUES (?, ?, ?, ?)",
        ("0192-aaaa", "quiet-lemur", json.dumps(parameters), json.dumps({"message": "ok"})),
    )
    con.commit()
    con.close()


def test_a_cyrillic_canary_in_a_json_escaped_file_is_found(tmp_path: Path) -> None:
    (tmp_path / "lower.json").write_text(json.dumps({"parameters": {"family_name": NAME}}), "ascii")
    upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps({"v": NAME}))
    assert "\\u044E" in upper and "\\u044e" not in upper  # ю, upper-case hex
    (tmp_path / "upper.txt").write_text(f"log line: {upper}", "ascii")
    twice = json.dumps({"artifact": json.dumps({"data": NAME})})
    (tmp_path / "twice.log").write_text(f"prefix {twice[2:-2]} suffix", "ascii")  # no longer valid JSON
    assert _utf8_search(tmp_path, NAME) == []  # what the search used to see
    hits = find_leaks([tmp_path], exclude=[], needles_=[NAME])
    assert sorted(h.split(" [")[0] for h in hits) == sorted(
        str(tmp_path / n) for n in ("lower.json", "upper.txt", "twice.log")
    )
    assert all(h.endswith(f": {NAME}") for h in hits)
    assert any("json-escaped twice" in h for h in hits)


def test_a_cyrillic_canary_in_a_sqlite_row_stored_as_escaped_json_is_found(tmp_path: Path) -> None:
    db = tmp_path / "prefect.db"
    _prefect_like_db(db, {"inbox": "/x", "person": {"given_name": CANARIES["given_name"], "family_name": NAME}})
    assert db.read_bytes().startswith(b"SQLite format 3\x00")
    assert _utf8_search(tmp_path, NAME) == [] and _utf8_search(tmp_path, CANARIES["given_name"]) == []
    hits = find_leaks([tmp_path], exclude=[], needles_=[NAME, CANARIES["given_name"], CANARIES["note"]])
    assert [h.rsplit(": ", 1)[1] for h in hits] == [NAME, CANARIES["given_name"]]
    assert all(h.startswith(f"{db} [") for h in hits)


def test_a_canary_only_in_the_write_ahead_log_and_split_over_pages_is_found(tmp_path: Path) -> None:
    """A row committed to the WAL but not checkpointed, its escaped text split by page boundaries:
    no byte form of the canary is in any file, only SQLite itself can read it back."""
    escaped = json.dumps(NAME)[1:-1]
    for offset in range(0, 1100, 37):
        folder = tmp_path / f"o{offset}"
        folder.mkdir()
        db = folder / "prefect.db"
        con = sqlite3.connect(db)
        con.execute("PRAGMA page_size = 1024")
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA wal_autocheckpoint = 0")
        con.execute("CREATE TABLE artifact (id INTEGER PRIMARY KEY, data JSON)")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema is in the database file
        value = '{"description": "' + "x" * offset + escaped + "y" * 3000 + '"}'
        con.execute("INSERT INTO artifact (data) VALUES (?)", (value,))
        con.commit()
        wal = db.with_name(db.name + "-wal")
        in_database_file = any(f.lower() in db.read_bytes().lower() for f in encodings(NAME))
        assert wal.is_file() and wal.stat().st_size > 0 and not in_database_file
        if not _any_form(folder, NAME):
            break
        con.close()
    else:
        raise AssertionError("no offset split the canary over a page boundary: the test proves nothing")
    try:
        before = {p.name: p.read_bytes() for p in folder.iterdir()}
        hits = find_leaks([folder], exclude=[], needles_=[NAME])
        assert hits == [f"{db} [sqlite artifact]: {NAME}"]
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the evidence is untouched
    finally:
        con.close()


def test_latin_canaries_are_found_whatever_their_case(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("person canary-pid-7731 seen; mail KANARIYKA.ZQX@EXAMPLE.INVALID", "utf-8")
    hits = find_leaks([tmp_path], exclude=[], needles_=["CANARY-PID", CANARIES["email"]])
    assert len(hits) == 2


def test_upper_case_cyrillic_cp1251_utf16_and_gzip_are_found(tmp_path: Path) -> None:
    (tmp_path / "caps.txt").write_text(f"ФАМИЛИЯ: {NAME.upper()}", "utf-8")
    (tmp_path / "excel.csv").write_bytes(f"име;{NAME}\n".encode("cp1251"))
    (tmp_path / "windows.txt").write_bytes(NAME.encode("utf-16-le"))
    (tmp_path / "log.gz").write_bytes(gzip.compress(json.dumps({"m": NAME}).encode()))
    hits = find_leaks([tmp_path], exclude=[], needles_=[NAME])
    assert sorted(Path(h.split(" [")[0]).name for h in hits) == ["caps.txt", "excel.csv", "log.gz", "windows.txt"]


def test_parquet_is_searched_decoded(tmp_path: Path) -> None:
    pl.DataFrame({"v": [NAME] * 50 + ["x"]}).write_parquet(tmp_path / "t.parquet", compression="zstd")
    assert find_leaks([tmp_path], exclude=[], needles_=[NAME]) != []


def test_clean_files_and_databases_give_no_hit(tmp_path: Path) -> None:
    _prefect_like_db(tmp_path / "prefect.db", {"inbox": "/x", "period": "2025", "name": "Иванова"})
    (tmp_path / "report.json").write_text(json.dumps({"given_name": "Канарче"}), "ascii")
    assert find_leaks([tmp_path], exclude=[]) == []


def test_an_unreadable_database_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    hits = find_leaks([tmp_path], exclude=[], needles_=[NAME])
    assert len(hits) == 1 and "unreadable" in hits[0]


def test_the_inbox_truth_files_and_excluded_folders_are_not_searched(tmp_path: Path) -> None:
    for folder in ("inbox/p/b1", "keys", "ws"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "inbox/p/b1/persons.csv").write_text(NAME, "utf-8")
    (tmp_path / "inbox.truth.json").write_text(json.dumps({"n": NAME}), "utf-8")
    (tmp_path / "keys/k.json").write_text(NAME, "utf-8")
    (tmp_path / "ws/leak.txt").write_text(NAME, "utf-8")
    hits = find_leaks([tmp_path], exclude=[tmp_path / "keys"], needles_=[NAME])
    assert hits == [f"{tmp_path / 'ws/leak.txt'} [utf-8]: {NAME}"]
