"""Families and the people in them: who they are, when they were born, their names and national IDs.

A partner's population is drawn family by family: the community around the site (Bulgarian, Roma or
Turkish, foreign, Russian), the number of children and their ages at the family's first contact
with the service (the partner's age profile), the parents (a mother 16–45 at each birth, a father
most of the time), some grandparents and guardians, foster families, and future parents whose baby
is born during the period or not yet. Names follow the family's culture; the middle name is a
patronymic of the father's given name; ЕГН, ЛНЧ and СНИЛС are valid and agree with birth date and sex.

The result is a :class:`Household` of two frames, families and persons, with helper columns that
the later stages (residence, cases, events, notes) read; contract columns are built in
:mod:`flows.synth.people`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from flows.synth import identifiers, names
from flows.synth.draws import YEAR, categorical, choose, lookup, popularity, rng_for
from flows.synth.profiles import BG, FOREIGN, PILOT_PERSONS, ROMA, RU, PartnerProfile
from schemas.partners import PARTNERS

STAGE_FAMILIES, STAGE_NAMES, STAGE_IDS = 1, 2, 3

#: Share of Bulgarian partners' persons whose names were typed in Latin letters.
LATIN_SHARE = 0.03

#: Children born per family, by community (index = number of children).
CHILDREN = {
    BG: (0.0, 0.47, 0.35, 0.12, 0.05, 0.01),
    ROMA: (0.0, 0.21, 0.29, 0.25, 0.14, 0.11),
    FOREIGN: (0.0, 0.47, 0.34, 0.13, 0.05, 0.01),
    RU: (0.0, 0.51, 0.34, 0.11, 0.03, 0.01),
}
FATHER_PRESENT = {BG: 0.62, ROMA: 0.72, FOREIGN: 0.75, RU: 0.60}
GRANDPARENT = {BG: 0.07, ROMA: 0.15, FOREIGN: 0.04, RU: 0.06}
#: Mother's age at her first child: mean and spread (years).
MOTHER_AGE = {BG: (26.5, 5.0), ROMA: (19.0, 2.5), FOREIGN: (27.0, 5.0), RU: (27.0, 5.0)}

#: Citizenship of foreign mothers, and the name lists their names come from.
FOREIGN_BG = {"ua": 35, "ru": 12, "sy": 15, "tr": 12, "ro": 10, "md": 6, "af": 5, "iq": 5}
FOREIGN_RU = {"kz": 3, "uz": 3, "tj": 2, "am": 2, "az": 2, "ua": 3}
NAME_SOURCE = {
    "bg": "bg",
    "ua": "ru",
    "ru": "ru",
    "md": "ru",
    "kz": "ru",
    "uz": "ru",
    "tj": "ru",
    "am": "ru",
    "az": "ru",
    "sy": "arab",
    "af": "arab",
    "iq": "arab",
    "tr": "roma",
    "ro": "latin",
}
SOURCES = ("bg", "roma", "ru", "arab", "latin")

RANK = {"mother": 0, "father": 1, "foster_parent": 1, "guardian": 2, "grandparent": 3, "sibling": 4, "child": 5}


@dataclass
class Household:
    """A partner's families and persons before residence, contacts, cases and events."""

    profile: PartnerProfile
    index: int  # the partner's position in the registry
    families: pl.DataFrame
    persons: pl.DataFrame


def _lists(source: str) -> dict[str, tuple[str, ...]]:
    if source in ("arab", "latin"):
        return {k: names.foreign_names(source, k) for k in ("male", "female", "surname")}
    prefix = {"bg": "bg", "roma": "roma", "ru": "ru"}[source]
    surnames = names.name_list(f"{prefix}_surnames")
    return {
        "male": names.name_list(f"{prefix}_male"),
        "female": names.name_list(f"{prefix}_female"),
        "surname": surnames,
    }


def pick_names(rng: np.random.Generator, source: np.ndarray, kind: str) -> pl.Series:
    """Return one name of ``kind`` (male, female, surname) per row from the row's name source."""
    out = np.empty(source.shape[0], dtype=object)
    for src in SOURCES:
        mask = source == src
        if mask.any():
            values = _lists(src)[kind]
            out[mask] = np.array(values, dtype=object)[
                categorical(rng, popularity(values, f"{src}_{kind}", names.COMMON_NOUNS), int(mask.sum()))
            ]
    return pl.Series(out.tolist(), dtype=pl.String)


def _language(source: str) -> str:
    return "ru" if source == "ru" else "bg"


