"""The contract checks of interchange v1 as Great Expectations suites, and the quarantine they decide.

One suite per entity is built from ``schemas.contract``: required values, code lists, unique keys,
date shapes and integers become GE expectations on the raw string columns. What GE cannot express
on a single column — a national ID's check, a real calendar date, a plausible date, a reference to
another file — is first derived in Polars as a boolean column (``__checksum__national_id``,
``__invalid_length__national_id``, ``__ref__person_id``, …) that the suite then expects to be true.
Each expectation carries its reason code in ``meta``, so a failing row is quarantined as
``<reason>:<field>``: an ЕГН, ЛНЧ or СНИЛС under the reason its check gives (``invalid_format``,
``invalid_length``, ``invalid_component``, ``invalid_checksum``).

Results never hold values: the result format asks GE for the row numbers of failing rows only
(``exclude_unexpected_values``), and the GE context is ephemeral, so nothing is written to disk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from functools import cache
from typing import Any

import polars as pl

from schemas.contract import ENTITIES, Entity

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

ROW = "_row"
LINE = "_line"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
INTEGER = r"^-?\d+$"
EARLIEST = date(1900, 1, 1)

#: The result format: counts and row numbers of failing rows, never the failing values.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}

#: Date fields that must not lie before another date field of the same row.
ORDERED_DATES = {
    ("cases", "closed"): "opened",
    ("memberships", "valid_to"): "valid_from",
    ("participations", "exit_date"): "entry_date",
}


@dataclass(frozen=True)
class Check:
    """One expectation of a suite with the reason code its failures are quarantined under."""

    expectation: str
    column: str
    reason: str
    field: str
    kwargs: dict[str, Any] = dc_field(default_factory=dict)


@dataclass
class EntityOutcome:
    """The verdict on one entity file: rows quarantined with their reasons, and value-free figures."""

    entity: str
    received: int
    quarantine: pl.DataFrame  # columns _row, _line, reasons (list[str])
    completeness: dict[str, float]
    declined: dict[str, float]
    expectations: list[dict[str, Any]]

    @property
    def quarantined(self) -> int:
        """Return how many rows went to quarantine."""
        return self.quarantine.height

    @property
    def accepted(self) -> int:
        """Return how many rows were accepted."""
        return self.received - self.quarantined


def _date_column(name: str) -> pl.Expr:
    return pl.col(name).str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def checks_for(entity: Entity) -> list[Check]:
    """Return the checks of an entity's suite, derived from its contract fields."""
    out: list[Check] = []
    for f in entity.fields:
        if f.required:
            out.append(Check("expect_column_values_to_not_be_null", f.name, "missing_required", f.name))
        if f.codes:
            out.append(
                Check("expect_column_values_to_be_in_set", f.name, "unknown_code", f.name, {"value_set": list(f.codes)})
            )
        if f.unique:
            out.append(Check("expect_column_values_to_be_unique", f.name, "duplicate_key", f.name))
        if f.kind == "date":
            out.append(
                Check("expect_column_values_to_match_regex", f.name, "invalid_date", f.name, {"regex": ISO_DATE})
            )
            out.append(
                Check(
                    "expect_column_values_to_be_in_set",
                    f"__date__{f.name}",
                    "invalid_date",
                    f.name,
                    {"value_set": [True]},
                )
            )
            out.append(
                Check(
                    "expect_column_values_to_be_in_set",
                    f"__plausible__{f.name}",
                    "implausible_date",
                    f.name,
                    {"value_set": [True]},
                )
            )
        if f.kind == "int":
            out.append(
                Check("expect_column_values_to_match_regex", f.name, "not_an_integer", f.name, {"regex": INTEGER})
            )
        if f.references:
            out.append(
                Check(
                    "expect_column_values_to_be_in_set",
                    f"__ref__{f.name}",
                    "dangling_reference",
                    f.name,
                    {"value_set": [True]},
                )
            )
    if entity.name == "persons":
        out.extend(
            Check("expect_column_values_to_be_in_set", column, reason, "national_id", {"value_set": [True]})
            for reason, column in NATIONAL_ID_COLUMNS.items()
        )
        out.append(
            Check(
                "expect_column_values_to_be_in_set",
                "__required__birth_date",
                "missing_required",
                "birth_date",
                {"value_set": [True]},
            )
        )
    return out


