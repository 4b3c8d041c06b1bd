"""Partner profiles: how big each partner is, whom it serves and with which services.

Everything the generator knows about a partner that DOMAIN.md states (size, age groups, communities
around outreach sites, service mix, case types) is data here, read by small generic code elsewhere.
Service attributes shared by all partners (age limits, group share, duration, specialists) live in
``data/service_profiles.csv``.

>>> round(sum(p.share for p in PROFILES.values()), 6)
1.0
>>> PROFILES["ruzhintsi-ksuds"].sites[1].site_id
'drenovets'
>>> service_table().filter(pl.col("service") == "patronage_care")["child_max_age"].item()
3
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import polars as pl

#: Persons in all five partners together at ``scale=1.0`` (the pilot).
PILOT_PERSONS = 3000
#: Service events per person and year of the window, on average over all partners and roles.
#: 12.5 makes 1 M persons (scale 333) ↔ about 25 M events over the default two-year window.
EVENTS_PER_PERSON_YEAR = 12.5

#: Relative event intensity of a person by relation to the family.
ROLE_INTENSITY = {
    "child": 1.0,
    "mother": 0.7,
    "father": 0.2,
    "guardian": 0.6,
    "foster_parent": 0.6,
    "grandparent": 0.1,
}

# Name groups of a family (index into the arrays of families.py).
BG, ROMA, FOREIGN, RU = 0, 1, 2, 3


@dataclass(frozen=True)
class SiteProfile:
    """Who lives around a site: its share of the partner's families and their communities."""

    site_id: str
    weight: float
    roma: float  # share of families with Roma or Turkish names (BG) — minority around the site
    municipality: str  # EKATTE municipality whose settlements families live in ("" in Russia: OKTMO)
    home: str  # the site's own settlement (name), where most of its families live
    home_share: float  # share of families in ``home`` (the rest: other settlements around)


@dataclass(frozen=True)
class PartnerProfile:
    """What DOMAIN.md says about a partner, as numbers."""

    partner_id: str
    language: str  # "bg" or "ru": names, notes, address and phone formats
    share: float  # of PILOT_PERSONS
    intensity: float  # relative events per person (Ruse runs daily groups, Kaloyanovo is outreach)
    prefix: str  # of partner-local keys
    sites: tuple[SiteProfile, ...]
    child_ages: tuple[tuple[int, int, float], ...]  # (min, max, weight) age at entry, years
    disability: float  # share of children with a disability
    foreign: float  # share of families with a foreign mother
    foster: float  # share of foster families
    expectant: float  # share of families that come as future parents (no child born yet)
    services: dict[str, tuple[float, float, float, float]]  # weight for ages 0-2, 3-6, 7-17, adults
    case_types: dict[str, float]
    case_months: float  # mean case length
    per_child_cases: float  # share of families with one case per child (rest: one family case)
    material_families_per_year: float = 0.0  # rare material support at scale 1 (Plovdiv: ~6)
    staff: int = 20  # specialists at scale 1