def _middle(key: str) -> str:
    """Return a middle name from ``source|father|sex|keep`` (keep = Turkish style, name unchanged)."""
    source, father, sex, keep = key.split("|")
    if source == "latin":
        return ""
    if source == "arab" or keep == "1":
        return father
    return names.patronymic(father, female=sex == "f", language=_language(source))


def _surname(key: str) -> str:
    source, surname, sex = key.split("|")
    if sex == "m" or source in ("arab", "latin"):
        return surname
    return names.feminine(surname, _language(source))


def draw_families(profile: PartnerProfile, index: int, seed: int, scale: float, start: int, end: int) -> pl.DataFrame:
    """Return the partner's families: site, community, composition, first contact and case length."""
    rng = rng_for(seed, index, STAGE_FAMILIES)
    target = max(1, round(PILOT_PERSONS * profile.share * scale))
    n = target // 2 + 8  # more than enough: a family has at least two persons on average
    sites = categorical(rng, [s.weight for s in profile.sites], n)
    roma = np.array([s.roma for s in profile.sites])[sites]
    u = rng.random(n)
    if profile.language == "ru":
        group = np.full(n, RU)
        foreign = u < profile.foreign
        origin = np.where(foreign, choose(rng, FOREIGN_RU, n), "ru")
    else:
        foreign = u < profile.foreign
        group = np.where(foreign, FOREIGN, np.where(u < profile.foreign + roma * (1 - profile.foreign), ROMA, BG))
        origin = np.where(foreign, choose(rng, FOREIGN_BG, n), "bg")
    native = "ru" if profile.language == "ru" else "bg"
    msrc = np.where(group == ROMA, "roma", lookup(origin, NAME_SOURCE))
    mixed = foreign & np.isin(origin, ["ua", "ru", "md", "ro", "kz", "am"]) & (rng.random(n) < 0.45)
    fsrc = np.where(mixed, native, msrc)

    children = np.zeros(n, dtype=np.int64)
    for g, dist in CHILDREN.items():
        mask = group == g
        children[mask] = categorical(rng, dist, int(mask.sum()))
    future = rng.random(n) < profile.expectant
    due = rng.integers(20, 280, n)
    entry = rng.integers(start - 540, max(start - 539, end - 20), n)
    entry = np.minimum(entry, end)
    born = future & (entry + due <= end)
    children = np.where(future, born.astype(np.int64), children)
    foster = ~future & (rng.random(n) < profile.foster)
    mother = foster | (rng.random(n) < 0.95)
    father = rng.random(n) < lookup(group, FATHER_PRESENT) * np.where(foster, 1.2, 1.0)
    father |= mixed
    grand = ~foster & (rng.random(n) < lookup(group, GRANDPARENT))
    sibling = ~future & (rng.random(n) < 0.02)
    guardian = ~mother
    size = children + mother + father + grand + sibling + guardian
    keep = int(np.searchsorted(np.cumsum(size), target)) + 1
    length = (rng.exponential(profile.case_months * 30.44, n) + 30).astype(np.int64)
    length = np.maximum(length, start + 30 - entry)
    outreach = {site.id: site.outreach for site in PARTNERS[profile.partner_id].sites}
    undocumented = (group == ROMA) & np.array([outreach[s.site_id] for s in profile.sites])[sites]
    undocumented &= rng.random(n) < 0.15
    frame = pl.DataFrame(
        {
            "fam": np.arange(n),
            "site": sites,
            "group": group,
            "origin": origin.astype(str),
            "msrc": msrc.astype(str),
            "fsrc": fsrc.astype(str),
            "mixed": mixed,
            "foster": foster,
            "prenatal": future,  # came as future parents
            "expecting": future & ~born,  # still expecting at the end of the period
            "due": entry + due,
            "children": children,
            "mother": mother,
            "father": father,
            "grandparent": grand,
            "sibling": sibling,
            "guardian": guardian,
            "entry": entry,
            "length": length,
            "undocumented": undocumented,
            "imported": np.zeros(n, dtype=bool),
        }
    )
    return frame.head(min(keep, n))


