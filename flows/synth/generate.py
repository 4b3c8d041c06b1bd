"""Generate synthetic partner batches in interchange format v1, and the truth file beside the inbox.

The generator reads like the job: draw every partner's families and people (all five, so a partner's
data never depend on which others are written), move the children served by two Bulgarian partners,
then for each requested partner add residence and contacts, cases, memberships, events and ESF
participations, plant the defects and write the batch. The truth file lists the settings, the row
counts, every planted defect and formula cell, the cross-partner children and the number of distinct
children the Bulgarian batches hold.

``expected_unique_children_bg`` counts the children (role ``child``) in rows with no planted defect
across the Bulgarian batches written, a child served by two partners once: what a pipeline that
quarantines every planted row and links children by ЕГН across partners should find. Phone numbers
written ``+359…`` are ordinary values and are not listed among the formula cells.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from flows.synth import cross, notes, people
from flows.synth.cases import draw_cases
from flows.synth.defects import plant
from flows.synth.draws import days, rng_for
from flows.synth.events import generate_events
from flows.synth.families import Household, draw_families, draw_identity, draw_persons
from flows.synth.participations import draw_participations
from flows.synth.profiles import PROFILES
from flows.synth.staff import staff
from flows.synth.writer import EntityFile, contract_strings, write_truth
from schemas.partners import PARTNERS

STAGE_DEFECTS, STAGE_MEMBERS = 20, 21


@dataclass(frozen=True)
class SynthSummary:
    """What a generation run wrote: the inbox, the truth file, rows per partner and entity, and time taken."""

    inbox: Path
    truth_path: Path
    counts: dict[str, dict[str, int]]
    seconds: float


def truth_path_for(inbox: Path) -> Path:
    """Return where the truth file of an inbox goes: beside it, never inside (``<inbox>.truth.json``)."""
    inbox = Path(inbox).absolute()
    return inbox.parent / f"{inbox.name}.truth.json"


def generate(
    inbox: Path,
    scale: float = 1.0,
    seed: int = 0,
    defects: float = 0.01,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    partners: Sequence[str] | None = None,
) -> SynthSummary:
    """Write one batch per partner into ``inbox`` and the truth file beside it; return a summary.

    The same arguments give byte-identical files. ``scale=1.0`` is a pilot of about 3,000 persons in
    all five partners; ``defects`` is the share of rows per entity with a planted defect (0: none).
    """
    started = time.perf_counter()
    if scale <= 0:
        raise ValueError("scale must be positive")
    if not 0 <= defects < 1:
        raise ValueError("defects must be a share in [0, 1)")
    if end < start:
        raise ValueError("end must not be before start")
    wanted = list(PROFILES) if partners is None else [p for p in PROFILES if p in set(partners)]
    unknown = sorted(set(partners or ()) - set(PROFILES))
    if unknown:
        raise ValueError(f"unknown partner(s): {', '.join(unknown)}")
    inbox = Path(inbox)
    truth_path = truth_path_for(inbox)
    batch = f"b{end:%Y%m%d}"
    first, last = days(start), days(end)

    households: dict[str, Household] = {}
    lanes = iter(range(4))
    for index, (partner_id, profile) in enumerate(PROFILES.items()):
        families = draw_families(profile, index, seed, scale, first, last)
        persons = draw_persons(profile, index, seed, families)
        lane = next(lanes) if profile.language == "bg" else 0
        persons = draw_identity(profile, index, seed, families, persons, lane)
        households[partner_id] = Household(profile, index, families, persons)
    cross.exchange(households, seed, first, last)

    counts: dict[str, dict[str, int]] = {}
    planted: list[dict[str, Any]] = []
    formulas: list[dict[str, Any]] = []
    shared: dict[int, list[tuple[str, str]]] = {}
    children_bg = 0
    for partner_id in wanted:
        household = households[partner_id]
        profile, index = household.profile, household.index
        folder = inbox / partner_id / batch
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        team = staff(profile, index, seed, scale)
        families, persons = people.finish(household, seed, first, last, team)
        cases = draw_cases(profile, index, seed, families, persons, team, first, last)
        members = people.memberships(rng_for(seed, index, STAGE_MEMBERS), families, persons, cases)
        esf = draw_participations(PARTNERS[partner_id], index, seed, persons, cases, first, last)
        for row in persons.filter(pl.col("cross") >= 0).select("cross", "person_id").iter_rows():
            shared.setdefault(row[0], []).append((partner_id, row[1]))

        out = BatchOutput(
            partner_id, batch, folder, rng_for(seed, index, STAGE_DEFECTS), defects, profile.language, end.year
        )
        by_key = persons.sort("person_id")  # partners export people in key order
        written = out.write("persons", by_key, protect=(by_key["cross"] >= 0).to_numpy())
        if profile.language == "bg":
            children_bg += written.filter((pl.col("role") == "child") & ~pl.col("_planted")).height
        out.write("memberships", members)
        out.write("cases", cases)
        forms = notes.forms(persons, profile.language)
        out.stream("events", generate_events(profile, index, seed, persons, families, cases, team, forms, first, last))
        if esf is not None:
            out.write("participations", esf)
        counts[partner_id] = out.counts
        planted.extend(out.planted)
        formulas.extend(out.formulas)

    order = list(PROFILES)
    pairs = []
    for number in sorted(shared):
        both = sorted(shared[number], key=lambda entry: order.index(entry[0]))
        if len(both) == 2:
            pairs.append(
                {"national_id_type": "egn", "partners": [p for p, _ in both], "person_ids": [i for _, i in both]}
            )
    truth = {
        "seed": seed,
        "scale": scale,
        "defects": defects,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "counts": counts,
        "planted": planted,
        "formula_cells": formulas,
        "cross_partner_children": pairs,
        "expected_unique_children_bg": children_bg - len(pairs),
    }
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    write_truth(truth_path, truth)
    return SynthSummary(inbox=inbox, truth_path=truth_path, counts=counts, seconds=time.perf_counter() - started)


class BatchOutput:
    """One partner's batch folder: plants defects in each entity as it is written and records them."""

    def __init__(
        self,
        partner: str,
        batch: str,
        folder: Path,
        rng: np.random.Generator,
        rate: float,
        language: str,
        end_year: int,
    ) -> None:
        self.partner, self.batch, self.folder = partner, batch, folder
        self.rng, self.rate, self.language, self.end_year = rng, rate, language, end_year
        self.counts: dict[str, int] = {}
        self.planted: list[dict[str, Any]] = []
        self.formulas: list[dict[str, Any]] = []

    def _plant(self, entity: str, frame: pl.DataFrame, protect: np.ndarray | None, offset: int) -> pl.DataFrame:
        table = contract_strings(frame, entity)
        guard = np.zeros(table.height, dtype=bool) if protect is None else protect
        table, bad, cells = plant(self.rng, entity, table, self.rate, guard, self.language, self.end_year)
        where = {"partner": self.partner, "batch": self.batch, "entity": entity}
        self.planted.extend({**where, "row": offset + r, "reason": reason, "field": field} for r, reason, field in bad)
        self.formulas.extend({**where, "row": offset + r, "field": field} for r, field in cells)
        mask = np.zeros(table.height, dtype=bool)
        mask[[r - 1 for r, _, _ in bad]] = True
        return table.with_columns(pl.Series("_planted", mask))

    def write(self, entity: str, frame: pl.DataFrame, protect: np.ndarray | None = None) -> pl.DataFrame:
        """Write an entity file; return what was written with a ``_planted`` flag per row."""
        table = self._plant(entity, frame, protect, 0)
        out = EntityFile(self.folder, entity)
        out.append(table.drop("_planted"))
        out.close()
        self.counts[entity] = out.rows
        return table

    def stream(self, entity: str, blocks: Iterable[pl.DataFrame]) -> None:
        """Write an entity file block by block (row numbers run on across blocks)."""
        out = EntityFile(self.folder, entity)
        try:
            for block in blocks:
                out.append(self._plant(entity, block, None, out.rows).drop("_planted"))
        finally:
            out.close()
        self.counts[entity] = out.rows


__all__ = ["SynthSummary", "generate", "truth_path_for"]
