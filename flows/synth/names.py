"""Personal names of Bulgarian, Roma and Turkish, foreign and Russian families, and their forms.

Bulgarian surnames end in -ов/-ев/-ски/-ин for men and -ова/-ева/-ска/-ина for women; the middle
name is the father's given name turned into the same shape (Иван → Иванов/Иванова). Turkish and
Roma surnames often lack the suffix and then do not change for women (Али, Ахмед). Russian
patronymics end in -ович/-евич/-овна/-евна, with irregular ones (Илья → Ильич, Юрий → Юрьевич) read
from ``data/ru_patronymics.csv``. Social workers write names in notes as vocatives (Иване, Марийо),
diminutives (Гошо, Митко, Деси) and, in Russian, in the dative and genitive (Ивану, Марии).

The lists are in ``data/*.txt`` (one name per line). Functions here take one name; the generator
applies them to the few hundred distinct values of a column (:func:`map_unique`), never per row.

>>> feminine("Петров", "bg"), feminine("Чипровски", "bg"), feminine("Али", "bg")
('Петрова', 'Чипровска', 'Али')
>>> patronymic("Петър", female=False, language="bg"), patronymic("Георги", female=True, language="bg")
('Петров', 'Георгиева')
>>> patronymic("Илья", female=True, language="ru")
'Ильинична'
>>> vocative("Иван", "bg"), vocative("Мария", "bg"), vocative("Петър", "bg"), vocative("Радка", "bg")
('Иване', 'Марийо', 'Петре', 'Радке')
>>> diminutive("Георги", "bg"), diminutive("Десислава", "bg"), diminutive("Мария", "ru")
('Гошо', 'Деси', 'Маша')
>>> dative("Иван", "ru"), genitive("Мария", "ru"), dative("Сергей", "ru"), genitive("Ольга", "ru")
('Ивану', 'Марии', 'Сергею', 'Ольги')
>>> family_plural("Петров", "bg"), family_plural("Иванов", "ru"), family_plural("Вишневский", "ru")
('Петрови', 'Ивановы', 'Вишневские')
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources

import polars as pl

from anonymise.transliterate import bg_latin

#: Given names that are also common nouns (rose, faith, hope, glory, colour, love): a trap for matching.
COMMON_NOUNS = ("Роза", "Вяра", "Надежда", "Слава", "Цвета", "Любов", "Любовь", "Вера")

_HUSHING = "гкхжшщч"
_VOWELS = "аеиоуъюяэыё"
_BG_PATRONYMIC = {"Павел": "Павлов", "Добри": "Добрев"}  # fleeting vowel, old -ев form


def _data(name: str) -> bytes:
    return resources.files("flows.synth").joinpath("data", name).read_bytes()


@cache
def name_list(name: str) -> tuple[str, ...]:
    """Return the names of ``data/<name>.txt`` in file order (e.g. ``bg_male``, ``ru_surnames``)."""
    return tuple(line.strip() for line in _data(f"{name}.txt").decode("utf-8").splitlines() if line.strip())


@cache
def foreign_names(origin: str, kind: str) -> tuple[str, ...]:
    """Return the ``male``, ``female`` or ``surname`` names of foreign parents (``arab``, ``latin``)."""
    table = pl.read_csv(_data("foreign_names.csv"))
    return tuple(table.filter((pl.col("origin") == origin) & (pl.col("kind") == kind))["name"].to_list())


@cache
def _table(name: str) -> dict[str, tuple[str, ...]]:
    rows = pl.read_csv(_data(name)).rows()
    return {row[0]: tuple(row[1:]) for row in rows}


def feminine(surname: str, language: str) -> str:
    """Return the female form of a male surname (unchanged when it has no Slavic suffix)."""
    if language == "ru":
        if surname.endswith(("ский", "цкий")):
            return surname[:-2] + "ая"
        if surname.endswith("ой"):
            return surname[:-2] + "ая"
        if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
            return surname + "а"
        return surname
    if surname.endswith("ски"):
        return surname[:-1] + "а"
    if surname.endswith(("ов", "ев")):
        return surname + "а"
    return surname


def patronymic(father: str, *, female: bool, language: str) -> str:
    """Return the middle name a child gets from the father's given name."""
    if language == "ru":
        male_form, female_form = _table("ru_patronymics.csv")[father]
        return female_form if female else male_form
    if father in _BG_PATRONYMIC:
        stem = _BG_PATRONYMIC[father]
    elif father.endswith("ър"):
        stem = father[:-2] + "ров"
    elif father.endswith("ьо"):
        stem = father[:-2] + "ев"
    elif father.endswith(("чо", "ия", "й")):
        stem = father[:-1] + "ев"
    elif father.endswith("и"):
        stem = father + "ев"
    elif father.endswith(("а", "о", "е")):
        stem = father[:-1] + "ов"
    elif father.endswith(("ж", "ш", "ч", "щ", "ц")):
        stem = father + "ев"
    else:
        stem = father + "ов"
    return stem + "а" if female else stem


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def vocative(given: str, language: str) -> str:
    """Return the form used to address a person (Bulgarian vocative; Russian uses the nominative)."""
    if language != "bg" or not _cyrillic(given):
        return given
    explicit = _table("bg_forms.csv").get(given)
    if explicit:
        return explicit[0]
    if given.endswith("ър"):
        return given[:-2] + "ре"
    if given.endswith(("ка", "ца")) and not given.endswith("ика"):
        return given[:-1] + "е"
    if given.endswith("ия"):
        return given[:-1] + "йо"
    if given.endswith("я") and len(given) > 1 and given[-2] not in _VOWELS:
        return given[:-1] + "ьо"
    if given.endswith("а"):
        return given[:-1] + "о"
    if given[-1] in _VOWELS or given.endswith("й"):
        return given
    return given + "е"