#: ``(number, kind) -> None`` for a valid national ID, else the reason code it is refused under
#: (``invalid_format``, ``invalid_length``, ``invalid_component``, ``invalid_checksum``). The flows layer
#: passes ``anonymise.identifiers.invalid_reason`` so there is one implementation of every check; a
#: function returning a bool (valid or not) is taken too, a failure then counting as ``invalid_checksum``.
NationalIdCheck = Callable[[str, str], str | bool | None]
CHECKSUMMED = ("egn", "lnc", "snils")
#: Why a checksummed national ID is quarantined (the ``python-stdnum`` error raised first), and the
#: derived column the suite checks for it: ``invalid_format`` (not digits), ``invalid_length``,
#: ``invalid_component`` (a part of the number is impossible: an ЕГН's birth date, a placeholder) and
#: ``invalid_checksum`` (the check digit).
NATIONAL_ID_REASONS = ("invalid_format", "invalid_length", "invalid_component", "invalid_checksum")
NATIONAL_ID_COLUMNS = {
    reason: "__checksum__national_id" if reason == "invalid_checksum" else f"__{reason}__national_id"
    for reason in NATIONAL_ID_REASONS
}


def _reason_of(number: str, kind: str, id_check: NationalIdCheck) -> str | None:
    verdict = id_check(number, kind)
    if verdict is True or verdict is None:
        return None
    if verdict is False:
        return "invalid_checksum"
    # a number that is there but blank (``missing`` to the linkage) has no digits to check
    return verdict if verdict in NATIONAL_ID_REASONS else "invalid_format"


def _national_id_reasons(frame: pl.DataFrame, id_check: NationalIdCheck) -> pl.Expr:
    """Return an expression: why the row's national ID fails its type's check (null if it passes, has no
    check, or is missing)."""
    pairs = frame.select("national_id", "national_id_type").drop_nulls().unique()
    pairs = pairs.filter(pl.col("national_id_type").is_in(list(CHECKSUMMED)))
    reasons = [_reason_of(n, k, id_check) for n, k in pairs.iter_rows()]  # distinct pairs only
    table = pairs.with_columns(pl.Series("reason", reasons, dtype=pl.String)).filter(pl.col("reason").is_not_null())
    keyed = pl.concat_str([pl.col("national_id"), pl.lit("\x00"), pl.col("national_id_type")])
    keys = [f"{n}\x00{k}" for n, k in table.select("national_id", "national_id_type").iter_rows()]
    return keyed.replace_strict(keys, table["reason"].to_list(), default=None, return_dtype=pl.String)


def derive_check_columns(
    entity: Entity, frame: pl.DataFrame, references: dict[str, pl.Series], today: date, id_valid: NationalIdCheck
) -> pl.DataFrame:
    """Return the frame with the boolean columns the suite checks beside the raw ones."""
    derived: list[pl.Expr] = []
    for f in entity.fields:
        if f.kind == "date":
            parsed = _date_column(f.name)
            derived.append((pl.col(f.name).is_null() | parsed.is_not_null()).alias(f"__date__{f.name}"))
            plausible = parsed.is_null() | ((parsed >= EARLIEST) & (parsed <= today))
            before = ORDERED_DATES.get((entity.name, f.name))
            if before:
                plausible = plausible & (
                    _date_column(before).is_null() | parsed.is_null() | (parsed >= _date_column(before))
                )
            derived.append(plausible.alias(f"__plausible__{f.name}"))
        if f.references:
            target = references.get(f.references)
            ok = pl.col(f.name).is_null() | (
                pl.col(f.name).is_in(target.implode()) if target is not None else pl.lit(False)
            )
            derived.append(ok.alias(f"__ref__{f.name}"))
    if entity.name == "persons":
        why = _national_id_reasons(frame, id_valid)
        derived.extend(
            (why.is_null() | (why != reason)).alias(column) for reason, column in NATIONAL_ID_COLUMNS.items()
        )
        derived.append(
            ((pl.col("role") != "child").fill_null(True) | pl.col("birth_date").is_not_null()).alias(
                "__required__birth_date"
            )
        )
    return frame.with_columns(derived)


