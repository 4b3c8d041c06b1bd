"""Pseudonymise and minimise one partner batch: accepted raw frames in, store frames and figures out.

Each entity becomes one lazy plan of expressions: keys become keyed pseudonyms (partner-local domain
for records, the jurisdiction's central domain for persons), quasi-identifiers are generalised,
names, addresses, phones, e-mails and notes are dropped after use. Nothing here touches files.

Linkage of a person in the central domain, strongest first:

1. ``national_id``: a checksummed ЕГН, ЛНЧ or СНИЛС, or a passport or birth-certificate number,
   validated, normalised and typed (``egn:7501010010``) before hashing (``anonymise.identifiers``);
2. ``fallback``: given name, family name and birth date normalised across scripts and spellings
   (``anonymise.names``: «Иван Петров» = «Ivan Petrov», ё = е, no patronymic) under the separate
   fallback key — weaker: namesakes born the same day merge;
3. ``none``: no usable identifier; the person gets a central pseudonym of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from anonymise.generalise import age_band, age_years, citizenship_group, month, quarter, tri_state
from anonymise.identifiers import linkage_expr
from anonymise.names import fallback_key_expr
from anonymise.pii.notes import known_people, scan_notes
from anonymise.pseudonym import pseudonym
from schemas.geography import district_group_column, geography_columns

NATIONAL_ID_TYPES = {"egn": "egn", "lnc": "lnc", "snils": "snils", "passport": "passport", "birth_certificate": "bc"}


@dataclass(frozen=True)
class DomainKeys:
    """The keys one batch is pseudonymised under: partner-local purposes and the central domain's."""

    person: bytes
    family: bytes
    case: bytes
    staff: bytes
    event: bytes
    central_person: bytes
    central_fallback: bytes


@dataclass
class Pseudonymised:
    """The store frames of a batch and the figures the run report needs (no values)."""

    frames: dict[str, pl.DataFrame]
    linkage: dict[str, int]
    text_scan: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped_fields: dict[str, list[str]] = field(default_factory=dict)


def _typed(frame: pl.DataFrame, dates: Sequence[str], ints: Sequence[str] = ()) -> pl.DataFrame:
    return frame.with_columns(
        [pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False) for c in dates]
        + [pl.col(c).cast(pl.Int64, strict=False) for c in ints]
    )


