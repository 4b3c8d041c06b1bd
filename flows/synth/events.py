"""Service events: one service delivered to one person, on a date, in a way that fits the service.

Each person gets a plan of one or two services from the partner's mix, fitted to their age, to a
disability (pedagogical support and early intervention), to foster families and to the family's case
(prevention of abandonment, school drop-out …). Events fall inside the person's time with the service
(the case's dates within the period, and after birth); a child's event of an age-limited service falls
while the child has that age (patronage care only up to 3). Modality, setting, duration and
specialist follow the service (patronage at home, music in groups, a gynaecologist for an expectant
mother), outreach sites (Kaloyanovo, Drenovets) work in the community, and COVID-19 sent groups online.

Events are produced in blocks of persons so that memory stays bounded at any scale; within a block
they are in date order, and ``event_id`` runs on across blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import polars as pl

from flows.synth import notes
from flows.synth.cases import main_adults
from flows.synth.draws import YEAR, categorical, date_series, days, lookup, rng_for
from flows.synth.profiles import (
    EVENTS_PER_PERSON_YEAR,
    PILOT_PERSONS,
    PROFILES,
    ROLE_INTENSITY,
    PartnerProfile,
    parse_weights,
    service_table,
)
from flows.synth.staff import ABBREVIATION
from schemas.partners import PARTNERS

STAGE_EVENTS = 7
#: Persons per block: bounds memory (a block holds about 25 events per person).
BLOCK_PERSONS = 100_000
NOTES_SHARE = 0.05
#: Services people come to without a case file (a meal, a group, a ride).
DROP_IN = ("hot_meal", "music_groups", "transport", "respite_play_room", "speech_screening")
#: When the groups of the early-childhood centres moved online (DOMAIN.md, Ruse).
COVID = (days(date(2020, 3, 13)), days(date(2021, 6, 30)))

#: How a family's case shifts its service mix (multipliers; services not named keep weight 1).
AFFINITY: dict[str, dict[str, float]] = {
    "prevention_of_abandonment": {
        "abandonment_prevention": 4.0,
        "parent_psych_support": 1.5,
        "health_consultation": 1.5,
        "patronage_care": 1.5,
    },
    "reintegration": {"social_rehabilitation": 2.0, "foster_care_support": 2.0},
    "early_intervention": {
        "early_intervention": 3.0,
        "disability_pedagogical_support": 2.0,
        "speech_screening": 2.0,
        "respite_play_room": 2.0,
    },
    "child_at_risk": {"mobile_family_support": 2.0, "help_route": 1.5, "social_rehabilitation": 1.5},
    "violence": {"parent_psych_support": 2.0, "social_rehabilitation": 2.0},
    "school_dropout": {"education_mediation": 4.0, "school_readiness": 2.0},
    "behaviour": {"parent_psych_support": 2.0, "social_rehabilitation": 2.0, "music_groups": 2.0},
    "parenting_support": {"parenting_skills": 3.0, "parent_psych_support": 2.0, "mobile_family_support": 1.5},
}
#: Services offered only within a matching case (others get a small share of their weight).
EXCLUSIVE = {"abandonment_prevention": "prevention_of_abandonment"}

COLUMNS = (
    "event_id",
    "case_id",
    "person_id",
    "date",
    "service_code",
    "modality",
    "setting",
    "duration_min",
    "specialist_role",
    "site_id",
    "notes",
)


def _intensity_norm() -> float:
    return sum(p.share * p.intensity for p in PROFILES.values())


class Plan:
    """Per person: time with the service, case, and the one or two services planned."""

    def __init__(
        self,
        profile: PartnerProfile,
        rng: np.random.Generator,
        persons: pl.DataFrame,
        families: pl.DataFrame,
        cases: pl.DataFrame,
        start: int,
        end: int,
    ) -> None:
        n = persons.height
        fam = persons["fam"].to_numpy()
        relation = persons["relation"].to_numpy().astype(object)
        child = relation == "child"
        birth = persons["birth"].to_numpy()
        # The person's case: a child's own case, else the family's first one.
        case_fam = cases["fam"].to_numpy()
        case_child = cases["child_row"].to_numpy()
        fam_case = np.full(families.height, -1, dtype=np.int64)
        by_open = np.lexsort((cases["opened_day"].to_numpy(), case_fam))
        fams, first = np.unique(case_fam[by_open], return_index=True)
        fam_case[fams] = by_open[first]
        case_of = fam_case[fam]
        own = case_child >= 0
        case_of[case_child[own]] = np.flatnonzero(own)
        first_open = np.full(families.height, end + 1, dtype=np.int64)
        last_close = np.full(families.height, start - 1, dtype=np.int64)
        np.minimum.at(first_open, case_fam, cases["opened_day"].to_numpy())
        np.maximum.at(last_close, case_fam, cases["closed_day"].to_numpy())
        self.lo = np.maximum(np.maximum(first_open[fam], start), np.where(child, birth, start))
        self.hi = np.minimum(last_close[fam], end)
        self.case = case_of
        self.birth = birth
        self.child = child
        self.site = persons["site"].to_numpy()

        table = service_table()
        self.services = list(profile.services)
        if profile.material_families_per_year and "material_support" not in self.services:
            self.services.append("material_support")  # for a few families only: see _material_support
        attrs = table.filter(pl.col("service").is_in(self.services))
        attrs = pl.DataFrame({"service": self.services}).join(attrs, on="service", how="left", maintain_order="left")
        self.attrs = attrs
        min_age = attrs["child_min_age"].fill_null(99).to_numpy()
        max_age = attrs["child_max_age"].fill_null(-1).to_numpy()
        adults_ok = attrs["adults"].to_numpy() == 1
        needs_disability = attrs["needs_disability"].to_numpy() == 1
        mid = (self.lo + self.hi) / 2
        age_lo = (self.lo - birth) / YEAR
        age_hi = (self.hi - birth) / YEAR
        age_mid = (mid - birth) / YEAR
        band = np.where(~child, 3, np.where(age_mid < 3, 0, np.where(age_mid < 7, 1, 2)))
        weights = np.array([profile.services.get(s, (0.0, 0.0, 0.0, 0.0)) for s in self.services]).T
        w = weights[band]
        fits = (age_lo[:, None] <= max_age[None, :] + 1) & (age_hi[:, None] >= min_age[None, :])
        w = np.where(child[:, None], w * fits, w * adults_ok[None, :])
        disabled = persons["disability"].to_numpy() == "yes"
        w = np.where(needs_disability[None, :], w * (disabled[:, None] & child[:, None]) * 3.0, w)
        foster = families["foster"].to_numpy()[fam]
        mother = relation == "mother"
        for j, s in enumerate(self.services):
            if s == "foster_care_support":
                w[:, j] *= foster
            if s == "health_consultation":
                w[:, j] *= np.where(child, 1.0, mother)
        case_type = np.where(case_of >= 0, cases["case_type"].to_numpy()[np.maximum(case_of, 0)], "").astype(object)
        for kind in sorted(set(case_type.tolist()) - {""}):
            mask = case_type == kind
            for j, s in enumerate(self.services):
                w[mask, j] *= AFFINITY.get(kind, {}).get(s, 1.0)
        for j, s in enumerate(self.services):
            if s in EXCLUSIVE:
                w[:, j] *= np.where(case_type == EXCLUSIVE[s], 1.0, 0.05)
        total = w.sum(axis=1)
        cum = np.cumsum(w, axis=1)
        self.primary = (cum > (rng.random(n) * total)[:, None]).argmax(axis=1)
        self.secondary = (cum > (rng.random(n) * total)[:, None]).argmax(axis=1)
        active = (total > 0) & (self.hi >= self.lo) & (case_of >= 0)
        role = lookup(relation, ROLE_INTENSITY, 0.1)
        span = np.maximum(self.hi - self.lo + 1, 0)
        weight = role * rng.gamma(2.0, 0.5, n) * span * active
        years = (end - start + 1) / YEAR
        expected = EVENTS_PER_PERSON_YEAR * years * n * profile.intensity / _intensity_norm()
        lam = expected * weight / max(weight.sum(), 1e-9)
        self.count = rng.poisson(lam)


def generate_events(
    profile: PartnerProfile,
    index: int,
    seed: int,
    persons: pl.DataFrame,
    families: pl.DataFrame,
    cases: pl.DataFrame,
    team: pl.DataFrame,
    forms: pl.DataFrame,
    start: int,
    end: int,
) -> Iterator[pl.DataFrame]:
    """Yield the partner's events in blocks (contract columns, all present; ``event_id`` continues)."""
    rng = rng_for(seed, index, STAGE_EVENTS)
    plan = Plan(profile, rng, persons, families, cases, start, end)
    material = _material_support(profile, rng, persons, families, cases, plan, start, end)
    n = persons.height
    next_id = 1
    total = int(plan.count.sum()) + (material.height if material is not None else 0)
    width = max(8, len(str(total)))
    for block, first in enumerate(range(0, max(n, 1), BLOCK_PERSONS)):
        rows = np.arange(first, min(first + BLOCK_PERSONS, n))
        brng = np.random.default_rng([seed, index, STAGE_EVENTS, block + 1])  # one stream per block
        events = _block(profile, brng, plan, rows, start, end)
        if block == 0 and material is not None:
            events = pl.concat([events, material])
        events = events.sort(["day", "person", "service"], maintain_order=True)
        events = _finish(profile, brng, events, persons, cases, team, forms, plan, next_id, width)
        next_id += events.height
        yield events


