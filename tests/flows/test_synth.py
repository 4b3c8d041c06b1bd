"""The synthetic generator writes valid, realistic, reproducible batches and tells the truth about them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from stdnum.bg import egn, pnf

from anonymise.identifiers import snils
from anonymise.transliterate import bg_latin
from flows.synth import SynthSummary, generate
from flows.synth import names as synth_names
from flows.synth.notes import NAME_FIELDS, templates
from flows.synth.profiles import PROFILES
from schemas.contract import ENTITIES, FORMULA_PREFIXES
from schemas.partners import PARTNERS

END = dt.date(2025, 12, 31)
BATCH = "b20251231"
MIXED_WORD = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*[А-Яа-яЁё])\w+\b")


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Return the header and the rows of a CSV file as the csv module reads it (all strings)."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SynthSummary, dict]:
    inbox = tmp_path_factory.mktemp("synth") / "inbox"
    summary = generate(inbox, scale=1.0, seed=7, defects=0.02)
    return summary, json.loads(summary.truth_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def batches(run: tuple[SynthSummary, dict]) -> dict[str, dict[str, list[dict[str, str]]]]:
    summary, _ = run
    out: dict[str, dict[str, list[dict[str, str]]]] = {}
    for partner in PARTNERS:
        folder = summary.inbox / partner / BATCH
        out[partner] = {e: read(folder / f"{e}.csv")[1] for e in ENTITIES if (folder / f"{e}.csv").exists()}
    return out


def planted_rows(truth: dict, partner: str, entity: str) -> dict[int, tuple[str, str]]:
    return {
        p["row"]: (p["reason"], p["field"])
        for p in truth["planted"]
        if p["partner"] == partner and p["entity"] == entity
    }


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def violations(batch: dict[str, list[dict[str, str]]]) -> dict[str, dict[int, set[str]]]:
    """Return, per entity, the rows (1-based) that break interchange v1 and the reasons why."""
    found: dict[str, dict[int, set[str]]] = {}
    keys = {e: {r[key] for r in batch[e]} for e in batch if (key := ENTITIES[e].key)}
    keys["memberships.family_id"] = {r["family_id"] for r in batch["memberships"]}
    for entity, rows in batch.items():
        bad = found.setdefault(entity, {})
        spec = ENTITIES[entity]
        counts = Counter(r[spec.key] for r in rows) if spec.key else Counter[str]()
        for i, row in enumerate(rows, start=1):

            def flag(reason: str) -> None:
                bad.setdefault(i, set()).add(reason)  # noqa: B023

            for f in spec.fields:
                value = row[f.name]
                if value == "":
                    if f.required or (entity == "persons" and f.name == "birth_date" and row["role"] == "child"):
                        flag("missing_required")
                    continue
                if f.codes and value not in f.codes:
                    flag("unknown_code")
                if f.kind == "date":
                    parsed = _date(value)
                    if parsed is None:
                        flag("invalid_date")
                    elif f.name == "birth_date" and parsed > END:
                        flag("implausible_date")
                if f.kind == "int" and not value.isdigit():
                    flag("not_an_integer")
                if f.unique and counts[value] > 1:
                    flag("duplicate_key")
                if f.references:
                    target = f.references if f.references.startswith("memberships") else f.references.split(".")[0]
                    if value not in keys.get(target, set()):
                        flag("dangling_reference")
            if entity == "persons" and row["national_id_type"] == "egn" and not egn.is_valid(row["national_id"]):
                flag("invalid_checksum")
    return found


# Reproducibility and layout


def test_same_arguments_give_byte_identical_files_and_different_seeds_differ(tmp_path: Path) -> None:
    runs = [
        generate(tmp_path / name / "inbox", scale=0.3, seed=seed, defects=0.02)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    files = [sorted(p.relative_to(r.inbox) for p in r.inbox.rglob("*.csv")) for r in runs]
    assert files[0] == files[1] == files[2]
    for rel in files[0]:
        assert (runs[0].inbox / rel).read_bytes() == (runs[1].inbox / rel).read_bytes(), rel
    assert runs[0].truth_path.read_bytes() == runs[1].truth_path.read_bytes()
    assert any((runs[0].inbox / rel).read_bytes() != (runs[2].inbox / rel).read_bytes() for rel in files[0])


def test_one_batch_per_partner_with_the_contract_columns_in_order(run: tuple[SynthSummary, dict]) -> None:
    summary, truth = run
    assert sorted(p.name for p in summary.inbox.iterdir()) == sorted(PARTNERS)
    for partner, p in PARTNERS.items():
        folder = summary.inbox / partner / BATCH
        expected = {"persons", "memberships", "cases", "events"} | ({"participations"} if p.operation_code else set())
        assert {f.stem for f in folder.iterdir()} == expected
        for entity in expected:
            raw = (folder / f"{entity}.csv").read_bytes()
            assert not raw.startswith(b"\xef\xbb\xbf")
            header, rows = read(folder / f"{entity}.csv")
            assert tuple(header) == ENTITIES[entity].columns
            assert len(rows) == summary.counts[partner][entity] == truth["counts"][partner][entity]


def test_the_truth_file_lies_beside_the_inbox_not_inside(run: tuple[SynthSummary, dict]) -> None:
    summary, truth = run
    assert summary.truth_path == summary.inbox.absolute().parent / "inbox.truth.json"
    assert not any(p.suffix == ".json" for p in summary.inbox.rglob("*"))
    assert (truth["seed"], truth["scale"], truth["defects"], truth["end"]) == (7, 1.0, 0.02, "2025-12-31")


def test_pilot_size_is_about_3000_persons_split_by_partner_size(run: tuple[SynthSummary, dict]) -> None:
    summary, _ = run
    persons = {p: c["persons"] for p, c in summary.counts.items()}
    assert 2800 <= sum(persons.values()) <= 3300
    assert persons["ruse-svetilnik"] == max(persons.values())
    assert persons["sofia-kisuds"] > persons["samara-krug"] > persons["plovdiv-ksuds"]
    assert persons["samara-krug"] > persons["ruzhintsi-ksuds"]


def test_a_partner_subset_writes_the_same_files_as_a_full_run(tmp_path: Path, run: tuple[SynthSummary, dict]) -> None:
    summary, _ = run
    alone = generate(tmp_path / "inbox", scale=1.0, seed=7, defects=0.02, partners=["ruzhintsi-ksuds"])
    assert [p.name for p in alone.inbox.iterdir()] == ["ruzhintsi-ksuds"]
    for f in (alone.inbox / "ruzhintsi-ksuds" / BATCH).iterdir():
        assert f.read_bytes() == (summary.inbox / "ruzhintsi-ksuds" / BATCH / f.name).read_bytes()


# Identifiers


def test_every_egn_is_valid_and_agrees_with_birth_date_and_sex(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    checked = 0
    for partner, batch in batches.items():
        planted = planted_rows(truth, partner, "persons")
        for i, row in enumerate(batch["persons"], start=1):
            if row["national_id_type"] != "egn" or planted.get(i, ("",))[0] == "invalid_checksum":
                continue
            number = row["national_id"]
            assert egn.is_valid(number), (partner, i)
            assert egn.get_birth_date(number).isoformat() == row["birth_date"], (partner, i)
            assert row["sex"] == ("m" if int(number[8]) % 2 == 0 else "f"), (partner, i)
            checked += 1
    assert checked > 2000


def test_lnc_and_snils_pass_their_checksums(batches) -> None:  # type: ignore[no-untyped-def]
    lnc = [r["national_id"] for b in batches.values() for r in b["persons"] if r["national_id_type"] == "lnc"]
    snils_values = [
        r["national_id"] for b in batches.values() for r in b["persons"] if r["national_id_type"] == "snils"
    ]
    assert lnc and all(pnf.is_valid(n) for n in lnc)
    assert len(snils_values) > 300
    assert all(re.fullmatch(r"\d{3}-\d{3}-\d{3} \d{2}", s) and snils.is_valid(s) for s in snils_values)
    types = Counter(r["national_id_type"] for b in batches.values() for r in b["persons"])
    assert types["none"] > 0 and types["birth_certificate"] > 0 and types["passport"] > 0
    without = [r for r in batches["ruzhintsi-ksuds"]["persons"] if r["national_id_type"] == "none"]
    assert without and all(r["national_id"] == "" for r in without)


# Defects and the truth file


def test_planted_defects_are_exactly_the_rows_that_break_the_contract(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    reasons = Counter(p["reason"] for p in truth["planted"])
    assert set(reasons) == {
        "invalid_checksum",
        "invalid_date",
        "implausible_date",
        "unknown_code",
        "missing_required",
        "duplicate_key",
        "dangling_reference",
        "not_an_integer",
    }
    for partner, batch in batches.items():
        found = violations(batch)
        for entity in batch:
            planted = planted_rows(truth, partner, entity)
            assert set(found[entity]) == set(planted), (partner, entity)
            for row, (reason, field) in planted.items():
                assert found[entity][row] == {reason}, (partner, entity, row)
                value = batch[entity][row - 1][field]
                if reason == "missing_required":
                    assert value == ""
                else:
                    assert value != "", (partner, entity, row, field)


def test_the_defect_rate_is_the_share_of_rows_asked_for(run) -> None:  # type: ignore[no-untyped-def]
    summary, truth = run
    per_file = Counter((p["partner"], p["entity"]) for p in truth["planted"])
    per_file.update((p["partner"], p["entity"]) for p in truth["formula_cells"])
    events = sum(per_file[(p, "events")] for p in PARTNERS)
    total = sum(summary.counts[p]["events"] for p in PARTNERS)
    assert 0.015 * total < events < 0.03 * total


def test_formula_cells_are_listed_and_every_formula_like_text_is(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    listed = {(c["partner"], c["entity"], c["row"], c["field"]) for c in truth["formula_cells"]}
    assert listed
    seen = set()
    for partner, batch in batches.items():
        for entity, rows in batch.items():
            for field in ("notes", "address"):
                for i, row in enumerate(rows, start=1):
                    if row.get(field, "").startswith(FORMULA_PREFIXES):
                        seen.add((partner, entity, i, field))
    assert seen == listed


def test_cross_partner_children_appear_in_both_partners(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    pairs = truth["cross_partner_children"]
    assert len(pairs) >= 4
    for pair in pairs:
        rows = []
        for partner, person_id in zip(pair["partners"], pair["person_ids"], strict=True):
            match = [r for r in batches[partner]["persons"] if r["person_id"] == person_id]
            assert len(match) == 1
            rows.append(match[0])
        a, b = rows
        assert pair["partners"][0] != pair["partners"][1]
        assert {"plovdiv-ksuds", "sofia-kisuds"} & set(pair["partners"])
        assert a["role"] == b["role"] == "child" and a["national_id_type"] == b["national_id_type"] == "egn"
        assert (a["national_id"], a["birth_date"], a["sex"]) == (b["national_id"], b["birth_date"], b["sex"])
        for field in ("given_name", "family_name"):
            assert a[field] == b[field] or bg_latin(a[field]) == b[field] or a[field] == bg_latin(b[field])
    children = sum(
        1
        for p in ("ruse-svetilnik", "plovdiv-ksuds", "sofia-kisuds", "ruzhintsi-ksuds")
        for i, r in enumerate(batches[p]["persons"], start=1)
        if r["role"] == "child" and i not in planted_rows(truth, p, "persons")
    )
    assert truth["expected_unique_children_bg"] == children - len(pairs)


# Codes, names and notes


def test_code_values_come_from_the_code_lists(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner, batch in batches.items():
        for entity, rows in batch.items():
            planted = planted_rows(truth, partner, entity)
            for f in ENTITIES[entity].fields:
                if f.codes:
                    bad = [i for i, r in enumerate(rows, start=1) if r[f.name] and r[f.name] not in f.codes]
                    assert set(bad) <= set(planted), (partner, entity, f.name)


def test_services_fit_the_partner_and_the_person(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner, batch in batches.items():
        planted = planted_rows(truth, partner, "events")
        births = {r["person_id"]: r["birth_date"] for r in batch["persons"]}
        sites = {s.id for s in PARTNERS[partner].sites}
        offered = set(PROFILES[partner].services) | {"material_support"}
        for i, e in enumerate(batch["events"], start=1):
            if i in planted:
                continue
            assert e["service_code"] in offered and e["site_id"] in sites
            assert dt.date(2024, 1, 1) <= dt.date.fromisoformat(e["date"]) <= END
            if e["service_code"] == "patronage_care":
                born = dt.date.fromisoformat(births[e["person_id"]])
                assert (dt.date.fromisoformat(e["date"]) - born).days < 4 * 366 and e["modality"] == "home_visit"
    plovdiv = Counter(e["service_code"] for e in batches["plovdiv-ksuds"]["events"])
    assert 0 < plovdiv["material_support"] < 60
    cases = Counter(c["case_type"] for c in batches["plovdiv-ksuds"]["cases"])
    assert cases.most_common(1)[0][0] == "prevention_of_abandonment"
    outreach = Counter(e["modality"] for e in batches["ruzhintsi-ksuds"]["events"] if e["site_id"] == "drenovets")
    assert outreach["outreach"] > outreach["centre"]
    assert {e["service_code"] for e in batches["samara-krug"]["events"]} >= {"help_route", "respite_play_room"}


def test_mothers_were_16_to_45_at_each_birth(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner, batch in batches.items():
        planted = planted_rows(truth, partner, "persons")
        born = {
            r["person_id"]: _date(r["birth_date"]) for i, r in enumerate(batch["persons"], start=1) if i not in planted
        }
        families: dict[str, dict[str, list[dt.date]]] = {}
        for m in batch["memberships"]:
            day = born.get(m["person_id"])
            if m["relation"] in ("mother", "child") and day:
                families.setdefault(m["family_id"], {}).setdefault(m["relation"], []).append(day)
        for members in families.values():
            for mother in members.get("mother", []):
                for child in members.get("child", []):
                    assert 16 <= (child - mother).days / 365.25 <= 45.5


def test_no_word_mixes_latin_and_cyrillic_letters(batches) -> None:  # type: ignore[no-untyped-def]
    for batch in batches.values():
        for entity, rows in batch.items():
            for row in rows:
                for field in ("given_name", "middle_name", "family_name", "notes", "address"):
                    assert not MIXED_WORD.search(row.get(field, "")), (entity, row.get(field))
    latin = sum(
        1
        for p in ("plovdiv-ksuds", "sofia-kisuds")
        for r in batches[p]["persons"]
        if re.search("[A-Za-z]", r["family_name"])
    )
    assert latin > 5
    names = {r["given_name"] for b in batches.values() for r in b["persons"]}
    assert names >= {"Роза", "Вяра", "Надежда", "Слава", "Цвета"}


def test_partner_profiles_use_the_registry_sites() -> None:
    for partner_id, profile in PROFILES.items():
        assert [s.site_id for s in profile.sites] == [s.id for s in PARTNERS[partner_id].sites]


def test_every_note_template_names_the_record_and_lists_are_long_enough() -> None:
    for language in ("bg", "ru"):
        table = templates(language)
        assert table.height >= 30
        for fields in table["fields"].to_list():
            assert any(f in fields or f"m_{f}" in fields for f in NAME_FIELDS)
    for name, least in (
        ("bg_male", 80),
        ("bg_female", 80),
        ("bg_surnames", 150),
        ("ru_male", 60),
        ("ru_female", 60),
        ("ru_surnames", 100),
    ):
        assert len(synth_names.name_list(name)) >= least


LATIN_TO_CYRILLIC = {
    bg_latin(n): n for lst in ("bg_male", "bg_female", "roma_male", "roma_female") for n in synth_names.name_list(lst)
}


def _stems(language: str, *rows: dict[str, str]) -> set[str]:
    """Return lower-case beginnings of the names of people, and of the forms notes use for them."""
    out = set()
    for r in rows:
        for field, size in (("given_name", 3), ("family_name", 4), ("middle_name", 4)):
            if r.get(field):
                out.add(r[field][:size])
        given = r.get("given_name", "")
        cyrillic = LATIN_TO_CYRILLIC.get(given, given)
        for form in (synth_names.vocative, synth_names.diminutive, synth_names.dative, synth_names.genitive):
            value = form(cyrillic, language)
            out.add((value if cyrillic == given else bg_latin(value))[:3])
    return {s.replace("ё", "е").lower() for s in out if s}


def _mentions(note: str, stems: set[str]) -> bool:
    text = note.replace("ё", "е").lower()
    return any(s in text for s in stems)


def test_notes_mention_the_people_of_their_own_record(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner, batch in batches.items():
        persons = {r["person_id"]: r for r in batch["persons"]}
        family_of: dict[str, list[dict[str, str]]] = {}
        for m in batch["memberships"]:
            if m["person_id"] in persons:
                family_of.setdefault(m["family_id"], []).append(persons[m["person_id"]])
        formula = {(c["entity"], c["row"]) for c in truth["formula_cells"] if c["partner"] == partner}
        counted: Counter[str] = Counter()
        for entity in ("persons", "events", "cases"):
            planted = planted_rows(truth, partner, entity)
            for i, row in enumerate(batch[entity], start=1):
                if not row["notes"] or (entity, i) in formula or i in planted:
                    continue
                if entity == "persons":
                    people = [row]
                elif entity == "events":
                    people = [persons[row["person_id"]]]
                else:
                    people = family_of[row["family_id"]]
                stems = _stems(PROFILES[partner].language, *people)
                assert _mentions(row["notes"], stems), (partner, entity, i, row["notes"])
                counted[entity] += 1
        assert counted["persons"] and counted["events"] and counted["cases"]
        noted = sum(1 for c in batch["cases"] if c["notes"])
        assert noted > 0.6 * len(batch["cases"])
        notes = [r["notes"] for e in ("persons", "cases", "events") for r in batch[e] if r["notes"]]
        assert any("\n" in n for n in notes) and any('"' in n for n in notes) and any("," in n for n in notes)
