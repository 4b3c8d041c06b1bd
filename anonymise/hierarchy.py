"""Code hierarchies of the release dimensions: every code's parent, up to the total ``_T``.

A hierarchy is what an attacker knows about a dimension: which codes sum (or, for dimensions that do
not partition persons, bound) which others. The release publishes each table's hierarchies in
``hierarchies.json`` so that anyone can rebuild the table's equations from the CSVs alone.

>>> h = age_band()
>>> h.ancestors("Y3T6")
['Y3T6', 'Y_LT18', '_T']
>>> h.level["Y_LT18"], h.level["Y3T6"]
('group', 'band')
>>> sorted(h.children("Y18T29"))
['Y18T24', 'Y25T29']
>>> flat("sex", ["f", "m"]).parent
{'f': '_T', 'm': '_T'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import polars as pl

from schemas import codes, geography

TOTAL = "_T"
UNKNOWN = "_U"

#: Groups of the atomic age bands (MINISTRY-TABLES.md: <18, 18–29, 55+ from the atomic bands).
AGE_GROUPS = {
    "Y0T2": "Y_LT18",
    "Y3T6": "Y_LT18",
    "Y7T13": "Y_LT18",
    "Y14T17": "Y_LT18",
    "Y18T24": "Y18T29",
    "Y25T29": "Y18T29",
    "Y30T54": TOTAL,
    "Y55T64": "Y_GE55",
    "Y_GE65": "Y_GE55",
}


@dataclass(frozen=True)
class Hierarchy:
    """A tree of codes: ``parent`` maps every code to its parent, top-level codes to ``_T``.

    ``level`` names each code's level (``levels`` lists them finest first, ``_T`` last).
    """

    name: str
    parent: Mapping[str, str]
    level: Mapping[str, str]
    levels: tuple[str, ...]

    def ancestors(self, code: str) -> list[str]:
        """Return ``code`` and every code above it, ending with ``_T``."""
        out = [code]
        while out[-1] != TOTAL:
            out.append(self.parent[out[-1]])
        return out

    def children(self, code: str) -> list[str]:
        """Return the codes whose parent is ``code``."""
        return [c for c, p in self.parent.items() if p == code]

    def codes_at(self, level: str) -> list[str]:
        """Return the codes at one level, sorted."""
        return sorted(c for c, lv in self.level.items() if lv == level)

    def rollup(self, column: str) -> pl.DataFrame:
        """Return a frame (``column``, ``_code``, ``_level``): each code with each of its ancestors."""
        rows = [(c, a, self.level.get(a, TOTAL)) for c in self.parent for a in self.ancestors(c)]
        return pl.DataFrame(rows, schema={column: pl.String, "_code": pl.String, "_level": pl.String}, orient="row")

    def as_json(self) -> dict[str, str]:
        """Return the child → parent map as published in ``hierarchies.json`` (sorted)."""
        return dict(sorted(self.parent.items()))


def make(name: str, parent: Mapping[str, str], level: Mapping[str, str], levels: Iterable[str]) -> Hierarchy:
    """Return a hierarchy after checking it is a tree ending in ``_T`` with a level for each code."""
    parent = dict(parent)
    for code in parent:
        seen = {code}
        node = code
        while node != TOTAL:
            if node not in parent:
                raise ValueError(f"hierarchy {name}: {node!r} has no parent")
            node = parent[node]
            if node in seen:
                raise ValueError(f"hierarchy {name}: cycle through {node!r}")
            seen.add(node)
        if code not in level:
            raise ValueError(f"hierarchy {name}: {code!r} has no level")
    return Hierarchy(name, parent, dict(level), (*tuple(levels), TOTAL))


def flat(name: str, codes_: Iterable[str]) -> Hierarchy:
    """Return a one-level hierarchy: every code's parent is ``_T``."""
    cs = list(codes_)
    return make(name, {c: TOTAL for c in cs}, {c: "code" for c in cs}, ["code"])


def sex() -> Hierarchy:
    """Return sex: women, men, non-binary, unknown."""
    return flat("sex", codes.SEX)


@cache
def age_band() -> Hierarchy:
    """Return the atomic age bands under their groups <18, 18–29, 55+ (30–54 sits directly under ``_T``)."""
    parent = {**AGE_GROUPS, UNKNOWN: TOTAL, "Y_LT18": TOTAL, "Y18T29": TOTAL, "Y_GE55": TOTAL}
    level = {c: ("group" if c in ("Y_LT18", "Y18T29", "Y_GE55") else "band") for c in parent}
    return make("age_band", parent, level, ["band", "group"])


@cache
def geography_bg() -> Hierarchy:
    """Return Bulgarian geography: municipality → NUTS 3 (district) → NUTS 2 → ``_T`` (the country).

    ``_U`` (residence unknown) sits directly under the total.
    """
    s = geography.settlements().select("municipality_code", "nuts3", "nuts2").unique()
    parent: dict[str, str] = {UNKNOWN: TOTAL}
    level: dict[str, str] = {UNKNOWN: "nuts3"}
    for m, n3, n2 in s.iter_rows():
        parent[m], parent[n3], parent[n2] = n3, n2, TOTAL
        level[m], level[n3], level[n2] = "municipality", "nuts3", "nuts2"
    return make("geography_bg", parent, level, ["municipality", "nuts3", "nuts2"])


@cache
def district_group_ru() -> Hierarchy:
    """Return the Samara pilot's district groups (from the OKTMO reference), flat."""
    groups = sorted(set(geography.oktmo()["district_group"].to_list()) | {UNKNOWN})
    return flat("district_group_ru", groups)


@cache
def service_form_ru() -> Hierarchy:
    """Return the Russian forms of social service (442-ФЗ, Art. 19), flat, with ``_U`` (form not derivable).

    Flat: a form is a legal category of its own, not a grouping of services (a service such as a
    psychologist's consultation is delivered in more than one form).
    """
    return flat("service_form_ru", [*codes.RU_SERVICE_FORM, UNKNOWN])


@cache
def service() -> Hierarchy:
    """Return services under their Social Services Act activity.

    The Child Guarantee area is a classification of its own (an activity spans several areas), so it
    is a separate dimension where a table needs it, not a level of this tree.
    """
    s = codes.services()
    parent = dict(zip(s["code"], s["ssa_activity"], strict=True))
    level = {c: "service" for c in parent}
    for a in set(parent.values()):
        parent[a], level[a] = TOTAL, "activity"
    return make("service", parent, level, ["service", "activity"])


@cache
def cg_area() -> Hierarchy:
    """Return the Child Guarantee areas, flat."""
    return flat("cg_area", codes.cg_areas()["code"].to_list())
