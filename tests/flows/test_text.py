"""Free text and unexpected columns in a run: scrubbed notes when the policy keeps them, no canaries,
unknown columns with personal data reported and dropped."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from flows.governance import approve
from tests.canaries import CANARIES, find_leaks, plant
from tests.workspaces import prepare


@pytest.fixture(scope="module")
def scrubbed_run(tmp_path_factory, prefect_server, session_root):
    from flows.pipeline import run_pipeline
    from flows.synth import generate

    root = tmp_path_factory.mktemp("text")
    summary = generate(root / "inbox", scale=0.05, seed=3, defects=0.0)
    batch = next((root / "inbox" / "plovdiv-ksuds").iterdir())
    plant(batch)
    events = batch / "events.csv"  # an unexpected column with phones in it
    lines = events.read_text("utf-8").splitlines()
    lines = [lines[0] + ",komentar"] + [ln + f",тел. 0888 {100000 + i}" for i, ln in enumerate(lines[1:])]
    events.write_text("\n".join(lines) + "\n", "utf-8")
    ws = prepare(root / "ws")
    ws.policy.write_text(ws.policy.read_text("utf-8").replace('FT = "drop_after_scan"', 'FT = "scrub_then_keep"'))
    approve(ws, None, "test-dpo-passphrase-not-secret")
    result = run_pipeline(inbox=root / "inbox", workspace=ws.root, period="2025", jurisdiction="bg")
    report = json.loads((Path(result["report"]) / "report.json").read_text("utf-8"))
    return {"root": root, "ws": ws, "report": report, "summary": summary, "session_root": session_root}


def test_scrubbed_notes_are_kept_and_hold_no_canary(scrubbed_run, tmp_path_factory):
    ws = scrubbed_run["ws"]
    store = ws.root / "store" / "bg" / "2025" / "plovdiv-ksuds"
    events = pl.concat([pl.read_parquet(f) for f in store.rglob("events.parquet")])
    cases = pl.concat([pl.read_parquet(f) for f in store.rglob("cases.parquet")])
    kept = events["notes_scrubbed"].drop_nulls()
    assert kept.len() > 0 and kept.str.contains(r"\[ДЕТЕ-1\]|\[РОДИТЕЛ-1\]|\[ТЕЛЕФОН\]").any()
    assert any(n == "[ДЕТЕ-1] дойде с майка си, тел. [ТЕЛЕФОН]" for n in kept.to_list())
    assert "Семейство [ДЕТЕ-1] получи подкрепа" in cases["notes_scrubbed"].to_list()
    identifiers = [v for k, v in CANARIES.items() if k not in ("note",)]
    hits = find_leaks([ws.root], exclude=[ws.keys]) + find_leaks(
        [scrubbed_run["session_root"]], exclude=[tmp_path_factory.getbasetemp()]
    )
    assert [h for h in hits if not h.endswith(CANARIES["note"])] == []
    assert all(value not in json.dumps(scrubbed_run["report"], ensure_ascii=False) for value in identifiers)


def test_detections_are_counted_by_type_and_partner(scrubbed_run):
    detections = scrubbed_run["report"]["field_inventory"]["free_text"]["detections"]
    assert set(detections) == {"ruse-svetilnik", "plovdiv-ksuds", "sofia-kisuds", "ruzhintsi-ksuds"}
    plovdiv = detections["plovdiv-ksuds"]
    assert plovdiv["events"]["PERSON"] >= 3 and plovdiv["events"]["PHONE_NUMBER"] >= 3
    assert plovdiv["persons"]["EGN"] >= 0 and plovdiv["cases"]["notes_with_text"] >= 1


def test_an_unknown_column_with_phones_is_reported_and_dropped(scrubbed_run):
    found = scrubbed_run["report"]["field_inventory"]["unexpected_fields"]["found"]["plovdiv-ksuds"]["events"]
    assert found[0]["column"] == "komentar" and found[0]["kinds"]["phone"] >= 0.95
    assert found[0]["personal_data"] and found[0]["treatment"] == "dropped"
    for f in (scrubbed_run["ws"].root / "store").rglob("events.parquet"):
        assert "komentar" not in pl.read_parquet(f).columns
