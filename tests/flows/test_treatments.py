"""The policy's treatments are what reaches the store and the report: a dropped field never does, and
every release table is made from the fields ``anonymise.treatments.TABLE_NEEDS`` lists, no more.

Stage- and library-level: no Prefect run.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from anonymise.ministry import ROWS, SPECS, Store
from anonymise.period import Period
from anonymise.policy import PolicyError
from anonymise.pseudonymise import DomainKeys, pseudonymise_batch
from anonymise.treatments import KEY_COLUMNS, STORE_COLUMNS, TABLE_NEEDS, apply_to_store
from flows.governance import approve, approved_policy
from flows.ingest import Batch, discover_batches, read_batch
from flows.report import build_report
from flows.stages import aggregate_stage, check_batch, pseudonymise_stage
from flows.workspace import Workspace
from schemas.partners import PARTNERS
from tests.batches import PERSONS, write_batch
from tests.workspaces import prepare, report_facts

PERIOD = Period.parse("2025")
TODAY = datetime(2026, 1, 15, tzinfo=UTC)

# --- every table is made from the fields it lists ----------------------------------------------------


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pl.DataFrame]]:
    """Return the pseudonymised store frames of a small synthetic inbox, per jurisdiction."""
    from flows.synth import generate

    inbox = tmp_path_factory.mktemp("treatments") / "inbox"
    generate(inbox, scale=0.1, seed=5, defects=0.0)
    keys = DomainKeys(*(bytes([i]) * 32 for i in range(7)))
    out: dict[str, dict[str, pl.DataFrame]] = {}
    for country in ("bg", "ru"):
        batches, _ = discover_batches(inbox, country)
        parts: dict[str, list[pl.DataFrame]] = {}
        for b in batches:
            raw = {n: r.frame.drop("_row", "_line") for n, r in read_batch(b).items()}
            language = PARTNERS[b.partner_id].country
            done = pseudonymise_batch(raw, keys, b.partner_id, PERIOD.end, language, language=language)
            for name, frame in done.frames.items():
                parts.setdefault(name, []).append(frame)
        frames = {n: pl.concat(f, how="diagonal_relaxed") for n, f in parts.items()}
        # a third of the memberships ended before the period, so that their dates make a difference
        ended = pl.int_range(pl.len()) % 3 == 0
        frames["memberships"] = frames["memberships"].with_columns(
            pl.when(ended).then(pl.lit("2023-01")).otherwise("valid_from_month").alias("valid_from_month"),
            pl.when(ended).then(pl.lit("2023-06")).otherwise("valid_to_month").alias("valid_to_month"),
        )
        out[country] = frames
    return out


def _store(jurisdiction: str, frames: dict[str, pl.DataFrame]) -> Store:
    return Store(
        period=PERIOD,
        jurisdiction=jurisdiction,
        partner_order=list(PARTNERS),
        persons=frames["persons"],
        events=frames["events"],
        cases=frames.get("cases"),
        memberships=frames.get("memberships"),
        participations=frames.get("participations"),
    )


def _rows(table: str, frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame] | str:
    try:
        rows = ROWS[table](_store(SPECS[table].jurisdiction, frames))
    except pl.exceptions.ColumnNotFoundError:
        return "fails"
    return {m: f.sort(f.columns, nulls_last=True) for m, f in rows.items()}


def _same(a: dict[str, pl.DataFrame] | str, b: dict[str, pl.DataFrame] | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a.keys() == b.keys() and all(a[m].equals(b[m]) for m in a)


#: Needs this small inbox cannot show: a family's residence is used for a case only when its child's is
#: unknown, and no such case has a family whose memberships' start dates decide it.
ONLY_IN_PRINCIPLE = {("T07", "memberships.valid_from")}


def test_every_store_column_is_a_key_or_made_from_a_listed_field(stores) -> None:
    made = {c for by_entity in STORE_COLUMNS.values() for columns in by_entity.values() for c in columns}
    for frames in stores.values():
        for name, frame in frames.items():
            assert set(frame.columns) <= made | KEY_COLUMNS, (name, set(frame.columns) - made - KEY_COLUMNS)


@pytest.mark.parametrize("table", sorted(ROWS))
def test_a_table_is_made_from_exactly_the_fields_it_lists(stores, table: str) -> None:
    frames = stores[SPECS[table].jurisdiction]
    full = _rows(table, frames)
    assert full != "fails"
    empty = not isinstance(full, str) and all(f.height == 0 for f in full.values())
    for name in STORE_COLUMNS:
        without = _rows(table, apply_to_store(frames, {name: "drop"}))
        if name not in TABLE_NEEDS[table]:
            assert _same(full, without), f"{table} changes without {name}, which TABLE_NEEDS does not list"
        elif not empty and (table, name) not in ONLY_IN_PRINCIPLE:
            assert not _same(full, without), f"{table} is the same without {name}, which TABLE_NEEDS lists"


# --- a workspace whose policy drops fields -------------------------------------------------------------


def _policy(ws: Workspace, old_new: list[tuple[str, str]]) -> None:
    text = ws.policy.read_text("utf-8")
    for old, new in old_new:
        assert old in text, old
        text = text.replace(old, new)
    ws.policy.write_text(text, "utf-8")
    approve(ws, None, os.environ["ZAKRILA_DPO_PASSPHRASE"])


DROPS = [
    ('SA = "keep_tristate"', 'SA = "drop"'),
    (
        '"events.specialist_role" = "keep"',
        '"events.specialist_role" = "drop"\n"persons.education_isced" = "drop"\n"persons.notes" = "scrub_then_keep"',
    ),
]


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Return a workspace whose approved policy drops the sensitive fields, two more, and keeps the persons'
    notes scrubbed, with one batch (a passport and a birth certificate that cannot be used) checked and stored."""
    root = tmp_path_factory.mktemp("dropped")
    ws = prepare(root / "ws")
    _policy(ws, DROPS)
    persons = [list(p) for p in PERSONS]
    persons[1][5:7] = ["XX", "passport"]
    persons[2][5:7] = ["II-ZZ 12", "birth_certificate"]
    folder = write_batch(root / "inbox", rows={"persons": persons})
    batch = Batch("ruse-svetilnik", "b1", folder)
    check = check_batch(batch, ws, TODAY.date())
    policy, _ = approved_policy(ws)
    stored = pseudonymise_stage(batch, ws, PERIOD, "bg", None, policy.treatments)
    return {"ws": ws, "policy": policy, "check": check, "stored": stored}


