"""What the run report shows of the figures the stages produce: the DPO key's history (A), the field
inventory's columns and lists (C), run-wide collisions, identifiers that could not be used and
erasures per period (D) — in report.json and in report.html.

Stage-level: one small batch checked and stored, the report built from prepared facts; no Prefect run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anonymise.period import Period
from flows.governance import DPO_PUBLIC, approved_policy, dpo_key_history
from flows.ingest import Batch
from flows.keystore import forget_unlocked
from flows.report import build_report, render_html
from flows.stages import check_batch, pseudonymise_stage
from flows.workspace import Workspace
from tests.batches import PERSONS, write_batch
from tests.workspaces import prepare, report_facts

PERIOD = Period.parse("2025")
TODAY = datetime(2026, 1, 15, tzinfo=UTC)
COLLISIONS = {
    "batches": 1,
    "by_domain": {
        "bg-central/person": {"inputs": 3, "pseudonyms": 3, "collisions": 0},
        "local:ruse-svetilnik/event": {"inputs": 4, "pseudonyms": 4, "collisions": 0},
    },
    "collisions": 0,
}
ERASURE = {
    "register_entries": 2,
    "persons_erased": 3,
    "rows_removed": {"persons": 3, "events": 5},
    "by_period": {
        "2024": {"persons_erased": 1, "rows_removed": {"persons": 1, "events": 2}},
        "2025": {"persons_erased": 2, "rows_removed": {"persons": 2, "events": 3}},
    },
}


@pytest.fixture(autouse=True)
def _fresh():
    forget_unlocked()
    yield
    forget_unlocked()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Return a workspace with one batch checked and stored: a national ID that fails its check
    (quarantined) and a passport that cannot be used (linked by name and birth date)."""
    root = tmp_path_factory.mktemp("report-sections")
    ws = prepare(root / "ws")
    persons = [list(p) for p in PERSONS]
    persons[0][5] = "1953120316"  # month 13: quarantined
    persons[1][5:7] = ["XX", "passport"]  # cannot be used: the fallback
    folder = write_batch(root / "inbox", rows={"persons": persons})
    batch = Batch("ruse-svetilnik", "b1", folder)
    check = check_batch(batch, ws, TODAY.date())
    stored = pseudonymise_stage(batch, ws, PERIOD, "bg")
    forget_unlocked()
    return {"ws": ws, "check": check, "stored": stored, "policy": approved_policy(ws)[0]}


def _facts(ws: Workspace, small: dict[str, Any], **more: Any) -> dict[str, Any]:
    return report_facts(ws, small["policy"], small["check"], small["stored"], **more)


def _html(report: dict[str, Any]) -> str:
    return render_html(report, {"report_sha256": "0" * 64, "problems": []})


def test_section_a_shows_the_dpo_key_and_its_changes(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, collisions=COLLISIONS))
    key = report["identity"]["dpo_key"]
    assert key == dpo_key_history(ws)
    assert key["problem"] is None and [c["how"] for c in key["changes"]] == ["created"]
    html = _html(report)
    assert f"<code>{key['current_sha256'][:16]}…</code>" in html
    assert "(created)" in html and "unrecorded change" not in html


def test_section_a_shows_a_dpo_key_replaced_by_hand_in_red(small, tmp_path: Path) -> None:
    ws = small["ws"]
    public = ws.keys / DPO_PUBLIC
    original = public.read_bytes()
    other = Ed25519PrivateKey.generate().public_key()
    try:
        public.write_bytes(
            other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        report = build_report(ws, _facts(ws, small, collisions=COLLISIONS))
    finally:
        public.write_bytes(original)
    problem = report["identity"]["dpo_key"]["problem"]
    assert problem and "replaced without" in problem
    html = _html(report)
    assert '<span class="badge bad">' in html and "replaced without" in html


def test_section_c_shows_who_set_the_treatment_what_is_stored_and_what_no_output_uses(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, collisions=COLLISIONS))
    c = report["field_inventory"]
    assert {"set_by", "stored", "used_by"} <= set(c["fields"][0])
    not_used = {f"{f['entity']}.{f['field']}" for f in c["fields"] if not f["used_by"]}
    assert set(c["collected_not_used"]) == not_used and set(c["unused_by_release"]) <= not_used
    html = _html(report)
    assert "<th>set by</th><th>stored</th><th>used by (release tables)</th>" in html
    assert "Stored but used by no release table" in html and "Collected but used by no output" in html
    for name in c["unused_by_release"]:
        assert name in html
    sex = next(f for f in c["fields"] if (f["entity"], f["field"]) == ("persons", "sex"))
    assert f"<td>{sex['treatment']}</td><td>contract</td><td>yes</td><td>{', '.join(sex['used_by'])}</td>" in html


def test_section_d_shows_run_wide_collisions_by_domain(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, collisions=COLLISIONS))
    d = report["pseudonymisation"]
    assert d["collisions"] == 0 and d["collisions_run"] == COLLISIONS
    assert d["collisions_within_batches"] == small["stored"]["linkage"]["collisions"] == 0
    html = _html(report)
    assert "Collisions over the whole run (must be 0)" in html and "not computed" not in html
    assert '<td>bg-central/person</td><td class="n">3</td><td class="n">3</td><td class="n">0</td>' in html


def test_section_d_says_collisions_were_not_computed_when_the_run_stopped_before(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, failure="stopped"))
    assert report["pseudonymisation"]["collisions"] is None and report["pseudonymisation"]["collisions_run"] is None
    assert "not computed" in _html(report)


def test_section_d_shows_invalid_and_unusable_identifiers_and_erasures_by_period(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, collisions=COLLISIONS, erasure=ERASURE))
    d = report["pseudonymisation"]
    assert d["invalid_national_ids_by_reason"] == {"ruse-svetilnik": {"invalid_component": 1}}
    unusable = d["without_usable_identifier"]["ruse-svetilnik"]
    assert unusable["by_reason"]["passport:invalid_length"] == 1
    assert sum(unusable["by_fallback"].values()) == unusable["persons"]
    assert d["erasure"]["by_period"] == ERASURE["by_period"]
    html = _html(report)
    assert "Invalid national IDs by reason" in html and "<code>invalid_component</code>" in html
    assert "Persons without a usable identifier" in html
    assert "<td>passport</td><td><code>invalid_length</code></td><td>name + birth date</td>" in html
    assert "2024: 1 person records, 1 persons rows, 2 events rows; 2025: 2 person records" in html


def test_an_earlier_report_without_the_new_keys_still_renders(small) -> None:
    ws = small["ws"]
    report = build_report(ws, _facts(ws, small, collisions=COLLISIONS))
    del report["identity"]["dpo_key"]
    for key in ("collisions_run", "collisions_within_batches", "without_usable_identifier"):
        del report["pseudonymisation"][key]
    report["pseudonymisation"]["collisions"] = 0
    del report["field_inventory"]["collected_not_used"]
    for f in report["field_inventory"]["fields"]:
        del f["set_by"], f["stored"], f["used_by"]
    html = _html(report)
    assert "Collisions over the whole run" in html and "DPO key in force" not in html
