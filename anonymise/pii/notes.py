"""Free-text columns of a batch: detection counts for the report, and scrubbed notes when the policy
keeps them.

Counting runs the analyzer over every note with the batch's own people as known names (so every
inflected form of a child's name counts as a name) and returns counts by entity type — never a span.
Scrubbing goes family by family, so placeholders («[ДЕТЕ-1]», «[РОДИТЕЛ-1]») are consistent within a
family's notes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import polars as pl

from anonymise.pii.engine import analyze
from anonymise.pii.scrub import CaseLabels, scrub

ROLE_OF = {"child": "child", "parent": "parent", "guardian": "parent", "expectant_parent": "parent"}


def known_people(persons: pl.DataFrame) -> pl.DataFrame:
    """Return person_id, full name and role (child, parent, other) of a raw persons frame."""
    return persons.select(
        "person_id",
        pl.concat_str(["given_name", "middle_name", "family_name"], separator=" ", ignore_nulls=True).alias("name"),
        pl.col("role").replace_strict(ROLE_OF, default="other").alias("role"),
    ).filter(pl.col("name").str.len_chars() > 0)


#: Above this many notes, detection is spread over all cores (each worker builds its analyzer once).
PARALLEL_FROM = 5000


def _count(texts: list[str], language: str, known: list[tuple[str, str]]) -> dict[str, int]:
    from anonymise.pii.names import record_recognizer

    ad_hoc = [record_recognizer(known, language)] if known else []
    counts: dict[str, int] = {}
    for text in texts:
        for result in analyze(text, language, ad_hoc=ad_hoc):
            counts[result.entity_type] = counts.get(result.entity_type, 0) + 1
    return counts


def count_detections(
    notes: pl.Series, language: str, known: Sequence[tuple[str, str]] = (), workers: int | None = None
) -> dict[str, int]:
    """Return how many notes have text and how many spans of each type the analyzer finds in them.

    Large batches (``PARALLEL_FROM`` notes or more) are split over ``workers`` processes (all cores).
    """
    texts = [t for t in notes.drop_nulls().to_list() if t.strip()]
    counts: dict[str, int] = {"notes_with_text": len(texts)}
    workers = workers or os.cpu_count() or 1
    if len(texts) >= PARALLEL_FROM and workers > 1:
        chunks = [texts[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_count, chunks, [language] * workers, [list(known)] * workers))
    else:
        parts = [_count(texts, language, list(known))] if texts else []
    for part in parts:
        for entity, n in part.items():
            counts[entity] = counts.get(entity, 0) + n
    return dict(sorted(counts.items()))


def scrub_by_family(
    frame: pl.DataFrame, family: pl.Series, people: dict[str, list[tuple[str, str]]], language: str
) -> pl.Series:
    """Return the frame's ``notes`` scrubbed, with the known names and placeholders of each row's family."""
    labels: dict[str, CaseLabels] = {}
    out: list[str | None] = []
    for note, fam in zip(frame["notes"].to_list(), family.to_list(), strict=True):
        if note is None or not note.strip():
            out.append(None)
            continue
        key = fam or ""
        out.append(scrub(note, language, people.get(key, []), labels.setdefault(key, CaseLabels())).text)
    return pl.Series("notes_scrubbed", out, dtype=pl.String)
