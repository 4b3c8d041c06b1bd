"""The persons file: residence, contacts, sensitive tri-states, education and work, keys and notes.

Builds the contract's ``persons`` columns for a household (families.py, cross.py) and keeps the
helper columns the later stages need (family, relation, birth day, Cyrillic name forms). Rates:
disability as the partner profile says (most in Samara, where families raise disabled children);
minority mostly among Roma families (Drenovets, Kaloyanovo, Roma quarters) and foreign families,
with some ``declined`` and ``unknown``; homelessness rare. About 3 % of the people of Bulgarian
partners have their names typed in Latin letters (the Streamlined System).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from anonymise.transliterate import bg_latin
from flows.synth import names, notes, residence
from flows.synth.draws import YEAR, categorical, date_series, lookup, rng_for
from flows.synth.families import LATIN_SHARE, Household
from flows.synth.profiles import BG, FOREIGN, ROMA, RU

STAGE_PEOPLE = 5

TRI = ("yes", "no", "declined", "unknown")
MINORITY = {
    ROMA: (0.82, 0.0, 0.12, 0.06),
    BG: (0.0, 0.85, 0.07, 0.08),
    FOREIGN: (0.6, 0.2, 0.1, 0.1),
    RU: (0.05, 0.7, 0.1, 0.15),
}
HOMELESS = {ROMA: 0.04, BG: 0.01, FOREIGN: 0.02, RU: 0.01}
ISCED = {
    BG: (0.01, 0.03, 0.12, 0.45, 0.06, 0.02, 0.22, 0.08, 0.01),
    ROMA: (0.15, 0.35, 0.35, 0.12, 0.02, 0.0, 0.01, 0.0, 0.0),
    FOREIGN: (0.03, 0.08, 0.15, 0.35, 0.07, 0.04, 0.2, 0.07, 0.01),
    RU: (0.0, 0.01, 0.07, 0.25, 0.25, 0.1, 0.2, 0.1, 0.02),
}
LABOUR = ("employed", "unemployed", "inactive", "in_education", "unknown")
WORK = {
    BG: (0.55, 0.15, 0.2, 0.03, 0.07),
    ROMA: (0.2, 0.45, 0.25, 0.0, 0.1),
    FOREIGN: (0.35, 0.25, 0.3, 0.03, 0.07),
    RU: (0.55, 0.1, 0.25, 0.03, 0.07),
}
PHONE = {"mother": 0.85, "father": 0.5, "guardian": 0.65, "foster_parent": 0.8, "grandparent": 0.2, "sibling": 0.4}
EMAIL = {BG: 0.25, ROMA: 0.04, FOREIGN: 0.15, RU: 0.35}
NOTES_SHARE = 0.12


def _tri(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Return yes/no/declined/unknown per row from a (rows × 4) probability matrix."""
    cum = np.cumsum(probabilities, axis=1)
    u = rng.random(int(probabilities.shape[0]))[:, None] * cum[:, -1:]
    return np.array(TRI)[(cum <= u).sum(axis=1).clip(0, 3)]


