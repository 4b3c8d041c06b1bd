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

from anonymise.pii.names.forms import bg_form_words, bg_forms, ru_form_words, ru_forms
from anonymise.pii.names.gazetteer import _COMMON_NAMES, INSTITUTION_BEFORE

ENTITY = "PERSON"
SCORE = 0.95
ROLES = ("child", "parent", "staff", "other")
_PATRONYMIC = ("вич", "вна", "ична", "ич")


def split_name(full: str, language: str) -> tuple[str, str | None, str | None]:
    """Return (given, family, middle) of a full name as written in a record.

    Bulgarian is «given [middle] family»; Russian registers also write «Family Given Patronymic».

    >>> split_name("Мария Иванова Петрова", "bg")
    ('Мария', 'Петрова', 'Иванова')
    >>> split_name("Петров Иван Сергеевич", "ru")
    ('Иван', 'Петров', 'Сергеевич')
    """
    words = full.split()
    if not words:
        raise ValueError("empty name")
    if len(words) == 1:
        return words[0], None, None
    if len(words) == 2:
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
class _PersonKeys:
    """The forms of one person's name as looked up in text: lower-case words joined by single spaces."""

    keys: frozenset[str]
    strict: frozenset[str]  # single words that are also common nouns: they count only capitalised
    first_words: frozenset[str]
    longest: int  # words in the longest form


@lru_cache(maxsize=65536)
def _person_keys(full: str, language: str) -> _PersonKeys:
    """Return the lookup keys of every form of one full name (those of ``name_forms``, cached likewise).

    They are built from the forms' words, whose keys are cached: the words of names recur from one
    record to the next, while whole names rarely do.
    """
    forms = (ru_form_words if language == "ru" else bg_form_words)(*_parts(full, language))
    word_keys = {word: _word_key(word) for form in forms for word in form}
    if all(word_keys.values()):
        keys = {" ".join(map(word_keys.__getitem__, form)) for form in forms}
    else:  # a word with no letters or digits in it adds nothing to the key
        keys = {" ".join([word_keys[word] for word in form if word_keys[word]]) for form in forms}
    keys.add(_key(full))
    common = _COMMON_NAMES.get(language, set())
    return _PersonKeys(
        keys=frozenset(keys),
        strict=frozenset(keys.intersection(common)),
        first_words=frozenset([key.partition(" ")[0] for key in keys]),
        longest=max(map(len, map(str.split, keys))),
    )


class RecordNameRecognizer(EntityRecognizer):
    """Presidio recognizer of the known people of one record (an ad-hoc recognizer, one per note/record)."""

    def __init__(self, known: Sequence[tuple[str, str]], language: str) -> None:
        self.known = list(known)
        super().__init__(supported_entities=[ENTITY], name="RecordNameRecognizer", supported_language=language)
        # each person's forms are built once per process (cached); a record only gathers them, and the
        # text is searched word by word: a window of words is looked up only where a form can start
        self._people = [_person_keys(full, language) for full, _role in self.known]
        self._first_words = frozenset().union(*(person.first_words for person in self._people))
        self._longest = max((person.longest for person in self._people), default=0)

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
        i = 0
        while i < len(tokens):
            if words[i] not in self._first_words:
                i += 1
                continue
            hit = None
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                key = " ".join(words[i : i + n])
                people = [p for p, person in enumerate(self._people) if key in person.keys]
                if not people:
                    continue
                strict = any(key in self._people[p].strict for p in people)
                if not strict or tokens[i].group()[0].isupper():
                    hit = (tokens[i].start(), tokens[i + n - 1].end(), people, n)
                    break
            if hit is None:
                i += 1
                continue
            start, end, people, n = hit
            if INSTITUTION_BEFORE.search(text, max(0, start - 40), start):
                i += n  # a school, centre or street named after someone who shares a name with the family
                continue
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
            i += n
        return results


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
