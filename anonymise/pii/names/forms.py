"""Every surface form a known person's name takes in a case note.

Social workers rarely write a name the way the register has it. In Bulgarian a child is addressed in
the vocative («Иване», «Марийо»), called by a diminutive («Гошо», «Деси»), the family is a plural
(«семейство Петрови»), a surname changes with sex (Петров / Петрова) and may be reduced to initials
(«М. Петрова»). Russian declines all three parts of a name in six cases («Ивану Петрову», «с Марией
Ивановной»). Either may be typed in Latin letters (``bg_latin``, ``ru_latin``).

>>> {"Иване", "Ваньо", "Петрови", "Петрова", "И. Петров", "Ivan Petrov"} <= bg_forms("Иван", "Петров")
True
>>> {"Ивану", "Петровым", "Ивана Петрова", "Ване", "Ivanu Petrovu"} <= ru_forms("Иван", "Петров")
True
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from anonymise.transliterate import bg_latin, ru_latin

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
#: A form of a name as its words: ("Иване", "Петров"), ("И.", "Петров"), ("И.Петров",).
Words = tuple[str, ...]
_VOWELS = set("аеиоуъюяэыё")


def _data_text(name: str) -> str:
    return resources.files("anonymise.pii.names").joinpath("data", name).read_text(encoding="utf-8")


@cache
def _table(name: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Return ``name → (column 2 alternatives, column 3 alternatives, …)`` of a ``|``-separated CSV."""
    rows = list(csv.reader(_data_text(name).splitlines()))[1:]
    return {row[0]: tuple(tuple(v for v in cell.split("|") if v) for cell in row[1:]) for row in rows if row}


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


@lru_cache(maxsize=65536)
def _latin_word(word: str, language: str) -> str:
    return bg_latin(word) if language == "bg" else ru_latin(word)


# --- Bulgarian ---------------------------------------------------------------------------------------------------


def bg_vocatives(given: str) -> set[str]:
    """Return the vocative forms of a Bulgarian given name (the name itself included when it is used so)."""
    explicit = _table("bg_given_forms.csv").get(given)
    if explicit and explicit[0]:
        return set(explicit[0])
    if not _cyrillic(given) or len(given) < 2:
        return {given}
    if given.endswith("ър"):
        return {given[:-2] + "ре"}
    if given.endswith(("ка", "ца")) and not given.endswith("ика"):
        return {given[:-1] + "е"}
    if given.endswith("ия"):
        return {given[:-1] + "йо", given[:-1] + "о"}
    if given.endswith("я") and given[-2] not in _VOWELS:
        return {given[:-1] + "ьо"}
    if given.endswith("а"):
        return {given[:-1] + "о"}
    if given[-1] in _VOWELS or given.endswith("й"):
        return {given}
    return {given + "е"}


def bg_diminutives(given: str) -> set[str]:
    """Return the everyday short forms of a Bulgarian given name listed in the table (may be empty)."""
    explicit = _table("bg_given_forms.csv").get(given)
    return set(explicit[1]) if explicit and len(explicit) > 1 else set()


def bg_surname_pair(family: str) -> set[str]:
    """Return the surname with its other-sex form (Петров ↔ Петрова, Петровски ↔ Петровска)."""
    out = {family}
    if family.endswith(("ова", "ева", "ина", "ска")):
        out.add(family[:-1] + ("и" if family.endswith("ска") else ""))
    elif family.endswith(("ов", "ев", "ин")):
        out.add(family + "а")
    elif family.endswith("ски"):
        out.add(family[:-1] + "а")
    return out


def bg_family_plurals(family: str) -> set[str]:
    """Return the family as a whole: Петров/Петрова → Петрови, Петровски → Петровски, Калинин → Калинини."""
    out: set[str] = set()
    for form in bg_surname_pair(family):
        if form.endswith(("ов", "ев", "ин")):
            out.add(form + "и")
        elif form.endswith("ски"):
            out.add(form)
    return out


def _initial(word: str) -> str:
    return word[:2] + "." if word[:2].lower() in {"дж", "дз"} else word[0] + "."


def _with_initials(given_forms: set[str], families: set[str], given: str, middle: str | None) -> set[Words]:
    out: set[Words] = set()
    gi = _initial(given)
    mi = _initial(middle) if middle else None
    for fam in families:
        out |= {(gi, fam), (fam, gi), (gi + fam,)}
        if mi:
            out |= {(gi, mi, fam), (gi + mi, fam), (fam, gi, mi), (fam, gi + mi)}
        for g in given_forms:
            out.add((g, fam))
            if mi:
                out.add((g, mi, fam))
    return out