def draw_persons(profile: PartnerProfile, index: int, seed: int, families: pl.DataFrame) -> pl.DataFrame:
    """Return the persons of the families: relation, role, sex, birth date and names."""
    rng = rng_for(seed, index, STAGE_NAMES)
    f = {c: families[c].to_numpy() for c in families.columns}
    n = families.height
    # Children: ages at first contact from the partner's profile; a future parent's baby on its due date.
    kids_fam = np.repeat(np.arange(n), f["children"])
    k = kids_fam.shape[0]
    bands = profile.child_ages
    band = categorical(rng, [b[2] for b in bands], k)
    lo = np.array([b[0] for b in bands])[band]
    hi = np.array([b[1] for b in bands])[band]
    age_days = ((lo + rng.random(k) * (hi - lo + 1)) * YEAR).astype(np.int64)
    kid_birth = np.where(f["prenatal"][kids_fam], f["due"][kids_fam], f["entry"][kids_fam] - age_days)
    oldest = np.full(n, np.iinfo(np.int64).max)
    youngest = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(oldest, kids_fam, kid_birth)
    np.maximum.at(youngest, kids_fam, kid_birth)
    childless = f["children"] == 0
    oldest = np.where(childless, f["due"], oldest)
    youngest = np.where(childless, f["due"], youngest)

    mean, spread = lookup(f["group"], MOTHER_AGE).T
    span = (youngest - oldest) / YEAR
    first_age = np.clip(rng.normal(mean, spread), 16.2, 40.0)
    first_age = np.clip(first_age, 16.2, 44.8 - span)
    mother_birth = oldest - (first_age * YEAR).astype(np.int64)
    foster_mother = f["entry"] - (rng.uniform(35, 60, n) * YEAR).astype(np.int64)
    mother_birth = np.where(f["foster"], foster_mother, mother_birth)
    father_birth = mother_birth - (rng.normal(3.0, 3.5, n) * YEAR).astype(np.int64)
    father_birth = np.minimum(father_birth, oldest - int(18.5 * YEAR))
    father_birth = np.where(f["foster"], mother_birth - (rng.normal(2.0, 3.0, n) * YEAR).astype(np.int64), father_birth)
    grand_birth = mother_birth - (rng.uniform(19, 28, n) * YEAR).astype(np.int64)
    guardian_birth = oldest - (rng.uniform(38, 55, n) * YEAR).astype(np.int64)
    sibling_birth = f["entry"] - (rng.uniform(18, 24, n) * YEAR).astype(np.int64)
    adult_sibling = f["sibling"] & (sibling_birth >= mother_birth + int(17 * YEAR))

    # Family names: the father's line, the mother's own, and for foster children their birth family's.
    fsrc, msrc = f["fsrc"].astype(object), f["msrc"].astype(object)
    surname = pick_names(rng, fsrc, "surname")
    maiden = pick_names(rng, msrc, "surname")
    father_given = pick_names(rng, fsrc, "male")
    mother_given = pick_names(rng, msrc, "female")
    paternal = pick_names(rng, fsrc, "male")
    maternal = pick_names(rng, msrc, "male")
    grandmother = pick_names(rng, msrc, "female")
    birth_surname = pick_names(rng, fsrc, "surname")
    birth_father = pick_names(rng, fsrc, "male")
    takes_name = (msrc == fsrc) & np.isin(msrc, ["bg", "roma", "ru"]) & (rng.random(n) < 0.8)
    child_surname = pl.Series(np.where(f["father"] | (rng.random(n) < 0.7), surname.to_numpy(), maiden.to_numpy()))
    child_surname = pl.Series(np.where(f["foster"], birth_surname.to_numpy(), child_surname.to_numpy()))
    child_father = pl.Series(np.where(f["foster"], birth_father.to_numpy(), father_given.to_numpy()))
    role_parent = np.where(f["expecting"], "expectant_parent", "parent")

    def block(
        mask: np.ndarray,
        relation: str | np.ndarray,
        role: str | np.ndarray,
        female: np.ndarray,
        birth: np.ndarray,
        src: np.ndarray,
        given: pl.Series,
        father_of: pl.Series,
        surname_of: pl.Series,
    ) -> pl.DataFrame:
        idx = np.flatnonzero(mask)
        return pl.DataFrame(
            {
                "fam": idx,
                "relation": np.broadcast_to(np.asarray(relation, dtype=object), (n,))[idx].astype(str),
                "role": np.broadcast_to(np.asarray(role, dtype=object), (n,))[idx].astype(str),
                "female": female[idx],
                "birth": birth[idx],
                "src": src[idx].astype(str),
                "given": given.gather(idx),
                "father_name": father_of.gather(idx),
                "surname_m": surname_of.gather(idx),
            }
        )

    ones, zeros = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    guardian_female = rng.random(n) < 0.85
    grand_female = rng.random(n) < 0.7
    sibling_female = rng.random(n) < 0.5
    mother_surname = pl.Series(np.where(takes_name, surname.to_numpy(), maiden.to_numpy()))
    blocks = [
        block(
            f["mother"],
            np.where(f["foster"], "foster_parent", "mother"),
            np.where(f["foster"], "guardian", role_parent),
            ones,
            mother_birth,
            msrc,
            mother_given,
            maternal,
            mother_surname,
        ),
        block(
            f["father"],
            np.where(f["foster"], "foster_parent", "father"),
            np.where(f["foster"], "guardian", role_parent),
            zeros,
            father_birth,
            fsrc,
            father_given,
            paternal,
            surname,
        ),
        block(
            f["guardian"],
            np.where(rng.random(n) < 0.6, "grandparent", "guardian"),
            "guardian",
            guardian_female,
            guardian_birth,
            msrc,
            pl.Series(np.where(guardian_female, grandmother.to_numpy(), maternal.to_numpy())),
            pick_names(rng, msrc, "male"),
            maiden,
        ),
        block(
            f["grandparent"],
            "grandparent",
            "other_adult",
            grand_female,
            grand_birth,
            msrc,
            pl.Series(np.where(grand_female, grandmother.to_numpy(), maternal.to_numpy())),
            pick_names(rng, msrc, "male"),
            maiden,
        ),
    ]
    sib = block(
        adult_sibling,
        "sibling",
        "other_adult",
        sibling_female,
        sibling_birth,
        fsrc,
        pl.Series(
            np.where(
                sibling_female, pick_names(rng, fsrc, "female").to_numpy(), pick_names(rng, fsrc, "male").to_numpy()
            )
        ),
        child_father,
        child_surname,
    )
    blocks.append(sib)
    kid_female = rng.random(k) < 0.487
    kid_src = fsrc[kids_fam]
    kid_given = pl.Series(
        np.where(kid_female, pick_names(rng, kid_src, "female").to_numpy(), pick_names(rng, kid_src, "male").to_numpy())
    )
    blocks.append(
        pl.DataFrame(
            {
                "fam": kids_fam,
                "relation": np.full(k, "child"),
                "role": np.full(k, "child"),
                "female": kid_female,
                "birth": kid_birth,
                "src": kid_src.astype(str),
                "given": kid_given,
                "father_name": child_father.gather(kids_fam),
                "surname_m": child_surname.gather(kids_fam),
            }
        )
    )
    persons = pl.concat(blocks, how="vertical_relaxed")
    keep_turkish = (persons["src"] == "roma").to_numpy() & (rng.random(persons.height) < 0.5)
    sex = pl.when(pl.col("female")).then(pl.lit("f")).otherwise(pl.lit("m"))
    persons = persons.with_columns(
        sex.alias("sex"),
        pl.Series("keep", keep_turkish).cast(pl.Int8).cast(pl.String),
        pl.col("relation").replace_strict(RANK, return_dtype=pl.Int64).alias("rank"),
    )
    middle_key = pl.concat_str("src", "father_name", "sex", "keep", separator="|")
    surname_key = pl.concat_str("src", "surname_m", "sex", separator="|")
    persons = persons.with_columns(
        names.map_unique(persons.select(middle_key).to_series(), _middle).alias("middle"),
        names.map_unique(persons.select(surname_key).to_series(), _surname).alias("family"),
    )
    persons = persons.with_columns(
        pl.when(pl.col("middle") == "").then(None).otherwise(pl.col("middle")).alias("middle"),
        pl.col("given").alias("given_cyr"),  # the names as first written, before any Latin spelling
        pl.col("family").alias("family_cyr"),
    )
    return persons.sort(["fam", "rank", "birth"], maintain_order=True).drop("keep", "father_name")


