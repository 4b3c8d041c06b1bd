"""Free-text notes in the register of Bulgarian and Russian social workers, about the record's own people.

Templates live in ``data/notes_<language>.txt`` (kind, tab, template; ``\\n`` is a line break). Their
placeholders name the forms of the person the note is about — ``{name}``, ``{full}``, ``{family}``,
``{voc}`` (vocative: Иване, Марийо), ``{dim}`` (Гошо, Маша), ``{family_pl}`` (Петрови, Ивановы),
``{dat}``/``{gen}`` (Ивану, Марии), ``{nid}`` with ``{nid_label}`` (ЕГН, СНИЛС…), ``{phone}``,
``{address}``, ``{dob}`` (12.03.2019), gender words ``{born}``, ``{a}``, ``{came}`` — the same with an
``m_`` prefix for the main adult of a case, and ``{staff}`` and ``{date}``. A row only gets a template
whose placeholders all have a value for it, so no note says "ЕГН " with nothing after it. The empty
markers ``{infant}``, ``{young}`` (up to 7), ``{school}`` (7 to 18) and ``{adult}`` keep a note about a
newborn, a kindergarten, a school or an ID card to people of that age (see :func:`age_flags`).

Filling is vectorised: a template is chosen per row, then each placeholder is replaced in the whole
column with Polars ``str.replace_all`` taking the row's value.

>>> frame = pl.DataFrame({"name": ["Иван"], "full": ["Иван Петров"]})
>>> fill(pl.Series(["{full}: {name}, {name}!"]), frame).to_list()
['Иван Петров: Иван, Иван!']
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import numpy as np
import polars as pl

from anonymise.transliterate import bg_latin
from flows.synth import names

PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: Placeholders of which every template must contain one: the note is about these people.
NAME_FIELDS = ("name", "full", "family", "family_pl", "voc", "dat", "gen")

_ID_LABEL = {
    "bg": {
        "egn": "ЕГН",
        "lnc": "ЛНЧ",
        "passport": "паспорт №",
        "birth_certificate": "акт за раждане",
        "other": "л.к. №",
        "snils": "СНИЛС",
    },
    "ru": {
        "snils": "СНИЛС",
        "passport": "паспорт",
        "birth_certificate": "свидетельство о рождении",
        "other": "документ",
        "egn": "ЕГН",
        "lnc": "ЛНЧ",
    },
}
_GENDER = {
    "bg": {"born": ("роден", "родена"), "a": ("", "а"), "came": ("дойде", "дойде")},
    "ru": {"born": ("родился", "родилась"), "a": ("", "а"), "came": ("пришёл", "пришла")},
}


@cache
def templates(language: str) -> pl.DataFrame:
    """Return the note templates of a language: kind, template, and the placeholders it uses."""
    text = resources.files("flows.synth").joinpath("data", f"notes_{language}.txt").read_text("utf-8")
    rows = [line.split("\t", 1) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return pl.DataFrame(
        {
            "kind": [kind for kind, _ in rows],
            "template": [template.replace("\\n", "\n") for _, template in rows],
            "fields": [sorted(set(PLACEHOLDER.findall(template))) for _, template in rows],
        }
    )


def forms(people: pl.DataFrame, language: str, prefix: str = "") -> pl.DataFrame:
    """Return the placeholder values of each person (one row per input row).

    ``people`` needs ``given``, ``family`` (as recorded), ``given_cyr`` and ``surname_m`` (Cyrillic
    originals), ``female``, ``latin``, ``national_id``, ``national_id_type``, ``phone``, ``address``,
    and ``birth_date``.
    """
    latin = people["latin"]

    def derived(column: pl.Series, fn) -> pl.Series:  # type: ignore[no-untyped-def]
        out = names.map_unique(column, fn)
        return pl.select(
            pl.when(pl.lit(latin)).then(names.map_unique(out, bg_latin)).otherwise(pl.lit(out))
        ).to_series()

    given_cyr = people["given_cyr"]
    gender = _GENDER[language]
    female = people["female"]
    out = pl.DataFrame(
        {
            "name": people["given"],
            "full": people.select(pl.concat_str("given", "family", separator=" ")).to_series(),
            "family": people["family"],
            "voc": derived(given_cyr, lambda v: names.vocative(v, language)),
            "dim": derived(given_cyr, lambda v: _short(v, language)),
            "dat": derived(given_cyr, lambda v: names.dative(v, language)),
            "gen": derived(given_cyr, lambda v: names.genitive(v, language)),
            "family_pl": derived(people["surname_m"], lambda v: names.family_plural(v, language)),
            "nid": people["national_id"],
            "nid_label": people["national_id_type"].replace_strict(_ID_LABEL[language], default=None),
            "phone": people["phone"],
            "address": people["address"],
            "dob": people["birth_date"].dt.strftime("%d.%m.%Y"),
        }
    ).with_columns(
        [pl.when(pl.lit(female)).then(pl.lit(f)).otherwise(pl.lit(m)).alias(word) for word, (m, f) in gender.items()]
    )
    out = out.with_columns(
        pl.when(pl.col("nid").is_null()).then(None).otherwise(pl.col("nid_label")).alias("nid_label"),
        pl.when(pl.col("dim") == "").then(None).otherwise(pl.col("dim")).alias("dim"),  # no short form known
    )
    return out.rename({c: prefix + c for c in out.columns}) if prefix else out


def _short(given: str, language: str) -> str:
    short = names.diminutive(given, language)
    return "" if short == given else short


def age_flags(birth: np.ndarray, on: np.ndarray) -> pl.DataFrame:
    """Return the markers ``infant``, ``young``, ``school``, ``adult``: "" where the age fits on the day, else null.

    >>> age_flags(np.array([0, 0]), np.array([100, 3000])).rows()
    [('', '', None, None), (None, None, '', None)]
    """
    age = (on - birth) / 365.2425

    def marker(mask: np.ndarray, name: str) -> pl.Series:
        return pl.select(pl.when(pl.lit(mask)).then(pl.lit("")).otherwise(None).alias(name)).to_series()

    return pl.DataFrame(
        [
            marker((age >= 0) & (age < 1), "infant"),
            marker((age >= 0) & (age < 7.5), "young"),
            marker((age >= 6.5) & (age < 19), "school"),
            marker(age >= 18, "adult"),
        ]
    )


def fill(chosen: pl.Series, values: pl.DataFrame) -> pl.Series:
    """Return the chosen templates with every ``{placeholder}`` replaced by the row's value."""
    used = sorted({f for t in chosen.unique().drop_nulls().to_list() for f in PLACEHOLDER.findall(t)})
    expr = pl.lit(chosen)
    for field in used:
        expr = expr.str.replace_all("{" + field + "}", pl.col(field).fill_null(""), literal=True)
    return values.select(expr.alias("notes")).to_series()


def compose(rng: np.random.Generator, language: str, kind: str, values: pl.DataFrame) -> pl.Series:
    """Return one note per row of ``values``, from the templates of ``kind`` whose fields the row has."""
    table = templates(language).filter(pl.col("kind") == kind)
    if values.height == 0:
        return pl.Series("notes", [], dtype=pl.String)
    eligible = values.select(
        [
            pl.all_horizontal([pl.col(f).is_not_null() for f in fields] or [pl.lit(True)]).alias(str(i))
            for i, fields in enumerate(table["fields"].to_list())
        ]
    ).to_numpy()
    count = eligible.sum(axis=1)
    pick = np.floor(rng.random(values.height) * np.maximum(count, 1)).astype(np.int64)
    index = (np.cumsum(eligible, axis=1) > pick[:, None]).argmax(axis=1)
    chosen = pl.Series(table["template"].to_numpy()[index], dtype=pl.String)
    notes = fill(chosen, values)
    return pl.select(pl.when(pl.lit(count > 0)).then(pl.lit(notes)).otherwise(None)).to_series().alias("notes")
