"""The leak guard stops a release whose tables or report would carry personal data."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.batches import PERSONS, write_batch
from tests.workspaces import prepare


def _poisoning(build):
    """Wrap build_t04 to add a zero cell whose service code is a person's family name from the batch.

    A zero cell keeps every sum of the table true, so the audit passes and only the leak guard can stop it.
    """

    def poisoned(*args, **kwargs):
        table = build(*args, **kwargs)
        extra = table.head(1).with_columns(
            pl.lit("_T").alias("nuts3"),
            pl.lit("_T").alias("partner"),
            pl.lit(PERSONS[0][4]).alias("service"),
            pl.lit("_T").alias("age_band"),
            pl.lit("_T").alias("sex"),
            pl.lit(0, dtype=pl.Int64).alias("value"),
        )
        return pl.concat([table, extra])

    return poisoned


def test_a_release_carrying_a_name_is_stopped_naming_file_and_column(tmp_path, prefect_server, monkeypatch):
    from flows import stages
    from flows.pipeline import RunFailed, run_pipeline

    inbox = tmp_path / "inbox"
    write_batch(inbox, "ruse-svetilnik")
    write_batch(inbox, "plovdiv-ksuds")
    ws = prepare(tmp_path / "ws")
    monkeypatch.setattr(stages, "build_t04", _poisoning(stages.build_t04))
    with pytest.raises(RunFailed, match=r"leak guard found personal data in T04\.csv: column service") as err:
        run_pipeline(inbox=inbox, workspace=ws.root, period="2025", jurisdiction="bg")
    assert PERSONS[0][4] not in str(err.value)
    assert not (ws.root / "releases").exists() or not any((ws.root / "releases").iterdir())
    report = json.loads(next((ws.root / "reports").rglob("report.json")).read_text("utf-8"))
    assert report["status"] == "no_release"
    assert report["disclosure"]["leak_guard"]["places_with_personal_data"] == ["T04.csv: column service"]
    assert PERSONS[0][4] not in json.dumps(report, ensure_ascii=False)


def test_identifiers_in_report_strings_are_found_by_pattern(tmp_path):
    from anonymise.leaks import strings_with_identifiers
    from flows.stages import _json_strings

    draft = {"a": {"b": ["ЕГН 1847230710"], "ok": "BG323"}, "policy_text": "ЕГН 1847230710 in the approved policy"}
    strings = dict(_json_strings(draft, "report.json"))
    assert strings_with_identifiers(strings) == ["report.json: a.b[0]"]
