"""The synthetic generator writes valid, realistic, reproducible batches and tells the truth about them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from stdnum.bg import egn, pnf

from anonymise.identifiers import snils
from anonymise.transliterate import bg_latin
from flows.synth import SynthSummary, generate
from flows.synth import names as synth_names
from flows.synth.notes import NAME_FIELDS, templates
from flows.synth.profiles import PROFILES
from schemas import geography
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
        assert all(PARTNERS[p].country == "bg" for p in pair["partners"])  # never linked to the Russian pilot
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


# Promises of the generator: communities, places, contacts, identifiers, ages and defects


BG_PARTNERS = [p for p, v in PARTNERS.items() if v.country == "bg"]
REGION = {p: v.country.upper() for p, v in PARTNERS.items()}


def _kept(truth: dict, partner: str, entity: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Return the rows of an entity without a planted defect."""
    planted = planted_rows(truth, partner, entity)
    return [r for i, r in enumerate(rows, start=1) if i not in planted]


def _served_at(batch: dict[str, list[dict[str, str]]]) -> dict[str, set[str]]:
    """Return the person IDs with an event at each site."""
    out: dict[str, set[str]] = {}
    for e in batch["events"]:
        out.setdefault(e["site_id"], set()).add(e["person_id"])
    return out


def _distinct(*lists: str) -> frozenset[str]:
    names = {n for lst in lists for n in synth_names.name_list(lst)}
    return frozenset(names | {bg_latin(n) for n in names})


#: Roma and Turkish names no Bulgarian list has (many Roma families also give Bulgarian names).
ROMA_ONLY = _distinct("roma_male", "roma_female", "roma_surnames") - _distinct("bg_male", "bg_female", "bg_surnames")


def _roma_share(persons: list[dict[str, str]]) -> float:
    named = [r["given_name"] in ROMA_ONLY or r["family_name"] in ROMA_ONLY for r in persons]
    return sum(named) / len(named)


