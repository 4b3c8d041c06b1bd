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
            pl.lit("_T").alias("geo"),
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
    monkeypatch.setitem(stages.BUILDERS, "T04", _poisoning(stages.BUILDERS["T04"]))
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
    assert strings_with_identifiers(strings, "bg") == ["report.json: a.b[0]"]


def test_report_strings_of_a_real_kind_are_not_mistaken_for_identifiers():
    from anonymise.leaks import strings_with_identifiers

    benign = {
        "a": "2026-11-23T00:04:59+00:00",
        "b": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "c": "bg-central#2",
        "d": "BG05M9OP001-2.004-0041",
        "e": "HMAC-SHA256, truncated to 128 bits (32 hex digits)",
        "f": "run-20261123T000510Z-0bf4db",
    }
    assert strings_with_identifiers(benign, "bg") == []


def test_the_guard_refuses_when_this_process_lacks_the_runs_key(tmp_path):
    from flows import stages
    from flows.workspace import Workspace

    ws = Workspace(tmp_path)
    folder = ws.work("run-x") / "fingerprints"
    folder.mkdir(parents=True)
    stages._remember_fingerprints(
        ws,
        "run-x",
        stages.Batch("p", "b", tmp_path),
        {
            "persons": pl.DataFrame(
                {"given_name": ["Мария"], "middle_name": [None], "family_name": ["Петрова"]},
                schema_overrides={"middle_name": pl.String},
            )
        },
    )
    stages.forget_run_key("run-x")  # as if the guard ran in another process
    with pytest.raises(stages.LeakFound, match="lacks the run's key"):
        stages.leak_guard_stage(ws, "run-x", [], {"x": "Петрова"}, "bg")
    stages.run_key("run-x")  # a new key is not the one that made the fingerprints
    with pytest.raises(stages.LeakFound, match="lacks the run's key"):
        stages.leak_guard_stage(ws, "run-x", [], {"x": "Петрова"}, "bg")
    stages.forget_run_key("run-x")
