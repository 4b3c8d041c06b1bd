"""Russian postal addresses in free text, one span per address run."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.pii.recognizers.pattern import TextPatternRecognizer

_WORD = r"[А-ЯЁ][а-яё]+"
_PLACE = rf"{_WORD}(?:-{_WORD})*(?:\s{_WORD}(?=[,.;)]|\s*$))?"  # «Красный Яр,»: a second word ends the part
_QUOTED = r"[«„\"][^«»„“\"\n]{1,40}[»“\"]"
# A street name: an optional initial, one or two capitalised words, or a number and a word («22 Партсъезда»).
_HYPHENATED = rf"{_WORD}(?:-{_WORD})*"  # «Стара-Загора», «Ново-Садовая»
_NAME = rf"(?:{_QUOTED}|(?:[А-ЯЁ]\.\s?)?{_HYPHENATED}(?:\s{_HYPHENATED})?|\d{{1,3}}(?:-?[а-я]{{1,2}})?\s{_WORD})"
_NUMBER = r"\d{1,4}(?:\s?[а-яА-Я](?![а-я]))?(?:/\d{1,4})?"

_STARTS = [
    rf"(?<!\d\s)(?<!\d)(?:г\.|[Гг]ород)\s?{_PLACE}",  # not «2019 г.»: after a number «г.» is a year
    rf"(?:с\.|пос\.|пгт\.?|д\.|[Сс]ело|[Пп]оселок)\s?{_PLACE}",  # capital required: «с» is a preposition
    rf"(?:[Уу]л\.|[Уу]лица|пр-т|[Пп]р-кт|[Пп]росп\.|[Пп]роспект|[Пп]ер\.|[Пп]ереулок|[Бб]-р|[Шш]\.|[Нн]аб\.)\s?{_NAME}",
    rf"{_WORD}(?:ая|ий) (?:обл\.|область|р-н|район)",
    rf"(?:обл\.|[Мм]кр\.|[Мм]икрорайон)\s?{_PLACE}",
    r"(?:[Ии]ндекс:?)\s?\d{6}",
    rf"\d{{6}}(?=,?\s?(?:г\.|[Гг]ород|с\.|пос\.|{_WORD}ая обл))",
]
_CONTINUATIONS = _STARTS + [
    rf"(?:д\.|[Дд]ом)\s?{_NUMBER}",
    rf"(?:корп\.|к\.|стр\.)\s?{_NUMBER}",
    r"(?:кв\.|[Кк]вартира)\s?\d{1,4}",
    r"(?:под\.|[Пп]одъезд|эт\.|этаж)\s?\d{1,2}",
    r"\d{6}",
]
_RUN = rf"(?-i:(?<![\w.])(?:{'|'.join(_STARTS)})(?:,?\s(?:{'|'.join(_CONTINUATIONS)}))*)"


class RuAddressRecognizer(TextPatternRecognizer):
    """Find a Russian address run: «г. Самара, ул. Ленина, д. 5, корп. 2, кв. 17» is one span.

    A run starts at a place (г., с., пос.), a street (ул., пр-т, пер.), a region («Самарская обл.»), or a
    six-digit postcode before a place or after «индекс», and goes on through house, block and flat. The
    pattern is case-sensitive: the place after «с.» or «г.» must be capitalised, and «г.» after a
    number is a year.
    """

    PATTERNS = [Pattern("адрес", _RUN, 0.85)]
    CONTEXT = ["адрес", "адресу", "адрес:", "проживает", "проживают", "зарегистрирован", "зарегистрирована"]

    def __init__(self, supported_language: str = "ru") -> None:
        super().__init__(
            supported_entity="ADDRESS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )
