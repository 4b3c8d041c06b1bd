"""Free-text columns of a batch: detection counts for the report, and scrubbed notes when the policy
keeps them — one pass over the notes, family by family, on all cores for a large batch.

Each note is read with its own family's people as known names (so every inflected form of a child's
name is found and gets the family's placeholder: «[ДЕТЕ-1]», «[РОДИТЕЛ-1]» stay the same across all of
a family's notes, in every entity). Counts are by entity type — never a span or a value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from anonymise.pii.workers import cores, spread

ROLE_OF = {"child": "child", "parent": "parent", "guardian": "parent", "expectant_parent": "parent"}

#: From this many notes on, a batch is spread over all cores (``anonymise.pii.workers``). Below it, a
#: batch takes a few seconds on one core and helpers would only start to be idle.
PARALLEL_FROM = 500
#: Notes per chunk sent to a helper: large enough that sending is cheap, small enough to balance the cores.
CHUNK_NOTES = 100

Known = list[tuple[str, str]]
#: One family's share of the work: its known people and its notes as (entity, row, text).
FamilyNotes = tuple[Known, list[tuple[str, int, str]]]


def known_people(persons: pl.DataFrame) -> pl.DataFrame:
    """Return person_id, full name and role (child, parent, other) of a raw persons frame."""
    return persons.select(
        "person_id",
        pl.concat_str(["given_name", "middle_name", "family_name"], separator=" ", ignore_nulls=True).alias("name"),
        pl.col("role").replace_strict(ROLE_OF, default="other").alias("role"),
    ).filter(pl.col("name").str.len_chars() > 0)


@dataclass
class NoteScan:
    """What the notes of a batch hold: counts per entity and type, and the scrubbed notes if asked for."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    scrubbed: dict[str, pl.Series] = field(default_factory=dict)


def scan_notes(
    raw: dict[str, pl.DataFrame],
    people: pl.DataFrame,
    language: str,
    scrub: bool = False,
    workers: int | None = None,
    stats: dict[str, int] | None = None,
) -> NoteScan:
    """Read the ``notes`` column of every raw entity frame, family by family.

    ``people`` is ``known_people`` of the batch. A row's family is its ``family_id``, or its person's
    family in ``memberships``; a row with neither is read with its own person as the known name. Returns
    for each entity with notes the number of notes with text and of spans of each type, and with
    ``scrub`` the notes with every span replaced by a placeholder (``notes_scrubbed``, in row order).
    Batches of ``PARALLEL_FROM`` notes or more are spread over ``workers`` processes (default: all cores);
    ``stats`` receives how many chunks of families this process and its helpers read.
    """
    members = raw.get("memberships", pl.DataFrame(schema={"family_id": pl.String, "person_id": pl.String}))
    family_of = members.select("person_id", "family_id").unique("person_id", keep="first")
    roster = people.join(family_of, on="person_id", how="left")
    name_of = dict(zip(people["person_id"].to_list(), zip(people["name"], people["role"], strict=True), strict=True))
    by_family: dict[str, Known] = {}
    for fam, name, role in roster.select("family_id", "name", "role").iter_rows():
        if fam is not None:
            by_family.setdefault(fam, []).append((name, role))

    work: dict[str, FamilyNotes] = {}
    sizes: dict[str, int] = {}
    for entity, frame in raw.items():
        if "notes" not in frame.columns:
            continue
        sizes[entity] = frame.height
        persons = frame["person_id"] if "person_id" in frame.columns else pl.repeat(None, frame.height, eager=True)
        if "family_id" in frame.columns:
            families = frame["family_id"]
        else:
            families = frame.select("person_id").join(family_of, on="person_id", how="left", maintain_order="left")[
                "family_id"
            ]
        for row, (text, fam, person) in enumerate(zip(frame["notes"], families, persons, strict=True)):
            if text is None or not text.strip():
                continue
            if fam is not None:
                key, known = f"family:{fam}", by_family.get(fam, [])
            else:
                key = f"person:{person}"
                known = [name_of[person]] if person in name_of else []
            work.setdefault(key, (known, []))[1].append((entity, row, text))

    chunks = _chunks(list(work.values()))
    total = sum(len(notes) for _, notes in work.values())
    workers = workers or cores()
    if total < PARALLEL_FROM:
        workers = 1
    tasks = [(language, scrub, chunk) for chunk in chunks]
    parts = spread(_scan_chunk, tasks, workers, warm=_warm_key(language), stats=stats)

    scan = NoteScan(counts={entity: {"notes_with_text": 0} for entity in sizes})
    texts: dict[str, list[str | None]] = {entity: [None] * n for entity, n in sizes.items()}
    for counts, scrubbed in parts:
        for entity, by_type in counts.items():
            for kind, n in by_type.items():
                scan.counts[entity][kind] = scan.counts[entity].get(kind, 0) + n
        for entity, row, text in scrubbed:
            texts[entity][row] = text
    scan.counts = {entity: dict(sorted(c.items())) for entity, c in scan.counts.items()}
    if scrub:
        scan.scrubbed = {entity: pl.Series("notes_scrubbed", t, dtype=pl.String) for entity, t in texts.items()}
    return scan


def _chunks(families: list[FamilyNotes]) -> list[list[FamilyNotes]]:
    """Return the families in chunks of about ``CHUNK_NOTES`` notes (a family is never split)."""
    chunks: list[list[FamilyNotes]] = []
    current: list[FamilyNotes] = []
    size = 0
    for family in families:
        current.append(family)
        size += len(family[1])
        if size >= CHUNK_NOTES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def _warm_key(language: str) -> tuple[str, Callable[..., None], tuple]:
    return (f"analyzer:{language}", _warm_analyzer, (language,))


def _warm_analyzer(language: str) -> None:
    """Build the language's analyzer in a helper and run it once (natasha and pymorphy3 load lazily)."""
    from anonymise.pii.scrub import scrub

    scrub("Иван Петров, тел. 0888 123 456.", language, [("Иван Петров", "child")])


def _scan_chunk(
    language: str, scrub: bool, families: Sequence[FamilyNotes]
) -> tuple[dict[str, dict[str, int]], list[tuple[str, int, str]]]:
    """Return the counts per entity and type of a chunk of families' notes, and the scrubbed notes."""
    from anonymise.pii.engine import analyze
    from anonymise.pii.names import record_recognizer
    from anonymise.pii.scrub import CaseLabels
    from anonymise.pii.scrub import scrub as scrub_text

    counts: dict[str, dict[str, int]] = {}
    scrubbed: list[tuple[str, int, str]] = []
    for known, notes in families:
        labels = CaseLabels(language=language)
        record = record_recognizer(known, language) if known else None
        ad_hoc = [record] if record is not None else []
        for entity, row, text in notes:
            by_type = counts.setdefault(entity, {})
            by_type["notes_with_text"] = by_type.get("notes_with_text", 0) + 1
            if scrub:
                out = scrub_text(text, language, known, labels, record=record)
                types = [span.type for span in out.spans]
                scrubbed.append((entity, row, out.text))
            else:
                types = [result.entity_type for result in analyze(text, language, ad_hoc=ad_hoc)]
            for kind in types:
                by_type[kind] = by_type.get(kind, 0) + 1
    return counts, scrubbed
