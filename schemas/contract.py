"""Interchange format v1: the entities a partner sends, their fields, classes and default treatments.

A batch is a folder ``<inbox>/<partner_id>/<batch_id>/`` with one CSV per entity. Each field has a
class that decides what happens to it:

- ``DI`` direct identifier: keys and national IDs become keyed pseudonyms; names, address, phone and
  e-mail are used for linkage and derivation, then dropped;
- ``QI`` quasi-identifier: generalised (ages, months, districts, flags);
- ``SA`` sensitive (GDPR Art. 9): kept as coded tri-state, shown under stricter thresholds;
- ``FT`` free text: dropped by default, always scanned;
- ``OP`` operational: kept.

>>> ENTITIES["persons"].required_file
True
>>> field("persons", "national_id").field_class
'DI'
>>> sorted(f.name for f in ENTITIES["events"].fields if f.required)[:3]
['date', 'duration_min', 'event_id']
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal

import polars as pl

from schemas import codes

SCHEMA_VERSION = "interchange-v1"

FieldClass = Literal["DI", "QI", "SA", "FT", "OP"]
Kind = Literal["str", "date", "int", "code"]

#: Default treatment per field class (DATA-CONTRACT.md, "Field classes and default treatment").
DEFAULT_TREATMENT: dict[str, str] = {
    "DI": "pseudonymise_or_drop",
    "QI": "generalise",
    "SA": "keep_tristate",
    "FT": "drop_after_scan",
    "OP": "keep",
}


@dataclass(frozen=True)
class Field:
    """One column of an entity file."""

    name: str
    kind: Kind
    field_class: FieldClass
    treatment: str
    required: bool = False
    codes: tuple[str, ...] = ()
    unique: bool = False
    references: str | None = None  # "entity.column" this column must point to
    description: str = ""

    @property
    def dtype(self) -> pl.DataType:
        """Return the Polars type of the column after parsing."""
        return {"str": pl.String(), "code": pl.String(), "date": pl.Date(), "int": pl.Int64()}[self.kind]


@dataclass(frozen=True)
class Entity:
    """One file of a batch."""

    name: str
    fields: tuple[Field, ...]
    required_file: bool
    key: str | None = None
    extra: dict[str, str] = dc_field(default_factory=dict)

    @property
    def filename(self) -> str:
        """Return the file name of the entity inside a batch folder."""
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        """Return the contract's column names in order."""
        return tuple(f.name for f in self.fields)

    @property
    def schema(self) -> pl.Schema:
        """Return the Polars schema of the parsed entity."""
        return pl.Schema({f.name: f.dtype for f in self.fields})


def _f(
    name: str,
    kind: Kind,
    cls: FieldClass,
    *,
    treatment: str | None = None,
    required: bool = False,
    codes_: tuple[str, ...] = (),
    unique: bool = False,
    references: str | None = None,
    description: str = "",
) -> Field:
    return Field(
        name=name,
        kind=kind,
        field_class=cls,
        treatment=treatment or DEFAULT_TREATMENT[cls],
        required=required,
        codes=codes_,
        unique=unique,
        references=references,
        description=description,
    )


PERSONS = Entity(
    name="persons",
    required_file=True,
    key="person_id",
    fields=(
        _f(
            "person_id",
            "str",
            "DI",
            treatment="pseudonymise",
            required=True,
            unique=True,
            description="partner-local key",
        ),
        _f("role", "code", "OP", required=True, codes_=codes.ROLE),
        _f("given_name", "str", "DI", treatment="link_then_drop"),
        _f("middle_name", "str", "DI", treatment="link_then_drop", description="patronymic"),
        _f("family_name", "str", "DI", treatment="link_then_drop"),
        _f(
            "national_id",
            "str",
            "DI",
            treatment="pseudonymise",
            description="ЕГН, ЛНЧ, СНИЛС, passport, birth certificate",
        ),
        _f("national_id_type", "code", "OP", codes_=codes.NATIONAL_ID_TYPE),
        _f("birth_date", "date", "QI", treatment="age_at_reference", description="required for children"),
        _f("sex", "code", "QI", treatment="keep", codes_=codes.SEX),
        _f("citizenship", "str", "QI", treatment="eu_third_country_flag"),
        _f("settlement_code", "str", "QI", treatment="settlement_to_region", description="EKATTE in BG, OKTMO in RU"),
        _f("address", "str", "DI", treatment="drop"),
        _f("phone", "str", "DI", treatment="drop"),
        _f("email", "str", "DI", treatment="drop"),
        _f("disability", "code", "SA", codes_=codes.TRI_STATE),
        _f("minority", "code", "SA", codes_=codes.TRI_STATE),
        _f("homeless", "code", "SA", codes_=codes.TRI_STATE),
        _f("education_isced", "code", "QI", treatment="keep", codes_=codes.EDUCATION_ISCED),
        _f("labour_status", "code", "QI", treatment="keep", codes_=codes.LABOUR_STATUS),
        _f("notes", "str", "FT"),
    ),
)

