import pytest

from flows.ingest import Batch, BatchError, read_batch, read_entity
from schemas.contract import ENTITIES
from tests.batches import write_batch


def _batch(folder):
    return Batch("ruse-svetilnik", "b1", folder)


def test_a_valid_batch_reads_with_row_and_line_numbers(tmp_path):
    raw = read_batch(_batch(write_batch(tmp_path)))
    persons = raw["persons"].frame
    assert persons["_row"].to_list() == [1, 2, 3] and persons["_line"].to_list() == [2, 3, 4]
    assert persons.filter(persons["person_id"] == "p3")["middle_name"].item() is None  # empty = missing
    assert "cases" not in raw  # optional files may be absent


def test_a_byte_order_mark_is_accepted(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "persons.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_entity(_batch(folder), ENTITIES["persons"]).frame.height == 3


def test_wrong_encoding_names_file_and_line_without_content(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "persons.csv"
    path.write_bytes(path.read_text("utf-8").encode("cp1251"))
    with pytest.raises(BatchError) as err:
        read_entity(_batch(folder), ENTITIES["persons"])
    assert "persons.csv, line 2" in str(err.value) and "UTF-8" in str(err.value)
    assert "Мария" not in str(err.value) and "\\x" not in str(err.value)


def test_a_truncated_file_names_the_last_line(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "events.csv"
    text = path.read_text("utf-8")
    path.write_text(text[: text.rindex("2025-05-10") + 4], "utf-8")
    with pytest.raises(BatchError, match=r"events\.csv, line 4: truncated"):
        read_entity(_batch(folder), ENTITIES["events"])


def test_an_unclosed_quote_names_its_line(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "events.csv"
    lines = path.read_text("utf-8").splitlines()
    lines[2] = lines[2] + ',"never closed'
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(BatchError, match=r"events\.csv, line 3: a quoted field is never closed"):
        read_entity(_batch(folder), ENTITIES["events"])


def test_a_missing_column_names_it(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "events.csv"
    lines = path.read_text("utf-8").splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n", "utf-8")
    with pytest.raises(BatchError, match=r"events\.csv, line 1: missing column\(s\) notes"):
        read_entity(_batch(folder), ENTITIES["events"])


def test_a_missing_required_file_fails_the_batch(tmp_path):
    folder = write_batch(tmp_path)
    (folder / "events.csv").unlink()
    with pytest.raises(BatchError, match="required file events.csv is missing"):
        read_batch(_batch(folder))


def test_extra_columns_are_reported_and_dropped(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "memberships.csv"
    lines = path.read_text("utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",comment"] + [ln + ",тел. 0888" for ln in lines[1:]]) + "\n", "utf-8")
    raw = read_entity(_batch(folder), ENTITIES["memberships"])
    assert raw.extra_columns == ["comment"] and "comment" not in raw.frame.columns


def test_ragged_rows_are_flagged_for_quarantine_not_fatal(tmp_path):
    folder = write_batch(tmp_path)
    path = folder / "memberships.csv"
    lines = path.read_text("utf-8").splitlines()
    lines[2] = "f1,p2"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    raw = read_entity(_batch(folder), ENTITIES["memberships"])
    assert raw.ragged_rows == [2] and raw.frame.height == 3
