"""Person names in free text found from name lists and surname suffixes, without a statistical model.

A word counts only when it is capitalised like a name (``Иван``, or all capitals ``ИВАН`` of three or more
letters): «роза» is a flower, «Роза» may be a woman. A word is a name token when it is

* a known given name (Bulgarian, Turkish/Roma and Arabic given names used in Bulgaria, or Russian),
  also as a vocative, diminutive, Russian case form or Latin spelling;
* a known surname, or a word ending in a surname suffix (−ов/−ев/−ски/−ин and their female and plural
  forms; in Russian also −ович/−евич/−овна/−евна/−ский/−ская and their cases) that is not a common word.

Common words that are also names (Роза, Вяра, Надежда, Слава, Цвета …) and suffix words at the start of
a sentence (where any word is capitalised) are *weak*: they count only next to another name token or
after a title or relation word («детето», «майката», «г-жа»). Adjacent name tokens (and initials before or
after them) merge into one span: «Мария Иванова Петрова», «М. Петрова».

Scores: a given name with a surname 0.85, two other name tokens 0.75, a lone given name 0.6, a lone
surname-shaped word 0.5; a weak word after a title 0.6.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.pii.names.forms import (
    _data_text,
    _table,
    bg_diminutives,
    bg_vocatives,
    morph,
    ru_declensions,
    ru_diminutives,
)
from anonymise.transliterate import bg_latin, ru_latin

ENTITY = "PERSON"

_WORD = re.compile(r"\b[^\W\d_]\.|[^\W\d_]+(?:[-‐][^\W\d_]+)*")


def _upper_letters() -> str:
    """Return a character class of the letters ``str.isupper`` calls upper case (Basic Multilingual Plane)."""
    letter = re.compile(r"[^\W\d_]")
    codes = [c for c in range(0x10000) if chr(c).isupper() and letter.match(chr(c))]
    ranges: list[tuple[int, int]] = []
    for c in codes:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return (
        "["
        + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
        + "]"
    )


_UPPER = _upper_letters()
#: The tokens of ``_WORD`` that start with a capital, found without stepping through the others: only
#: those can be names, and most words of a note are not capitalised.
_CAPITALISED = re.compile(rf"\b{_UPPER}\.|(?<![^\W\d_])(?<![^\W\d_][-‐]){_UPPER}[^\W\d_]*(?:[-‐][^\W\d_]+)*")
#: The ``_WORD`` token that ends where only spaces (or nothing) are left before a position.
_WORD_BEFORE = re.compile(
    r"(?:\b[^\W\d_]\.|(?<![^\W\d_])(?<![^\W\d_][-‐])[^\W\d_]+(?:[-‐][^\W\d_]+)*)(?=[ \u00a0\t]{0,3}\Z)"
)

_BG_SUFFIXES: tuple[str, ...] = (
    "ов",
    "ев",
    "ова",
    "ева",
    "ски",
    "ска",
    "ин",
    "ина",
    "ови",
    "еви",
    "ини",
    "ович",
    "евич",
)
_BG_LATIN_SUFFIXES: tuple[str, ...] = ("ov", "ev", "ova", "eva", "ski", "ska", "in", "ina", "ovi", "evi")
_RU_SUFFIXES: tuple[str, ...] = (
    "ов", "ев", "ёв", "ин", "ын", "ова", "ева", "ёва", "ина", "ына", "ову", "еву", "ину", "овым", "евым", "иным",
    "овой", "евой", "иной", "ове", "еве", "ине", "овы", "евы", "ины", "овых", "евых", "иных", "ович", "евич",
    "овича", "евича", "овичу", "евичу", "овичем", "евичем", "овиче", "евиче", "овна", "евна", "овны", "евны",
    "овне", "евне", "овну", "евну", "овной", "евной", "ична", "ичны", "ичне", "ичну", "ичной", "ский", "ская",
    "ского", "скому", "ским", "ском", "скую", "ской", "цкий", "цкая", "цкого", "цкому", "цким", "цкой", "цкую",
)  # fmt: skip
_RU_LATIN_SUFFIXES: tuple[str, ...] = (
    "ov",
    "ev",
    "in",
    "ova",
    "eva",
    "ina",
    "ovich",
    "evich",
    "ovna",
    "evna",
    "skii",
    "skaia",
)

#: Given names that are also common words: names only next to another name or after a title word.
_COMMON_NAMES = {
    "bg": {
        "роза", "вяра", "надежда", "слава", "цвета", "злата", "лилия", "калина", "мира", "радост", "любов",
        "жива", "румяна", "зорница", "звезда", "искра", "младен", "ангел", "благой", "дар", "виолета", "ружа",
        "невена", "латинка", "камелия", "дафина", "стоян", "добри", "сали", "кара", "демир", "али", "нур",
        "сара", "стан", "рада", "зори", "popa", "matei", "mira", "roza", "vyara", "nadezhda", "slava", "tsveta",
    },
    "ru": {
        "роза", "вера", "надежда", "любовь", "слава", "лилия", "мир", "лев", "роман", "ангелина", "майя", "зоя",
        "марта", "нина", "юлия", "ася", "том", "ян", "вика", "настя", "соня", "злата", "мила", "нелли", "софа",
    },
}  # fmt: skip

#: Capitalised words with a surname suffix that are not names (institutions, places, sentence starts).
_STOP = {
    "bg": {
        "готов", "готова", "готови", "нов", "нова", "нови", "основа", "основи", "слова", "дъбова", "отново",
        "един", "една", "господин", "магазин", "бензин", "карантин", "витамин", "камин", "начин", "син",
        "причина", "година", "години", "истина", "картина", "машина", "родина", "малина", "половина", "община",
        "общини", "медицина", "дисциплина", "градина", "градини", "стотина", "седмина", "мнозина", "повечина",
        "български", "българска", "детски", "детска", "английски", "английска", "социални", "лични", "видин",
        "светлина", "тишина", "глина", "витрина", "кабина", "клиника", "дружина", "вина", "целина",
        "гадина", "лев", "лева", "дева", "мъжки", "женски", "женска", "майски", "градски", "градска", "селски",
        "селска", "общински", "общинска", "министерски", "столична", "такова", "какво", "ново", "преди", "здрави",
        "здрав", "здрава", "бащин", "бащина", "майчин", "майчина", "дядов", "дядова", "кръстник", "чужбина",
        "пеленачета", "любов", "сестрина", "роднина", "роднини", "ски", "вечерни", "евтина", "скъпа",
        "сурова", "сурови", "готовност", "петков", "курсов", "курсова", "домашни", "домашна", "пълнолетни",
        "непълнолетни", "парични", "трудови", "здравни", "хранителни", "извънредни", "пари", "приоритети",
        "зъболекарски", "логопедски", "психологически", "педагогически", "неонатологи", "детегледачи", "кв",
    },
    "ru": {
        "готов", "готова", "готовы", "здоров", "здорова", "здоровы", "нов", "основ", "основа", "слов", "снов",
        "магазин", "бензин", "карантин", "витамин", "мужчин", "господин", "один", "причин", "машин", "картин",
        "половин", "годов", "часов", "домов", "детский", "детская", "детского", "детской", "городской",
        "городская", "областной", "московский", "самарский", "самарская", "сызранский", "российский",
        "российская", "социальный", "русский", "русская", "каков", "таков", "никаков", "кроме", "сначала",
        "иных", "ином", "иной", "иные", "стариков", "врачей", "специалистов", "документов", "родов", "ребёнок",
    },
}  # fmt: skip

#: Words after which even a weak name token is a name («детето Роза», «г-жа Вяра»).
_TITLES = {
    "bg": {
        "детето", "дете", "майката", "майка", "бащата", "баща", "г-жа", "г-н", "госпожа", "господин", "лелята",
        "леля", "чичото", "чичо", "бабата", "баба", "дядото", "дядо", "братът", "брат", "сестрата", "сестра",
        "синът", "дъщерята", "дъщеря", "момичето", "момчето", "бебето", "съпругата", "съпругът", "партньорът",
        "партньорката", "доведената", "кака", "батко", "каката", "баткото", "наречена", "наречен", "казва",
        "работник", "работничка", "психолог", "психологът", "логопед", "логопедът", "медиатор", "медиаторът",
        "д-р", "др", "семейство", "семейството", "на",
    },
    "ru": {
        "ребёнок", "ребенок", "мать", "мама", "матери", "отец", "отца", "папа", "бабушка", "дедушка", "сын",
        "сына", "дочь", "дочери", "брат", "сестра", "тётя", "тетя", "дядя", "г-жа", "г-н", "гражданка",
        "гражданин", "госпожа", "господин", "агент", "агента", "психолог", "семья", "семьи", "семье", "зовут",
        "девочка", "мальчик", "супруга", "супруг",
    },
}  # fmt: skip
_TITLES["bg"] -= {"на"}  # «на» precedes too many ordinary capitalised words


def _lines(name: str) -> list[str]:
    return [line.strip() for line in _data_text(name).splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Lexicon:
    """Lower-cased name words of one language."""

    given: frozenset[str]
    surnames: frozenset[str]
    common_names: frozenset[str]
    stop: frozenset[str]
    suffixes: tuple[str, ...]
    latin_suffixes: tuple[str, ...]


@cache
def lexicon(language: str) -> Lexicon:
    """Return the name lists of ``language`` (``bg`` or ``ru``), built once."""
    given: set[str] = set()
    surnames: set[str] = set()
    if language == "bg":
        names = _lines("bg_given.txt") + _lines("bg_turkish_roma_given.txt") + _lines("latin_given.txt")
        # a name whose vocatives and diminutives the forms table lists is a given name too
        names += sorted(_table("bg_given_forms.csv"))
        for name in names:
            given |= {name} | bg_vocatives(name) | bg_diminutives(name)
        for name in _lines("bg_surnames.txt") + _lines("other_surnames.txt"):
            surnames |= {name, name + "а", name + "и"} if name.endswith(("ов", "ев")) else {name}
        given |= {bg_latin(w) for w in given}
        surnames |= {bg_latin(w) for w in surnames}
        suffixes, latin_suffixes = _BG_SUFFIXES, _BG_LATIN_SUFFIXES
    else:
        for name in _lines("ru_given.txt"):
            gender = "femn" if name.endswith(("а", "я", "ь")) and name not in {"Илья", "Никита"} else "masc"
            given |= ru_declensions(name, "Name", gender)
            for dim in ru_diminutives(name):
                given |= ru_declensions(dim, "Name", gender)
        for name in _lines("ru_surnames.txt"):
            surnames |= ru_declensions(name, "Surn", "masc")
            female = name[:-2] + "ая" if name.endswith(("ский", "цкий")) else name + "а"
            surnames |= ru_declensions(female, "Surn", "femn")
        given |= {ru_latin(w) for w in given} | {w.replace("ё", "е") for w in given}
        surnames |= {ru_latin(w) for w in surnames} | {w.replace("ё", "е") for w in surnames}
        suffixes, latin_suffixes = _RU_SUFFIXES, _RU_LATIN_SUFFIXES
    common = _COMMON_NAMES[language]
    return Lexicon(
        given=frozenset(w.lower() for w in given),
        surnames=frozenset(w.lower() for w in surnames),
        common_names=frozenset(common),
        stop=frozenset(_STOP[language]),
        suffixes=tuple(sorted(suffixes, key=len, reverse=True)),
        latin_suffixes=latin_suffixes,
    )


def _name_cased(word: str) -> bool:
    letters = word.replace("-", "").replace("‐", "")
    if not letters or not letters[0].isupper():
        return False
    if letters.isupper():
        return len(letters) >= 3
    return all(part[:1].isupper() and part[1:].islower() for part in re.split(r"[-‐]", word) if part)


@lru_cache(maxsize=50_000)
def _ru_tags(word: str) -> tuple[bool, bool, bool]:
    """Return (dictionary given name, dictionary surname/patronymic, a known common word) for Russian."""
    name = surname = common = False
    for p in morph().parse(word):
        if not p.is_known:
            continue
        if "Name" in p.tag:
            name = True
        elif "Surn" in p.tag or "Patr" in p.tag:
            surname = True
        elif "Geox" not in p.tag and "Orgn" not in p.tag and "Abbr" not in p.tag and p.score >= 0.3:
            common = True
    return name, surname, common


# token kinds
_GIVEN, _SURNAME, _SUFFIX, _WEAK, _INITIAL = "given", "surname", "suffix", "weak", "initial"


@lru_cache(maxsize=200_000)
def word_kind(word: str, language: str, sentence_start: bool) -> str | None:
    """Return what a word of text is as a name token (given, surname, suffix, weak, initial) or None.

    Cached: the same words recur in every note, and their kind depends on nothing else.
    """
    if len(word) == 2 and word[1] == "." and word[0].isupper():
        return _INITIAL
    if not _name_cased(word):
        return None
    lex = lexicon(language)
    parts = [p for p in re.split(r"[-‐]", word.lower()) if p]
    kinds = [_part_kind(p, lex, language == "ru", sentence_start) for p in parts]
    for kind in (_GIVEN, _SURNAME, _SUFFIX, _WEAK):
        if kind in kinds:
            return kind
    return None


def _part_kind(low: str, lex: Lexicon, ru: bool, sentence_start: bool) -> str | None:
    if low in lex.common_names:
        return _WEAK
    if low in lex.given:
        return _GIVEN
    if low in lex.surnames:
        return _SURNAME
    if low in lex.stop or len(low) < 4:
        return None
    if ru and any("\u0400" <= ch <= "\u04ff" for ch in low):
        name, surname, common = _ru_tags(low)
        if name and not common:
            return _GIVEN
        if surname:
            return _SUFFIX if not sentence_start else _WEAK
    suffixed = low.endswith(lex.suffixes) or (low.isascii() and low.endswith(lex.latin_suffixes))
    if not suffixed:
        return None
    if ru and _ru_tags(low)[2]:
        return None  # a known common word («Готов», «Здорова»)
    return _WEAK if sentence_start else _SUFFIX


class GazetteerNameRecognizer(EntityRecognizer):
    """Presidio recognizer of person names from name lists and surname suffixes (``bg`` or ``ru``)."""

    def __init__(self, language: str = "bg") -> None:
        if language not in ("bg", "ru"):
            raise ValueError(f"no name lists for language {language!r}")
        self._label = f"GazetteerNameRecognizer_{language}"
        super().__init__(supported_entities=[ENTITY], name=self._label, supported_language=language)

    def load(self) -> None:
        lexicon(self.supported_language)

    # -- analysis ------------------------------------------------------------------------------------------
    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        return list(self._spans(text))

    def _spans(self, text: str) -> Iterable[RecognizerResult]:
        tokens: list[tuple[int, int, str, str | None]] = []
        language = self.supported_language
        # only a capitalised word can be a name token; where its sentence starts matters only then. Words
        # in between need not be read: a lower-case word between two capitalised ones keeps them apart.
        for m in _CAPITALISED.finditer(text):
            start, end, word = m.start(), m.end(), m.group()
            tokens.append((start, end, word, word_kind(word, language, _sentence_start(text, start))))
        i = 0
        titles = _TITLES[self.supported_language]
        while i < len(tokens):
            if tokens[i][3] is None:
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and tokens[j + 1][3] and _joined(text, tokens[j][1], tokens[j + 1][0]):
                j += 1
            group = tokens[i : j + 1]
            if institution_before(text, group[0][0]):
                i = j + 1  # «ОУ „Любен Каравелов“», «ЦНСТ „Надежда“»: a school or centre named after someone
                continue
            result = self._score(group, False)
            if result != self._score(group, True):  # only then does a title before the name matter
                previous = _word_before(text, tokens[i][0]).lower()
                result = self._score(group, previous in titles or previous.rstrip(".") in titles)
            if result is not None:
                start = group[0][0]
                end = group[-1][1]
                # trailing initials are kept («Петрова М.»), leading ones too («М. Петрова»)
                yield RecognizerResult(
                    ENTITY,
                    start,
                    end,
                    result,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self._label,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    },
                )
            i = j + 1

    @staticmethod
    def _score(group: list[tuple[int, int, str, str | None]], after_title: bool) -> float | None:
        kinds = [t[3] for t in group]
        strong = [k for k in kinds if k in (_GIVEN, _SURNAME, _SUFFIX)]
        words = [k for k in kinds if k != _INITIAL]
        if not words:
            return None
        if not strong:
            return 0.6 if after_title else None
        has_given = _GIVEN in kinds
        has_family = _SURNAME in kinds or _SUFFIX in kinds
        if has_given and has_family:
            return 0.85
        if len(words) >= 2 or (len(kinds) > len(words) and has_family):
            return 0.75
        if has_given:
            return 0.7 if after_title else 0.6
        score = 0.55 if _SURNAME in kinds else 0.5
        return score + 0.1 if after_title else score


#: An institution's or a street's name in quotes («ОУ „Христо Ботев“», «ЦНСТ „Вяра, Надежда и Любов“»,
#: «СУ „Св. Климент Охридски“», «ул. „Иван Вазов“»): an abbreviation in capitals, an institution word or a
#: street word, then an opening quote not yet closed before the name; or «имени» / «им.» just before it.
#: Search it in the ``INSTITUTION_REACH`` characters before a name.
INSTITUTION_BEFORE = re.compile(
    r"(?:\b[А-ЯЁA-Z]{2,6}(?:-[А-ЯЁA-Z]{1,4})?|"
    r"(?i:училище(?:то)?|градина(?:та)?|център(?:а|ът)?|читалище(?:то)?|болница(?:та)?|фондация(?:та)?|"
    r"сдружение(?:то)?|школ[аыеу]|сад(?:а|у)?|центр(?:а|е)?|лице[йяе]|гимнази[яиюей]|имени|им\.|"
    r"ул\.|бул\.|пл\.|кв\.|ж\.\s?к\.|пр-т|пер\.|улица|булевард))"
    r"\s*(?:№\s*\d+\s*)?[„«\"“][^“”»\"\n]{0,60}$"  # not closed yet: «Центр «Вера, Надежда, …»»
    # «школа имени С. П. Королёва» names a school after someone; «от имени матери» is on someone's behalf
    r"|(?<!\bот\s)\b(?:имени|им\.)\s*(?:Героя\s+Советского\s+Союза\s+|Героя\s+России\s+)?$"
)
INSTITUTION_REACH = 90
_OPENING_QUOTES = ("„", "«", '"', "“")
_AFTER_OPENING = ("“", "”", "»", '"', "\n")  # what may not stand between an open quote and the name


def institution_before(text: str, start: int) -> bool:
    """Return whether the name at ``start`` is an institution's or a street's (``INSTITUTION_BEFORE`` in the
    ``INSTITUTION_REACH`` characters before it).

    The quoted branch needs an opening quote at most 60 characters back with no closing quote or line
    break after it, the other branch «им»: most names have neither, and finding the last quotes rules them
    out at a fraction of the regular expression's cost.
    """
    begin = max(0, start - INSTITUTION_REACH)
    window = text[begin:start]
    opening = max(window.rfind(quote) for quote in _OPENING_QUOTES)
    still_open = opening >= 0 and opening >= max(window.rfind(ch) for ch in _AFTER_OPENING)
    if not (still_open and len(window) - opening - 1 <= 60) and "им" not in window:
        return False
    return INSTITUTION_BEFORE.search(text, begin, start) is not None


def _word_before(text: str, start: int) -> str:
    """Return the word just before ``start`` when only spaces separate them (``_joined``), else ""."""
    match = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return match.group() if match is not None and _joined(text, match.end(), start) else ""


def _joined(text: str, end: int, start: int) -> bool:
    """True when two tokens are separated by spaces only (no punctuation, no line break)."""
    gap = text[end:start]
    return len(gap) <= 3 and gap.strip(" \u00a0\t") == "" and (len(gap) > 0 or text[end - 1] == ".")


_OPENING = frozenset(" \u00a0\t\"„“«(–—-'")
# «И. Петров»; not «ап. 5. Надежда …», «2023 г. Надежда …», «г.р. Надежда …» (lower case: an abbreviation)
_INITIAL_BEFORE = re.compile(rf"\b{_UPPER}\.$")


def _sentence_start(text: str, start: int) -> bool:
    i = start
    while i > 0 and text[i - 1] in _OPENING:
        i -= 1
    return i == 0 or text[i - 1] in ".!?…\n" and not _INITIAL_BEFORE.search(text[max(0, i - 3) : i])