@cache
def _context() -> Any:
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _validation(entity_name: str) -> Any:
    import great_expectations as gx

    context = _context()
    source = context.data_sources.add_pandas(f"zakrila-{entity_name}")
    batch_definition = source.add_dataframe_asset(entity_name).add_batch_definition_whole_dataframe("batch")
    suite = gx.ExpectationSuite(name=f"interchange_v1.{entity_name}")
    for check in checks_for(ENTITIES[entity_name]):
        config = gx.expectations.expectation_configuration.ExpectationConfiguration(
            type=check.expectation,
            kwargs={"column": check.column, **check.kwargs},
            meta={"reason": check.reason, "field": check.field},
        )
        suite.add_expectation_configuration(config)
    suite = context.suites.add(suite)
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"interchange_v1.{entity_name}", data=batch_definition, suite=suite)
    )


def suite_json(entity_name: str) -> dict[str, Any]:
    """Return an entity's suite as JSON (the declarative record of what is checked)."""
    return _validation(entity_name).suite.to_json_dict()


def _failing_rows(result: Any) -> list[int]:
    rows: list[int] = []
    for item in result.result.get("unexpected_index_list") or []:
        value = item[ROW] if isinstance(item, dict) else item
        rows.extend(int(v) for v in (value if isinstance(value, list) else [value]))
    return rows


def validate_entity(
    entity: Entity,
    frame: pl.DataFrame,
    references: dict[str, pl.Series],
    today: date,
    id_valid: NationalIdCheck,
    ragged_rows: list[int] | None = None,
) -> EntityOutcome:
    """Return which rows of a raw entity frame break the contract, and why (row numbers, no values)."""
    checked = derive_check_columns(entity, frame, references, today, id_valid)
    result = _validation(entity.name).run(
        batch_parameters={"dataframe": checked.to_pandas()}, result_format=RESULT_FORMAT
    )
    failures: list[tuple[int, str]] = [(r, "wrong_field_count") for r in (ragged_rows or [])]
    expectations: list[dict[str, Any]] = []
    for item in result.results:
        meta = item.expectation_config.meta or {}
        reason = f"{meta.get('reason')}:{meta.get('field')}"
        rows = _failing_rows(item)
        failures.extend((r, reason) for r in rows)
        expectations.append(
            {
                "expectation": item.expectation_config.type,
                "column": item.expectation_config.kwargs.get("column"),
                "reason": reason,
                "success": bool(item.success),
                "unexpected_count": len(rows),
            }
        )
    quarantine = _collect(frame, failures)
    return EntityOutcome(
        entity=entity.name,
        received=frame.height,
        quarantine=quarantine,
        completeness=_completeness(entity, frame),
        declined=_declined(entity, frame),
        expectations=expectations,
    )


def _collect(frame: pl.DataFrame, failures: list[tuple[int, str]]) -> pl.DataFrame:
    schema = {ROW: pl.Int64, "reason": pl.String}
    found = pl.DataFrame(failures, schema=schema, orient="row")
    return (
        found.unique()
        .join(frame.select(ROW, LINE), on=ROW, how="left")
        .group_by(ROW, LINE)
        .agg(pl.col("reason").sort().alias("reasons"))
        .sort(ROW)
    )


def cascade(outcome: EntityOutcome, frame: pl.DataFrame, column: str, quarantined: pl.Series) -> EntityOutcome:
    """Return the outcome with rows added whose ``column`` points at a quarantined record."""
    hits = frame.filter(pl.col(column).is_in(quarantined.implode())).select(ROW)
    if hits.height == 0:
        return outcome
    extra = [(r, f"reference_quarantined:{column}") for r in hits[ROW].to_list()]
    current = [
        (r, reason) for r, reasons in outcome.quarantine.select(ROW, "reasons").iter_rows() for reason in reasons
    ]
    outcome.quarantine = _collect(frame, current + extra)
    return outcome


def _completeness(entity: Entity, frame: pl.DataFrame) -> dict[str, float]:
    if frame.height == 0:
        return {f.name: 1.0 for f in entity.fields}
    shares = frame.select([pl.col(f.name).is_not_null().mean().alias(f.name) for f in entity.fields]).row(0)
    return {f.name: round(float(s), 4) for f, s in zip(entity.fields, shares, strict=True)}


def _declined(entity: Entity, frame: pl.DataFrame) -> dict[str, float]:
    sensitive = [f.name for f in entity.fields if f.field_class == "SA" and "declined" in f.codes]
    if not sensitive or frame.height == 0:
        return {}
    row = frame.select(
        [pl.col(c).is_in(["declined", "unknown"]).or_(pl.col(c).is_null()).mean().alias(c) for c in sensitive]
    ).row(0)
    return {c: round(float(v), 4) for c, v in zip(sensitive, row, strict=True)}
