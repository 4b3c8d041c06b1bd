"""What the policy does to each field of interchange v1, and which fields each release table needs.

A field's *effective treatment* is, in this order: the policy's ``[fields]`` setting of that field;
else its class's ``[treatments]`` setting where that is not the class default (``SA = "drop"``,
``OP = "drop"``, ``FT = "scrub_then_keep"``); else the contract's treatment of the field
(``schemas.contract``). It is what the pseudonymise stage applies to the store and what section C of
the run report prints.

Every treatment name below is implemented; a policy naming anything else is refused when it is
loaded. ``drop`` removes the field, and every store column derived from it, before the store is
written. The fields that link persons (the national ID and its type, the names) are used for
linkage only and never reach the store whatever the policy says, so a policy cannot drop them (the
pseudonyms would change).

>>> t = effective_treatments({"SA": "drop", "OP": "keep"}, {"persons.disability": "keep_tristate"})
>>> t["persons.minority"], t["persons.disability"], t["cases.outcome"], t["events.service_code"]
('drop', 'keep_tristate', 'drop', 'keep')
>>> conflicts(["T04", "T09"], t)
[('T09', 'persons.minority'), ('T09', 'persons.homeless'), ('T09', 'cases.case_type')]
>>> effective_treatments({"OP": "drop"}, {})["events.event_id"]  # a record key is never dropped
'pseudonymise'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from schemas.contract import DEFAULT_TREATMENT, ENTITIES, Field

#: Every treatment a field can get, with what it does (printed in the run report).
TREATMENTS: dict[str, str] = {
    "pseudonymise": "replaced by a keyed HMAC pseudonym (partner-local domain; persons also central)",
    "link_then_drop": "used to link persons across partners (fallback key), then dropped: never stored",
    "drop": "dropped: neither the field nor anything derived from it reaches the store",
    "age_at_reference": "generalised to age and age band at the period end (and at case opening)",
    "eu_third_country_flag": "generalised to national / EU / third country / unknown",
    "settlement_to_region": "generalised to municipality, district, NUTS 3, NUTS 2, rural flag (RU: district group)",
    "month": "generalised to the month (events also the quarter; cases also the duration in days)",
    "keep": "kept as coded",
    "keep_tristate": "kept as yes / no / declined / unknown (missing is unknown)",
    "drop_after_scan": "scanned for personal data (counts by type in the report), then dropped",
    "scrub_then_keep": "scanned, personal data replaced by placeholders, then kept scrubbed",
}
#: Class settings that mean "the contract's treatment of each field of the class".
CLASS_DEFAULTS = frozenset(DEFAULT_TREATMENT.values())
#: Fields used only to link persons: never stored, and the policy cannot change how they are used.
LINKAGE_INPUTS = frozenset(
    {
        "persons.national_id",
        "persons.national_id_type",
        "persons.given_name",
        "persons.middle_name",
        "persons.family_name",
    }
)
#: The treatment actually applied where the contract's says otherwise (the type only steers linkage).
APPLIED_DEFAULT = {"persons.national_id_type": "link_then_drop"}

#: Per field, the store columns made from it (entity → columns). A field not listed reaches the store
#: only as a key pseudonym (record keys, never dropped) or not at all.
STORE_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "persons.role": {"persons": ("role",)},
    "persons.birth_date": {"persons": ("age", "age_band"), "cases": ("child_age_band_at_opening",)},
    "persons.sex": {"persons": ("sex",)},
    "persons.citizenship": {"persons": ("citizenship_group",)},
    "persons.settlement_code": {
        "persons": ("municipality_code", "district_code", "nuts3", "nuts2", "rural", "district_group")
    },
    "persons.disability": {"persons": ("disability",)},
    "persons.minority": {"persons": ("minority",)},
    "persons.homeless": {"persons": ("homeless",)},
    "persons.education_isced": {"persons": ("education_isced",)},
    "persons.labour_status": {"persons": ("labour_status",)},
    "persons.notes": {"persons": ("notes_scrubbed",)},
    "memberships.relation": {"memberships": ("relation",)},
    "memberships.valid_from": {"memberships": ("valid_from_month",)},
    "memberships.valid_to": {"memberships": ("valid_to_month",)},
    "cases.child_person_id": {"cases": ("child_pid",)},
    "cases.case_type": {"cases": ("case_type",)},
    "cases.referral_source": {"cases": ("referral_source",)},
    "cases.opened": {"cases": ("opened_month", "duration_days", "child_age_band_at_opening")},
    "cases.closed": {"cases": ("closed_month", "duration_days")},
    "cases.outcome": {"cases": ("outcome",)},
    "cases.worker_id": {"cases": ("worker_pid",)},
    "cases.notes": {"cases": ("notes_scrubbed",)},
    "events.case_id": {"events": ("case_pid",)},
    "events.date": {"events": ("month", "quarter")},
    "events.service_code": {"events": ("service_code",)},
    "events.modality": {"events": ("modality",)},
    "events.setting": {"events": ("setting",)},
    "events.duration_min": {"events": ("duration_min",)},
    "events.specialist_role": {"events": ("specialist_role",)},
    "events.notes": {"events": ("notes_scrubbed",)},
    "participations.operation_code": {"participations": ("operation_code",)},
    "participations.entry_date": {"participations": ("entry_month",)},
    "participations.exit_date": {"participations": ("exit_month",)},
    "participations.result_4w": {"participations": ("result_4w",)},
    "participations.result_6m": {"participations": ("result_6m",)},
}
#: Store columns that are keys or linkage results, made from record keys and linkage inputs only.
KEY_COLUMNS = frozenset(
    {"person_pid", "person_cid", "link_method", "partner_id", "family_pid", "case_pid", "event_pid"}
)

_PERSON = ("persons.settlement_code", "persons.birth_date", "persons.sex")
_MEMBERS = ("memberships.relation", "memberships.valid_from", "memberships.valid_to", "persons.disability")
_ESF = (
    "participations.operation_code",
    "participations.entry_date",
    "participations.exit_date",
    "participations.result_4w",
    "participations.result_6m",
)
#: Per release table, the fields its counts are made from (dimensions, measures, universe, statistics).
#: ``tests/flows/test_treatments.py`` checks it against the builders: a table built without a field it
#: does not list is unchanged.
TABLE_NEEDS: dict[str, frozenset[str]] = {
    "T01": frozenset(
        {*_ESF, *_PERSON, "persons.disability", "persons.minority", "persons.homeless", "persons.citizenship"}
    ),
    "T02": frozenset(
        {*_ESF, *_PERSON, "persons.disability", "persons.minority", "persons.homeless", "persons.citizenship"}
    ),
    "T03": frozenset({*_ESF, "persons.sex", "persons.settlement_code"}),  # every person has a residence code
    "T04": frozenset({*_PERSON, "events.date", "events.service_code"}),
    "T05": frozenset(
        {"persons.settlement_code", "events.date", "events.service_code", "events.modality", "events.setting"}
    ),
    "T06": frozenset({*_MEMBERS, "persons.settlement_code", "persons.birth_date", "events.date"}),
    "T07": frozenset(
        {
            *_MEMBERS,
            "persons.settlement_code",
            "persons.birth_date",
            "cases.child_person_id",
            "cases.referral_source",
            "cases.case_type",
            "cases.opened",
            "cases.closed",
            "cases.outcome",
        }
    ),
    "T08": frozenset({*_PERSON, "persons.role", "events.date", "events.service_code", "events.modality"}),
    "T09": frozenset(
        {
            *_MEMBERS,
            "persons.settlement_code",
            "persons.birth_date",
            "persons.role",
            "persons.minority",
            "persons.homeless",
            "cases.case_type",
            "cases.opened",
            "cases.closed",
            "events.date",
            "events.service_code",
        }
    ),
    "T10": frozenset({"persons.settlement_code", "persons.birth_date", "events.date"}),
    "T11": frozenset(),
    "T12": frozenset(
        {
            *_MEMBERS,
            *_PERSON,
            "cases.child_person_id",
            "cases.opened",
            "cases.closed",
            "events.case_id",
            "events.date",
            "events.service_code",
            "events.modality",
        }
    ),
}


def fields() -> Iterable[tuple[str, Field]]:
    """Yield every contract field as (``entity.field``, field)."""
    for entity in ENTITIES.values():
        for f in entity.fields:
            yield f"{entity.name}.{f.name}", f


def is_record_key(entity: str, f: Field) -> bool:
    """Return whether a field is a record key: the entity's key, or a required pseudonymised reference."""
    return ENTITIES[entity].key == f.name or f.unique or (f.treatment == "pseudonymise" and f.required)