MEMBERSHIPS = Entity(
    name="memberships",
    required_file=True,
    fields=(
        _f("family_id", "str", "DI", treatment="pseudonymise", required=True),
        _f("person_id", "str", "DI", treatment="pseudonymise", required=True, references="persons.person_id"),
        _f("relation", "code", "OP", required=True, codes_=codes.RELATION),
        _f("valid_from", "date", "QI", treatment="month"),
        _f("valid_to", "date", "QI", treatment="month"),
    ),
)

CASES = Entity(
    name="cases",
    required_file=False,
    key="case_id",
    fields=(
        _f("case_id", "str", "DI", treatment="pseudonymise", required=True, unique=True),
        _f("family_id", "str", "DI", treatment="pseudonymise", required=True, references="memberships.family_id"),
        _f("child_person_id", "str", "DI", treatment="pseudonymise", references="persons.person_id"),
        _f("case_type", "code", "SA", treatment="keep", required=True, codes_=codes.CASE_TYPE),
        _f("referral_source", "code", "OP", codes_=codes.REFERRAL_SOURCE),
        _f("opened", "date", "QI", treatment="month", required=True),
        _f("closed", "date", "QI", treatment="month"),
        _f("outcome", "code", "SA", treatment="keep", codes_=codes.OUTCOME),
        _f("worker_id", "str", "DI", treatment="pseudonymise", description="staff"),
        _f("notes", "str", "FT"),
    ),
)

EVENTS = Entity(
    name="events",
    required_file=True,
    key="event_id",
    fields=(
        _f("event_id", "str", "OP", treatment="pseudonymise", required=True, unique=True),
        _f("case_id", "str", "DI", treatment="pseudonymise", references="cases.case_id"),
        _f("person_id", "str", "DI", treatment="pseudonymise", required=True, references="persons.person_id"),
        _f("date", "date", "QI", treatment="month", required=True),
        _f("service_code", "code", "OP", required=True, codes_=codes.service_codes()),
        _f("modality", "code", "OP", required=True, codes_=codes.MODALITY),
        _f("setting", "code", "OP", required=True, codes_=codes.SETTING),
        _f("duration_min", "int", "OP", required=True),
        _f("specialist_role", "code", "OP", codes_=codes.SPECIALIST_ROLE),
        _f("site_id", "str", "QI", treatment="drop", description="outreach sites reveal communities: never published"),
        _f("notes", "str", "FT"),
    ),
)

PARTICIPATIONS = Entity(
    name="participations",
    required_file=False,
    fields=(
        _f("person_id", "str", "DI", treatment="pseudonymise", required=True, references="persons.person_id"),
        _f("operation_code", "str", "OP", required=True),
        _f("entry_date", "date", "QI", treatment="month", required=True),
        _f("exit_date", "date", "QI", treatment="month"),
        _f("result_4w", "code", "OP", codes_=codes.ESF_RESULT),
        _f("result_6m", "code", "OP", codes_=codes.ESF_RESULT),
    ),
)

#: Entities in the order they are read (referenced entities first).
ENTITIES: dict[str, Entity] = {e.name: e for e in (PERSONS, MEMBERSHIPS, CASES, EVENTS, PARTICIPATIONS)}

#: Fields whose text is screened for spreadsheet formulas (=, +, -, @ at the start).
FORMULA_PREFIXES = ("=", "+", "-", "@")


def field(entity: str, name: str) -> Field:
    """Return the contract's definition of ``entity.name``; KeyError names both if unknown."""
    for f in ENTITIES[entity].fields:
        if f.name == name:
            return f
    raise KeyError(f"{entity}.{name} is not in {SCHEMA_VERSION}")


def field_inventory() -> pl.DataFrame:
    """Return every contract field with its entity, class, treatment and whether it is required."""
    rows = [
        {
            "entity": e.name,
            "field": f.name,
            "class": f.field_class,
            "treatment": f.treatment,
            "required": f.required,
        }
        for e in ENTITIES.values()
        for f in e.fields
    ]
    return pl.DataFrame(rows)
