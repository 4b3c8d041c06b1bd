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


def test_empty_text_is_returned_as_is():
    assert scrub("", "bg").text == "" and scrub("", "bg").spans == ()


def test_large_batches_are_counted_the_same_on_all_cores(monkeypatch):
    import polars as pl

    from anonymise.pii import notes

    texts = pl.Series(["Иване, тел. 0888 123 456.", "Мария Петрова дойде.", "", None] * 6)
    single = notes.count_detections(texts, "bg", KNOWN_BG, workers=1)
    monkeypatch.setattr(notes, "PARALLEL_FROM", 4)
    assert notes.count_detections(texts, "bg", KNOWN_BG, workers=2) == single
    assert single["notes_with_text"] == 12 and single["PHONE_NUMBER"] == 6


def test_a_namesake_of_the_record_is_scrubbed_whole_and_not_labelled_as_the_record_person():
    known = [("Смирнова Дарья Олеговна", "parent")]
    out = scrub("Ранее ребёнок жил с Дарьей Яковлевой, бабушкой. Дарья Олеговна согласна.", "ru", known)
    assert "Яковлевой" not in out.text and "Дарь" not in out.text, out.text
    assert out.text.count("[РОДИТЕЛ-1]") == 1 and "[ЛИЦЕ-1]" in out.text, out.text