def _block(
    profile: PartnerProfile, rng: np.random.Generator, plan: Plan, rows: np.ndarray, start: int, end: int
) -> pl.DataFrame:
    """Return the raw events (person row, day, service index) of a block of persons."""
    person = np.repeat(rows, plan.count[rows])
    k = person.shape[0]
    attrs = plan.attrs
    min_age = attrs["child_min_age"].fill_null(0).to_numpy()
    max_age = attrs["child_max_age"].fill_null(99).to_numpy()
    first_choice = rng.random(k) < 0.7
    service = np.where(first_choice, plan.primary[person], plan.secondary[person])
    other = np.where(first_choice, plan.secondary[person], plan.primary[person])
    day = np.full(k, -1, dtype=np.int64)
    for candidate in (service, other):
        pending = day < 0
        lo = plan.lo[person]
        hi = plan.hi[person]
        child = plan.child[person]
        birth = plan.birth[person]
        lo = np.where(child, np.maximum(lo, birth + (min_age[candidate] * YEAR).astype(np.int64)), lo)
        hi = np.where(child, np.minimum(hi, birth + ((max_age[candidate] + 1) * YEAR).astype(np.int64) - 1), hi)
        ok = pending & (hi >= lo)
        drawn = lo + (rng.random(k) * (hi - lo + 1)).astype(np.int64)
        day = np.where(ok, drawn, day)
        service = np.where(pending & ok, candidate, service)
    keep = day >= 0
    person, day, service = person[keep], day[keep], service[keep]
    # Centres work on weekdays: most weekend dates move to the Friday before or the Monday after.
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    shift = np.where(weekday == 5, -1, np.where(weekday == 6, 1, 0)) * (rng.random(day.shape[0]) < 0.9)
    moved = day + shift
    inside = (moved >= plan.lo[person]) & (moved <= plan.hi[person])
    day = np.where(inside, moved, day)
    return pl.DataFrame({"person": person, "day": day, "service": service.astype(np.int64)})


