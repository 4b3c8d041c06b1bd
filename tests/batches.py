"""A small, hand-written, valid interchange-v1 batch for tests that must not depend on synth."""

from __future__ import annotations

import csv
from pathlib import Path

from schemas.contract import ENTITIES

PERSONS = [
    # columns in contract order (schemas.contract.PERSONS)
    [
        "p1",
        "child",
        "Мария",
        "Иванова",
        "Петрова",
        "1945120316",
        "egn",
        "2019-05-12",
        "f",
        "bg",
        "63427",
        "",
        "",
        "",
        "no",
        "declined",
        "no",
        "",
        "child",
        "",
    ],
    [
        "p2",
        "parent",
        "Иван",
        "Георгиев",
        "Петров",
        "8503124564",
        "egn",
        "1985-03-12",
        "m",
        "bg",
        "63427",
        "гр. Русе, ул. „Плиска“ 4",
        "0888123456",
        "ivan@abv.bg",
        "no",
        "no",
        "no",
        "3",
        "employed",
        "",
    ],
    [
        "p3",
        "parent",
        "Елена",
        "",
        "Петрова",
        "",
        "none",
        "1990-07-01",
        "f",
        "bg",
        "63427",
        "",
        "",
        "",
        "unknown",
        "unknown",
        "no",
        "",
        "",
        "Майката Елена се обади.",
    ],
]
MEMBERSHIPS = [["f1", "p1", "child", "", ""], ["f1", "p2", "father", "", ""], ["f1", "p3", "mother", "", ""]]
EVENTS = [
    [
        "e1",
        "",
        "p1",
        "2025-02-03",
        "health_consultation",
        "centre",
        "individual",
        "45",
        "paediatrician",
        "svetilnik",
        "",
    ],
    [
        "e2",
        "",
        "p3",
        "2025-02-04",
        "parent_psych_support",
        "centre",
        "individual",
        "60",
        "psychologist",
        "svetilnik",
        "",
    ],
    ["e3", "", "p1", "2025-05-10", "early_intervention", "home_visit", "individual", "30", "kinesitherapist", "", ""],
]


def write_batch(root: Path, partner: str = "ruse-svetilnik", batch: str = "b1", rows: dict | None = None) -> Path:
    """Write a valid batch (or one with ``rows`` replacing an entity's rows) and return its folder."""
    folder = root / partner / batch
    folder.mkdir(parents=True, exist_ok=True)
    data = {"persons": PERSONS, "memberships": MEMBERSHIPS, "events": EVENTS} | (rows or {})
    for name, body in data.items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(ENTITIES[name].columns)
            writer.writerows(body)
    return folder
