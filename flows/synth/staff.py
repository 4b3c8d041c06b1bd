"""The specialists of a partner: staff codes (``worker_id``), professions and names for notes.

The team follows the partner's services (DOMAIN.md: Ruse has 20 specialists — paediatricians, a
gynaecologist, a lawyer, psychologists, pedagogues, speech therapists, a kinesitherapist, mediators,
medical and social workers; Samara works through social agents). It grows with the square root of
the scale: a bigger caseload is served by bigger, not proportionally more, teams.

>>> from flows.synth.profiles import PROFILES
>>> team = staff(PROFILES["samara-krug"], 4, seed=0, scale=1.0)
>>> team.filter(pl.col("role") == "social_agent")["worker_id"].head(1).to_list()
['SM-SA01']
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flows.synth.draws import categorical, rng_for
from flows.synth.families import pick_names
from flows.synth.names import feminine
from flows.synth.profiles import PartnerProfile, parse_weights, service_table

STAGE_STAFF = 4

ABBREVIATION = {
    "social_worker": "SW", "psychologist": "PS", "pedagogue": "PD", "speech_therapist": "ST",
    "paediatrician": "PE", "gynaecologist": "GY", "nurse": "NU", "midwife": "MW", "kinesitherapist": "KT",
    "rehabilitator": "RH", "music_therapist": "MT", "lawyer": "LW", "mediator": "MD", "social_agent": "SA",
    "other": "OT",
}  # fmt: skip


def case_worker_role(profile: PartnerProfile) -> str:
    """Return the profession that owns cases: social agents in Samara, social workers elsewhere."""
    return "social_agent" if profile.language == "ru" else "social_worker"


def staff(profile: PartnerProfile, index: int, seed: int, scale: float) -> pl.DataFrame:
    """Return the partner's team: ``worker_id, role, name`` (one row per specialist)."""
    rng = rng_for(seed, index, STAGE_STAFF)
    table = service_table().filter(pl.col("service").is_in(list(profile.services)))
    weights: dict[str, float] = {}
    for spec in table["specialists"].to_list() + table["adult_specialists"].fill_null("").to_list():
        for role, w in parse_weights(spec).items():
            weights[role] = weights.get(role, 0.0) + w
    case_role = case_worker_role(profile)
    roles = sorted(weights)
    size = max(len(roles) + 2, round(profile.staff * scale**0.5))
    drawn = [roles[i] for i in categorical(rng, [weights[r] for r in roles], size - len(roles) - 2)]
    team = sorted([*roles, case_role, case_role, *drawn], key=lambda r: (r, 0))
    number = {r: 0 for r in team}
    ids = []
    for role in team:
        number[role] += 1
        ids.append(f"{profile.prefix}-{ABBREVIATION[role]}{number[role]:02d}")
    source = np.full(len(team), "ru" if profile.language == "ru" else "bg", dtype=object)
    female = rng.random(len(team)) < 0.8
    given = np.where(female, pick_names(rng, source, "female").to_numpy(), pick_names(rng, source, "male").to_numpy())
    surname = pick_names(rng, source, "surname").to_list()
    family = [feminine(s, profile.language) if f else s for s, f in zip(surname, female, strict=True)]
    return pl.DataFrame(
        {
            "worker_id": ids,
            "role": team,
            "name": [f"{g} {f}" for g, f in zip(given, family, strict=True)],
        }
    )
