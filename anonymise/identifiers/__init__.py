"""Personal identifiers found in records, one module per identifier, and the value linkage hashes.

Each module (``egn``, ``lnc``, ``snils``, ``passport``, ``birth_certificate``) has the same verbs as
python-stdnum: ``compact`` writes the number the one way it is compared, ``validate`` returns that form
or raises a ``stdnum.exceptions`` error saying why the number is refused, ``is_valid`` says yes or no.

Linkage hashes a typed value, ``<prefix>:<compact number>``, so that the same digits under two
identifier types never link two people. Only a number valid for its type is linked; ``other`` and
``none`` (and any unknown type) are never linked.

>>> linkage_value('750101 001 0', 'egn')
'egn:7501010010'
>>> linkage_value('112-233-445 95', 'snils'), linkage_value('II-МЮ № 123456', 'birth_certificate')
('snils:11223344595', 'bc:II-МЮ-123456')
>>> linkage_value('7501010011', 'egn') is None, invalid_reason('7501010011', 'egn')
(True, 'invalid_checksum')
>>> linkage_value('МК 1234567', 'other') is None, invalid_reason('МК 1234567', 'other')
(True, 'not_linkable_type')

The same over columns, computed once per distinct (number, type) pair:

>>> frame = pl.DataFrame({"national_id": ["7501010010", "7501010011", None], "national_id_type": ["egn"] * 3})
>>> frame.select(linkage_expr("national_id", "national_id_type"))["national_id"].to_list()
['egn:7501010010', None, None]
>>> frame.select(invalid_reason_expr("national_id", "national_id_type"))["national_id"].to_list()
[None, 'invalid_checksum', 'missing']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import polars as pl
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

from anonymise.identifiers import birth_certificate, egn, lnc, passport, snils

__all__ = [
    "LINKABLE",
    "birth_certificate",
    "egn",
    "invalid_reason",
    "invalid_reason_expr",
    "linkage_expr",
    "linkage_value",
    "lnc",
    "passport",
    "snils",
    "unusable_identifiers",
]

#: Identifier type (the ``national_id_type`` code) → its module and the prefix of its linkage value.
LINKABLE: dict[str, tuple[ModuleType, str]] = {
    "egn": (egn, "egn"),
    "lnc": (lnc, "lnc"),
    "snils": (snils, "snils"),
    "passport": (passport, "passport"),
    "birth_certificate": (birth_certificate, "bc"),
}

# Most specific first: the stdnum errors are not subclasses of one another, but a future one might be.
_REASONS: tuple[tuple[type[ValidationError], str], ...] = (
    (InvalidChecksum, "invalid_checksum"),
    (InvalidLength, "invalid_length"),
    (InvalidComponent, "invalid_component"),
    (InvalidFormat, "invalid_format"),
)


def _checked(number: object, kind: object) -> tuple[str | None, str | None]:
    """Return (linkage value, None) for a usable identifier, else (None, reason code)."""
    if number is None or not str(number).strip():
        return None, "missing"
    if not isinstance(kind, str) or kind not in LINKABLE:
        return None, "not_linkable_type"
    module, prefix = LINKABLE[kind]
    try:
        return f"{prefix}:{module.validate(str(number))}", None
    except ValidationError as error:
        reason = next((code for cls, code in _REASONS if isinstance(error, cls)), "invalid_format")
        return None, reason


def linkage_value(number: str | None, kind: str | None) -> str | None:
    """Return the typed, normalised value hashed for linkage, or None if the number cannot be linked.

    >>> linkage_value('№ 36 05 123456', 'passport')
    'passport:3605123456'
    >>> linkage_value('7111042925', 'lnc'), linkage_value('7111042925', 'none')
    ('lnc:7111042925', None)
    """
    return _checked(number, kind)[0]


def checksum_valid(number: str, kind: str) -> bool:
    """Return whether a national ID of a checksummed kind (egn, lnc, snils) passes its check.

    >>> checksum_valid("1847230710", "egn"), checksum_valid("1847230711", "egn")
    (True, False)
    """
    module = {"egn": egn, "lnc": lnc, "snils": snils}[kind]
    return bool(module.is_valid(number))


def invalid_reason(number: str | None, kind: str | None) -> str | None:
    """Return None for a linkable identifier, else why not.

    The reasons are ``missing``, ``not_linkable_type``, ``invalid_format``, ``invalid_length``,
    ``invalid_checksum`` and ``invalid_component`` (a part of the number is impossible, such as a
    month 13 in an ЕГН, or the number is a placeholder).

    >>> invalid_reason('7513010010', 'egn'), invalid_reason('  ', 'egn'), invalid_reason('12', 'snils')
    ('invalid_component', 'missing', 'invalid_length')
    """
    return _checked(number, kind)[1]


def _per_distinct_pair(
    function: Callable[[str | None, str | None], str | None],
) -> Callable[[Sequence[pl.Series]], pl.Series]:
    """Return a batch function applying ``function`` once per distinct (number, kind) pair of a batch."""

    def batch(columns: Sequence[pl.Series]) -> pl.Series:
        number, kind = (column.cast(pl.String) for column in columns)
        height = number.len() if number.len() != 1 else kind.len()
        # A literal (``pl.lit("passport")``) arrives as one value: broadcast it over the other column.
        number, kind = (s.new_from_index(0, height) if s.len() == 1 else s for s in (number, kind))
        pairs = pl.DataFrame([number.alias("number"), kind.alias("kind")])
        distinct = pairs.unique()
        values = [function(number, kind) for number, kind in distinct.iter_rows()]  # distinct pairs only
        distinct = distinct.with_columns(pl.Series("value", values, dtype=pl.String))
        joined = pairs.join(distinct, on=["number", "kind"], how="left", nulls_equal=True, maintain_order="left")
        return joined["value"]

    return batch


def _map_pairs(
    number: str | pl.Expr, kind: str | pl.Expr, function: Callable[[str | None, str | None], str | None]
) -> pl.Expr:
    number = pl.col(number) if isinstance(number, str) else number
    kind = pl.col(kind) if isinstance(kind, str) else kind
    return pl.map_batches([number, kind], _per_distinct_pair(function), return_dtype=pl.String, is_elementwise=True)


def linkage_expr(number: str | pl.Expr, kind: str | pl.Expr) -> pl.Expr:
    """Return an expression giving ``linkage_value`` of each row (named after the number column)."""
    return _map_pairs(number, kind, linkage_value)


def invalid_reason_expr(number: str | pl.Expr, kind: str | pl.Expr) -> pl.Expr:
    """Return an expression giving ``invalid_reason`` of each row (named after the number column)."""
    return _map_pairs(number, kind, invalid_reason)


#: How a person without a usable identifier is linked (``link_method`` of the store): by the fallback
#: key (names and birth date), or not at all (a central pseudonym of its own).
FALLBACKS = ("fallback", "none")


def unusable_identifiers(
    persons: pl.DataFrame, link_method: pl.Series, number: str = "national_id", kind: str = "national_id_type"
) -> list[dict[str, Any]]:
    """Return the persons whose identifier was not used for linkage, counted by identifier type, reason
    and the fallback used (no values): rows of ``id_type``, ``reason``, ``fallback`` and ``persons``.

    ``link_method`` is the store's, row by row with ``persons``. A missing type is ``unstated``.

    >>> frame = pl.DataFrame({"national_id": ["XX", "II-ZZ 12", None, "7501010010"],
    ...                       "national_id_type": ["passport", "birth_certificate", "none", "egn"]})
    >>> for row in unusable_identifiers(frame, pl.Series(["fallback", "fallback", "none", "national_id"])):
    ...     print(row)
    {'id_type': 'birth_certificate', 'reason': 'invalid_format', 'fallback': 'fallback', 'persons': 1}
    {'id_type': 'none', 'reason': 'missing', 'fallback': 'none', 'persons': 1}
    {'id_type': 'passport', 'reason': 'invalid_length', 'fallback': 'fallback', 'persons': 1}
    """
    if persons.height == 0:
        return []
    frame = persons.select(
        pl.col(kind).fill_null("unstated").alias("id_type"),
        invalid_reason_expr(number, kind).alias("reason"),
        link_method.alias("fallback"),
    ).filter(pl.col("fallback") != "national_id")
    counted = frame.group_by("id_type", "reason", "fallback").len("persons").sort("id_type", "reason", "fallback")
    return [{**row, "persons": int(row["persons"])} for row in counted.iter_rows(named=True)]