def draw_identity(
    profile: PartnerProfile, index: int, seed: int, families: pl.DataFrame, persons: pl.DataFrame, lane: int
) -> pl.DataFrame:
    """Return persons with citizenship, national ID and its type, and a few unknown sexes.

    ``lane`` keeps ЕГН and ЛНЧ of different Bulgarian partners apart (see
    :func:`identifiers.serial_slots`); a child served by two partners keeps the first one's ЕГН.
    """
    rng = rng_for(seed, index, STAGE_IDS)
    fam = persons["fam"].to_numpy()
    origin = families["origin"].to_numpy()[fam].astype(object)
    mixed = families["mixed"].to_numpy()[fam]
    undocumented = families["undocumented"].to_numpy()[fam]
    relation = persons["relation"].to_numpy().astype(object)
    adult = ~np.isin(relation, ["child"])
    native = "ru" if profile.language == "ru" else "bg"
    own_line = np.isin(relation, ["mother", "grandparent", "guardian"])
    citizenship = np.where(mixed & ~own_line, native, origin)
    n = persons.height
    u = rng.random(n)
    if profile.language == "ru":
        kind = np.where(
            citizenship == "ru",
            np.where(
                adult,
                np.where(u < 0.90, "snils", np.where(u < 0.98, "passport", "none")),
                np.where(u < 0.88, "snils", np.where(u < 0.98, "birth_certificate", "none")),
            ),
            np.where(
                adult,
                np.where(u < 0.7, "passport", np.where(u < 0.9, "other", "none")),
                np.where(u < 0.5, "birth_certificate", np.where(u < 0.8, "other", "none")),
            ),
        )
    else:
        missing = np.where(undocumented, np.where(adult, 0.4, 0.7), 0.01)
        kind = np.where(
            citizenship == "bg",
            np.where(u < missing, "none", np.where(adult & (u > 0.995), "other", "egn")),
            np.where(
                adult,
                np.where(u < 0.6, "lnc", np.where(u < 0.9, "passport", "none")),
                np.where(
                    u < 0.35, "lnc", np.where(u < 0.7, "birth_certificate", np.where(u < 0.9, "passport", "none"))
                ),
            ),
        )
    birth = persons["birth"].to_numpy()
    female = persons["female"].to_numpy()
    value = np.full(n, None, dtype=object)
    mask = kind == "egn"
    if mask.any():
        slots = identifiers.serial_slots(rng, birth[mask], female[mask], lane, 4)
        value[mask] = identifiers.egn(birth[mask], female[mask], slots).to_numpy()
    mask = kind == "lnc"
    value[mask] = identifiers.lnc(rng, int(mask.sum()), lane, 4).to_numpy()
    mask = kind == "snils"
    value[mask] = identifiers.snils(rng, int(mask.sum())).to_numpy()
    for k in ("passport", "birth_certificate", "other"):
        mask = kind == k
        value[mask] = _document(rng, k, profile.language, citizenship[mask], birth[mask])
    # Sex is sometimes unknown or non-binary where no ЕГН encodes it.
    v = rng.random(n)
    sex = persons["sex"].to_numpy().astype(object)
    sex = np.where((kind != "egn") & (v < 0.015), "u", np.where((kind != "egn") & (v > 0.997), "x", sex))
    return persons.with_columns(
        pl.Series("citizenship", citizenship.astype(str)),
        pl.Series("national_id", value.tolist(), dtype=pl.String),
        pl.Series("national_id_type", kind.astype(str)),
        pl.Series("sex", sex.astype(str)),
    )