def default_treatment(name: str, f: Field) -> str:
    """Return the treatment the code applies to a field when the policy says nothing of it."""
    return APPLIED_DEFAULT.get(name, f.treatment)


def allowed_treatments(name: str, f: Field) -> tuple[str, ...]:
    """Return the treatments a policy may give the field in ``[fields]`` (its default first)."""
    default = default_treatment(name, f)
    entity = name.split(".")[0]
    if name in LINKAGE_INPUTS or is_record_key(entity, f):
        return (default,)
    out = [default]
    if f.field_class == "FT":
        out += ["drop_after_scan", "scrub_then_keep"]
    out.append("drop")
    return tuple(dict.fromkeys(out))


def field_problem(name: str, f: Field, treatment: object) -> str | None:
    """Return why ``[fields] name = treatment`` cannot be applied, or None."""
    allowed = allowed_treatments(name, f)
    if treatment in allowed:
        return None
    if treatment == "keep" and f.field_class in ("DI", "FT"):
        return f"[fields] {name} is {f.field_class} and can never be kept in the clear"
    if treatment == "drop" and is_record_key(name.split(".")[0], f):
        return f"[fields] {name} is a record key and cannot be dropped"
    if treatment == "drop" and name in LINKAGE_INPUTS:
        return (
            f"[fields] {name} links persons and never reaches the store ({default_treatment(name, f)}); "
            "the policy cannot drop it"
        )
    return f"[fields] {name} = {treatment!r} is not implemented for this field; use {' or '.join(map(repr, allowed))}"


