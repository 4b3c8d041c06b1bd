"""Column discovery: which columns hold personal data, as shares, never values."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from anonymise.pii.discover import discover_frame

FRAME = pl.DataFrame(
    {
        "ime": ["Мария Петрова", "Иван Георгиев", "Елена Иванова", "Стоян Колев"],
        "egn_or_code": ["0147230712", "1943120317", "8503124564", "B-12"],
        "komentar": ["тел. 0888 123 456", "обадете се на 0898 765 432", "няма", "+359 87 111 2233"],
        "email": ["a.b@abv.bg", "ivan@mail.bg", "", "x@gmail.com"],
        "adres": [
            "гр. Русе, ул. „Плиска“ № 4",
            "с. Дреновец, ул. „Васил Левски“ № 7",
            None,
            "гр. София, ж.к. „Люлин 5“, бл. 12",
        ],
        "data_na_razhdane": ["2019-03-12", "2018-07-23", "1985-03-12", "1990-01-01"],
        "belejka": ["Майката на Мария дойде с детето и разказа за трудностите у дома"] * 4,
        "usluga": ["hot_meal", "transport", "hot_meal", "speech_screening"],
    }
)


def test_each_kind_of_personal_data_is_found_with_its_share():
    found = {f.column: f.kinds for f in discover_frame(FRAME, "bg")}
    assert found["ime"].get("name", 0) >= 0.75
    assert found["egn_or_code"].get("national_id") == 0.75
    assert found["komentar"].get("phone") == 0.75
    assert found["email"].get("email") == 1.0  # the empty value is not sampled
    assert found["adres"].get("address") == 1.0
    assert found["data_na_razhdane"].get("date_of_birth") == 1.0  # the header says birth
    assert found["belejka"].get("free_text") == 1.0
    assert found["usluga"] == {}


def test_findings_hold_no_values():
    text = json.dumps([f.to_json() for f in discover_frame(FRAME, "bg")], ensure_ascii=False)
    for value in ("Мария", "0147230712", "0888", "abv.bg", "Плиска", "2019-03-12"):
        assert value not in text


def test_the_cli_reads_a_windows_1251_semicolon_csv_and_prints_json(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(FRAME.write_csv(separator=";").encode("cp1251"))
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "discover", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = {item["column"]: item["kinds"] for item in json.loads(run.stdout)}
    assert result["komentar"]["phone"] == 0.75 and "Мария" not in run.stdout


def test_the_cli_reads_xlsx_and_parquet(tmp_path):
    FRAME.write_parquet(tmp_path / "x.parquet")
    FRAME.write_excel(tmp_path / "x.xlsx")
    for name in ("x.parquet", "x.xlsx"):
        run = subprocess.run(
            [sys.executable, "-m", "flows.cli", "discover", str(tmp_path / name), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert {i["column"] for i in json.loads(run.stdout)} == set(FRAME.columns)


def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a workbook")
    run = subprocess.run(
        [sys.executable, "-m", "flows.cli", "discover", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2 and "x.xlsx" in run.stderr and "Traceback" not in run.stderr
