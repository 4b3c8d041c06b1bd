"""Scrubbing free text: every detected span replaced by a typed placeholder, consistent within a case.

Identifiers become their type («[ЕГН]», «[ТЕЛЕФОН]», «[АДРЕС]» …). People become their role and a
number that stays the same across all notes of a case when the same :class:`CaseLabels` is passed:
the record's own people by their role («[ДЕТЕ-1]», «[РОДИТЕЛ-1]», «[СЛУЖИТЕЛ-1]»), anyone else the
text names as «[ЛИЦЕ-1]», «[ЛИЦЕ-2]» … Placeholders are in the note's language: a Russian note reads
«[РЕБЁНОК-1]», «[РОДИТЕЛЬ-1]», «[СОТРУДНИК-1]», «[ЛИЦО-1]», «[ДАТА РОЖДЕНИЯ]». The replacement is
Presidio's anonymizer with custom operators (never its ``hash`` operator, which is randomly salted).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from anonymise.names import normalise
from anonymise.pii.engine import PLACEHOLDERS, analyze

#: Language → role → the word of a person's placeholder.
ROLE_LABELS = {
    "bg": {"child": "ДЕТЕ", "parent": "РОДИТЕЛ", "staff": "СЛУЖИТЕЛ", "other": "ЛИЦЕ"},
    "ru": {"child": "РЕБЁНОК", "parent": "РОДИТЕЛЬ", "staff": "СОТРУДНИК", "other": "ЛИЦО"},
}
KnownName = str | tuple[str, str]


@dataclass(frozen=True)
class Span:
    """One detected piece of personal data: its type, place in the original text, and source."""

    type: str
    start: int
    end: int
    recognizer: str
    score: float


@dataclass(frozen=True)
class Scrubbed:
    """A scrubbed text and the spans that were replaced (positions in the original text)."""

    text: str
    spans: tuple[Span, ...]

    def counts(self) -> dict[str, int]:
        """Return how many spans of each type were found."""
        out: dict[str, int] = {}
        for s in self.spans:
            out[s.type] = out.get(s.type, 0) + 1
        return out


@dataclass
class CaseLabels:
    """The placeholder of each person within one case, so every note of the case says the same."""

    by_key: dict[str, str] = field(default_factory=dict)
    next_number: dict[str, int] = field(default_factory=dict)
    language: str = "bg"

    def label(self, role: str, key: str) -> str:
        """Return the placeholder of the person identified by ``key`` (created on first use)."""
        if key not in self.by_key:
            words = ROLE_LABELS.get(self.language, ROLE_LABELS["bg"])
            word = words.get(role, words["other"])
            number = self.next_number.get(word, 0) + 1
            self.next_number[word] = number
            self.by_key[key] = f"[{word}-{number}]"
        return self.by_key[key]


@cache
def _anonymizer() -> AnonymizerEngine:
    return AnonymizerEngine()


def _known(known_names: Sequence[KnownName]) -> list[tuple[str, str]]:
    return [(k, "other") if isinstance(k, str) else (k[0], k[1]) for k in known_names if k]


def _person_key(result: RecognizerResult, text: str, language: str) -> tuple[str, str]:
    meta = result.recognition_metadata or {}
    if "person" in meta:
        return str(meta.get("role", "other")), f"known:{meta['person']}"
    return "other", "text:" + normalise(text[result.start : result.end], language)


def scrub(
    text: str,
    language: str,
    known_names: Sequence[KnownName] = (),
    labels: CaseLabels | None = None,
    *,
    record: EntityRecognizer | None = None,
) -> Scrubbed:
    """Return ``text`` with personal data replaced by typed placeholders, and the spans found.

    ``known_names`` are the names of the people of the note's family, case and staff, each a name or
    a ``(name, role)`` pair with role child, parent, staff or other; their every inflected form is found.
    ``record`` is their recognizer when the caller has built it already (``record_recognizer(known)``,
    once for all of a family's notes); ``labels`` keeps each person's placeholder across the notes of a
    case (made in ``language`` when new).
    """
    if not text:
        return Scrubbed(text or "", ())
    if record is None and known_names:
        from anonymise.pii.names import record_recognizer

        record = record_recognizer(_known(known_names), language)
    results = analyze(text, language, ad_hoc=[record] if record is not None else [])
    labels = labels if labels is not None else CaseLabels(language=language)
    placeholders = PLACEHOLDERS.get(language, PLACEHOLDERS["bg"])
    spans: list[Span] = []
    replacement: dict[tuple[int, int], str] = {}
    for r in sorted(results, key=lambda r: (r.start, r.end)):
        if r.entity_type == "PERSON":
            role, key = _person_key(r, text, language)
            replacement[(r.start, r.end)] = labels.label(role, key)
        else:
            replacement[(r.start, r.end)] = placeholders.get(r.entity_type, f"[{r.entity_type}]")
        meta = r.recognition_metadata or {}
        spans.append(Span(r.entity_type, r.start, r.end, str(meta.get("recognizer_name", "")), round(r.score, 3)))
    # one operator per span: Presidio hands a custom operator only the span's text, so each span gets
    # its own entity name carrying its placeholder
    tagged = [
        RecognizerResult(f"SPAN_{i}", r.start, r.end, r.score)
        for i, r in enumerate(sorted(results, key=lambda r: (r.start, r.end)))
    ]
    operators = {
        t.entity_type: OperatorConfig("custom", {"lambda": _constant(replacement[(t.start, t.end)])}) for t in tagged
    }
    out = _anonymizer().anonymize(text=text, analyzer_results=tagged, operators=operators)  # type: ignore[arg-type]
    return Scrubbed(out.text, tuple(spans))


def _constant(value: str) -> Callable[[str], str]:
    """Return an operator that replaces any span by ``value``."""
    return lambda _span: value
