"""Free-text columns of a batch: detection counts for the report, and scrubbed notes when the policy
keeps them.

Counting runs the analyzer over every note with the batch's own people as known names (so every
inflected form of a child's name counts as a name) and returns counts by entity type — never a span.
Scrubbing goes family by family, so placeholders («[ДЕТЕ-1]», «[РОДИТЕЛ-1]») are consistent within a
family's notes.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def count_detections(notes: pl.Series, language: str, known: Sequence[tuple[str, str]] = ()) -> dict[str, int]:
    """Return how many notes have text and how many spans of each type the analyzer finds in them."""
    from anonymise.pii.names import record_recognizer

    texts = [t for t in notes.drop_nulls().to_list() if t.strip()]
    counts: dict[str, int] = {"notes_with_text": len(texts)}
    if not texts:
        return counts
    ad_hoc = [record_recognizer(list(known), language)] if known else []
    for text in texts:
        for result in analyze(text, language, ad_hoc=ad_hoc):
            counts[result.entity_type] = counts.get(result.entity_type, 0) + 1
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