PROFILES: dict[str, PartnerProfile] = {
    p.partner_id: p
    for p in (
        PartnerProfile(
            partner_id="ruse-svetilnik",
            language="bg",
            share=0.30,
            intensity=1.5,
            prefix="RS",
            sites=(
                SiteProfile("svetilnik", 0.5, 0.12, "RSE27", "Русе", 0.9),
                SiteProfile("druzhba", 0.5, 0.05, "RSE27", "Русе", 0.9),
            ),
            child_ages=((0, 2, 0.45), (3, 6, 0.50), (7, 7, 0.05)),
            disability=0.12,
            foreign=0.02,
            foster=0.0,
            expectant=0.06,
            services={
                "health_consultation": (4.0, 1.5, 0.0, 0.6),
                "parent_psych_support": (0.0, 0.0, 0.0, 3.0),
                "disability_pedagogical_support": (1.0, 6.0, 4.0, 0.0),
                "school_readiness": (0.0, 5.0, 1.0, 0.0),
                "early_intervention": (6.0, 3.0, 1.0, 0.0),
            },
            case_types={
                "early_intervention": 0.35,
                "parenting_support": 0.30,
                "child_at_risk": 0.15,
                "prevention_of_abandonment": 0.10,
                "behaviour": 0.05,
                "other": 0.05,
            },
            case_months=14.0,
            per_child_cases=0.6,
        ),
        PartnerProfile(
            partner_id="plovdiv-ksuds",
            language="bg",
            share=0.13,
            intensity=0.6,
            prefix="PD",
            sites=(
                SiteProfile("plovdiv", 0.7, 0.10, "PDV22", "Пловдив", 1.0),
                SiteProfile("kaloyanovo", 0.3, 0.35, "PDV12", "Калояново", 0.45),
            ),
            child_ages=((0, 0, 0.25), (1, 2, 0.15), (3, 6, 0.25), (7, 13, 0.25), (14, 17, 0.10)),
            disability=0.08,
            foreign=0.03,
            foster=0.08,
            expectant=0.12,
            services={
                "abandonment_prevention": (6.0, 0.5, 0.0, 3.0),
                "foster_care_support": (1.0, 1.0, 1.0, 1.0),  # only foster families: see families.py
                "social_rehabilitation": (0.0, 2.0, 5.0, 0.0),
                "speech_screening": (1.0, 2.0, 0.0, 0.0),
                "music_groups": (0.0, 2.0, 2.0, 0.0),
                "hot_meal": (0.0, 1.0, 1.5, 0.0),
                "parent_psych_support": (0.0, 0.0, 0.0, 1.5),
            },
            case_types={
                "prevention_of_abandonment": 0.40,
                "reintegration": 0.15,
                "child_at_risk": 0.15,
                "parenting_support": 0.10,
                "violence": 0.05,
                "behaviour": 0.05,
                "early_intervention": 0.05,
                "other": 0.05,
            },
            case_months=10.0,
            per_child_cases=0.3,
            material_families_per_year=6.0,
            staff=8,
        ),
        PartnerProfile(
            partner_id="sofia-kisuds",
            language="bg",
            share=0.25,
            intensity=1.2,
            prefix="SF",
            sites=(
                SiteProfile("paraskeva", 0.6, 0.05, "SOF46", "София", 0.92),
                SiteProfile("community", 0.4, 0.25, "SOF46", "София", 0.92),
            ),
            child_ages=((0, 2, 0.40), (3, 6, 0.55), (7, 10, 0.05)),
            disability=0.07,
            foreign=0.06,
            foster=0.02,
            expectant=0.08,
            services={
                "parenting_skills": (0.0, 0.0, 0.0, 3.0),
                "parent_psych_support": (0.0, 0.0, 0.0, 2.0),
                "kindergarten_integration": (0.0, 4.0, 0.5, 0.0),
                "school_readiness": (0.0, 3.0, 1.0, 0.0),
                "mobile_family_support": (1.0, 0.5, 0.0, 0.7),
                "transport": (0.0, 1.0, 0.2, 0.0),
            },
            case_types={
                "parenting_support": 0.40,
                "child_at_risk": 0.15,
                "early_intervention": 0.15,
                "prevention_of_abandonment": 0.10,
                "behaviour": 0.10,
                "violence": 0.05,
                "other": 0.05,
            },
            case_months=12.0,
            per_child_cases=0.4,
            staff=25,
        ),
        PartnerProfile(
            partner_id="ruzhintsi-ksuds",
            language="bg",
            share=0.12,
            intensity=0.8,
            prefix="RZ",
            sites=(
                SiteProfile("ruzhintsi", 0.45, 0.30, "VID33", "Ружинци", 0.55),
                SiteProfile("drenovets", 0.55, 0.95, "VID33", "Дреновец", 0.85),
            ),
            child_ages=((0, 3, 0.35), (4, 6, 0.15), (7, 13, 0.35), (14, 17, 0.15)),
            disability=0.05,
            foreign=0.0,
            foster=0.0,
            expectant=0.06,
            services={
                "patronage_care": (6.0, 0.3, 0.0, 0.0),
                "health_mediation": (2.0, 1.0, 1.0, 3.0),
                "education_mediation": (0.0, 2.0, 5.0, 1.0),
                "material_support": (1.0, 0.3, 0.2, 1.0),
            },
            case_types={
                "school_dropout": 0.25,
                "child_at_risk": 0.25,
                "parenting_support": 0.20,
                "prevention_of_abandonment": 0.15,
                "early_intervention": 0.10,
                "other": 0.05,
            },
            case_months=16.0,
            per_child_cases=0.3,
            staff=6,
        ),
        PartnerProfile(
            partner_id="samara-krug",
            language="ru",
            share=0.20,
            intensity=0.7,
            prefix="SM",
            sites=(
                SiteProfile("samara", 0.55, 0.0, "", "Самара", 0.92),
                SiteProfile("syzran", 0.15, 0.0, "", "Сызрань", 0.92),
                SiteProfile("tolyatti", 0.30, 0.0, "", "Тольятти", 0.92),
            ),
            child_ages=((0, 2, 0.10), (3, 6, 0.30), (7, 13, 0.40), (14, 17, 0.20)),
            disability=0.45,
            foreign=0.03,
            foster=0.03,
            expectant=0.02,
            services={
                "help_route": (1.0, 1.0, 1.0, 5.0),
                "parent_psych_support": (0.0, 0.0, 0.0, 3.0),
                "respite_play_room": (0.0, 3.0, 2.0, 0.0),
                "disability_pedagogical_support": (1.0, 5.0, 5.0, 0.0),
            },
            case_types={
                "child_at_risk": 0.35,
                "parenting_support": 0.30,
                "early_intervention": 0.20,
                "violence": 0.05,
                "other": 0.10,
            },
            case_months=8.0,
            per_child_cases=0.0,
            staff=15,
        ),
    )
}

