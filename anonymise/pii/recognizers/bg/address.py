"""Bulgarian postal addresses in free text, one span per address run."""

from __future__ import annotations

from presidio_analyzer import Pattern

from anonymise.pii.recognizers.pattern import TextPatternRecognizer

_WORD = r"[А-Я][а-я]+"
# Two-word place names start with one of these; any other capitalised word after a place name is not
# part of it (it is usually the next sentence's subject or a person's name).
_TWO_WORD_STARTS = (
    r"(?:Велико|Стара|Нова|Горна|Долна|Горно|Долно|Горни|Долни|Малко|Малка|Голямо|Голяма|Бяла|Свети|Света)\s"
)
_PLACE = rf"(?:{_TWO_WORD_STARTS})?{_WORD}(?:-{_WORD})?(?:\s{_WORD}(?=[,.;)]|\s*$))?"  # «с. Бели Осъм,»
_QUOTED = r"[„“\"«][^„“”\"«»\n]{1,40}[“”\"»]"
_NUMBER = r"\d{1,4}(?:\s?[А-Яа-я](?![а-я]))?"
# An unquoted street or quarter name: an optional initial («Н. Вапцаров»), one or two capitalised words,
# or an ordinal («5-та»).
_NAME = rf"(?:{_QUOTED}|(?:[А-Я]\.\s?)?{_WORD}(?:\s{_WORD})?|\d{{1,3}}-?[а-я]{{1,2}})"

_STARTS = [
    rf"(?:[Гг]р\.|[Гг]рад)\s?{_PLACE}",
    rf"(?:с\.|[Сс]ело)\s?{_PLACE}",  # lower-case «с» without a dot is the preposition
    rf"(?:[Жж]\.\s?к\.|[Жж]к|[Кк]в\.)\s?{_NAME}(?:\s\d{{1,3}}(?![\d.]))?",
    rf"(?:[Уу]л\.|[Бб]ул\.|[Пп]л\.|[Уу]лица|[Бб]улевард)\s?{_NAME}(?:\s?(?:№\s?)?{_NUMBER})?",
    r"(?:[Пп]\.\s?к\.|[Пп]ощенски код)\s?\d{4}",
    rf"[Бб]л\.\s?{_NUMBER}",
]
_CONTINUATIONS = _STARTS + [
    r"[Вв]х\.\s?(?:[А-Я]|\d{1,2})(?![\w])",
    r"[Ее]т\.\s?\d{1,2}",
    r"[Аа]п\.\s?\d{1,4}",
    rf"№\s?{_NUMBER}",
    r"\d{4}(?=\s?(?:[Гг]р\.|[Гг]рад|с\.))",  # a postcode written before the place
]
_RUN = rf"(?-i:(?<![\w.])(?:{'|'.join(_STARTS)})(?:,?\s(?:{'|'.join(_CONTINUATIONS)}))*)"


class BgAddressRecognizer(TextPatternRecognizer):
    """Find a Bulgarian address run: «гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, ет. 4, ап. 11» is one span.

    A run starts at a place (гр., с.), a quarter (ж.к., кв.), a street (ул., бул., пл.), a postcode
    (п.к. 7000) or a block, and goes on through commas over entrance, floor, flat and numbers. The
    pattern is case-sensitive: the place after «с.» must be capitalised.
    """

    PATTERNS = [Pattern("адрес", _RUN, 0.85)]
    CONTEXT = ["адрес", "адреса", "адрес:", "живее", "живеят", "постоянен", "настоящ"]

    def __init__(self, supported_language: str = "bg") -> None:
        super().__init__(
            supported_entity="ADDRESS",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
        )