def test_dropped_fields_never_reach_the_store(dropped) -> None:
    ws: Workspace = dropped["ws"]
    store = ws.store("bg", PERIOD.label) / "ruse-svetilnik" / "b1"
    persons = pl.read_parquet(store / "persons.parquet")
    events = pl.read_parquet(store / "events.parquet")
    for column in ("disability", "minority", "homeless", "education_isced"):
        assert column not in persons.columns
    assert "specialist_role" not in events.columns
    # what the policy keeps is still there, and only the persons' notes are kept (scrubbed)
    assert {"age_band", "sex", "nuts3", "labour_status", "notes_scrubbed"} <= set(persons.columns)
    assert {"service_code", "modality", "month"} <= set(events.columns) and "notes_scrubbed" not in events.columns
    assert persons["notes_scrubbed"].drop_nulls().to_list() == ["Майката [РОДИТЕЛ-1] се обади."]


def test_the_default_policy_keeps_what_the_contract_keeps(tmp_path: Path) -> None:
    ws = prepare(tmp_path / "ws")
    folder = write_batch(tmp_path / "inbox")
    batch = Batch("ruse-svetilnik", "b1", folder)
    check_batch(batch, ws, TODAY.date())
    pseudonymise_stage(batch, ws, PERIOD, "bg")
    store = ws.store("bg", PERIOD.label) / "ruse-svetilnik" / "b1"
    persons = pl.read_parquet(store / "persons.parquet")
    assert {"disability", "minority", "homeless", "education_isced"} <= set(persons.columns)
    assert "notes_scrubbed" not in persons.columns
    assert "specialist_role" in pl.read_parquet(store / "events.parquet").columns


def test_an_unapproved_change_of_treatment_stops_the_store_stage(tmp_path: Path) -> None:
    ws = prepare(tmp_path / "ws")
    folder = write_batch(tmp_path / "inbox")
    batch = Batch("ruse-svetilnik", "b1", folder)
    check_batch(batch, ws, TODAY.date())
    ws.policy.write_text(ws.policy.read_text("utf-8").replace('SA = "keep_tristate"', 'SA = "drop"'), "utf-8")
    with pytest.raises(PolicyError, match="changed after the DPO approved it"):
        pseudonymise_stage(batch, ws, PERIOD, "bg")
    assert not (ws.store("bg", PERIOD.label) / "ruse-svetilnik" / "b1" / "persons.parquet").exists()


def test_a_run_treats_its_batches_by_the_policy_it_approved_at_its_start(tmp_path: Path) -> None:
    """The run passes its approved treatments to the stage: a policy edited meanwhile changes nothing."""
    ws = prepare(tmp_path / "ws")
    folder = write_batch(tmp_path / "inbox")
    batch = Batch("ruse-svetilnik", "b1", folder)
    check_batch(batch, ws, TODAY.date())
    at_start = approved_policy(ws)[0].treatments | {"persons.minority": "drop"}
    ws.policy.write_text(ws.policy.read_text("utf-8").replace("threshold = 5", "threshold = 3"), "utf-8")
    pseudonymise_stage(batch, ws, PERIOD, "bg", None, at_start)
    persons = pl.read_parquet(ws.store("bg", PERIOD.label) / "ruse-svetilnik" / "b1" / "persons.parquet")
    assert "minority" not in persons.columns and "disability" in persons.columns