#: Who refers a case of each type (weights over schemas.codes.REFERRAL_SOURCE order).
REFERRALS: dict[str, dict[str, float]] = {
    "prevention_of_abandonment": {"child_protection_dept": 5, "health": 3, "social_assistance": 1, "self": 1},
    "reintegration": {"child_protection_dept": 7, "court": 2, "other": 1},
    "early_intervention": {"health": 6, "self": 3, "other": 1},
    "child_at_risk": {"child_protection_dept": 5, "social_assistance": 2, "school": 2, "self": 1},
    "violence": {"child_protection_dept": 5, "court": 3, "school": 1, "other": 1},
    "school_dropout": {"school": 8, "child_protection_dept": 1, "social_assistance": 1},
    "behaviour": {"school": 5, "self": 3, "child_protection_dept": 2},
    "parenting_support": {"self": 5, "social_assistance": 3, "health": 1, "other": 1},
    "other": {"self": 4, "social_assistance": 3, "other": 3},
}

#: How closed cases of each type end (open cases have outcome ``open``).
OUTCOMES: dict[str, dict[str, float]] = {
    "prevention_of_abandonment": {
        "remains_in_family": 76,
        "foster_care": 10,
        "family_type_residential": 5,
        "institution": 1,
        "moved_away": 5,
        "other": 3,
    },
    "reintegration": {"returned_to_family": 70, "foster_care": 15, "family_type_residential": 8, "other": 7},
    "violence": {
        "remains_in_family": 60,
        "foster_care": 20,
        "family_type_residential": 10,
        "moved_away": 5,
        "other": 5,
    },
    "_default": {"remains_in_family": 85, "moved_away": 8, "foster_care": 2, "other": 5},
}


@cache
def service_table() -> pl.DataFrame:
    """Return the service attributes (age limits, group share, duration, specialists) as a frame."""
    data = resources.files("flows.synth").joinpath("data", "service_profiles.csv").read_bytes()
    return pl.read_csv(data)


def parse_weights(spec: str | None) -> dict[str, float]:
    """Return ``{"a": 2.0, "b": 1.0}`` from ``"a:2|b:1"`` (empty for an empty spec).

    >>> parse_weights("psychologist:5|pedagogue:3")
    {'psychologist': 5.0, 'pedagogue': 3.0}
    """
    if not spec:
        return {}
    return {k: float(v) for k, v in (part.split(":") for part in spec.split("|"))}
