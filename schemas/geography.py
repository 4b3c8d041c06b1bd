"""Reference geography: Bulgarian settlements (EKATTE) up to NUTS 1, and the Russian (Samara) pilot.

**EKATTE** (ЕКАТТЕ, *Единен класификатор на административно-териториалните и териториалните
единици*) is the National Statistical Institute's classifier of Bulgaria's administrative units.
Every settlement — town (``град``), village (``село``) or monastery (``манастир``) — has a
five-digit code whose last digit is a check digit; codes are strings and keep their leading zeros
(``00014``). Each settlement belongs to one municipality (*община*, code like ``PDV12``: district
code + number) and each municipality to one of the 28 districts (*област*, three letters such as
``PDV``; ``SOF`` is Sofia city, ``SFO`` is Sofia province).

**NUTS** is Eurostat's nomenclature of territorial units for statistics. In Bulgaria the 28
districts are the NUTS 3 regions (``BG421`` = Plovdiv), grouped into six NUTS 2 planning regions
(``BG42``) and two NUTS 1 regions (``BG4``). The codes here are NUTS 2024, which for Bulgaria is
unchanged from NUTS 2021 (a redrawing of the planning regions is only announced for 2027+).

**Rural** is defined here by settlement kind, the statistical convention of the NSI: a settlement
is rural (``True``) when it is a village (``село``) or a monastery (``манастир``), and urban
(``False``) when it has town status (``град``) — whatever its size. So the town of Банкя inside
Столична municipality is urban, and the village Калояново, a municipal centre, is rural.

Source: the NSI EKATTE tables ``Ek_atte``, ``Ek_obst`` and ``Ek_obl`` in the state "as of
20.02.2017" (5,256 settlements, 265 municipalities, 28 districts), transcribed from a public copy;
every code passes the EKATTE check digit. See ``schemas/data/ekatte.SOURCE.md`` for the exact
source, the checks made and the known limits (changes after February 2017 are not included).

The Russian pilot uses **OKTMO** (ОКТМО), Rosstat's classifier of municipal territories, for the
urban okrugs and a few municipal districts of Samara oblast, with a coarse ``district_group``
(``samara``, ``syzran``, ``tolyatti``, ``other``).

>>> municipality_of("35523")
'PDV12'
>>> nuts3_of("68134")
'BG411'
>>> settlements_in_municipality("VID33")[:3]
['03678', '18486', '21193']
>>> import polars as pl
>>> frame = pl.DataFrame({"settlement_code": ["23672", "56784", "99999"]})
>>> frame.with_columns(geography_columns("settlement_code")).row(0)
('23672', 'VID33', 'VID', 'BG311', 'BG31', True)
>>> frame.with_columns(geography_columns("settlement_code"))["nuts3"].to_list()
['BG311', 'BG421', None]
>>> GEOGRAPHY_VERSION
'EKATTE 2017-02-20; NUTS 2024'
"""

from __future__ import annotations

import io
from functools import cache
from importlib.resources import files

import polars as pl

__all__ = [
    "GEOGRAPHY_VERSION",
    "geography_columns",
    "municipality_of",
    "nuts",
    "nuts3_of",
    "oktmo",
    "settlements",
    "settlements_in_municipality",
]

EKATTE_AS_OF = "2017-02-20"
GEOGRAPHY_VERSION: str = f"EKATTE {EKATTE_AS_OF}; NUTS 2024"

_SETTLEMENT_SCHEMA: dict[str, pl.DataType] = {
    "ekatte": pl.String(),
    "name_bg": pl.String(),
    "kind": pl.String(),
    "municipality_code": pl.String(),
    "municipality_bg": pl.String(),
    "district_code": pl.String(),
    "district_bg": pl.String(),
    "nuts3": pl.String(),
    "nuts2": pl.String(),
    "nuts1": pl.String(),
    "rural": pl.Boolean(),
}
_NUTS_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.String(),
    "level": pl.Int8(),
    "name_bg": pl.String(),
    "name_en": pl.String(),
    "parent": pl.String(),
}
_OKTMO_SCHEMA: dict[str, pl.DataType] = {
    "oktmo": pl.String(),
    "name_ru": pl.String(),
    "kind": pl.String(),
    "district_group": pl.String(),
}

# Columns geography_columns() derives, with their output dtype.
_DERIVED: dict[str, pl.DataType] = {
    "municipality_code": pl.String(),
    "district_code": pl.String(),
    "nuts3": pl.String(),
    "nuts2": pl.String(),
    "rural": pl.Boolean(),
}


