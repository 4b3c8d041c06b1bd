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

Collisions — two distinct inputs given one pseudonym, which would merge two people (or families,
cases, events) — are counted per domain and purpose, exactly within a batch (the inputs are in
memory here). So that a run can count them across batches and partners too, the batch can return its
pseudonyms paired with a *stand-in* for each input instead of the input: a keyed BLAKE2b digest under
a key the caller holds (a run's in-memory key), independent of the pseudonym keys and code. Inputs
never leave this module.
"""

from __future__ import annotations

import hashlib
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

#: Which pseudonyms of a batch count together for collisions: ``<domain>/<purpose>``, where the domain
#: is ``local`` (the partner's) or ``central`` (the jurisdiction's). The central person pseudonym covers
#: the national-ID, fallback and partner-local inputs together, since they share one column.
PSEUDONYM_KINDS = ("local/person", "local/family", "local/case", "local/staff", "local/event", "central/person")

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
    #: per pseudonym kind (``PSEUDONYM_KINDS``): distinct inputs that share a pseudonym with another (must be 0)
    collisions: dict[str, int] = field(default_factory=dict)
    #: per kind, the distinct pairs (``pseudonym``, ``stand_in``) if a stand-in key was given; never the inputs
    pairs: dict[str, pl.DataFrame] = field(default_factory=dict)


class PseudonymCollision(RuntimeError):
    """Distinct inputs were given one pseudonym; the message holds counts only."""

    def __init__(self, message: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.figures = figures or {}


def stand_ins(values: pl.Series, key: bytes) -> pl.Series:
    """Return a 64-bit keyed BLAKE2b digest of each value (null stays null): an input's stand-in.

    Independent of the pseudonym (another key, another hash function, another implementation), so
    that two inputs sharing a pseudonym are told apart by their stand-ins: a collision is counted as
    a pseudonym with more than one stand-in. A stand-in collision alone (2^-64 per pair) only hides a
    pseudonym collision that happens together with it.

    >>> stand_ins(pl.Series(["a", "b", "a", None]), bytes(32)).to_list()[3:]
    [None]
    >>> s = stand_ins(pl.Series(["a", "b", "a"]), bytes(32)).to_list()
    >>> s[0] == s[2], s[0] != s[1]
    (True, True)
    """
    base = hashlib.blake2b(key=key, digest_size=8, person=b"zakrila-standin")
    copy = base.copy
    out: list[int | None] = []
    append = out.append
    for value in values.cast(pl.String).cast(pl.Binary).to_list():
        if value is None:
            append(None)
            continue
        h = copy()
        h.update(value)
        append(int.from_bytes(h.digest(), "little"))
    return pl.Series(values.name, out, dtype=pl.UInt64)


def _collisions(
    pairs: dict[str, list[pl.DataFrame]], stand_in_key: bytes | None
) -> tuple[dict[str, int], dict[str, pl.DataFrame]]:
    """Return per kind the inputs sharing a pseudonym with another input, and the stand-in pairs."""
    counts: dict[str, int] = {}
    out: dict[str, pl.DataFrame] = {}
    for kind, parts in pairs.items():
        frame = pl.concat(parts).drop_nulls().unique()
        counts[kind] = frame.height - frame["pseudonym"].n_unique()
        if stand_in_key is not None:
            out[kind] = frame.select("pseudonym", stand_ins(frame["input"], stand_in_key).alias("stand_in"))
    return counts, out


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
    stand_in_key: bytes | None = None,
) -> Pseudonymised:
    """Return the store frames of a batch's accepted rows, pseudonymised and generalised.

    Collisions are counted per kind of pseudonym (``Pseudonymised.collisions``); with a
    ``stand_in_key`` the pairs of pseudonym and input stand-in come back too, for a count over a run.
    """
    frames: dict[str, pl.DataFrame] = {}
    pairs: dict[str, list[pl.DataFrame]] = {}

    def paired(kind: str, inputs: pl.Series, output: pl.Series) -> None:
        # an output frame is a select on the frame of its inputs: row i of one is row i of the other
        pairs.setdefault(kind, []).append(pl.DataFrame({"input": inputs.cast(pl.String), "pseudonym": output}))

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
    # inputs tagged by the key they are hashed under: one string under two keys is two inputs
    central_input = pl.coalesce(
        pl.concat_str([pl.lit("national_id\x00"), "__nid"]),
        pl.concat_str([pl.lit("fallback\x00"), "__fb"]),
        pl.concat_str([pl.lit("local\x00"), "__local"]),
    )
    paired("central/person", persons.select(central_input).to_series(), persons["person_cid"])
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
    paired("local/person", persons["person_id"], frames["persons"]["person_pid"])

    linkage = {
        "persons": persons.height,
        "by_national_id": int((persons["link_method"] == "national_id").sum()),
        "by_fallback": int((persons["link_method"] == "fallback").sum()),
        "without_identifier": int((persons["link_method"] == "none").sum()),
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
        paired("local/family", m["family_id"], frames["memberships"]["family_pid"])
        paired("local/person", m["person_id"], frames["memberships"]["person_pid"])

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
        for source, output, kind in (
            ("case_id", "case_pid", "local/case"),
            ("family_id", "family_pid", "local/family"),
            ("child_person_id", "child_pid", "local/person"),
            ("worker_id", "worker_pid", "local/staff"),
        ):
            paired(kind, c[source], frames["cases"][output])

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
    paired("local/event", events["event_id"], frames["events"]["event_pid"])
    paired("local/person", events["person_id"], frames["events"]["person_pid"])
    paired("local/case", events["case_id"], frames["events"]["case_pid"])

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
        paired("local/person", p["person_id"], frames["participations"]["person_pid"])

    for name, column in scrubbed.items():
        frames[name] = frames[name].with_columns(column)
    collisions, stand_in_pairs = _collisions(pairs, stand_in_key)
    # every kind, within this batch: two people (or families, cases, events) merged if not 0
    linkage["collisions"] = sum(collisions.values())
    return Pseudonymised(
        frames=frames, linkage=linkage, text_scan=text_scan, collisions=collisions, pairs=stand_in_pairs
    )


def store_summary(frames: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Return the row counts and columns of the store frames of a batch."""
    return {name: {"rows": f.height, "columns": f.columns} for name, f in frames.items()}