_LATIN_LETTERS = np.array(list("ABCEFHKMNPRTXY"))
_RU_SERIES = np.array(["ЕР", "ЖА", "МЮ", "ИК", "ВА", "КН", "ОР"])
_ROMAN = np.array(["I", "II", "III", "IV"])


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return np.char.zfill(rng.integers(0, 10**width, n).astype(str), width)


def _document(
    rng: np.random.Generator, kind: str, language: str, citizenship: np.ndarray, birth: np.ndarray
) -> np.ndarray:
    """Return numbers of passports, birth certificates and other documents as people write them."""
    n = citizenship.shape[0]
    if n == 0:
        return np.empty(0, dtype=object)
    letters = np.char.add(_LATIN_LETTERS[rng.integers(0, 14, n)], _LATIN_LETTERS[rng.integers(0, 14, n)])
    foreign_passport = np.char.add(letters, _digits(rng, n, 7))
    if kind == "passport":
        if language == "ru":
            series = np.char.add("36 ", np.char.zfill(rng.integers(0, 25, n).astype(str), 2))
            own = np.char.add(np.char.add(series, " "), _digits(rng, n, 6))
            return np.where(citizenship == "ru", own, foreign_passport).astype(object)
        return foreign_passport.astype(object)
    if kind == "birth_certificate":
        if language == "ru":
            head = np.char.add(np.char.add(_ROMAN[rng.integers(0, 4, n)], "-"), _RU_SERIES[rng.integers(0, 7, n)])
            return np.char.add(np.char.add(head, " № "), _digits(rng, n, 6)).astype(object)
        born = birth.astype("datetime64[D]").astype(str)  # YYYY-MM-DD
        year, month, day = (
            np.char.partition(born, "-")[:, 0],
            np.char.partition(np.char.partition(born, "-")[:, 2], "-")[:, 0],
            np.char.rpartition(born, "-")[:, 2],
        )
        act = np.char.add(np.char.add(_digits(rng, n, 4), "/"), day)
        return np.char.add(np.char.add(np.char.add(np.char.add(act, "."), month), "."), year).astype(object)
    if language == "ru":
        return np.char.add("МК ", _digits(rng, n, 7)).astype(object)
    return _digits(rng, n, 9).astype(object)  # an ID card number written where the ЕГН should be