def _read(name: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Read one CSV shipped in ``schemas/data`` with an explicit schema (no type inference)."""
    data = (files("schemas") / "data" / name).read_bytes()
    return pl.read_csv(io.BytesIO(data), schema=schema, encoding="utf8")


@cache
def _settlements() -> pl.DataFrame:
    return _read("ekatte.csv", _SETTLEMENT_SCHEMA)


@cache
def _nuts() -> pl.DataFrame:
    return _read("nuts.csv", _NUTS_SCHEMA)


@cache
def _oktmo() -> pl.DataFrame:
    return _read("oktmo.csv", _OKTMO_SCHEMA)


@cache
def _index() -> dict[str, tuple[str, str]]:
    """Map EKATTE code -> (municipality code, NUTS 3 code)."""
    s = _settlements()
    return dict(zip(s["ekatte"], zip(s["municipality_code"], s["nuts3"], strict=True), strict=True))


@cache
def _by_municipality() -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for code, municipality in _settlements().select("ekatte", "municipality_code").iter_rows():
        grouped.setdefault(municipality, []).append(code)
    return {m: sorted(codes) for m, codes in grouped.items()}


def settlements() -> pl.DataFrame:
    """Return every Bulgarian settlement with its municipality, district, NUTS 3/2/1 and rural flag.

    Columns: ``ekatte, name_bg, kind, municipality_code, municipality_bg, district_code,
    district_bg, nuts3, nuts2, nuts1`` (strings) and ``rural`` (boolean). Read once and cached.
    """
    return _settlements().clone()


def nuts() -> pl.DataFrame:
    """Return the Bulgarian NUTS 2024 regions: ``code, level, name_bg, name_en, parent``.

    ``level`` is 0 for the country (``BG``, no parent) and 1-3 below it.
    """
    return _nuts().clone()


def oktmo() -> pl.DataFrame:
    """Return the Samara-region OKTMO reference: ``oktmo, name_ru, kind, district_group``."""
    return _oktmo().clone()


def settlements_in_municipality(municipality_code: str) -> list[str]:
    """Return the EKATTE codes of the settlements in a municipality, sorted.

    An unknown municipality code (for instance an OKTMO code of the Russian pilot) gives ``[]``.
    """
    return list(_by_municipality().get(municipality_code, []))


def _lookup(ekatte: str) -> tuple[str, str]:
    try:
        return _index()[ekatte]
    except KeyError:
        raise KeyError(
            f"unknown EKATTE code {ekatte!r}: not a settlement in the NSI EKATTE classifier "
            f"(as of {EKATTE_AS_OF}); codes are 5-character strings with leading zeros, e.g. '00014'"
        ) from None


def municipality_of(ekatte: str) -> str:
    """Return the municipality code (e.g. ``PDV12``) of a settlement; ``KeyError`` if unknown."""
    return _lookup(ekatte)[0]


def nuts3_of(ekatte: str) -> str:
    """Return the NUTS 3 code (e.g. ``BG421``) of a settlement; ``KeyError`` if unknown."""
    return _lookup(ekatte)[1]


@cache
def _mapping(column: str) -> tuple[pl.Series, pl.Series]:
    s = _settlements()
    return s["ekatte"], s[column]


def district_group_column(settlement: pl.Expr | str) -> pl.Expr:
    """Return the Samara-region district group (``samara``, ``tolyatti``, ``syzran``, ``other``) of an
    OKTMO settlement code column; null for any other code (a Bulgarian EKATTE code, say)."""
    code = (pl.col(settlement) if isinstance(settlement, str) else settlement).cast(pl.String)
    ref = _oktmo()
    return code.replace_strict(
        ref["oktmo"].to_list(), ref["district_group"].to_list(), default=None, return_dtype=pl.String
    ).alias("district_group")


def geography_columns(settlement: pl.Expr | str) -> list[pl.Expr]:
    """Return expressions deriving ``municipality_code, district_code, nuts3, nuts2, rural``.

    ``settlement`` is the EKATTE code column (a name or an expression); it is cast to string, and a
    code that is not in the classifier (or null) gives null in every derived column. The lookups
    are vectorised ``replace_strict`` mappings, so use them as
    ``frame.with_columns(geography_columns("settlement_code"))``.
    """
    code = (pl.col(settlement) if isinstance(settlement, str) else settlement).cast(pl.String)
    exprs = []
    for column, dtype in _DERIVED.items():
        old, new = _mapping(column)
        exprs.append(code.replace_strict(old, new, default=None, return_dtype=dtype).alias(column))
    return exprs
