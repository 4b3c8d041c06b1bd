"""Where families live and how to reach them: settlement codes, addresses, phones and e-mails.

Families live around their site: most in the site's own settlement, the rest in the other
settlements of the municipality (EKATTE, from :mod:`schemas.geography`) — or, in Samara oblast,
in the city of the site and a few other towns and districts (OKTMO). Addresses are written as
Bulgarian and Russian clerks write them::

    гр. Русе, ж.к. „Дружба 3“, бл. 12, вх. Б, ет. 4, ап. 11
    с. Дреновец, ул. „Васил Левски“ № 7
    г. Самара, ул. Ленина, д. 5, кв. 12

Phones are Bulgarian mobiles (087/088/089/098, as ``+359 88 123 4567`` or ``0881234567`` …) or
Russian ones (``+7 927 123-45-67``, ``8 (927) 123-45-67`` …). E-mail addresses are the person's name
in Latin letters at the mail services people use (abv.bg, mail.bg, gmail.com, mail.ru, yandex.ru).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from flows.synth import names
from flows.synth.draws import categorical, choose
from flows.synth.profiles import PROFILES, PartnerProfile
from schemas import geography

_BG_MOBILE = ("87", "88", "89", "98")
_RU_MOBILE = ("927", "937", "917", "987", "902", "906", "960", "964", "996", "999")
_DOMAINS = {
    "bg": {"abv.bg": 45, "gmail.com": 35, "mail.bg": 15, "yahoo.com": 5},
    "ru": {"mail.ru": 35, "yandex.ru": 35, "gmail.com": 15, "bk.ru": 8, "rambler.ru": 7},
}
_ENTRANCES = np.array(["А", "Б", "В", "Г"])


@cache
def places() -> pl.DataFrame:
    """Return the quarters and streets used in addresses: ``place, kind, name``."""
    return pl.read_csv(resources.files("flows.synth").joinpath("data", "places.csv").read_bytes())


@cache
def site_settlements(partner_id: str) -> tuple[tuple[pl.DataFrame, pl.DataFrame], ...]:
    """Return per site (home settlement, other settlements around) as ``code, label, place, city``.

    ``label`` is how an address names the settlement (``гр. Русе``, ``с. Дреновец``, ``г. Сызрань``),
    ``place`` the key of its quarter and street lists, ``city`` whether it has blocks of flats.
    """
    profile = PROFILES[partner_id]
    out = []
    if profile.language == "ru":
        table = (
            geography.oktmo()
            .with_columns(
                pl.when(pl.col("kind") == "город")
                .then(pl.concat_str(pl.lit("г. "), "name_ru"))
                .otherwise(pl.concat_str(pl.lit("Самарская обл., "), "name_ru"))
                .alias("label"),
                pl.when(pl.col("district_group") == "other")
                .then(pl.lit("ru_other"))
                .otherwise(pl.col("name_ru"))
                .alias("place"),
                (pl.col("kind") == "город").alias("city"),
            )
            .select(pl.col("oktmo").alias("code"), "label", "place", "city", "name_ru", "district_group")
        )
        for site in profile.sites:
            home = table.filter(pl.col("name_ru") == site.home)
            others = table.filter(pl.col("district_group") == "other")
            out.append((home.select("code", "label", "place", "city"), others.select("code", "label", "place", "city")))
        return tuple(out)
    table = geography.settlements().select(
        pl.col("ekatte").alias("code"),
        pl.concat_str(pl.when(pl.col("kind") == "град").then(pl.lit("гр. ")).otherwise(pl.lit("с. ")), "name_bg").alias(
            "label"
        ),
        "name_bg",
        "municipality_code",
        (pl.col("kind") == "град").alias("city"),
    )
    quarters = set(places().filter(pl.col("kind") == "quarter")["place"].to_list())
    table = table.with_columns(
        pl.when(pl.col("name_bg").is_in(sorted(quarters)))
        .then(pl.col("name_bg"))
        .otherwise(pl.lit("village"))
        .alias("place")
    )
    for site in profile.sites:
        local = table.filter(pl.col("municipality_code") == site.municipality)
        home = local.filter(pl.col("name_bg") == site.home)
        if home.height != 1:
            raise ValueError(f"{site.home} is not one settlement of municipality {site.municipality}")
        others = local.filter(pl.col("name_bg") != site.home)
        out.append((home.select("code", "label", "place", "city"), others.select("code", "label", "place", "city")))
    return tuple(out)


def settle(rng: np.random.Generator, profile: PartnerProfile, site: np.ndarray) -> pl.DataFrame:
    """Return the settlement (``code, label, place, city``) of each family given its site."""
    n = int(site.shape[0])
    rows = np.zeros(n, dtype=np.int64)
    frames: list[pl.DataFrame] = []
    offset = 0
    u = rng.random(n)
    for i, (home, others) in enumerate(site_settlements(profile.partner_id)):
        mask = site == i
        share = profile.sites[i].home_share if others.height else 1.0
        local = np.where(u[mask] < share, 0, 1 + rng.integers(0, max(others.height, 1), int(mask.sum())))
        rows[mask] = offset + local
        frames.append(pl.concat([home, others]))
        offset += 1 + others.height
    return pl.concat(frames).gather(rows)


def _numbers(rng: np.random.Generator, low: int, high: int, n: int) -> pl.Series:
    return pl.Series(rng.integers(low, high + 1, n)).cast(pl.String)


def _pick_place(rng: np.random.Generator, place: np.ndarray, kind: str, fallback: str) -> pl.Series:
    """Return a quarter or street name of the given kind for each row's place."""
    table = places()
    out = np.empty(place.shape[0], dtype=object)
    for key in sorted(set(place.tolist())):
        mask = place == key
        options = table.filter((pl.col("place") == key) & (pl.col("kind") == kind))["name"].to_list()
        if not options:
            options = table.filter((pl.col("place") == fallback) & (pl.col("kind") == "street"))["name"].to_list()
        out[mask] = np.array(options, dtype=object)[rng.integers(0, len(options), int(mask.sum()))]
    return pl.Series(out.tolist(), dtype=pl.String)