def bg_forms(given: str, family: str | None = None, middle: str | None = None) -> set[str]:
    """Return every form of a Bulgarian name: single words (given, vocatives, diminutives, surnames,
    family plurals) and the multi-word combinations (full name, vocative + surname, initials), each also in
    the Streamlined System's Latin letters.

    >>> sorted(bg_forms("Мария") - {"Maria", "Mariyo", "Mario", "Mimi", "Mara", "Masha", "Marieta"})
    ['Мара', 'Мариета', 'Марийо', 'Марио', 'Мария', 'Маша', 'Мими']
    >>> {"Петрова", "Петрови", "Мария Иванова Петрова", "М. И. Петрова", "Петрова М."} <= bg_forms(
    ...     "Мария", "Петрова", "Иванова")
    True
    """
    return {" ".join(words) for words in bg_form_words(given, family, middle)}


def bg_form_words(given: str, family: str | None = None, middle: str | None = None) -> set[Words]:
    """Return the forms of ``bg_forms``, each as its words (what a lookup by words is built from)."""
    given_forms = {given} | bg_vocatives(given) | bg_diminutives(given)
    out: set[Words] = {(g,) for g in given_forms}
    families: set[str] = set()
    if family:
        families = bg_surname_pair(family)
        out |= {(f,) for f in families | bg_family_plurals(family)}
        out |= _with_initials(given_forms, families, given, middle)
    if middle:
        middles = bg_surname_pair(middle)
        out |= {(m,) for m in middles}
        for m in middles:
            out |= {(given, m)} | {(given, m, fam) for fam in families}
            out |= {(g, m) for g in bg_vocatives(given)}
    return _with_variants(out, "bg")


def bg_word_forms(given: str, family: str | None = None, middle: str | None = None) -> dict[str, frozenset[str]]:
    """Return the words the forms of ``bg_forms`` are made of, by how they may stand in a mention.

    ``words``: given name, vocatives, diminutives, both sexes' surname and middle name; ``alone``: the
    family plurals («Петрови» names the family, not one person); ``initials``: the letters of the given
    and middle names' initials (without the dot); ``common``: forms of a given name that is also a
    common noun. Each with its Latin spelling.
    """
    return _word_forms_cached("bg", given, family, middle)


def _with_variants(forms: set[Words], language: str) -> set[Words]:
    """Return the forms with their Latin spellings (and, in Russian, with ё written е), those of fewer
    than two letters left out."""
    # a name has a few dozen distinct words in hundreds of forms: spell each word once
    latin = {word: _latin_word(word, language) for words in forms for word in words}
    out = forms | {tuple(map(latin.__getitem__, words)) for words in forms}
    if language == "ru":
        yo = {word: _without_yo(word) for word in latin if "ё" in word or "Ё" in word}
        if yo:
            out |= {tuple([yo.get(word, word) for word in words]) for words in out if not yo.keys().isdisjoint(words)}
    return {words for words in out if len(words) > 1 or len(words[0].replace(".", "").replace(" ", "")) >= 2}


@lru_cache(maxsize=65536)
def _without_yo(word: str) -> str:
    return word.replace("ё", "е").replace("Ё", "Е")


# --- Russian ------------------------------------------------------------------------------------------------------