def diminutive(given: str, language: str) -> str:
    """Return the everyday short form of a given name (the name itself when none is listed)."""
    table = _table("bg_forms.csv" if language == "bg" else "ru_forms.csv")
    forms = table.get(given)
    return forms[-1] if forms else given


def _ru_case(given: str, dative_case: bool) -> str:
    if not _cyrillic(given):
        return given
    forms = _table("ru_forms.csv").get(given)
    if forms:
        return forms[0] if dative_case else forms[1]
    if given.endswith("ия"):
        return given[:-1] + "и"
    if given.endswith(("а", "я")):
        if dative_case:
            return given[:-1] + "е"
        return given[:-1] + ("и" if given.endswith("я") or given[-2] in _HUSHING else "ы")
    if given.endswith(("й", "ь")):
        return given[:-1] + ("ю" if dative_case else "я")
    return given + ("у" if dative_case else "а")


def dative(given: str, language: str) -> str:
    """Return the Russian dative of a given name (to whom: Ивану, Марии); Bulgarian has no case."""
    return _ru_case(given, True) if language == "ru" else given


def genitive(given: str, language: str) -> str:
    """Return the Russian genitive of a given name (whose: Ивана, Марии); Bulgarian has no case."""
    return _ru_case(given, False) if language == "ru" else given


def family_plural(surname: str, language: str) -> str:
    """Return the family as a whole (Петрови, Ивановы) from the male surname."""
    if language == "ru":
        if surname.endswith(("ский", "цкий")):
            return surname[:-2] + "ие"
        if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
            return surname + "ы"
        return surname
    if surname.endswith(("ов", "ев")):
        return surname + "и"
    return surname


_RU_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def email_latin(text: str, language: str) -> str:
    """Return a name as people type it in an e-mail address: lower-case Latin letters only.

    >>> email_latin("Щерев", "bg"), email_latin("Фёдоров", "ru")
    ('shterev', 'fedorov')
    """
    lower = text.lower()
    latin = bg_latin(lower) if language == "bg" else "".join(_RU_LATIN.get(ch, ch) for ch in lower)
    return "".join(ch for ch in latin if ch.isascii() and ch.isalpha())


def map_unique(values: pl.Series, fn: Callable[[str], str]) -> pl.Series:
    """Return ``fn`` applied to every value of a string column, computed once per distinct value."""
    distinct = values.drop_nulls().unique(maintain_order=True)
    mapped = pl.Series([fn(v) for v in distinct.to_list()], dtype=pl.String)
    return values.replace_strict(distinct, mapped, default=None, return_dtype=pl.String)
