"""Scrubbing notes: typed placeholders, every inflected form of the record's names, consistent per case."""

from __future__ import annotations

import pytest

from anonymise.pii.scrub import CaseLabels, scrub

KNOWN_BG = [("Иван Георгиев Петров", "child"), ("Мария Петрова", "parent"), ("Десислава Колева", "staff")]


@pytest.mark.parametrize(
    "note",
    [
        "Иване, ела утре с майка си Мария.",
        "Ваньо и Мими Петрови дойдоха в центъра.",
        "Обадих се на Петрова; детето Иван е по-добре.",
        "Social worker Desislava Koleva met Ivan Petrov.",
        "И. Петров, роден на 12.03.2019, ЕГН 1943120317, тел. 0888 123 456.",
    ],
)
def test_a_note_naming_the_record_people_is_scrubbed_of_every_form(note):
    out = scrub(note, "bg", KNOWN_BG)
    for word in ("Иван", "Ваньо", "Мими", "Петрови", "Петрова", "Petrov", "Koleva", "Desislava", "Петров", "Мария"):
        assert word not in out.text, (word, out.text)
    assert out.spans


def test_identifiers_get_typed_placeholders_and_spans_point_into_the_original():
    note = "ЕГН 1943120317, тел. +359 888 123 456, e-mail ivan.petrov@abv.bg, гр. Русе, ул. „Плиска“ № 4."
    out = scrub(note, "bg")
    assert "[ЕГН]" in out.text and "[ТЕЛЕФОН]" in out.text and "[ИМЕЙЛ]" in out.text and "[АДРЕС]" in out.text
    assert "1943120317" not in out.text and "abv.bg" not in out.text and "Плиска" not in out.text
    for span in out.spans:
        assert 0 <= span.start < span.end <= len(note) and span.score > 0
    assert out.counts()["EGN"] == 1


def test_placeholders_are_consistent_within_a_case_and_numbered_by_role():
    labels = CaseLabels()
    first = scrub("Иване, къде е майка ти Мария?", "bg", KNOWN_BG, labels)
    second = scrub("Мария и Ваньо закъсняха.", "bg", KNOWN_BG, labels)
    assert "[ДЕТЕ-1]" in first.text and "[РОДИТЕЛ-1]" in first.text
    assert "[РОДИТЕЛ-1]" in second.text and "[ДЕТЕ-1]" in second.text


def test_common_words_that_are_names_stay():
    out = scrub("Надежда има, че роза ще цъфне; детето е готова за училище.", "bg")
    assert "роза" in out.text and "готова" in out.text


def test_russian_notes_are_scrubbed_of_cases_and_identifiers():
    known = [("Петров Иван Сергеевич", "child"), ("Петрова Мария Ивановна", "parent")]
    note = "Позвонили Марии Ивановне; Ивану назначили психолога. СНИЛС 112-233-445 95, тел. +7 917 123-45-67."
    out = scrub(note, "ru", known)
    for word in ("Марии", "Ивановне", "Ивану", "112-233-445", "917"):
        assert word not in out.text, (word, out.text)
    assert "[СНИЛС]" in out.text and "[ТЕЛЕФОН]" in out.text


def test_a_russian_note_gets_russian_placeholders():
    known = [("Петров Иван Сергеевич", "child"), ("Петрова Мария Ивановна", "parent"), ("Орлова Анна", "staff")]
    note = (
        "Орлова А. позвонила Марии Ивановне: Ваня родился 12.03.2019 г., "
        "почта maria.petrova@mail.ru. Приходила соседка Гульнара Хабибуллина."
    )
    out = scrub(note, "ru", known)
    assert out.text == (
        "[СОТРУДНИК-1] позвонила [РОДИТЕЛЬ-1]: [РЕБЁНОК-1] родился [ДАТА РОЖДЕНИЯ] г., "
        "почта [ЭЛ. ПОЧТА]. Приходила соседка [ЛИЦО-1]."
    ), out.text
    # a Bulgarian note keeps Bulgarian words
    assert scrub("Иван дойде.", "bg", [("Иван Петров", "child")]).text == "[ДЕТЕ-1] дойде."


def test_empty_text_is_returned_as_is():
    assert scrub("", "bg").text == "" and scrub("", "bg").spans == ()


