"""Generalisation of quasi-identifiers as Polars expressions.

Exact dates and places single people out; ages, months, districts and flags rarely do. Each function
returns an expression, so a policy assembles them into one lazy plan per entity.

>>> from datetime import date
>>> frame = pl.DataFrame({"b": [date(2019, 3, 12), date(1990, 12, 31), None]})
>>> frame.select(age_years("b", date(2025, 3, 11)).alias("age"))["age"].to_list()
[5, 34, None]
>>> frame.select(age_band(age_years("b", date(2025, 3, 12))).alias("band"))["band"].to_list()
['Y3T6', 'Y30T54', '_U']
>>> pl.DataFrame({"d": [date(2025, 11, 2)]}).select(quarter("d"))["d"].item()
'2025-Q4'
>>> pl.DataFrame({"c": ["bg", "RO", "sy", None]}).select(citizenship_group("c").alias("g"))["g"].to_list()
['national', 'eu', 'third_country', 'unknown']
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from schemas.codes import AGE_BANDS, EU_EEA

UNKNOWN = "_U"


def _col(column: str | pl.Expr) -> pl.Expr:
    return pl.col(column) if isinstance(column, str) else column


def age_years(birth: str | pl.Expr, at: date | pl.Expr) -> pl.Expr:
    """Return the completed years of age at ``at`` (a date or a date expression)."""
    b = _col(birth)
    ref = pl.lit(at) if isinstance(at, date) else at
    had_birthday = (ref.dt.month() > b.dt.month()) | ((ref.dt.month() == b.dt.month()) & (ref.dt.day() >= b.dt.day()))
    age = (ref.dt.year() - b.dt.year() - pl.when(had_birthday).then(0).otherwise(1)).cast(pl.Int32)
    return age.alias(birth) if isinstance(birth, str) else age


def age_band(age: pl.Expr) -> pl.Expr:
    """Return the atomic age band code (``Y0T2`` … ``Y_GE65``) of an age in years; ``_U`` if unknown."""
    expr: Any = pl.when(age.is_null() | (age < 0)).then(pl.lit(UNKNOWN))
    for code, low, high in AGE_BANDS:
        cond = age >= low if high is None else (age >= low) & (age <= high)
        expr = expr.when(cond).then(pl.lit(code))
    return expr.otherwise(pl.lit(UNKNOWN))


def month(column: str | pl.Expr) -> pl.Expr:
    """Return the month of a date as ``YYYY-MM``."""
    return _col(column).dt.strftime("%Y-%m")


def quarter(column: str | pl.Expr) -> pl.Expr:
    """Return the calendar quarter of a date as ``YYYY-Qn``."""
    c = _col(column)
    return pl.concat_str([c.dt.year().cast(pl.String), pl.lit("-Q"), c.dt.quarter().cast(pl.String)])


def citizenship_group(column: str | pl.Expr, national: str = "bg") -> pl.Expr:
    """Return ``national``, ``eu`` (EU/EEA), ``third_country`` or ``unknown`` for an ISO alpha-2 code."""
    c = _col(column).str.to_lowercase().str.strip_chars()
    return (
        pl.when(c.is_null() | (c == ""))
        .then(pl.lit("unknown"))
        .when(c == national)
        .then(pl.lit("national"))
        .when(c.is_in(sorted(EU_EEA)))
        .then(pl.lit("eu"))
        .otherwise(pl.lit("third_country"))
    )


def tri_state(column: str | pl.Expr) -> pl.Expr:
    """Return a sensitive field as ``yes``/``no``/``declined``/``unknown`` (missing is unknown)."""
    return _col(column).fill_null("unknown")