def test_a_policy_dropping_a_field_a_listed_table_needs_cannot_be_approved(tmp_path: Path) -> None:
    ws = prepare(tmp_path / "ws", tables=("T04", "T09", "T11"))
    with pytest.raises(PolicyError) as err:
        _policy(ws, [('"events.specialist_role" = "keep"', '"persons.minority" = "drop"')])
    message = str(err.value)
    assert "T09 needs persons.minority, which the policy drops" in message
    assert "remove T09 from [release] tables or keep the field" in message
    lines = ws.policy.read_text("utf-8").splitlines()
    assert lines[int(message.split("line ")[1].split(":")[0]) - 1].startswith("tables = [")


def _report(dropped: dict[str, Any]) -> dict[str, Any]:
    return build_report(
        dropped["ws"], report_facts(dropped["ws"], dropped["policy"], dropped["check"], dropped["stored"])
    )


def test_section_c_prints_the_treatment_applied(dropped) -> None:
    c = _report(dropped)["field_inventory"]
    by_field = {f"{f['entity']}.{f['field']}": f for f in c["fields"]}
    assert by_field["persons.minority"]["treatment"] == "drop" and by_field["persons.minority"]["set_by"] == "class"
    assert by_field["persons.education_isced"]["treatment"] == "drop"
    assert by_field["persons.education_isced"]["set_by"] == "field"
    assert (
        by_field["events.specialist_role"]["treatment"] == "drop" and not by_field["events.specialist_role"]["stored"]
    )
    assert by_field["persons.sex"]["treatment"] == "keep" and by_field["persons.sex"]["used_by"] == ["T04"]
    assert by_field["persons.national_id_type"]["treatment"] == "link_then_drop"
    assert "persons.minority" in c["dropped_by_policy"] and "cases.outcome" in c["dropped_by_policy"]
    assert "persons.labour_status" in c["unused_by_release"]
    assert c["free_text"]["treatments"]["persons.notes"] == "scrub_then_keep"
    assert c["free_text"]["treatments"]["events.notes"] == "drop_after_scan"


def test_section_d_counts_the_identifiers_that_could_not_be_used_and_the_fallback(dropped) -> None:
    d = _report(dropped)["pseudonymisation"]
    assert d["linkage"]["ruse-svetilnik"]["by_national_id"] == 1
    assert d["without_usable_identifier"] == {
        "ruse-svetilnik": {
            "persons": 2,
            "by_reason": {"birth_certificate:invalid_format": 1, "passport:invalid_length": 1},
            "by_fallback": {"fallback": 2},
            "detail": [
                {"id_type": "birth_certificate", "reason": "invalid_format", "fallback": "fallback", "persons": 1},
                {"id_type": "passport", "reason": "invalid_length", "fallback": "fallback", "persons": 1},
            ],
        }
    }
    assert d["invalid_national_ids_by_reason"] == {"ruse-svetilnik": {}}


def test_section_d_counts_quarantined_national_ids_by_reason(tmp_path: Path) -> None:
    ws = prepare(tmp_path / "ws")
    persons = [list(p) for p in PERSONS]
    persons[0][5] = "1953120316"  # month 13
    persons[1][5] = "850312456"  # too short
    folder = write_batch(tmp_path / "inbox", rows={"persons": persons})
    batch = Batch("ruse-svetilnik", "b1", folder)
    check = check_batch(batch, ws, TODAY.date())
    stored = pseudonymise_stage(batch, ws, PERIOD, "bg")
    d = _report({"ws": ws, "policy": approved_policy(ws)[0], "check": check, "stored": stored})["pseudonymisation"]
    assert d["invalid_national_ids_by_reason"] == {"ruse-svetilnik": {"invalid_component": 1, "invalid_length": 1}}
    assert d["invalid_national_ids"] == {"ruse-svetilnik": 2}


def test_the_tables_and_risk_figures_are_made_without_the_dropped_fields(dropped) -> None:
    ws: Workspace = dropped["ws"]
    check = dropped["check"]
    quality = [
        {
            "partner": check["partner"],
            "entity": name,
            **{k: e[k] for k in ("received", "accepted", "quarantined", "reasons", "completeness", "declined")},
        }
        for name, e in check["entities"].items()
    ]
    out = aggregate_stage(ws, "bg", PERIOD, ["ruse-svetilnik/b1"], quality, "run-agg", ["T04", "T10"])
    assert out["risk"]["quasi_identifiers"] == ["age_band", "sex", "nuts3", "citizenship_group"]
    t11 = pl.read_parquet(ws.work("run-agg") / "tables" / "T11.parquet")
    checks = set(t11.filter(pl.col("entity") == "persons")["check"].to_list())
    assert "sex" in checks and not checks & {"minority", "disability", "homeless", "education_isced"}