def _material_support(
    profile: PartnerProfile,
    rng: np.random.Generator,
    persons: pl.DataFrame,
    families: pl.DataFrame,
    cases: pl.DataFrame,
    plan: Plan,
    start: int,
    end: int,
) -> pl.DataFrame | None:
    """Return the rare material-support events (Plovdiv: food packages, white goods for ~6 families a year)."""
    if "material_support" in profile.services or "material_support" not in plan.services:
        return None
    adults = main_adults(persons, families.height)
    adults = adults[adults >= 0]
    adults = adults[plan.hi[adults] >= plan.lo[adults]]
    scale = persons.height / (PILOT_PERSONS * profile.share)
    years = (end - start + 1) / YEAR
    count = min(adults.shape[0], int(round(profile.material_families_per_year * scale * years)))
    if count == 0:
        return None
    chosen = np.sort(rng.choice(adults, size=count, replace=False))
    times = rng.integers(1, 4, count)
    person = np.repeat(chosen, times)
    lo, hi = plan.lo[person], plan.hi[person]
    day = lo + (rng.random(person.shape[0]) * (hi - lo + 1)).astype(np.int64)
    code = plan.services.index("material_support")
    return pl.DataFrame({"person": person, "day": day, "service": np.full(person.shape[0], code, dtype=np.int64)})