def addresses(rng: np.random.Generator, language: str, where: pl.DataFrame, roma: np.ndarray) -> pl.Series:
    """Return one postal address per row of ``where`` (``label, place, city``) in the local format."""
    n = where.height
    place = where["place"].to_numpy().astype(object)
    parts = pl.DataFrame(
        {
            "label": where["label"],
            "quarter": _pick_place(rng, place, "quarter", "village"),
            "roma_quarter": _pick_place(rng, place, "roma", "village"),
            "street": _pick_place(rng, place, "street", "ru_other" if language == "ru" else "village"),
            "lane": _pick_place(
                rng, np.full(n, "ru_other" if language == "ru" else "village", dtype=object), "street", "village"
            ),
            "block": _numbers(rng, 1, 250, n),
            "entrance": pl.Series(_ENTRANCES[rng.integers(0, 4, n)]),
            "floor": _numbers(rng, 1, 8, n),
            "flat": _numbers(rng, 1, 120, n),
            "house": _numbers(rng, 1, 150, n),
        }
    )
    form = rng.random(n)
    city = where["city"].to_numpy()
    has_quarters = np.isin(place, sorted(set(places().filter(pl.col("kind") == "quarter")["place"].to_list())))
    c = pl.col
    if language == "ru":
        flat = pl.concat_str("label", pl.lit(", "), "street", pl.lit(", д. "), "house", pl.lit(", кв. "), "flat")
        house = pl.concat_str("label", pl.lit(", "), "street", pl.lit(", д. "), "house")
        region = pl.concat_str(pl.lit("Самарская обл., "), flat)
        expr = (
            pl.when(pl.lit(city & (form < 0.12)) & ~c("label").str.starts_with("Самарская"))
            .then(region)
            .when(pl.lit(city & (form < 0.85)))
            .then(flat)
            .otherwise(house)
        )
        return parts.select(expr.alias("address")).to_series()
    blocks = pl.concat_str(
        "label",
        pl.lit(", ж.к. „"),
        "quarter",
        pl.lit("“, бл. "),
        "block",
        pl.lit(", вх. "),
        "entrance",
        pl.lit(", ет. "),
        "floor",
        pl.lit(", ап. "),
        "flat",
    )
    street = pl.concat_str("label", pl.lit(", ул. „"), "street", pl.lit("“ № "), "house")
    street_flat = pl.concat_str(street, pl.lit(", ет. "), "floor", pl.lit(", ап. "), "flat")
    roma_quarter = pl.concat_str(
        "label", pl.lit(", кв. „"), "roma_quarter", pl.lit("“, ул. „"), "lane", pl.lit("“ № "), "house"
    )
    village = pl.concat_str("label", pl.lit(", ул. „"), "lane", pl.lit("“ № "), "house")
    expr = (
        pl.when(pl.lit(has_quarters & roma & (form < 0.6)))
        .then(roma_quarter)
        .when(pl.lit(has_quarters & (form < 0.55)))
        .then(blocks)
        .when(pl.lit(has_quarters & (form < 0.8)))
        .then(street_flat)
        .when(pl.lit(has_quarters))
        .then(street)
        .otherwise(village)
    )
    return parts.select(expr.alias("address")).to_series()


