from datetime import date

import polars as pl
import pytest

from anonymise.generalise import age_band, age_years, month, quarter


@pytest.mark.parametrize(
    ("birth", "at", "age"),
    [
        (date(2019, 3, 12), date(2025, 3, 11), 5),
        (date(2019, 3, 12), date(2025, 3, 12), 6),
        (date(2020, 2, 29), date(2025, 2, 28), 4),
        (date(2020, 2, 29), date(2025, 3, 1), 5),
        (date(2025, 12, 31), date(2025, 12, 31), 0),
    ],
)
def test_age_counts_completed_years(birth, at, age):
    assert pl.DataFrame({"b": [birth]}).select(age_years("b", at))["b"].item() == age


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "Y0T2"),
        (2, "Y0T2"),
        (3, "Y3T6"),
        (6, "Y3T6"),
        (7, "Y7T13"),
        (13, "Y7T13"),
        (14, "Y14T17"),
        (17, "Y14T17"),
        (18, "Y18T24"),
        (25, "Y25T29"),
        (29, "Y25T29"),
        (30, "Y30T54"),
        (54, "Y30T54"),
        (55, "Y55T64"),
        (64, "Y55T64"),
        (65, "Y_GE65"),
        (101, "Y_GE65"),
        (None, "_U"),
        (-1, "_U"),
    ],
)
def test_atomic_age_bands_cover_every_age_once(age, band):
    frame = pl.DataFrame({"a": [age]}, schema={"a": pl.Int32})
    assert frame.select(age_band(pl.col("a")).alias("x"))["x"].item() == band


def test_dates_become_months_and_quarters():
    frame = pl.DataFrame({"d": [date(2025, 1, 31), date(2025, 6, 1)]})
    assert frame.select(month("d"))["d"].to_list() == ["2025-01", "2025-06"]
    assert frame.select(quarter("d"))["d"].to_list() == ["2025-Q1", "2025-Q2"]