def _batch(copies: int) -> dict:
    import polars as pl

    persons = pl.DataFrame(
        {
            "person_id": ["c1", "p1", "c2", "p2"],
            "given_name": ["Иван", "Мария", "Елена", "Стоян"],
            "middle_name": ["Георгиев", None, None, None],
            "family_name": ["Петров", "Петрова", "Колева", "Колев"],
            "role": ["child", "parent", "child", "guardian"],
        }
    )
    memberships = pl.DataFrame({"family_id": ["f1.0", "f1.0", "f2.0", "f2.0"], "person_id": ["c1", "p1", "c2", "p2"]})
    cases = pl.DataFrame(
        {
            "family_id": [f"{f}.{k}" if f else None for k in range(copies) for f in ("f1", "f2", "f1", None)],
            "person_id": ["c1", "c2", "p1", "c2"] * copies,
            "notes": ["Иване, тел. 0888 123 456.", "Елена и Стоян дойдоха.", "", "Ели не дойде, Колева звъня."]
            * copies,
        }
    )
    events = pl.DataFrame(
        {"person_id": ["p1", "c2", "x"] * copies, "notes": ["Мария Петрова и Ваньо.", None, "Иван"] * copies}
    )
    return {"persons": persons, "memberships": memberships, "cases": cases, "events": events}


def test_notes_are_read_family_by_family_with_placeholders_shared_across_entities():
    from anonymise.pii.notes import known_people, scan_notes

    raw = _batch(1)
    scan = scan_notes(raw, known_people(raw["persons"]), "bg", scrub=True, workers=1)
    cases, events = scan.scrubbed["cases"].to_list(), scan.scrubbed["events"].to_list()
    assert cases[0] == "[ДЕТЕ-1], тел. [ТЕЛЕФОН]." and cases[2] is None
    assert events[0] == "[РОДИТЕЛ-1] и [ДЕТЕ-1]."  # family f1's labels, as in its cases
    assert cases[1] == "[ДЕТЕ-1] и [РОДИТЕЛ-1] дойдоха."
    assert "Колева" not in cases[3]  # no family on the row: its person's name is still known
    assert events[1] is None and "Иван" not in events[2]
    assert scan.counts["cases"]["notes_with_text"] == 3 and scan.counts["events"]["notes_with_text"] == 2
    assert scan.counts["cases"]["PHONE_NUMBER"] == 1


def test_large_batches_are_read_the_same_on_all_cores(monkeypatch):
    from anonymise.pii import notes
    from anonymise.pii.workers import wait_until_warm

    raw = _batch(60)
    people = notes.known_people(raw["persons"])
    single = notes.scan_notes(raw, people, "bg", scrub=True, workers=1)
    monkeypatch.setattr(notes, "PARALLEL_FROM", 10)
    monkeypatch.setattr(notes, "CHUNK_NOTES", 3)
    notes.scan_notes(raw, people, "bg", workers=2)  # starts the helper
    wait_until_warm("analyzer:bg")
    stats: dict[str, int] = {}
    spread = notes.scan_notes(raw, people, "bg", scrub=True, workers=2, stats=stats)
    assert stats["helpers"] > 0 and stats["here"] > 0, stats
    assert spread.counts == single.counts and single.counts["cases"]["notes_with_text"] == 180
    for entity, column in single.scrubbed.items():
        assert spread.scrubbed[entity].to_list() == column.to_list()
    counted = notes.scan_notes(raw, people, "bg", workers=2)
    assert counted.counts == single.counts and counted.scrubbed == {}


def test_a_namesake_of_the_record_is_scrubbed_whole_and_not_labelled_as_the_record_person():
    known = [("Смирнова Дарья Олеговна", "parent")]
    out = scrub("Ранее ребёнок жил с Дарьей Яковлевой, бабушкой. Дарья Олеговна согласна.", "ru", known)
    assert "Яковлевой" not in out.text and "Дарь" not in out.text, out.text
    assert out.text.count("[РОДИТЕЛЬ-1]") == 1 and "[ЛИЦО-1]" in out.text, out.text


def test_the_package_exports_scrub_and_every_public_name_lazily():
    import anonymise

    assert sorted(anonymise.__all__) == sorted(anonymise._HOME)
    assert anonymise.scrub("Иване, ела.", "bg", [("Иван Петров", "child")]).text == "[ДЕТЕ-1], ела."
    for name in anonymise.__all__:
        assert getattr(anonymise, name) is not None