def pseudonymise_batch(
    raw: dict[str, pl.DataFrame],
    keys: DomainKeys,
    partner_id: str,
    reference_date: date,
    national_citizenship: str = "bg",
    language: str = "bg",
    keep_scrubbed_notes: bool = False,
) -> Pseudonymised:
    """Return the store frames of a batch's accepted rows, pseudonymised and generalised."""
    frames: dict[str, pl.DataFrame] = {}
    notes = scan_notes(raw, known_people(raw["persons"]), language, scrub=keep_scrubbed_notes)
    text_scan, scrubbed = notes.counts, notes.scrubbed

    persons = _typed(raw["persons"], ["birth_date"])
    nid = linkage_expr("national_id", "national_id_type")
    fallback = fallback_key_expr("given_name", "family_name", "birth_date", language)
    persons = persons.with_columns(
        pl.when(nid.is_not_null())
        .then(pl.lit("national_id"))
        .when(fallback.is_not_null())
        .then(pl.lit("fallback"))
        .otherwise(pl.lit("none"))
        .alias("link_method"),
        nid.alias("__nid"),
        fallback.alias("__fb"),
        pl.concat_str([pl.lit(f"local:{partner_id}:"), pl.col("person_id")]).alias("__local"),
    )
    persons = persons.with_columns(
        pl.coalesce(
            pseudonym("__nid", keys.central_person),
            pseudonym("__fb", keys.central_fallback),
            pseudonym("__local", keys.central_person),
        ).alias("person_cid")
    )
    distinct_inputs = persons.select(pl.coalesce("__nid", "__fb", "__local").n_unique()).item()
    distinct_outputs = persons["person_cid"].n_unique()
    age = age_years("birth_date", reference_date)
    frames["persons"] = persons.select(
        pseudonym("person_id", keys.person).alias("person_pid"),
        "person_cid",
        "link_method",
        "role",
        pl.col("sex").fill_null("u"),
        age.alias("age"),
        age_band(age).alias("age_band"),
        citizenship_group("citizenship", national_citizenship).alias("citizenship_group"),
        *geography_columns("settlement_code"),
        district_group_column("settlement_code"),
        tri_state("disability").alias("disability"),
        tri_state("minority").alias("minority"),
        tri_state("homeless").alias("homeless"),
        "education_isced",
        "labour_status",
    ).with_columns(pl.lit(partner_id).alias("partner_id"))

    linkage = {
        "persons": persons.height,
        "by_national_id": int((persons["link_method"] == "national_id").sum()),
        "by_fallback": int((persons["link_method"] == "fallback").sum()),
        "without_identifier": int((persons["link_method"] == "none").sum()),
        "collisions": int(distinct_inputs - distinct_outputs),
    }
    cid = persons.select("person_id", "person_cid", "birth_date")

    if "memberships" in raw:
        m = _typed(raw["memberships"], ["valid_from", "valid_to"])
        frames["memberships"] = m.select(
            pseudonym("family_id", keys.family).alias("family_pid"),
            pseudonym("person_id", keys.person).alias("person_pid"),
            "relation",
            month("valid_from").alias("valid_from_month"),
            month("valid_to").alias("valid_to_month"),
        )

    if "cases" in raw:
        c = _typed(raw["cases"], ["opened", "closed"]).join(
            cid.rename({"person_id": "child_person_id", "person_cid": "_child_cid"}), on="child_person_id", how="left"
        )
        opening_age = age_years("birth_date", pl.col("opened"))
        frames["cases"] = c.select(
            pseudonym("case_id", keys.case).alias("case_pid"),
            pseudonym("family_id", keys.family).alias("family_pid"),
            pseudonym("child_person_id", keys.person).alias("child_pid"),
            "case_type",
            "referral_source",
            month("opened").alias("opened_month"),
            month("closed").alias("closed_month"),
            (pl.col("closed") - pl.col("opened")).dt.total_days().alias("duration_days"),
            "outcome",
            age_band(opening_age).alias("child_age_band_at_opening"),
            pseudonym("worker_id", keys.staff).alias("worker_pid"),
        )

    events = _typed(raw["events"], ["date"], ["duration_min"]).join(
        cid.select("person_id", "person_cid"), on="person_id", how="left"
    )
    frames["events"] = events.select(
        pseudonym("event_id", keys.event).alias("event_pid"),
        pseudonym("person_id", keys.person).alias("person_pid"),
        "person_cid",
        pseudonym("case_id", keys.case).alias("case_pid"),
        month("date").alias("month"),
        quarter("date").alias("quarter"),
        "service_code",
        "modality",
        "setting",
        "duration_min",
        "specialist_role",
    ).with_columns(pl.lit(partner_id).alias("partner_id"))

    if "participations" in raw:
        p = _typed(raw["participations"], ["entry_date", "exit_date"]).join(
            cid.select("person_id", "person_cid"), on="person_id", how="left"
        )
        frames["participations"] = p.select(
            pseudonym("person_id", keys.person).alias("person_pid"),
            "person_cid",
            "operation_code",
            month("entry_date").alias("entry_month"),
            month("exit_date").alias("exit_month"),
            "result_4w",
            "result_6m",
        )

    for name, column in scrubbed.items():
        frames[name] = frames[name].with_columns(column)
    return Pseudonymised(frames=frames, linkage=linkage, text_scan=text_scan)


def store_summary(frames: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Return the row counts and columns of the store frames of a batch."""
    return {name: {"rows": f.height, "columns": f.columns} for name, f in frames.items()}
