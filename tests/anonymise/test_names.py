"""Names typed in different ways by different partners give the same linkage key; different names do not."""

from __future__ import annotations

import datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.names import fallback_key_expr, name_key, normalise, normalise_expr


@pytest.mark.parametrize(
    ("one", "other", "language"),
    [
        (("Иван", "Петров"), ("Ivan", "Petrov"), "bg"),  # official Bulgarian system
        (("Мария", "Желязкова"), ("Maria", "Zhelyazkova"), "bg"),
        (("Пётр", "Фёдоров"), ("Петр", "Федоров"), "ru"),  # ё and е
        (("Пётр", "Фёдоров"), ("Petr", "Fedorov"), "ru"),  # ICAO Doc 9303, as in Russian passports
        (("Юлия", "Щеглова"), ("Iuliia", "Shcheglova"), "ru"),
        (("  иван ", "  ПЕТРОВ "), ("Иван", "Петров"), "bg"),  # case and spacing
        (("Мария-Магдалена", "Петрова"), ("Мария Магдалена", "Петрова"), "bg"),  # hyphen and space
        (("Иван", "Пeтpов"), ("Иван", "Петров"), "bg"),  # Latin e and p inside a Cyrillic word
        (("ИВАН", "ПETPOB"), ("Иван", "Петров"), "bg"),  # Latin capitals E, T, P, O, B
        (("Ива́н", "Петро́в"), ("Иван", "Петров"), "bg"),  # stress marks
        (("Ｉｖａｎ", "Ｐｅｔｒｏｖ"), ("Ivan", "Petrov"), "bg"),  # full-width letters
        (("Pоpov", "Иван"), ("Popov", "Иван"), "bg"),  # Cyrillic о inside a Latin word
    ],
)
def test_spelling_variants_of_one_name_link(one: tuple[str, str], other: tuple[str, str], language: str) -> None:
    assert name_key(*one, language=language) == name_key(*other, language=language)


def test_the_middle_name_is_not_part_of_the_key() -> None:
    records = [("Мария", "Иванова", "Петрова"), ("Мария", "", "Петрова")]  # given, middle, family
    assert {name_key(given, family) for given, _middle, family in records} == {"maria|petrova"}


def test_the_key_is_per_jurisdiction() -> None:
    assert normalise("Юлия", "bg") == "yulia"
    assert normalise("Юлия", "ru") == "iuliia"
    assert normalise("Julia", "bg") == normalise("Julia", "ru") == "julia"  # Latin input is not re-spelled


def test_different_names_do_not_collide() -> None:
    names = [
        "Иван", "Иванка", "Ивана", "Йордан", "Йорданка", "Мария", "Марияна", "Марин", "Петър", "Петра", "Петров",
        "Петрова", "Петрови", "Стефан", "Стефка", "Георги", "Гошо", "Димитър", "Митко", "Цветан", "Цвета",
        "Цветелина", "Роза", "Вяра", "Надежда", "Слава", "Славка", "Айше", "Ахмед", "Али", "Алия", "Юлия",
        "Юлиана", "Ясен", "Яна", "Щерев", "Шишков", "Жеков", "Чавдар", "Ъгленов",
    ]  # fmt: skip
    spelled = [normalise(name) for name in names]
    assert len(set(spelled)) == len(names)
    assert len({name_key(a, b) for a in ("Иван", "Иванка") for b in ("Петров", "Петрова")}) == 4


@pytest.mark.parametrize(("name", "latin"), [("Роза", "roza"), ("Вяра", "vyara"), ("Надежда", "nadezhda")])
def test_names_that_are_also_common_words_normalise_like_any_name(name: str, latin: str) -> None:
    assert normalise(name) == normalise(name.upper()) == normalise(latin.capitalize()) == latin


def test_empty_names_normalise_to_the_empty_string() -> None:
    assert normalise("") == normalise("   ") == normalise(" - . ") == ""


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError):
        normalise("Иван", "uk")
    with pytest.raises(ValueError):
        normalise_expr("given_name", "uk")


_LETTERS = "абвгдежзийклмнопрстуфхцчшщъьюяёыэАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЬЮЯЁЫЭabcdefghijklmnopqrstuvwxyzABCXYZ"
names = st.text(alphabet=_LETTERS + " -'.́", max_size=30)
languages = st.sampled_from(["bg", "ru"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), languages)
def test_normalise_is_idempotent_on_its_own_output(name: str, language: str) -> None:
    once = normalise(name, language)
    assert normalise(once, language) == once


@settings(max_examples=300, deadline=None)
@given(names, languages)
def test_cyrillic_and_latin_names_come_out_as_small_latin_words(name: str, language: str) -> None:
    spelled = normalise(name, language)
    assert all(word.isascii() and word.isalpha() and word.islower() for word in spelled.split(" ") if spelled)
    assert "  " not in spelled and spelled == spelled.strip()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), names), max_size=30), languages)
def test_normalise_expr_equals_normalise_row_by_row(values: list[str | None], language: str) -> None:
    frame = pl.DataFrame({"given_name": values}, schema={"given_name": pl.String})
    out = frame.lazy().select(normalise_expr("given_name", language)).collect()
    assert out.columns == ["given_name"]
    assert out["given_name"].to_list() == [None if v is None else normalise(v, language) for v in values]


def test_fallback_key_joins_names_and_birth_date_from_date_or_text_columns() -> None:
    born = [datetime.date(2015, 3, 7), datetime.date(2015, 3, 7), None, datetime.date(2015, 3, 7)]
    frame = pl.DataFrame(
        {
            "given_name": ["Иван", "IVAN", "Иван", "-"],
            "family_name": ["Петров", "Petrov", "Петров", "Петров"],
            "birth_date": born,
        }
    )
    expected = ["fb:ivan|petrov|2015-03-07", "fb:ivan|petrov|2015-03-07", None, None]
    as_date = frame.select(fallback_key_expr("given_name", "family_name", "birth_date"))
    as_text = frame.with_columns(pl.col("birth_date").cast(pl.String)).select(
        fallback_key_expr(pl.col("given_name"), pl.col("family_name"), pl.col("birth_date"))
    )
    assert as_date["fallback_key"].to_list() == expected
    assert as_text["fallback_key"].to_list() == expected


@pytest.mark.parametrize(
    ("given", "family", "born"),
    [
        (None, "Петров", "2015-03-07"),
        ("Иван", "", "2015-03-07"),
        ("Иван", "Петров", None),
        ("Иван", "Петров", "07.03.2015"),
    ],
)
def test_fallback_key_is_null_when_a_part_is_missing(given: str | None, family: str | None, born: str | None) -> None:
    frame = pl.DataFrame(
        {"given_name": [given], "family_name": [family], "birth_date": [born]},
        schema={"given_name": pl.String, "family_name": pl.String, "birth_date": pl.String},
    )
    assert frame.select(fallback_key_expr("given_name", "family_name", "birth_date")).item() is None


def test_fallback_keys_follow_the_jurisdiction() -> None:
    frame = pl.DataFrame({"g": ["Юлия"], "f": ["Щеглова"], "b": ["2016-01-02"]})
    assert frame.select(fallback_key_expr("g", "f", "b", "ru")).item() == "fb:iuliia|shcheglova|2016-01-02"
    assert frame.select(fallback_key_expr("g", "f", "b", "bg")).item() == "fb:yulia|shteglova|2016-01-02"
