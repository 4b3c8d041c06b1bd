"""Planted defects: rows that break the contract on purpose, and where they are, for the truth file.

A share ``rate`` of the rows of each entity gets exactly one defect, each in a row that has no other
one, spread evenly over the kinds that fit the entity: a wrong ЕГН check digit, an impossible date
(``2024-02-30``), a birth date in the future, an unknown code (sex ``z``, service ``massage``), a
missing required value, a duplicate key (the row appears twice and both copies carry the defect), a
dangling reference (a person_id that no persons row has) and a duration that is not an integer
(``45 мин``). Spreadsheet formulas in a notes or address field (``=HYPERLINK(…)``, ``+359…``,
``@SUM(A1)``, ``-1+1``) are listed too; they are not contract violations — the row stays valid.

Rows whose defect would make another check fail are not chosen for it: a birth date or sex is only
broken where no ЕГН encodes it, and ``protect`` rows (children served by two partners) are left
alone. Row numbers are 1-based data rows of the written file, header excluded.

>>> frame = pl.DataFrame({"event_id": ["E1", "E2", "E3", "E4"], "person_id": ["P1", "P2", "P3", "P4"],
...                       "date": ["2024-05-01"] * 4, "service_code": ["hot_meal"] * 4, "modality": ["centre"] * 4,
...                       "setting": ["group"] * 4, "duration_min": ["30"] * 4, "case_id": [None] * 4,
...                       "notes": [None] * 4})
>>> out, planted, formulas = plant(np.random.default_rng(0), "events", frame, 0.5, np.zeros(4, bool), "bg", 0)
>>> len(planted) >= 2, out.height >= 4
(True, True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

Mask = Callable[[pl.DataFrame], pl.Series]


def _every(frame: pl.DataFrame) -> pl.Series:
    return pl.Series(np.ones(frame.height, dtype=bool))


def _filled(column: str) -> Mask:
    return lambda frame: frame[column].is_not_null()


def _no_egn(frame: pl.DataFrame) -> pl.Series:
    return (frame["national_id_type"] != "egn").fill_null(True)


@dataclass(frozen=True)
class Kind:
    """One way to break a field: the reason code, the field, which rows may get it, and how."""

    reason: str  # a reason code of the truth file, or "formula"
    field: str
    action: str  # replace, null, check_digit, bad_date, future_date, dangling, duplicate, formula, unit
    eligible: Mask = _every
    values: tuple[str, ...] = ()


CATALOGUE: dict[str, tuple[Kind, ...]] = {
    "persons": (
        Kind(
            "invalid_checksum",
            "national_id",
            "check_digit",
            lambda f: (f["national_id_type"] == "egn").fill_null(False) & f["national_id"].is_not_null(),
        ),
        Kind("invalid_date", "birth_date", "bad_date", lambda f: _no_egn(f) & f["birth_date"].is_not_null()),
        Kind("implausible_date", "birth_date", "future_date", lambda f: _no_egn(f) & f["birth_date"].is_not_null()),
        Kind("unknown_code", "sex", "replace", _no_egn, ("z", "ж", "female")),
        Kind("unknown_code", "disability", "replace", _every, ("maybe", "да")),
        Kind("missing_required", "role", "null"),
        Kind(
            "missing_required",
            "birth_date",
            "null",
            lambda f: _no_egn(f) & (f["role"] == "child").fill_null(False) & f["birth_date"].is_not_null(),
        ),
        Kind("duplicate_key", "person_id", "duplicate"),
        Kind("formula", "notes", "formula"),
        Kind("formula", "address", "formula"),
    ),
    "memberships": (
        Kind("unknown_code", "relation", "replace", _every, ("uncle", "баща")),
        Kind("missing_required", "relation", "null"),
        Kind("invalid_date", "valid_from", "bad_date", _filled("valid_from")),
        Kind("dangling_reference", "person_id", "dangling"),
    ),
    "cases": (
        Kind("unknown_code", "case_type", "replace", _every, ("misc", "превенция")),
        Kind("unknown_code", "outcome", "replace", _filled("outcome"), ("ok", "закрит")),
        Kind("missing_required", "case_type", "null"),
        Kind("missing_required", "opened", "null"),
        Kind("invalid_date", "opened", "bad_date"),
        Kind("invalid_date", "closed", "bad_date", _filled("closed")),
        Kind("duplicate_key", "case_id", "duplicate"),
        Kind("dangling_reference", "child_person_id", "dangling", _filled("child_person_id")),
        Kind("dangling_reference", "family_id", "dangling"),
        Kind("formula", "notes", "formula"),
    ),
    "events": (
        Kind("invalid_date", "date", "bad_date"),
        Kind("unknown_code", "service_code", "replace", _every, ("massage", "масаж", "yoga")),
        Kind("unknown_code", "modality", "replace", _every, ("online", "телефон")),
        Kind("missing_required", "service_code", "null"),
        Kind("missing_required", "date", "null"),
        Kind("missing_required", "duration_min", "null"),
        Kind("duplicate_key", "event_id", "duplicate"),
        Kind("dangling_reference", "person_id", "dangling"),
        Kind("dangling_reference", "case_id", "dangling", _filled("case_id")),
        Kind("not_an_integer", "duration_min", "unit"),
        Kind("formula", "notes", "formula"),
    ),
    "participations": (
        Kind("missing_required", "entry_date", "null"),
        Kind("missing_required", "operation_code", "null"),
        Kind("invalid_date", "entry_date", "bad_date"),
        Kind("unknown_code", "result_4w", "replace", _filled("result_4w"), ("job", "работа")),
        Kind("dangling_reference", "person_id", "dangling"),
    ),
}

FORMULAS = {
    "bg": (
        '=HYPERLINK("http://example.invalid","виж")',
        "+359 88 123 4567 – обадете се",
        "@SUM(A1)",
        "-1+1",
        "=1+2",
        "-майката каза, че ще дойде",
    ),
    "ru": (
        '=HYPERLINK("http://example.invalid","см.")',
        "+7 927 123-45-67 перезвонить",
        "@SUM(A1)",
        "-1+1",
        "=2+2",
        "-мама просила перезвонить",
    ),
}


def _dangling(values: pl.Series, k: int) -> list[str]:
    """Return ``k`` keys shaped like ``values`` (same prefix) but longer than any of them: never present."""
    sample = values.drop_nulls().head(1).to_list() or ["X1"]
    prefix = re.match(r"\D*", sample[0]).group()  # type: ignore[union-attr]
    width = max(len(v) for v in values.drop_nulls().to_list() or ["X1"]) - len(prefix)
    return [f"{prefix}{10**width + 10 ** (width - 1) * 9 + i}" for i in range(k)]


def _mutate(
    rng: np.random.Generator, kind: Kind, column: pl.Series, rows: np.ndarray, language: str, end_year: int
) -> list[str | None]:
    old = column.gather(rows).to_list()
    k = int(rows.shape[0])
    if kind.action == "null":
        return [None] * k
    if kind.action == "replace":
        return [kind.values[i] for i in rng.integers(0, len(kind.values), k)]
    if kind.action == "check_digit":
        return [v[:-1] + str((int(v[-1]) + int(d)) % 10) for v, d in zip(old, rng.integers(1, 10, k), strict=True)]
    if kind.action == "bad_date":
        shapes = ("{y}-02-30", "{y}-13-01", "{y}-04-31", "{y}-00-15", "{y}-06-31")
        picks = rng.integers(0, len(shapes), k)
        return [shapes[i].format(y=(v or "2024")[:4]) for v, i in zip(old, picks, strict=True)]
    if kind.action == "future_date":
        return [
            f"{end_year + int(y)}-{int(m):02d}-{int(d):02d}"
            for y, m, d in zip(rng.integers(2, 9, k), rng.integers(1, 13, k), rng.integers(1, 29, k), strict=True)
        ]
    if kind.action == "dangling":
        return list(_dangling(column, k))
    if kind.action == "unit":
        units = ("{v} мин", "{v}.5", "1 ч.", "{v}'")
        return [units[i].format(v=v or "45") for v, i in zip(old, rng.integers(0, len(units), k), strict=True)]
    if kind.action == "formula":
        options = FORMULAS[language]
        return [options[i] for i in rng.integers(0, len(options), k)]
    raise ValueError(kind.action)


def plant(
    rng: np.random.Generator,
    entity: str,
    frame: pl.DataFrame,
    rate: float,
    protect: np.ndarray,
    language: str,
    end_year: int,
) -> tuple[pl.DataFrame, list[tuple[int, str, str]], list[tuple[int, str]]]:
    """Return the frame with defects planted, the planted (row, reason, field) and formula (row, field) cells.

    ``frame`` holds the entity's columns as strings; row numbers in the result are 1-based positions
    in the returned frame (duplicate rows inserted).
    """
    n = frame.height
    total = int(np.floor(rate * n + 0.5)) if rate > 0 else 0
    if total == 0 or n == 0:
        return frame, [], []
    kinds = [k for k in CATALOGUE[entity] if k.field in frame.columns]
    share = np.full(len(kinds), total // len(kinds))
    share[rng.permutation(len(kinds))[: total % len(kinds)]] += 1
    taken = protect.copy()
    chosen: list[tuple[Kind, np.ndarray]] = []
    for kind, count in zip(kinds, share, strict=True):
        candidates = np.flatnonzero(kind.eligible(frame).to_numpy() & ~taken)
        rows = np.sort(rng.choice(candidates, size=min(int(count), candidates.shape[0]), replace=False))
        taken[rows] = True
        chosen.append((kind, rows))
    columns: dict[str, pl.Series] = {}
    for kind, rows in chosen:
        if kind.action == "duplicate" or rows.shape[0] == 0:
            continue
        column = columns.get(kind.field, frame[kind.field])
        columns[kind.field] = column.scatter(
            rows, pl.Series(_mutate(rng, kind, column, rows, language, end_year), dtype=pl.String)
        )
    frame = frame.with_columns(list(columns.values())) if columns else frame
    duplicated = np.concatenate([rows for kind, rows in chosen if kind.action == "duplicate"] or [np.empty(0, int)])
    # Each copy goes a little after its original; rows after it move down by one.
    after = np.minimum(duplicated + rng.integers(0, 40, duplicated.shape[0]), n - 1).astype(np.int64)
    by_place = np.argsort(after, kind="stable")
    duplicated, after = duplicated[by_place].astype(np.int64), after[by_place]
    position = np.arange(n) + 1 + np.searchsorted(after, np.arange(n), side="left")
    copy_rows = after + np.arange(after.shape[0]) + 2
    if duplicated.shape[0]:
        copies = frame[duplicated]
        pieces, previous = [], 0
        for t, place in enumerate(after.tolist()):
            pieces += [frame.slice(previous, place + 1 - previous), copies.slice(t, 1)]
            previous = place + 1
        frame = pl.concat([*pieces, frame.slice(previous)], rechunk=False)
    planted: list[tuple[int, str, str]] = []
    formulas: list[tuple[int, str]] = []
    for kind, rows in chosen:
        rows_out = position[rows]
        if kind.reason == "formula":
            formulas.extend((int(r), kind.field) for r in rows_out)
            continue
        planted.extend((int(r), kind.reason, kind.field) for r in rows_out)
    if duplicated.shape[0]:
        field = next(k.field for k in kinds if k.action == "duplicate")
        planted.extend((int(r), "duplicate_key", field) for r in copy_rows)
    return frame, sorted(planted), sorted(formulas)