def test_roma_and_turkish_names_cluster_around_drenovets(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    drenovets = next(s for s in PARTNERS["ruzhintsi-ksuds"].sites if s.id == "drenovets")
    assert drenovets.outreach
    shares = {}
    for partner in BG_PARTNERS:
        persons = {r["person_id"]: r for r in _kept(truth, partner, "persons", batches[partner]["persons"])}
        for site, ids in _served_at(batches[partner]).items():
            people = [persons[i] for i in ids if i in persons]
            shares[site] = (_roma_share(people), people)
    share, people = shares["drenovets"]
    assert len(people) > 50 and share > 0.5
    for site in ("svetilnik", "druzhba", "paraskeva", "plovdiv"):
        assert share > 3 * shares[site][0], (site, shares[site][0])
    assert sum(r["minority"] == "yes" for r in people) > 0.5 * len(people)
    # and they live in Дреновец itself, mostly
    assert sum(r["settlement_code"] == drenovets.settlement_code for r in people) > 0.7 * len(people)


def _labels(code: str, partner: str) -> set[str]:
    """Return how an address may name the settlement of a code: ``с. Дреновец``, ``г. Сызрань``, …"""
    if PARTNERS[partner].country == "ru":
        name = geography.oktmo().filter(pl.col("oktmo") == code)["name_ru"].item()
        return {name, f"г. {name}"}
    row = geography.settlements().filter(pl.col("ekatte") == code).row(0, named=True)
    return {("гр. " if row["kind"] == "град" else "с. ") + row["name_bg"]}


def test_people_live_in_the_municipality_of_the_site_that_serves_them(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    oktmo = set(geography.oktmo()["oktmo"].to_list())
    formula = {(c["partner"], c["row"]) for c in truth["formula_cells"] if c["field"] == "address"}
    for partner, registry in PARTNERS.items():
        persons = batches[partner]["persons"]
        planted = planted_rows(truth, partner, "persons")
        site_of = {pid: site for site, ids in _served_at(batches[partner]).items() for pid in ids}
        checked = 0
        for i, r in enumerate(persons, start=1):
            if i in planted or not r["settlement_code"]:
                continue
            code = r["settlement_code"]
            if registry.country == "ru":
                assert code in oktmo, (partner, i, code)
            else:
                home = geography.municipality_of(code)
                assert home in {geography.municipality_of(s.settlement_code) for s in registry.sites}, (partner, i)
                if r["person_id"] in site_of:
                    site = next(s for s in registry.sites if s.id == site_of[r["person_id"]])
                    assert home == geography.municipality_of(site.settlement_code), (partner, i, site.id)
            if r["address"] and (partner, i) not in formula:
                parts = {part.strip() for part in r["address"].split(",")[:2]}
                assert _labels(code, partner) & parts, (partner, i, r["address"])
            checked += 1
        assert checked > 0.9 * len(persons)


def test_phones_are_valid_mobiles_of_the_partners_country(batches) -> None:  # type: ignore[no-untyped-def]
    mobile = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
    for partner, batch in batches.items():
        phones = [r["phone"] for r in batch["persons"] if r["phone"]]
        assert len(phones) > 50, partner
        for phone in phones:
            number = phonenumbers.parse(phone, REGION[partner])
            assert phonenumbers.is_valid_number(number), (partner, phone)
            assert phonenumbers.region_code_for_number(number) == REGION[partner], (partner, phone)
            assert phonenumbers.number_type(number) in mobile, (partner, phone)
        assert len({re.sub(r"\D", "", p)[-9:] for p in phones}) > 0.95 * len(phones)  # not one number for all


# RFC 5321 dot-atom local part and a host name with a letter TLD: what mail servers accept.
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL = re.compile(rf"(?P<local>{ATOM}(?:\.{ATOM})*)@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{{2,}})")


def test_emails_are_syntactically_valid_and_made_of_the_persons_name(batches) -> None:  # type: ignore[no-untyped-def]
    for partner, batch in batches.items():
        rows = [r for r in batch["persons"] if r["email"]]
        assert len(rows) > 10, partner
        for r in rows:
            match = EMAIL.fullmatch(r["email"])
            assert match and len(match["local"]) <= 64 and len(r["email"]) <= 254, (partner, r["email"])
            assert r["email"].isascii() and r["role"] != "child", (partner, r["email"])
        stems = [synth_names.email_latin(r["family_name"], PROFILES[partner].language)[:3] for r in rows]
        assert sum(s in r["email"] for s, r in zip(stems, rows, strict=True)) > 0.6 * len(rows)


NOTE_ID = {
    "ЕГН": (re.compile(r"ЕГН:? (\d{10})\b"), egn.is_valid),
    "ЛНЧ": (re.compile(r"ЛНЧ:? (\d{10})\b"), pnf.is_valid),
    "СНИЛС": (re.compile(r"СНИЛС:? (\d{3}-\d{3}-\d{3} \d{2})"), snils.is_valid),
}
DOB = re.compile(r"(?:роден|родена|родился|родилась)(?: на)? (\d\d)\.(\d\d)\.(\d{4})")


def test_notes_hold_the_identifiers_phones_and_addresses_of_their_people(run, batches) -> None:  # type: ignore[no-untyped-def]
    """What the text scrubber must find is really there: a person's own national ID, phone and
    address in the notes about them, every labelled identifier valid, an ЕГН agreeing with the birth
    date beside it."""
    _, truth = run
    for partner, batch in batches.items():
        formula = {(c["entity"], c["row"]) for c in truth["formula_cells"] if c["partner"] == partner}
        own: Counter[str] = Counter()
        planted = planted_rows(truth, partner, "persons")
        for i, r in enumerate(batch["persons"], start=1):
            note = r["notes"]
            if not note or i in planted or ("persons", i) in formula:
                continue
            for field in ("national_id", "phone", "address"):
                own[field] += bool(r[field]) and r[field] in note
        assert own["national_id"] and own["phone"] and own["address"], (partner, own)
        labelled: Counter[str] = Counter()
        for entity in ("persons", "cases", "events"):
            for i, row in enumerate(batch[entity], start=1):
                note = row["notes"]
                if not note or (entity, i) in formula:
                    continue
                for label, (pattern, valid) in NOTE_ID.items():
                    for number in pattern.findall(note):
                        assert valid(number), (partner, entity, i, label)
                        labelled[label] += 1
                        born = DOB.search(note)
                        if label == "ЕГН" and born:
                            day, month, year = born.groups()
                            assert egn.get_birth_date(number) == dt.date(int(year), int(month), int(day)), note
        assert labelled["СНИЛС" if partner == "samara-krug" else "ЕГН"] > 5, (partner, labelled)


def test_lnc_goes_only_to_foreign_citizens_and_to_some_foreign_parents(batches) -> None:  # type: ignore[no-untyped-def]
    holders = [r for b in batches.values() for r in b["persons"] if r["national_id_type"] == "lnc"]
    assert holders and all(r["citizenship"] != "bg" for r in holders)
    assert all(pnf.is_valid(r["national_id"]) for r in holders)
    assert {r["person_id"] for r in holders} <= {r["person_id"] for p in BG_PARTNERS for r in batches[p]["persons"]}
    parents = {
        m["person_id"]
        for p in BG_PARTNERS
        for m in batches[p]["memberships"]
        if m["relation"] in ("mother", "father", "foster_parent", "guardian")
    }
    assert any(r["person_id"] in parents for r in holders)
    foreign_parents = [
        r for p in BG_PARTNERS for r in batches[p]["persons"] if r["citizenship"] != "bg" and r["person_id"] in parents
    ]
    with_lnc = [r for r in foreign_parents if r["national_id_type"] == "lnc"]
    assert 0 < len(with_lnc) < len(foreign_parents)  # some have a passport or nothing at all
    assert not [r for r in batches["ruzhintsi-ksuds"]["persons"] if r["national_id_type"] == "lnc"]  # no foreigners


def test_snils_belongs_to_the_samara_pilot_and_validates(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner in BG_PARTNERS:
        assert not [r for r in batches[partner]["persons"] if r["national_id_type"] == "snils"]
    samara = _kept(truth, "samara-krug", "persons", batches["samara-krug"]["persons"])
    assert {r["national_id_type"] for r in samara}.isdisjoint({"egn", "lnc"})
    russians = [r for r in samara if r["citizenship"] == "ru"]
    with_snils = [r for r in russians if r["national_id_type"] == "snils"]
    assert len(with_snils) > 0.8 * len(russians)
    assert all(snils.is_valid(r["national_id"]) for r in with_snils)
    assert len({r["national_id"] for r in with_snils}) == len(with_snils)


def _years(later: dt.date, earlier: dt.date) -> float:
    return (later - earlier).days / 365.25


def test_children_and_parents_have_plausible_ages(run, batches) -> None:  # type: ignore[no-untyped-def]
    _, truth = run
    for partner, batch in batches.items():
        persons = _kept(truth, partner, "persons", batch["persons"])
        born = {r["person_id"]: dt.date.fromisoformat(r["birth_date"]) for r in persons if r["birth_date"]}
        relation = {m["person_id"]: m["relation"] for m in _kept(truth, partner, "memberships", batch["memberships"])}
        oldest_child_age = 0.0
        for e in _kept(truth, partner, "events", batch["events"]):
            if e["person_id"] not in born:
                continue
            age = _years(dt.date.fromisoformat(e["date"]), born[e["person_id"]])
            assert age >= 0, (partner, e["event_id"])  # no service before birth
            if relation.get(e["person_id"]) == "child":
                oldest_child_age = max(oldest_child_age, age)
        # children up to the end of secondary school at the most (Ruzhintsi's education mediation)
        assert 5 < oldest_child_age < 19.1, (partner, oldest_child_age)
        for r in persons:
            if r["person_id"] not in born:
                continue
            age = _years(END, born[r["person_id"]])
            rel = relation.get(r["person_id"])
            if rel == "child":
                assert 0 <= age < 22 and r["role"] == "child", (partner, r["person_id"], age)
            elif rel in ("mother", "father"):
                assert 16 <= age < 65 and r["role"] in ("parent", "expectant_parent"), (partner, r["person_id"], age)
            elif rel in ("grandparent", "foster_parent", "guardian"):
                assert 30 <= age < 90, (partner, r["person_id"], rel, age)
        families: dict[str, dict[str, list[dt.date]]] = {}
        for m in _kept(truth, partner, "memberships", batch["memberships"]):
            if m["person_id"] in born and m["relation"] in ("father", "child"):
                families.setdefault(m["family_id"], {}).setdefault(m["relation"], []).append(born[m["person_id"]])
        ages = [_years(c, f) for fam in families.values() for f in fam.get("father", []) for c in fam.get("child", [])]
        assert ages and min(ages) >= 17 and max(ages) <= 65, (partner, min(ages), max(ages))


def test_samara_planted_defects_are_listed_and_would_be_quarantined(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Russian batch is checked against the contract as the pipeline's check stage does, on its
    own: every planted row is quarantined with its reason, and every other quarantined row only
    follows a quarantined row it refers to — so the truth file lists every defect there is."""
    from flows.ingest import Batch
    from flows.stages import check_batch
    from flows.workspace import Workspace

    summary, truth = run
    partner = "samara-krug"
    ws = Workspace(tmp_path / "ws")
    result = check_batch(Batch(partner, BATCH, summary.inbox / partner / BATCH), ws, END)
    assert result["status"] == "checked"
    planted = [p for p in truth["planted"] if p["partner"] == partner]
    assert len({p["reason"] for p in planted}) >= 6
    for entity, outcome in result["entities"].items():
        assert outcome["received"] == truth["counts"][partner][entity]
        quarantine = pl.read_csv(ws.quarantine(partner, BATCH) / f"{entity}.csv")
        reasons = {row: set(text.split(";")) for row, text in quarantine.select("_row", "reasons").rows()}
        listed = {p["row"]: f"{p['reason']}:{p['field']}" for p in planted if p["entity"] == entity}
        for row, reason in listed.items():
            assert reason in reasons.get(row, set()), (entity, row, reason, reasons.get(row))
        for row, found in reasons.items():
            if row not in listed:
                assert all(r.startswith("reference_quarantined:") for r in found), (entity, row, found)
