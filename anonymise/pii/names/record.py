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
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from anonymise.pii.names.forms import bg_forms, ru_forms
from anonymise.pii.names.gazetteer import _COMMON_NAMES

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


@lru_cache(maxsize=65536)
def name_forms(full: str, language: str) -> frozenset[str]:
    """Return every form of one full name in ``language`` (cached: a case's names recur in every note)."""
    given, family, middle = split_name(full, language)
    if middle and " " in middle:  # several middle names: keep the first as the patronymic
        middle = middle.split()[0]
    return frozenset((ru_forms if language == "ru" else bg_forms)(given, family, middle) | {full})


class RecordNameRecognizer(EntityRecognizer):
    """Presidio recognizer of the known people of one record (an ad-hoc recognizer, one per note/record)."""

    def __init__(self, known: Sequence[tuple[str, str]], language: str) -> None:
        self.known = list(known)
        super().__init__(supported_entities=[ENTITY], name="RecordNameRecognizer", supported_language=language)
        owners: dict[str, list[int]] = {}
        for person, (full, _role) in enumerate(self.known):
            for form in name_forms(full, language):
                owners.setdefault(form.lower(), [])
                if person not in owners[form.lower()]:
                    owners[form.lower()].append(person)
        common = _COMMON_NAMES.get(language, set())
        # forms are looked up by their words, so matching costs per word of text, not per form
        self._owners = {_key(form): people for form, people in owners.items()}
        self._strict_keys = {_key(f) for f in owners if f in common}
        self._longest = max((k.count(" ") + 1 for k in self._owners), default=0)

    def load(self) -> None:
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if entities and ENTITY not in entities:
            return []
        results: list[RecognizerResult] = []
        tokens = list(_TOKEN.finditer(text))
        i = 0
        while i < len(tokens):
            hit = None
            for n in range(min(self._longest, len(tokens) - i), 0, -1):
                words = tokens[i : i + n]
                key = " ".join(t.group().lower() for t in words)
                if key in self._owners and (key not in self._strict_keys or words[0].group()[0].isupper()):
                    hit = (words[0].start(), words[-1].end(), key, n)
                    break
            if hit is None:
                i += 1
                continue
            start, end, key, n = hit
            people = self._owners[key]
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
                        "people": list(people),
                    },
                )
            )
            i += n
        return results


_TOKEN = re.compile(r"\w+(?:[-'’]\w+)*|\.")  # a dot is a token of its own: initials, not sentence ends


def _key(form: str) -> str:
    """Return a form as its lower-case words joined by single spaces (how text windows are looked up)."""
    return " ".join(_TOKEN.findall(form.lower()))


def record_recognizer(known: Sequence[tuple[str, str]], language: str) -> EntityRecognizer:
    """Return a recognizer of every form of the record's people ``known`` = [(full name, role), …]."""
    return RecordNameRecognizer(known, language)