def _finish(
    profile: PartnerProfile,
    rng: np.random.Generator,
    raw: pl.DataFrame,
    persons: pl.DataFrame,
    cases: pl.DataFrame,
    team: pl.DataFrame,
    forms: pl.DataFrame,
    plan: Plan,
    first_id: int,
    width: int,
) -> pl.DataFrame:
    """Return contract columns for raw events: modality, setting, duration, specialist, site, case, notes."""
    k = raw.height
    person = raw["person"].to_numpy()
    day = raw["day"].to_numpy()
    service = raw["service"].to_numpy()
    attrs = plan.attrs
    # Codes are kept as small integers into these lists and turned into strings once, at the end.
    modalities = ["centre", "home_visit", "outreach", "remote"]
    centre, home_visit, outreach_code, remote = range(4)
    roles = list(ABBREVIATION)
    modality = np.zeros(k, dtype=np.int8)
    group = np.zeros(k, dtype=bool)
    duration = np.zeros(k, dtype=np.int64)
    role = np.zeros(k, dtype=np.int8)
    child = plan.child[person]
    registry = {site.id: site.outreach for site in PARTNERS[profile.partner_id].sites}
    outreach = np.array([registry[s.site_id] for s in profile.sites])[plan.site[person]]
    drop_in = np.zeros(k, dtype=bool)
    for j in range(len(plan.services)):
        mask = service == j
        m = int(mask.sum())
        if not m:
            continue
        a = attrs.row(j, named=True)
        drop_in[mask] = a["service"] in DROP_IN
        in_group = rng.random(m) < a["group_share"]
        group[mask] = in_group
        u = rng.random(m)
        home = (u >= a["remote_share"]) & (u < a["remote_share"] + a["home_share"]) & ~in_group
        mod = np.where(u < a["remote_share"], remote, np.where(home, home_visit, centre))
        mod = np.where(outreach[mask] & (mod == centre) & (rng.random(m) < 0.75), outreach_code, mod)
        covid = (day[mask] >= COVID[0]) & (day[mask] <= COVID[1]) & in_group
        modality[mask] = np.where(covid, remote, mod)
        spread = np.where(in_group, 0.1, 0.3)
        minutes = float(a["duration_min"]) * np.exp(rng.normal(0.0, 1.0, m) * spread)
        duration[mask] = np.maximum(10, np.round(minutes / 5) * 5).astype(np.int64)
        kid = parse_weights(a["specialists"])
        grown = parse_weights(a["adult_specialists"]) or kid
        kid_role = np.array([roles.index(r) for r in kid])[categorical(rng, list(kid.values()), m)]
        adult_role = np.array([roles.index(r) for r in grown])[categorical(rng, list(grown.values()), m)]
        role[mask] = np.where(child[mask], kid_role, adult_role)
    case_row = plan.case[person]
    no_case = (case_row < 0) | (rng.random(k) < np.where(drop_in, 0.4, 0.03))
    site_ids = pl.Series([s.site_id for s in profile.sites], dtype=pl.String)
    events = (
        pl.DataFrame(
            {
                "event_id": pl.Series(np.arange(first_id, first_id + k)).cast(pl.String).str.zfill(width),
                "case_id": cases["case_id"].gather(np.maximum(case_row, 0)),
                "no_case": no_case,
                "person_id": persons["person_id"].gather(person),
                "date": date_series(day, "date"),
                "service_code": pl.Series(plan.services, dtype=pl.String).gather(service),
                "modality": pl.Series(modalities, dtype=pl.String).gather(modality.astype(np.int64)),
                "setting": pl.Series(["individual", "group"], dtype=pl.String).gather(group.astype(np.int64)),
                "duration_min": duration,
                "specialist_role": pl.Series(roles, dtype=pl.String).gather(role.astype(np.int64)),
                "site_id": site_ids.gather(plan.site[person]),
            }
        )
        .with_columns(
            pl.concat_str(pl.lit(f"{profile.prefix}E"), "event_id").alias("event_id"),
            pl.when(pl.col("no_case")).then(None).otherwise(pl.col("case_id")).alias("case_id"),
        )
        .drop("no_case")
    )
    return events.with_columns(_event_notes(rng, profile.language, person, day, role, child, plan.birth, team, forms))


def _event_notes(
    rng: np.random.Generator,
    language: str,
    person: np.ndarray,
    day: np.ndarray,
    role: np.ndarray,
    child: np.ndarray,
    birth: np.ndarray,
    team: pl.DataFrame,
    forms: pl.DataFrame,
) -> pl.Series:
    """Return notes for about one event in twenty, about the event's person (``role``: specialist codes)."""
    k = person.shape[0]
    text = pl.Series("notes", [None] * k, dtype=pl.String)
    noted = rng.random(k) < NOTES_SHARE
    staff_role = team["role"].to_numpy()
    staff_name = team["name"].to_numpy()
    for kind, mask in (("event_child", noted & child), ("event_adult", noted & ~child)):
        rows = np.flatnonzero(mask)
        if rows.shape[0] == 0:
            continue
        pick = rng.integers(0, team.height, rows.shape[0])
        specialist = np.array(list(ABBREVIATION), dtype=object)[role[rows]]
        same = {r: np.flatnonzero(staff_role == r) for r in sorted(set(specialist.tolist()))}
        for r, members in same.items():
            if members.shape[0]:
                sel = specialist == r
                pick[sel] = members[rng.integers(0, members.shape[0], int(sel.sum()))]
        later = day[rows] + rng.integers(3, 15, rows.shape[0])
        values = pl.concat(
            [forms[person[rows]], notes.age_flags(birth[person[rows]], day[rows])], how="horizontal"
        ).with_columns(
            pl.Series("staff", staff_name[pick]),
            date_series(later, "d").dt.strftime("%d.%m.%Y").alias("date"),
        )
        text = text.scatter(rows, notes.compose(rng, language, kind, values))
    return text
