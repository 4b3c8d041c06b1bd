"""The names of the people of one record, found in its notes in every form they take.

A case note is about a known family: the child, the parents, the staff on the case. Their full names
come with the record, so every vocative, diminutive, case form, family plural, initial and Latin spelling
of each (``bg_forms`` / ``ru_forms``) is searched for, with word boundaries and ignoring case, except
that a single word that is also a common noun (Роза, Вяра, Надежда) must be capitalised. Each match
carries the person's role and index in ``recognition_metadata`` so that one person always gets the same
placeholder («[ДЕТЕ-1]»).

A form shared by several people (the surname, the family plural «Петрови») is given to the first of them
in ``known`` order; ``"people"`` lists all of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.pii.names.forms import bg_forms, ru_forms, word_form_parts
from anonymise.pii.names.gazetteer import (
    _COMMON_NAMES,
    _ru_tags,
    _sentence_start,
    institution_before,
)

ENTITY = "PERSON"
SCORE = 0.95
ROLES = ("child", "parent", "staff", "other")
_PATRONYMIC = ("вич", "вна", "ична", "ич")


def split_name(full: str, language: str) -> tuple[str, str | None, str | None]:
    """Return (given, family, middle) of a full name as written in a record.

    Bulgarian is «given [middle] family»; Russian registers also write «Family Given Patronymic», and
    «Family Given» when the second word is a given name in pymorphy3's dictionary and the first is not.

    >>> split_name("Мария Иванова Петрова", "bg")
    ('Мария', 'Петрова', 'Иванова')
    >>> split_name("Петров Иван Сергеевич", "ru")
    ('Иван', 'Петров', 'Сергеевич')
    >>> split_name("Орлова Анна", "ru"), split_name("Анна Орлова", "ru")
    (('Анна', 'Орлова', None), ('Анна', 'Орлова', None))
    """
    words = full.split()
    if not words:
        raise ValueError("empty name")
    if len(words) == 1:
        return words[0], None, None
    if len(words) == 2:
        if language == "ru" and _ru_tags(words[1])[0] and not _ru_tags(words[0])[0]:
            return words[1], words[0], None
        return words[0], words[1], None
    if language == "ru" and words[-1].lower().endswith(_PATRONYMIC) and not words[1].lower().endswith(_PATRONYMIC):
        return words[1], words[0], " ".join(words[2:])
    return words[0], words[-1], " ".join(words[1:-1])


def _parts(full: str, language: str) -> tuple[str, str | None, str | None]:
    given, family, middle = split_name(full, language)
    if middle and " " in middle:  # several middle names: keep the first as the patronymic
        middle = middle.split()[0]
    return given, family, middle


@lru_cache(maxsize=65536)
def name_forms(full: str, language: str) -> frozenset[str]:
    """Return every form of one full name in ``language`` (cached: a case's names recur in every note)."""
    return frozenset((ru_forms if language == "ru" else bg_forms)(*_parts(full, language)) | {full})


@dataclass(frozen=True)
class _PersonWords:
    """One person's name as looked up in text, word by word (lower case).

    A mention is a run of adjacent words of one person — given name, patronymic/middle name and surname
    in any of their forms, and initials (a letter and its dot) — with at least one whole word in it.
    Looking words up one by one, rather than every combination of them as a phrase, keeps a person to a
    few dozen keys (a Russian name has hundreds of phrase forms: six cases × diminutives × word orders).
    """

    words: frozenset[str]  # given, middle and family words in every form, Latin spellings included
    alone: frozenset[str]  # words that only stand alone: the family plural («Петрови» is the family)
    initials: frozenset[str]  # «и», «дж», «i», «dzh»: followed by a dot, they belong to a run
    strict: frozenset[str]  # words that are also common nouns (роза, веру): alone, they count only capitalised


@lru_cache(maxsize=65536)
def _person_words(full: str, language: str) -> _PersonWords:
    """Return the lookup words of every form of one full name (cached: a case's names recur in every note).

    The keys are unions of each part's keys, cached by part: a given name or surname seen in an earlier
    record costs nothing more than a set union.
    """
    parts = word_form_parts(language, *_parts(full, language))
    words = frozenset().union(*map(_lookup_keys, parts["words"]), _lookup_keys(frozenset(full.split())))
    common = _COMMON_NAMES.get(language, set())
    return _PersonWords(
        words=words,
        alone=frozenset().union(*map(_lookup_keys, parts["alone"])) - words,
        initials=frozenset(initial.lower() for part in parts["initials"] for initial in part),
        strict=frozenset().union(*map(_lookup_keys, parts["common"])) | (words & common),
    )


@lru_cache(maxsize=65536)
def _lookup_keys(forms: frozenset[str]) -> frozenset[str]:
    """Return the words as looked up in text (lower case), those of fewer than two letters left out."""
    return frozenset(key for key in map(_word_key, forms) if len(key) >= 2)


class RecordNameRecognizer(EntityRecognizer):
    """Presidio recognizer of the known people of one record (an ad-hoc recognizer, one per note/record)."""

    def __init__(self, known: Sequence[tuple[str, str]], language: str) -> None:
        self.known = list(known)
        super().__init__(supported_entities=[ENTITY], name="RecordNameRecognizer", supported_language=language)
        # each person's words are built once per process (cached); a record only keeps them and the union
        # of all its people's words, where a mention can start
        self._people = [_person_words(full, language) for full, _role in self.known]
        self._any = frozenset().union(*(keys for p in self._people for keys in (p.words, p.alone, p.initials)))
        self._strict = frozenset().union(*(person.strict for person in self._people))

    def _who(self, word: str, kind: str) -> list[int]:
        """Return the people (indices into ``known``) with ``word`` among their ``words``, ``alone`` or
        ``initials``."""
        return [p for p, person in enumerate(self._people) if word in getattr(person, kind)]

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        tokens = list(_TOKEN.finditer(text))
        words = [token.group().lower() for token in tokens]
        starts = self._any
        i = 0
        while i < len(tokens):
            # a mention starts at a word of someone's (or an initial): only there is a run worth following
            if words[i] not in starts:
                i += 1
                continue
            found = self._mention(text, tokens, words, i)
            if found is None:
                i += 1
                continue
            end_index, people = found
            start, end = tokens[i].start(), tokens[end_index - 1].end()
            i = end_index
            if institution_before(text, start):
                continue  # a school, centre or street named after someone who shares a name with the family
            results.append(
                RecognizerResult(
                    ENTITY,
                    start,
                    end,
                    SCORE,
                    recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: "RecordNameRecognizer",
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        "role": self.known[people[0]][1],
                        "person": people[0],
                        "people": people,
                    },
                )
            )
        return results

    def _mention(self, text: str, tokens: list[re.Match], words: list[str], i: int) -> tuple[int, list[int]] | None:
        """Return (index after the mention, its people) of the mention starting at token ``i``, if any.

        The run grows word by word while the words (and initials) have a person in common and only white
        space separates them; a family plural is a mention alone.
        """
        word = words[i]
        alone = self._who(word, "alone")
        if alone and not self._who(word, "words") and not self._who(word, "initials"):
            if word in self._strict and not tokens[i].group()[0].isupper():
                return None
            return i + 1, alone
        people: set[int] | None = None
        j = i
        whole = 0  # whole words in the run (initials alone are not a mention)
        while j < len(tokens):
            if j > i and text[tokens[j - 1].end() : tokens[j].start()].strip():
                break  # punctuation between: «Иван, Петров» are two mentions
            step = self._element(tokens, words, j)
            if step is None:
                break
            size, candidates, is_word = step
            shared = set(candidates) if people is None else people.intersection(candidates)
            if not shared or (is_word and whole == 3):
                break
            people = shared
            whole += is_word
            j += size
        if people is None or not whole:
            return None
        if j - i == 1 and words[i] in self._strict and not self._name_like(text, tokens, words, i):
            return None  # «роза», «веру», «Надежда за подобрение»: a common noun
        return j, sorted(people)

    def _name_like(self, text: str, tokens: list[re.Match], words: list[str], i: int) -> bool:
        """Return whether a word that is also a common noun stands as a name: capitalised, and not at the
        start of a sentence with a preposition after it («Надежда за подобрение има», «Надежда на …»)."""
        if not tokens[i].group()[0].isupper():
            return False
        return not (i + 1 < len(words) and words[i + 1] in _PREPOSITIONS and _sentence_start(text, tokens[i].start()))

    def _element(self, tokens: list[re.Match], words: list[str], j: int) -> tuple[int, list[int], bool] | None:
        """Return (tokens taken, people, whether a whole word) of the run element at token ``j``."""
        word = words[j]
        if word not in self._any:
            return None
        # an initial is a capital and its dot: «г.» (година, город) and «р.» are abbreviations
        if j + 1 < len(words) and words[j + 1] == "." and (initial := self._who(word, "initials")):
            return (2, initial, False) if tokens[j].group()[0].isupper() else None
        if who := self._who(word, "words"):
            return 1, who, True
        return None


#: Prepositions after a noun («надежда за», «надежда на», «вяра в»): after a common-noun name that opens a
#: sentence, they tell the noun from the name.
_PREPOSITIONS = frozenset(
    {"за", "на", "в", "във", "с", "със", "от", "до", "към", "по", "при", "без", "през", "к", "о", "об", "во", "со"}
)
_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|\.")  # a dot is a token of its own: initials, not sentence ends


@lru_cache(maxsize=262144)
def _word_key(word: str) -> str:
    """Return ``_key`` of one word of a form («И.» → «и .»), cached."""
    return _key(word)


def _key(form: str) -> str:
    """Return a form as its lower-case words joined by single spaces (how text windows are looked up)."""
    lower = form.lower()
    if lower.replace(" ", "").isalpha():  # letters and spaces only (most forms): no need to tokenize
        return " ".join(lower.split())
    return " ".join(_TOKEN.findall(lower))


def record_recognizer(known: Sequence[tuple[str, str]], language: str) -> EntityRecognizer:
    """Return a recognizer of every form of the record's people ``known`` = [(full name, role), …]."""
    return RecordNameRecognizer(known, language)