def _digits(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10**width, n)).cast(pl.String).str.zfill(width)


def phones(rng: np.random.Generator, language: str, n: int) -> pl.Series:
    """Return ``n`` mobile numbers in the ways people write them in the partner's country."""
    d = pl.DataFrame({"a": _digits(rng, n, 3), "b": _digits(rng, n, 4)}).with_columns(
        pl.col("b").str.slice(0, 2).alias("b1"), pl.col("b").str.slice(2, 2).alias("b2")
    )
    form = rng.integers(0, 5, n)
    if language == "ru":
        d = d.with_columns(pl.Series("op", np.array(_RU_MOBILE)[rng.integers(0, len(_RU_MOBILE), n)]))
        variants = [
            pl.concat_str(pl.lit("+7 "), "op", pl.lit(" "), "a", pl.lit("-"), "b1", pl.lit("-"), "b2"),
            pl.concat_str(pl.lit("8 ("), "op", pl.lit(") "), "a", pl.lit("-"), "b1", pl.lit("-"), "b2"),
            pl.concat_str(pl.lit("8"), "op", "a", "b"),
            pl.concat_str(pl.lit("+7"), "op", "a", "b"),
            pl.concat_str(pl.lit("8-"), "op", pl.lit("-"), "a", pl.lit("-"), "b1", pl.lit("-"), "b2"),
        ]
    else:
        d = d.with_columns(pl.Series("op", np.array(_BG_MOBILE)[rng.integers(0, len(_BG_MOBILE), n)]))
        variants = [
            pl.concat_str(pl.lit("+359 "), "op", pl.lit(" "), "a", pl.lit(" "), "b"),
            pl.concat_str(pl.lit("0"), "op", "a", "b"),
            pl.concat_str(pl.lit("0"), "op", pl.lit(" "), "a", pl.lit(" "), "b"),
            pl.concat_str(
                pl.lit("0"),
                "op",
                pl.col("a").str.slice(0, 1),
                pl.lit(" "),
                pl.col("a").str.slice(1, 2),
                pl.col("b").str.slice(0, 1),
                pl.lit(" "),
                pl.col("b").str.slice(1, 3),
            ),
            pl.concat_str(pl.lit("+359"), "op", "a", "b"),
        ]
    expr = pl.coalesce([pl.when(pl.lit(form == i)).then(variant) for i, variant in enumerate(variants)])
    return d.select(expr.alias("phone")).to_series()


def emails(
    rng: np.random.Generator, language: str, given: pl.Series, family: pl.Series, birth_year: np.ndarray
) -> pl.Series:
    """Return e-mail addresses made of the person's names in Latin letters."""
    n = given.shape[0]
    frame = pl.DataFrame(
        {
            "g": names.map_unique(given, lambda v: names.email_latin(v, language)),
            "f": names.map_unique(family, lambda v: names.email_latin(v, language)),
            "yy": pl.Series(birth_year % 100).cast(pl.String).str.zfill(2),
            "nn": _digits(rng, n, 3),
            "domain": pl.Series(choose(rng, _DOMAINS[language], n).astype(str)),
        }
    )
    form = categorical(rng, [4, 2, 2, 1, 1], n)
    c = pl.col
    local = (
        pl.when(pl.lit(form == 0))
        .then(pl.concat_str("g", pl.lit("."), "f"))
        .when(pl.lit(form == 1))
        .then(pl.concat_str("g", pl.lit("_"), "f", "yy"))
        .when(pl.lit(form == 2))
        .then(pl.concat_str("f", c("g").str.slice(0, 1)))
        .when(pl.lit(form == 3))
        .then(pl.concat_str("g", "yy"))
        .otherwise(pl.concat_str("g", pl.lit("."), "f", "nn"))
    )
    return frame.select(pl.concat_str(local, pl.lit("@"), "domain").alias("email")).to_series()