@cache
def morph() -> Any:
    """Return the shared pymorphy3 analyser (loaded once, ~0.3 s)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=65536)
def ru_gender(given: str, family: str | None = None, middle: str | None = None) -> str | None:
    """Return ``"femn"`` or ``"masc"`` guessed from the patronymic, surname or given name."""
    if middle:
        if middle.endswith(("вна", "чна", "шна")):
            return "femn"
        if middle.endswith("ич"):
            return "masc"
    if family and family.endswith(("ова", "ева", "ёва", "ина", "ына", "ская", "цкая", "ая")):
        return "femn"
    if family and family.endswith(("ов", "ев", "ёв", "ин", "ын", "ский", "цкий", "ой")):
        return "masc"
    for p in morph().parse(given):
        if "Name" in p.tag and p.tag.gender in ("masc", "femn"):
            return str(p.tag.gender)
    return "femn" if given.endswith(("а", "я")) else "masc"


@lru_cache(maxsize=65536)
def _ru_declensions_cached(word: str, kind: str, gender: str | None) -> frozenset[str]:
    return frozenset(_ru_declensions(word, kind, gender))


def ru_declensions(word: str, kind: str, gender: str | None) -> set[str]:
    """Return the six cases of a Russian name word (cached: pymorphy3's inflection is the costly part)."""
    return set(_ru_declensions_cached(word, kind, gender))


def _ru_declensions(word: str, kind: str, gender: str | None) -> set[str]:
    """Return the six singular cases of ``word`` (``kind`` = ``Name``, ``Surn`` or ``Patr``) in ``gender``;
    for a surname also the six plural cases (Петровы, Петровых …). Falls back to suffix rules."""
    capital = word[:1].isupper()
    out = {word}
    parses = [p for p in morph().parse(word) if kind in p.tag and "nomn" in p.tag]
    if gender:
        parses = [p for p in parses if p.tag.gender == gender] or parses
    if parses:
        parse = parses[0]
        numbers = ("sing", "plur") if kind == "Surn" else ("sing",)
        for number in numbers:
            for case in CASES:
                inflected = parse.inflect({number, case})
                if inflected is not None:
                    out.add(inflected.word)
    else:
        out |= _ru_rule_declensions(word.lower(), kind, gender)
    if kind == "Surn":
        out |= _ru_rule_declensions(word.lower(), kind, gender)
    return {w.capitalize() if capital else w for w in out}


def _ru_rule_declensions(word: str, kind: str, gender: str | None) -> set[str]:
    """Suffix rules for words pymorphy3 does not know."""
    if kind == "Surn":
        plural = set()
        if word.endswith(("ов", "ев", "ёв", "ин", "ын")):
            plural = {word + e for e in ("ы", "ых", "ым", "ыми")}
            return {word + e for e in ("а", "у", "ым", "е")} | plural
        if word.endswith(("ова", "ева", "ёва", "ина", "ына")):
            stem = word[:-1]
            return {word, stem + "ой", stem + "у"} | {stem + e for e in ("ы", "ых", "ым", "ыми")}
        if word.endswith(("ский", "цкий")):
            stem = word[:-2]
            return {stem + e for e in ("ого", "ому", "им", "ом", "ие", "их", "ими")}
        if word.endswith(("ская", "цкая")):
            stem = word[:-2]
            return {stem + e for e in ("ой", "ую", "ие", "их", "им", "ими")}
        return {word}
    if kind == "Patr":
        if word.endswith("ич"):
            return {word + e for e in ("а", "у", "ем")} | {word + "е"}
        if word.endswith("на"):
            stem = word[:-1]
            return {stem + e for e in ("ы", "е", "у", "ой")}
        return {word}
    if word.endswith("ия"):
        return {word[:-1] + e for e in ("и", "ю", "ей")}
    if word.endswith(("а", "я")):
        soft = word.endswith("я") or word[-2] in "гкхжшчщц"
        return {word[:-1] + e for e in (("и" if soft else "ы"), "е", ("ю" if word.endswith("я") else "у"), "ой")}
    if word.endswith(("й", "ь")):
        return {word[:-1] + e for e in ("я", "ю", "ем", "е")}
    if gender == "femn":
        return {word}
    return {word + e for e in ("а", "у", "ом", "е")}


def ru_diminutives(given: str) -> set[str]:
    """Return the everyday short forms of a Russian given name listed in the table (may be empty)."""
    explicit = _table("ru_diminutives.csv").get(given) or _table("ru_diminutives.csv").get(given.replace("ё", "е"))
    return set(explicit[0]) if explicit else set()


def _ru_case_of(word: str, kind: str, gender: str | None) -> dict[str, str]:
    """Return ``case → form`` so that the parts of a full name can be put in the same case."""
    return dict(_ru_cases(word, kind, gender))


@lru_cache(maxsize=65536)
def _ru_cases(word: str, kind: str, gender: str | None) -> tuple[tuple[str, str], ...]:
    """Return ``(case, form)`` pairs of ``_ru_case_of`` (cached: pymorphy3's inflection is the costly part)."""
    out: dict[str, str] = {}
    parses = [p for p in morph().parse(word) if kind in p.tag and "nomn" in p.tag]
    if gender:
        parses = [p for p in parses if p.tag.gender == gender] or parses
    if parses:
        for case in CASES:
            inflected = parses[0].inflect({"sing", case})
            if inflected is not None:
                out[case] = inflected.word.capitalize() if word[:1].isupper() else inflected.word
    return tuple(out.items())


def ru_forms(given: str, family: str | None = None, middle: str | None = None) -> set[str]:
    """Return every form of a Russian name: the six cases of the given name, diminutives, surname (also
    plural: Петровы) and patronymic; full names and «Имя Отчество» in each case; initials; ICAO Latin.

    >>> {"Марии", "Марию", "Марией", "Маше", "Марией Ивановной", "М. И. Петровой"} <= ru_forms(
    ...     "Мария", "Петрова", "Ивановна")
    True
    """
    return {" ".join(words) for words in ru_form_words(given, family, middle)}


def ru_word_forms(given: str, family: str | None = None, middle: str | None = None) -> dict[str, frozenset[str]]:
    """Return the words the forms of ``ru_forms`` are made of (see ``bg_word_forms``): every case of the
    given name and its diminutives, the surname (singular and plural) and the patronymic, initials, and
    ``common`` for the cases of a given name that is also a common noun (Вера → веру, вере)."""
    return _word_forms_cached("ru", given, family, middle)


def _word_forms_cached(language: str, given: str, family: str | None, middle: str | None) -> dict[str, frozenset[str]]:
    """Return ``bg_word_forms`` / ``ru_word_forms``, assembled from each part's forms (cached per part:
    given names and surnames recur from one record to the next, whole names rarely do)."""
    return {kind: frozenset().union(*parts) for kind, parts in word_form_parts(language, given, family, middle).items()}


def word_form_parts(
    language: str, given: str, family: str | None = None, middle: str | None = None
) -> dict[str, tuple[frozenset[str], ...]]:
    """Return the sets ``bg_word_forms`` / ``ru_word_forms`` are the unions of, one per part of the name.

    Each set is cached and returned as the same object whenever the part recurs, so whatever is derived
    from one part (lookup keys, say) can be cached by it.
    """
    if language == "ru":
        if family and not middle and family.endswith(("вич", "вна", "ична", "ич")):
            middle, family = family, None  # «Мария Ивановна»
        gender = ru_gender(given, family, middle)
    else:
        gender = None
    given_words = _part_forms(language, "given", given, gender)
    words = [given_words]
    alone: tuple[frozenset[str], ...] = ()
    if family:
        words.append(_part_forms(language, "family", family, gender))
        alone = (_part_forms(language, "plural", family, gender),)
    if middle:
        words.append(_part_forms(language, "middle", middle, gender))
    initials = [_part_forms(language, "initial", given, gender)]
    if middle:
        initials.append(_part_forms(language, "initial", middle, gender))
    from anonymise.pii.names.gazetteer import _COMMON_NAMES  # the gazetteer imports this module

    common = (given_words,) if given.lower() in _COMMON_NAMES.get(language, ()) else ()
    return {"words": tuple(words), "alone": alone, "initials": tuple(initials), "common": common}


@lru_cache(maxsize=65536)
def _part_forms(language: str, part: str, word: str, gender: str | None) -> frozenset[str]:
    """Return the forms of one part of a name (``given``, ``family``, ``plural``, ``middle`` or ``initial``),
    with their Latin spellings (and, in Russian, ё written е)."""
    if language == "ru":
        if part == "given":
            forms = ru_declensions(word, "Name", gender)
            for dim in ru_diminutives(word):
                forms |= ru_declensions(dim, "Name", gender)
        elif part == "family":
            forms = ru_declensions(word, "Surn", gender)
        elif part == "middle":
            forms = ru_declensions(word, "Patr", gender)
        elif part == "initial":
            forms = {word[0]}
        else:  # Russian family plurals are cases of the surname
            forms = set()
    elif part == "given":
        forms = {word} | bg_vocatives(word) | bg_diminutives(word)
    elif part in ("family", "middle"):
        forms = bg_surname_pair(word)
    elif part == "plural":
        forms = bg_family_plurals(word)
    else:
        forms = {_initial(word)[:-1]}
    forms |= {_latin_word(form, language) for form in forms}
    if language == "ru":
        forms |= {_without_yo(form) for form in forms}
    return frozenset(forms)


def ru_form_words(given: str, family: str | None = None, middle: str | None = None) -> set[Words]:
    """Return the forms of ``ru_forms``, each as its words (what a lookup by words is built from)."""
    if family and not middle and family.endswith(("вич", "вна", "ична", "ич")):
        middle, family = family, None  # «Мария Ивановна»
    gender = ru_gender(given, family, middle)
    given_forms = ru_declensions(given, "Name", gender)
    for dim in ru_diminutives(given):
        given_forms |= ru_declensions(dim, "Name", gender)
    family_forms = ru_declensions(family, "Surn", gender) if family else set()
    middle_forms = ru_declensions(middle, "Patr", gender) if middle else set()
    out: set[Words] = {(word,) for word in given_forms | family_forms | middle_forms}
    g_case = _ru_case_of(given, "Name", gender) or {"nomn": given}
    f_case = _ru_case_of(family, "Surn", gender) if family else {}
    m_case = _ru_case_of(middle, "Patr", gender) if middle else {}
    gi = given[0] + "."
    mi = middle[0] + "." if middle else ""
    for case, g in g_case.items():
        f = f_case.get(case, family) if family else None
        m = m_case.get(case, middle) if middle else None
        if m:
            out.add((g, m))
        if f:
            out |= {(g, f), (f, g), (gi, f), (f, gi), (gi + f,)}
            if m:
                out |= {(g, m, f), (f, g, m), (gi, mi, f), (gi + mi, f)}
                out |= {(f, gi, mi), (f, gi + mi)}
    # case-mismatched pairs (a Latin-normalised register often gives «Петрову Иван»): single words cover them
    return _with_variants(out, "ru")