def finish(
    household: Household, seed: int, start: int, end: int, team: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (families, persons) with residence, contacts, tri-states, keys and person notes."""
    profile = household.profile
    language = profile.language
    rng = rng_for(seed, household.index, STAGE_PEOPLE)
    fam = household.families
    where = residence.settle(rng, profile, fam["site"].to_numpy())
    group_f = fam["group"].to_numpy()
    home = residence.addresses(rng, language, where, group_f == ROMA)
    families = fam.with_columns(
        where["code"].alias("settlement_code"),
        home.alias("home_address"),
        pl.Series("family_id", [f"{profile.prefix}F{i + 1:05d}" for i in range(fam.height)]),
    )
    p = household.persons
    n = p.height
    f_idx = p["fam"].to_numpy()
    group = group_f[f_idx]
    relation = p["relation"].to_numpy().astype(object)
    adult = relation != "child"
    birth = p["birth"].to_numpy()
    age_end = (end - birth) / YEAR

    # Names typed in Latin letters (Bulgarian partners); notes spell the name forms the same way.
    cyrillic = (p["src"] != "latin").to_numpy() & (p["cross"] < 0).to_numpy()
    latin = p["latin"].to_numpy() | (cyrillic & (language == "bg") & (rng.random(n) < LATIN_SHARE))
    fresh = latin & ~p["latin"].to_numpy()
    spelled = {c: names.map_unique(p[c], bg_latin) for c in ("given", "middle", "family")}
    p = p.with_columns(
        [pl.when(pl.lit(fresh)).then(pl.lit(spelled[c])).otherwise(pl.col(c)).alias(c) for c in spelled]
    ).with_columns(pl.Series("latin", latin))

    u = rng.random((6, n))
    disability_yes = np.where(adult, 0.04, profile.disability)
    disability = _tri(
        rng,
        np.stack(
            [disability_yes, 1 - disability_yes, np.where(adult, 0.05, 0.02), np.where(adult, 0.08, 0.04)], axis=1
        ),
    )
    family_minority = _tri(rng, lookup(group_f, MINORITY).astype(np.float64))
    minority = np.where(u[0] < 0.9, family_minority[f_idx], np.where(adult, "declined", "unknown"))
    homeless_yes = lookup(group, HOMELESS)
    homeless = _tri(rng, np.stack([homeless_yes, 1 - homeless_yes, np.full(n, 0.01), np.full(n, 0.04)], axis=1))

    isced = np.full(n, None, dtype=object)
    labour = np.full(n, "child", dtype=object)
    for g in (BG, ROMA, FOREIGN, RU):
        mask = adult & (group == g)
        isced[mask] = categorical(rng, ISCED[g], int(mask.sum())).astype(str)
        labour[mask] = np.array(LABOUR)[categorical(rng, WORK[g], int(mask.sum()))]
    isced[adult & (u[1] < 0.05)] = None
    labour = np.where(adult & (age_end < 20) & (u[2] < 0.4), "in_education", labour)
    labour = np.where(adult & (age_end >= 65), "inactive", labour)

    has_phone = adult & (u[3] < lookup(relation, PHONE, 0.0))
    phone = residence.phones(rng, language, n)
    has_email = adult & (u[4] < lookup(group, EMAIL))
    email = residence.emails(rng, language, p["given_cyr"], p["family_cyr"], (birth / YEAR + 1970).astype(np.int64))
    has_address = u[5] < np.where(adult, 0.92, 0.7)
    no_birth_date = adult & (p["national_id_type"] != "egn").to_numpy() & (rng.random(n) < 0.1)

    number = pl.Series(rng.permutation(n) + 1).cast(pl.String).str.zfill(max(6, len(str(n))))
    persons = p.with_columns(
        pl.concat_str(pl.lit(f"{profile.prefix}P"), pl.lit(number)).alias("person_id"),
        pl.Series("group", group),
        pl.Series("site", fam["site"].to_numpy()[f_idx]),
        families["settlement_code"].gather(f_idx).alias("settlement_code"),
        pl.when(pl.lit(has_address)).then(families["home_address"].gather(f_idx)).otherwise(None).alias("address"),
        pl.when(pl.lit(has_phone)).then(phone).otherwise(None).alias("phone"),
        pl.when(pl.lit(has_email)).then(email).otherwise(None).alias("email"),
        pl.Series("disability", disability),
        pl.Series("minority", minority),
        pl.Series("homeless", homeless),
        pl.Series("education_isced", isced.tolist(), dtype=pl.String),
        pl.Series("labour_status", labour.astype(str)),
        pl.when(pl.lit(no_birth_date)).then(None).otherwise(date_series(birth, "b")).alias("birth_date"),
        pl.col("given").alias("given_name"),
        pl.col("middle").alias("middle_name"),
        pl.col("family").alias("family_name"),
    )
    return families, _person_notes(rng, language, persons, team, start, end)


def _person_notes(
    rng: np.random.Generator, language: str, persons: pl.DataFrame, team: pl.DataFrame, start: int, end: int
) -> pl.DataFrame:
    """Return persons with notes on about one in eight of them."""
    noted = np.flatnonzero(rng.random(persons.height) < NOTES_SHARE)
    subject = persons[noted]
    flags = notes.age_flags(subject["birth"].to_numpy(), np.full(subject.height, end))
    values = pl.concat([notes.forms(subject, language), flags], how="horizontal").with_columns(
        pl.Series("staff", team["name"].to_numpy()[rng.integers(0, team.height, noted.shape[0])]),
        date_series(rng.integers(start, end + 1, noted.shape[0]), "d").dt.strftime("%d.%m.%Y").alias("date"),
    )
    text = notes.compose(rng, language, "person", values)
    column = pl.Series("notes", [None] * persons.height, dtype=pl.String).scatter(noted, text)
    return persons.with_columns(column)


LEFT_FAMILY = ("foster_care", "family_type_residential", "institution")


def memberships(
    rng: np.random.Generator, families: pl.DataFrame, persons: pl.DataFrame, cases: pl.DataFrame
) -> pl.DataFrame:
    """Return who belongs to which family and since when; a child placed away or a family that moved has an end."""
    fam = persons["fam"].to_numpy()
    entry = families["entry"].to_numpy()[fam]
    birth = persons["birth"].to_numpy()
    start = np.where(birth > entry, birth, entry)
    known = rng.random(persons.height) >= 0.12
    end = np.full(persons.height, -1, dtype=np.int64)
    closed = cases.filter(pl.col("closed").is_not_null())
    placed = closed.filter(pl.col("outcome").is_in(LEFT_FAMILY) & (pl.col("child_row") >= 0))
    end[placed["child_row"].to_numpy()] = placed["closed_day"].to_numpy()
    moved = closed.filter(pl.col("outcome") == "moved_away")
    moved_on = np.full(families.height, -1, dtype=np.int64)
    np.maximum.at(moved_on, moved["fam"].to_numpy(), moved["closed_day"].to_numpy())
    end = np.where(moved_on[fam] >= 0, moved_on[fam], end)
    return pl.DataFrame(
        {
            "family_id": families["family_id"].gather(fam),
            "person_id": persons["person_id"],
            "relation": persons["relation"],
            "valid_from": date_series(start, "valid_from"),
            "valid_to": date_series(np.maximum(end, 0), "valid_to"),
        }
    ).with_columns(
        pl.when(pl.lit(known)).then(pl.col("valid_from")).otherwise(None).alias("valid_from"),
        pl.when(pl.lit(end >= 0)).then(pl.col("valid_to")).otherwise(None).alias("valid_to"),
    )
