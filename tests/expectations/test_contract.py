import json
from datetime import date

import polars as pl
import pytest

from anonymise.identifiers import checksum_valid, invalid_reason
from expectations.contract import RESULT_FORMAT, checks_for, suite_json, validate_entity
from flows.ingest import Batch, read_batch
from flows.stages import check_batch
from flows.workspace import Workspace
from schemas.contract import ENTITIES
from tests.batches import EVENTS, MEMBERSHIPS, PERSONS, write_batch

TODAY = date(2025, 12, 31)


def _person(**changes):
    row = list(PERSONS[0])
    cols = ENTITIES["persons"].columns
    for k, v in changes.items():
        row[cols.index(k)] = v
    return row


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"national_id": "1945120317"}, "invalid_checksum:national_id"),
        ({"birth_date": "2024-02-30"}, "invalid_date:birth_date"),
        ({"birth_date": "12.05.2019"}, "invalid_date:birth_date"),
        ({"birth_date": "2031-01-01"}, "implausible_date:birth_date"),
        ({"sex": "z"}, "unknown_code:sex"),
        ({"role": ""}, "missing_required:role"),
        ({"birth_date": ""}, "missing_required:birth_date"),  # required for children
    ],
)
def test_each_contract_violation_quarantines_the_row_with_its_reason(tmp_path, change, reason):
    folder = write_batch(tmp_path, rows={"persons": [_person(**change), *PERSONS[1:]]})
    result = check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    persons = result["entities"]["persons"]
    assert persons["quarantined"] == 1 and persons["reasons"] == {reason: 1}
    quarantine = pl.read_csv(tmp_path / "ws/quarantine/ruse-svetilnik/b1/persons.csv")
    assert quarantine.rows() == [(1, 2, reason)]
    # the child's events and membership follow it into quarantine, and counts reconcile
    events = result["entities"]["events"]
    assert events["reasons"] == {"reference_quarantined:person_id": 2}
    for e in result["entities"].values():
        assert e["received"] == e["accepted"] + e["quarantined"]


def test_duplicates_dangling_references_and_bad_integers(tmp_path):
    events = [
        EVENTS[0],
        EVENTS[0],
        ["e9", "", "nobody", "2025-03-01", "health_consultation", "centre", "individual", "45 мин", "", "", ""],
    ]
    folder = write_batch(tmp_path, rows={"events": events})
    result = check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    assert result["entities"]["events"]["reasons"] == {
        "duplicate_key:event_id": 2,
        "dangling_reference:person_id": 1,
        "not_an_integer:duration_min": 1,
    }


def test_memberships_and_events_before_their_start_are_implausible(tmp_path):
    rows = [["f1", "p1", "child", "2025-05-01", "2025-01-01"], *MEMBERSHIPS[1:]]
    folder = write_batch(tmp_path, rows={"memberships": rows})
    result = check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    assert result["entities"]["memberships"]["reasons"] == {"implausible_date:valid_to": 1}


def test_validation_results_and_quarantine_never_hold_values(tmp_path):
    canary = "ZZQX-КАНАРЧЕ"
    bad = _person(sex=canary, national_id="1945120317", given_name=canary)
    folder = write_batch(tmp_path, rows={"persons": [bad, *PERSONS[1:]]})
    raw = read_batch(Batch("ruse-svetilnik", "b1", folder))
    outcome = validate_entity(ENTITIES["persons"], raw["persons"].frame, {}, TODAY, checksum_valid)
    assert outcome.quarantined == 1
    assert canary not in json.dumps(outcome.expectations, ensure_ascii=False)
    assert "1945120317" not in json.dumps(outcome.expectations)
    check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    for path in (tmp_path / "ws").rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            assert canary not in text and "1945120317" not in text
    assert RESULT_FORMAT["exclude_unexpected_values"] is True


def test_the_suite_is_built_from_the_contract():
    suite = suite_json("events")
    kinds = {(e["type"], e["kwargs"]["column"]) for e in suite["expectations"]}
    assert ("expect_column_values_to_be_in_set", "service_code") in kinds
    assert ("expect_column_values_to_be_unique", "event_id") in kinds
    assert all(e["meta"]["reason"] for e in suite["expectations"])
    assert len(checks_for(ENTITIES["persons"])) >= 10


@pytest.mark.parametrize(
    ("number", "kind", "reason"),
    [
        ("112-233-445 96", "snils", "invalid_checksum"),
        ("1111111111", "lnc", "invalid_component"),  # passes the check digit, but a placeholder
        ("1847230711", "egn", "invalid_checksum"),
        ("1953120316", "egn", "invalid_component"),  # month 13 (53 − 40): no such birth date
        ("194512031", "egn", "invalid_length"),  # too short
        ("19451203A6", "egn", "invalid_format"),  # a letter
        ("711104292", "lnc", "invalid_length"),
        ("112-233-445", "snils", "invalid_length"),
    ],
)
def test_national_ids_failing_their_check_are_quarantined_by_reason(tmp_path, number, kind, reason):
    folder = write_batch(tmp_path, rows={"persons": [_person(national_id=number, national_id_type=kind), *PERSONS[1:]]})
    result = check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    assert result["entities"]["persons"]["reasons"] == {f"{reason}:national_id": 1}
    quarantine = pl.read_csv(tmp_path / "ws/quarantine/ruse-svetilnik/b1/persons.csv")
    assert quarantine.rows() == [(1, 2, f"{reason}:national_id")]


def test_every_national_id_reason_has_its_own_expectation_in_the_suite():
    reasons = {
        e["meta"]["reason"] for e in suite_json("persons")["expectations"] if e["meta"]["field"] == "national_id"
    }
    assert reasons == {"invalid_format", "invalid_length", "invalid_component", "invalid_checksum"}


def test_unusable_passports_and_birth_certificates_are_not_quarantined(tmp_path):
    # no check digit to fail: they are linked by the fallback key instead, and counted in the report
    rows = [
        _person(national_id="XX", national_id_type="passport"),
        *PERSONS[1:2],
        [*PERSONS[2][:5], "II-ZZ 12", "birth_certificate", *PERSONS[2][7:]],
    ]
    folder = write_batch(tmp_path, rows={"persons": rows})
    result = check_batch(Batch("ruse-svetilnik", "b1", folder), Workspace(tmp_path / "ws"), TODAY)
    assert result["entities"]["persons"]["quarantined"] == 0


def test_a_yes_or_no_national_id_check_still_counts_failures_as_checksum_errors(tmp_path):
    folder = write_batch(tmp_path, rows={"persons": [_person(national_id="1953120316"), *PERSONS[1:]]})
    raw = read_batch(Batch("ruse-svetilnik", "b1", folder))
    outcome = validate_entity(ENTITIES["persons"], raw["persons"].frame, {}, TODAY, checksum_valid)
    assert outcome.quarantine["reasons"].to_list() == [["invalid_checksum:national_id"]]
    outcome = validate_entity(ENTITIES["persons"], raw["persons"].frame, {}, TODAY, invalid_reason)
    assert outcome.quarantine["reasons"].to_list() == [["invalid_component:national_id"]]