def effective_treatments(classes: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Return ``entity.field`` → the treatment applied, from the policy's class and field settings."""
    out: dict[str, str] = {}
    for name, f in fields():
        allowed = allowed_treatments(name, f)
        treatment = default_treatment(name, f)
        by_class = classes.get(f.field_class)
        if by_class is not None and by_class not in CLASS_DEFAULTS and by_class in allowed:
            treatment = by_class
        if name in overrides and overrides[name] in allowed:
            treatment = overrides[name]
        out[name] = treatment
    return out


def dropped(treatments: Mapping[str, str]) -> set[str]:
    """Return the fields whose treatment is ``drop``."""
    return {name for name, t in treatments.items() if t == "drop"}


def conflicts(tables: Iterable[str], treatments: Mapping[str, str]) -> list[tuple[str, str]]:
    """Return (table, field) for every release table that needs a field the policy drops."""
    gone = dropped(treatments)
    return [(t, name) for t in tables for name in sorted(TABLE_NEEDS.get(t, ()), key=_order) if name in gone]


def _order(name: str) -> int:
    return list(dict(fields())).index(name)


def unused_by_release(tables: Iterable[str], treatments: Mapping[str, str]) -> list[str]:
    """Return the fields that reach the store but that no table of the release is made from."""
    needed = set().union(*(TABLE_NEEDS.get(t, frozenset()) for t in tables))
    return [
        name
        for name, _ in fields()
        if name in STORE_COLUMNS and treatments.get(name) not in ("drop", "drop_after_scan") and name not in needed
    ]


def apply_to_store(frames: Mapping[str, pl.DataFrame], treatments: Mapping[str, str]) -> dict[str, pl.DataFrame]:
    """Return the store frames without the columns of dropped fields and of notes not kept scrubbed.

    The other treatments are applied as the frames are made (``anonymise.pseudonymise``); free text is
    scrubbed there for every entity when any notes field is kept, and removed here where it is not.
    """
    gone: dict[str, set[str]] = {}
    for name, by_entity in STORE_COLUMNS.items():
        if treatments.get(name, "keep") in ("drop", "drop_after_scan"):
            for entity, columns in by_entity.items():
                gone.setdefault(entity, set()).update(columns)
    return {
        entity: frame.drop([c for c in frame.columns if c in gone.get(entity, set())])
        for entity, frame in frames.items()
    }


def store_fields(frames: Mapping[str, pl.DataFrame]) -> set[str]:
    """Return the fields with a column in the store frames (keys aside)."""
    return {
        name
        for name, by_entity in STORE_COLUMNS.items()
        if any(c in frames[e].columns for e, columns in by_entity.items() if e in frames for c in columns)
    }


def policy_drops(treatments: Mapping[str, str]) -> set[str]:
    """Return the fields the policy drops that the contract alone would not (``SA = "drop"``, …)."""
    contract = dict(fields())
    return {name for name in dropped(treatments) if default_treatment(name, contract[name]) != "drop"}


def without_fields(quality: Iterable[Mapping[str, object]], gone: set[str]) -> list[dict[str, object]]:
    """Return per-entity quality figures without the completeness and declined rates of ``gone`` fields.

    >>> without_fields([{"entity": "persons", "declined": {"minority": 0.1, "homeless": 0.0}}], {"persons.minority"})
    [{'entity': 'persons', 'declined': {'homeless': 0.0}}]
    """
    out: list[dict[str, object]] = []
    for q in quality:
        item = dict(q)
        for key in ("completeness", "declined"):
            shares = item.get(key)
            if isinstance(shares, Mapping):
                item[key] = {f: v for f, v in shares.items() if f"{item['entity']}.{f}" not in gone}
        out.append(item)
    return out


def inventory(
    classes: Mapping[str, str], overrides: Mapping[str, str], tables: Iterable[str]
) -> list[dict[str, object]]:
    """Return every contract field with its class, the treatment applied and what set it (``contract``,
    ``class`` or ``field``), whether it reaches the store, and the release tables made from it."""
    applied = effective_treatments(classes, overrides)
    tables = list(tables)
    rows: list[dict[str, object]] = []
    for name, f in fields():
        treatment = applied[name]
        if name in overrides and overrides[name] == treatment:
            source = "field"
        elif treatment != default_treatment(name, f):
            source = "class"
        else:
            source = "contract"
        entity, field_name = name.split(".")
        rows.append(
            {
                "entity": entity,
                "field": field_name,
                "class": f.field_class,
                "treatment": treatment,
                "set_by": source,
                "contract_treatment": f.treatment,
                "required": f.required,
                "stored": treatment == "pseudonymise"
                or (name in STORE_COLUMNS and treatment not in ("drop", "drop_after_scan")),
                "used_by": [t for t in tables if name in TABLE_NEEDS.get(t, ())],
            }
        )
    return rows
