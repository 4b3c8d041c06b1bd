"""Bulgarian names and places come out in the Streamlined System's Latin letters."""

from __future__ import annotations

import doctest

import pytest

import anonymise.transliterate as transliterate
from anonymise.transliterate import bg_latin


def test_the_module_examples_hold() -> None:
    result = doctest.testmod(transliterate)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("Щерев", "Shterev"),
        ("ЖЕЛЯЗКОВ", "ZHELYAZKOV"),
        ("София", "Sofia"),
        ("Мария", "Maria"),
        ("Юлия", "Yulia"),
        ("Стефан Щерев", "Stefan Shterev"),
        ("Юлиана", "Yuliana"),
        ("Ъглен", "Aglen"),
        ("Горна Оряховица", "Gorna Oryahovitsa"),
        ("Каменица", "Kamenitsa"),
        ("Христо Ботев", "Hristo Botev"),
        ("Щерю", "Shteryu"),
        ("Йордан", "Yordan"),
        ("Жеко", "Zheko"),
        ("Христо", "Hristo"),
        ("Цветелина", "Tsvetelina"),
        ("Георгиев", "Georgiev"),
    ],
)
def test_names_and_places_follow_the_transliteration_act(cyrillic: str, latin: str) -> None:
    assert bg_latin(cyrillic) == latin


def test_every_letter_of_the_alphabet_has_its_official_spelling() -> None:
    alphabet = "абвгдежзийклмнопрстуфхцчшщъьюя"
    official = [
        "a",
        "b",
        "v",
        "g",
        "d",
        "e",
        "zh",
        "z",
        "i",
        "y",
        "k",
        "l",
        "m",
        "n",
        "o",
        "p",
        "r",
        "s",
        "t",
        "u",
        "f",
        "h",
        "ts",
        "ch",
        "sh",
        "sht",
        "a",
        "y",
        "yu",
        "ya",
    ]
    assert [bg_latin(letter) for letter in alphabet] == official
    assert [bg_latin(letter.upper()) for letter in alphabet] == [o.capitalize() for o in official]


def test_ia_becomes_ia_only_at_the_end_of_a_word() -> None:
    assert bg_latin("Илияна") == "Iliyana"
    assert bg_latin("Мария и Лилия.") == "Maria i Lilia."
    assert bg_latin("Ия") == "Ia"


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("България", "Bulgaria"),
        ("БЪЛГАРИЯ", "BULGARIA"),
        ("българия", "bulgaria"),
        ("Република България", "Republika Bulgaria"),
        ("РЕПУБЛИКА БЪЛГАРИЯ", "REPUBLIKA BULGARIA"),
        ("Северна България", "Severna Bulgaria"),
        ("ПРОКУРАТУРА НА РЕПУБЛИКА БЪЛГАРИЯ - ГЛАВЕН ПРОКУРОР", "PROKURATURA NA REPUBLIKA BULGARIA - GLAVEN PROKUROR"),
        ("Виваком България - ЕАД", "Vivakom Bulgaria - EAD"),
        ("Радио-България", "Radio-Bulgaria"),
        ("гр. София, България", "gr. Sofia, Bulgaria"),
        ("„България“.", "„Bulgaria“."),
        ("България2025", "Bulgaria2025"),
    ],
)
def test_the_name_of_the_state_is_bulgaria_in_any_case_and_any_phrase(cyrillic: str, latin: str) -> None:
    # Transliteration Act 2009, Art. 6: the state's name keeps its traditional spelling
    assert bg_latin(cyrillic) == latin


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("български", "balgarski"),
        ("БЪЛГАРСКИ", "BALGARSKI"),
        ("българин", "balgarin"),
        ("Българка", "Balgarka"),
        ("Българово", "Balgarovo"),  # a village near Burgas
        ("Българене", "Balgarene"),  # villages near Lovech and Pleven
        ("Прабългария", "Prabalgaria"),  # the word contains България but is another word
        ("Старобългарски", "Starobalgarski"),
        ("Ъгълът", "Agalat"),
    ],
)
def test_words_built_on_the_name_follow_the_rules(cyrillic: str, latin: str) -> None:
    assert bg_latin(cyrillic) == latin


def test_anything_that_is_not_bulgarian_cyrillic_passes_through() -> None:
    assert bg_latin("ул. „Шипка“ № 7, ет. 2") == "ul. „Shipka“ № 7, et. 2"
    assert bg_latin("Ёлка Ivan 123") == "Ёlka Ivan 123"
    assert bg_latin("") == ""
