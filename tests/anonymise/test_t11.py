"""T11: a partner's batches add up, and an unreadable batch is visible in the release."""

from __future__ import annotations

import polars as pl

from anonymise.period import Period
from anonymise.tables import build_t11


def _q(partner: str, received: int, quarantined: int, complete: float, reasons: dict[str, int]) -> dict[str, object]:
    return {
        "partner": partner,
        "entity": "persons",
        "received": received,
        "accepted": received - quarantined,
        "quarantined": quarantined,
        "reasons": reasons,
        "completeness": {"birth_date": complete},
        "declined": {},
    }


def _value(t11: pl.DataFrame, partner: str, entity: str, check: str, measure: str) -> str:
    cell = t11.filter(
        (pl.col("partner") == partner)
        & (pl.col("entity") == entity)
        & (pl.col("check") == check)
        & (pl.col("measure") == measure)
    )
    assert cell.height == 1, cell
    return str(cell["value"].item())


def test_two_batches_of_one_partner_are_one_row_per_cell_with_weighted_shares():
    quality = [
        _q("ruse-svetilnik", 100, 4, 1.0, {"invalid_date": 4}),
        _q("ruse-svetilnik", 300, 6, 0.5, {"invalid_date": 1, "duplicate_key": 5}),
    ]
    t11 = build_t11(quality, Period.parse("2025"))
    assert t11.select("partner", "entity", "check", "measure").is_duplicated().sum() == 0
    assert _value(t11, "ruse-svetilnik", "persons", "_T", "received") == "400"
    assert _value(t11, "ruse-svetilnik", "persons", "_T", "accepted") == "390"
    assert _value(t11, "ruse-svetilnik", "persons", "invalid_date", "quarantined") == "5"
    assert _value(t11, "ruse-svetilnik", "persons", "birth_date", "completeness") == "0.6250"


def test_unreadable_batches_are_counted_per_partner():
    quality = [_q("plovdiv-ksuds", 10, 0, 1.0, {})]
    coverage = [
        {"partner": "plovdiv-ksuds", "batch": "b1", "status": "checked"},
        {"partner": "sofia-kisuds", "batch": "b1", "status": "failed"},
        {"partner": "sofia-kisuds", "batch": "b2", "status": "failed"},
    ]
    t11 = build_t11(quality, Period.parse("2025"), coverage)
    assert _value(t11, "plovdiv-ksuds", "_T", "read", "batches") == "1"
    assert _value(t11, "sofia-kisuds", "_T", "unreadable", "batches") == "2"
    assert set(t11["conf_status"]) == {"F"}
