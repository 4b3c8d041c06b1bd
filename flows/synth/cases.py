"""Cases: episodes of support for a family or a child, with who referred them and how they ended.

Most partners open one case per family, some one per child (Ruse's early-intervention work is
child by child); Samara opens one "help route" per family. Case types follow the partner's profile,
and the family decides the rest: future parents get prevention of abandonment or parenting support,
foster families reintegration or child-at-risk work, disabled children early intervention. A case
still running at the end of the period has no closing date and the outcome ``open``. The case is
owned by a social worker (a social agent in Samara) and its notes name the family's people.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flows.synth import notes
from flows.synth.draws import choose, date_series, rng_for
from flows.synth.profiles import OUTCOMES, REFERRALS, PartnerProfile
from flows.synth.staff import case_worker_role

STAGE_CASES = 6
NOTES_SHARE = 0.8


def main_adults(persons: pl.DataFrame, families: int) -> np.ndarray:
    """Return per family the row of its main adult (mother, else guardian, else any adult; -1 if none)."""
    order = {"mother": 0, "foster_parent": 1, "guardian": 2, "grandparent": 3, "father": 4, "sibling": 5}
    adults = (
        persons.with_row_index("row")
        .filter(pl.col("relation") != "child")
        .with_columns(pl.col("relation").replace_strict(order, return_dtype=pl.Int64).alias("o"))
        .sort(["fam", "o"], maintain_order=True)
        .unique("fam", keep="first", maintain_order=True)
    )
    out = np.full(families, -1, dtype=np.int64)
    out[adults["fam"].to_numpy()] = adults["row"].to_numpy()
    return out


def draw_cases(
    profile: PartnerProfile,
    index: int,
    seed: int,
    families: pl.DataFrame,
    persons: pl.DataFrame,
    team: pl.DataFrame,
    start: int,
    end: int,
) -> pl.DataFrame:
    """Return the cases with contract columns and helpers ``fam``, ``child_row``, ``opened_day``, ``closed_day``."""
    rng = rng_for(seed, index, STAGE_CASES)
    nf = families.height
    f = {c: families[c].to_numpy() for c in ("entry", "length", "prenatal", "foster", "children")}
    rows = persons.with_row_index("row")
    kids = rows.filter(pl.col("relation") == "child")
    kid_fam = kids["fam"].to_numpy()
    kid_row = kids["row"].to_numpy()
    per_child = (rng.random(nf) < profile.per_child_cases) & (f["children"] > 0)
    first_kid = np.full(nf, -1, dtype=np.int64)
    fam_with_kids, first = np.unique(kid_fam, return_index=True)
    first_kid[fam_with_kids] = kid_row[first]
    named = rng.random(nf) < (0.85 if profile.language == "ru" else 0.6)
    own = per_child[kid_fam]
    fam_idx = np.concatenate([kid_fam[own], np.flatnonzero(~per_child)])
    child_row = np.concatenate([kid_row[own], np.where(named, first_kid, -1)[~per_child]])
    order = np.lexsort((child_row, fam_idx))
    fam_idx, child_row = fam_idx[order], child_row[order]
    n = int(fam_idx.shape[0])

    case_type = choose(rng, profile.case_types, n).astype(object)
    prenatal = f["prenatal"][fam_idx]
    foster = f["foster"][fam_idx]
    early = {"prevention_of_abandonment": 0.6, "parenting_support": 0.4}
    if profile.language == "ru":
        early = {"parenting_support": 1.0}
    case_type = np.where(prenatal, choose(rng, early, n), case_type)
    case_type = np.where(foster, choose(rng, {"reintegration": 4, "child_at_risk": 4, "other": 2}, n), case_type)
    disabled = np.zeros(n, dtype=bool)
    has_child = child_row >= 0
    disabled[has_child] = persons["disability"].to_numpy()[child_row[has_child]] == "yes"
    if "early_intervention" in profile.case_types:
        case_type = np.where(disabled & (rng.random(n) < 0.6), "early_intervention", case_type)

    jitter = np.where(per_child[fam_idx], rng.integers(0, 45, n), 0)
    opened = np.minimum(f["entry"][fam_idx] + jitter, end)
    closed = opened + f["length"][fam_idx] + rng.integers(-20, 20, n)
    closed = np.maximum(closed, np.maximum(opened + 14, start + 14))
    still_open = closed > end
    outcome = np.full(n, "open", dtype=object)
    referral = np.empty(n, dtype=object)
    for kind in sorted(set(case_type.tolist())):
        mask = case_type == kind
        m = int(mask.sum())
        outcome[mask & ~still_open] = choose(rng, OUTCOMES.get(kind, OUTCOMES["_default"]), m)[~still_open[mask]]
        referral[mask] = choose(rng, REFERRALS[kind], m)
    referral[rng.random(n) < 0.04] = None  # not recorded

    workers = team.filter(pl.col("role") == case_worker_role(profile))
    worker = rng.integers(0, workers.height, n)
    by_opening = np.argsort(opened, kind="stable")
    case_number = np.empty(n, dtype=np.int64)
    case_number[by_opening] = np.arange(1, n + 1)
    person_id = persons["person_id"]
    cases = pl.DataFrame(
        {
            "case_id": pl.Series(case_number).cast(pl.String).str.zfill(max(5, len(str(n)))),
            "family_id": families["family_id"].gather(fam_idx),
            "child_person_id": person_id.gather(np.where(has_child, child_row, 0)),
            "case_type": case_type.astype(str),
            "referral_source": pl.Series(referral.tolist(), dtype=pl.String),
            "opened": date_series(opened, "opened"),
            "closed": date_series(closed, "closed"),
            "outcome": outcome.astype(str),
            "worker_id": workers["worker_id"].gather(worker),
            "fam": fam_idx,
            "child_row": child_row,
            "opened_day": opened,
            "closed_day": np.where(still_open, end + 1, closed),
            "worker_name": workers["name"].gather(worker),
        }
    ).with_columns(
        pl.concat_str(pl.lit(f"{profile.prefix}C"), "case_id").alias("case_id"),
        pl.when(pl.col("child_row") >= 0).then(pl.col("child_person_id")).otherwise(None).alias("child_person_id"),
        pl.when(pl.lit(still_open)).then(None).otherwise(pl.col("closed")).alias("closed"),
    )
    return _case_notes(rng, profile.language, cases, persons, main_adults(persons, nf), first_kid, end).sort("case_id")


def _case_notes(
    rng: np.random.Generator,
    language: str,
    cases: pl.DataFrame,
    persons: pl.DataFrame,
    adult_of: np.ndarray,
    first_kid: np.ndarray,
    end: int,
) -> pl.DataFrame:
    """Return cases with notes on most of them, naming the child and the main adult of the family."""
    n = cases.height
    fam = cases["fam"].to_numpy()
    child = cases["child_row"].to_numpy()
    child = np.where(child >= 0, child, first_kid[fam])
    adult = adult_of[fam]
    noted = rng.random(n) < NOTES_SHARE
    text = pl.Series("notes", [None] * n, dtype=pl.String)
    opened = cases["opened_day"].to_numpy()
    closed = np.minimum(cases["closed_day"].to_numpy(), end)
    when = opened + (rng.random(n) * (closed - opened + 1)).astype(np.int64)
    kinds = (("case", noted & (child >= 0) & (adult >= 0)), ("family_case", noted & (child < 0) & (adult >= 0)))
    for kind, mask in kinds:
        rows = np.flatnonzero(mask)
        if rows.shape[0] == 0:
            continue
        subject = child[rows] if kind == "case" else adult[rows]
        values = pl.concat(
            [
                notes.forms(persons[subject], language),
                notes.age_flags(persons["birth"].to_numpy()[subject], opened[rows]),
            ],
            how="horizontal",
        )
        if kind == "case":
            values = pl.concat([values, notes.forms(persons[adult[rows]], language, prefix="m_")], how="horizontal")
        values = values.with_columns(
            cases["worker_name"].gather(rows).alias("staff"),
            date_series(when[rows], "d").dt.strftime("%d.%m.%Y").alias("date"),
        )
        text = text.scatter(rows, notes.compose(rng, language, kind, values))
    return cases.with_columns(text)
