"""Code lists of interchange format v1.

Every coded field of the contract takes its values from one list here. Codes are lower-case, stable
and English; labels for the ministry are Bulgarian. The service list lives in ``data/services.csv``
because the DPO and the ministry maintain it; each service maps to a Social Services Act activity
(``data/ssa_activities.csv``) and a European Child Guarantee area (``data/cg_areas.csv``).

>>> "child" in ROLE
True
>>> service_codes()[:2]
('health_consultation', 'parent_psych_support')
>>> services().filter(pl.col("code") == "hot_meal")["cg_area"].item()
'nutrition'
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

ROLE = ("child", "parent", "guardian", "expectant_parent", "other_adult")
NATIONAL_ID_TYPE = ("egn", "lnc", "snils", "passport", "birth_certificate", "other", "none")
SEX = ("f", "m", "x", "u")
TRI_STATE = ("yes", "no", "declined", "unknown")
EDUCATION_ISCED = tuple(str(level) for level in range(9))
LABOUR_STATUS = ("employed", "unemployed", "inactive", "in_education", "child", "unknown")
RELATION = ("child", "mother", "father", "guardian", "foster_parent", "grandparent", "sibling", "other")
CASE_TYPE = (
    "prevention_of_abandonment",
    "reintegration",
    "early_intervention",
    "child_at_risk",
    "violence",
    "school_dropout",
    "behaviour",
    "parenting_support",
    "other",
)
REFERRAL_SOURCE = ("child_protection_dept", "social_assistance", "self", "school", "health", "court", "other")
OUTCOME = (
    "open",
    "remains_in_family",
    "returned_to_family",
    "foster_care",
    "family_type_residential",
    "institution",
    "moved_away",
    "other",
)
MODALITY = ("centre", "home_visit", "outreach", "remote")
SETTING = ("individual", "group")
SPECIALIST_ROLE = (
    "social_worker",
    "psychologist",
    "pedagogue",
    "speech_therapist",
    "paediatrician",
    "gynaecologist",
    "nurse",
    "midwife",
    "kinesitherapist",
    "rehabilitator",
    "music_therapist",
    "lawyer",
    "mediator",
    "social_agent",
    "other",
)
ESF_RESULT = ("none", "job_search", "education", "qualification", "employment")

#: Forms of social service of the Russian pilot: Federal Law 442-ФЗ of 28.12.2013, Art. 19 (форма
#: социального обслуживания): at home, semi-residential (in the provider's premises at set hours of the
#: day, without accommodation) and residential (with accommodation). The store holds no form: T12 derives
#: it from each event with the two maps below, and a form it cannot derive is ``_U``.
RU_SERVICE_FORM = ("home", "semi_residential", "residential")
RU_SERVICE_FORM_LABEL_RU = {"home": "на дому", "semi_residential": "полустационарная", "residential": "стационарная"}
#: An event's form from how it was delivered. A home visit is a service at home. Everything else the
#: provider delivers without accommodation, at its own hours, is semi-residential: a visit to the
#: centre; outreach work in the community (a mobile team, neither at the recipient's home nor
#: residential); and a remote consultation (442-ФЗ has no remote form: it is the provider's own
#: semi-residential service delivered at a distance).
RU_SERVICE_FORM_BY_MODALITY = {
    "home_visit": "home",
    "centre": "semi_residential",
    "outreach": "semi_residential",
    "remote": "semi_residential",
}
#: Services whose form is fixed by their nature (their Social Services Act activity in
#: ``data/services.csv``), whatever the event's modality says. This map wins over the modality map:
#: care with accommodation or shelter is residential, and day care is semi-residential by definition.
RU_SERVICE_FORM_BY_ACTIVITY = {
    "residential_care": "residential",
    "shelter": "residential",
    "day_care": "semi_residential",
}

#: Atomic age bands of the ministry tables (MINISTRY-TABLES.md); upper bound inclusive, None = open.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("Y0T2", 0, 2),
    ("Y3T6", 3, 6),
    ("Y7T13", 7, 13),
    ("Y14T17", 14, 17),
    ("Y18T24", 18, 24),
    ("Y25T29", 25, 29),
    ("Y30T54", 30, 54),
    ("Y55T64", 55, 64),
    ("Y_GE65", 65, None),
)

#: Sex labels as the ministry tables print them.
SEX_LABEL_BG = {"f": "жени", "m": "мъже", "x": "небинарни", "u": "неизвестен"}

#: EU and EEA member states (ISO 3166-1 alpha-2, lower-case) for the EU / third-country flag.
EU_EEA = frozenset(
    [
        "at",
        "be",
        "bg",
        "hr",
        "cy",
        "cz",
        "dk",
        "ee",
        "fi",
        "fr",
        "de",
        "gr",
        "hu",
        "ie",
        "it",
        "lv",
        "lt",
        "lu",
        "mt",
        "nl",
        "pl",
        "pt",
        "ro",
        "sk",
        "si",
        "es",
        "se",
        "is",
        "li",
        "no",
    ]
)


def _read_csv(name: str) -> pl.DataFrame:
    data = resources.files("schemas").joinpath("data", name).read_bytes()
    return pl.read_csv(data, infer_schema=False)


@cache
def services() -> pl.DataFrame:
    """Return the service code list with labels, SSA activity and Child Guarantee area."""
    return _read_csv("services.csv")


@cache
def ssa_activities() -> pl.DataFrame:
    """Return the activities of the Social Services Act (Закон за социалните услуги, чл. 15)."""
    return _read_csv("ssa_activities.csv")


@cache
def cg_areas() -> pl.DataFrame:
    """Return the areas of the European Child Guarantee (Council Recommendation 2021/1004)."""
    return _read_csv("cg_areas.csv")


@cache
def service_codes() -> tuple[str, ...]:
    """Return the service codes in list order."""
    return tuple(services()["code"].to_list())
