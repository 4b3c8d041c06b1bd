"""The Russian pilot's table, T12, produced inside the Russian domain and never linked to Bulgarian data.

As in :mod:`anonymise.ministry_tables`, the spec says what the table counts and how it may be published,
and the builder only selects *(unit, atomic codes…)* rows from the Russian pseudonymised store. Importing
this module registers T12 with :func:`anonymise.ministry.register`.
"""

from __future__ import annotations

import polars as pl

from anonymise import hierarchy as h
from anonymise.hierarchy import UNKNOWN
from anonymise.ministry import AGE, SEX, Store, coded, register, require_jurisdiction
from anonymise.tables import Dim, Measure, TableSpec
from schemas import geography

T12 = TableSpec(
    id="T12",
    title_bg="Руски пилот",
    title_en="Russian pilot",
    jurisdiction="ru",
    dims=(
        Dim("district_group", h.district_group_ru(), additive=True),
        Dim("service", h.service(), additive=False),
        SEX,
        AGE,
    ),
    measures=(Measure("recipients", "person"),),
    threshold=10,
    # produced inside the Russian domain: its own universe, never linked to a Bulgarian table
    universe="ru:recipients",
    floor="district group",
    # as T04: who gets which service where, and who they are where; 600 recipients at pilot scale
    crossings=(("district_group", "service"), ("district_group", "sex", "age_band")),
)


def district_group(people: pl.DataFrame) -> pl.Expr:
    """Return each person's Samara district group: the store's own column (derived from the person's OKTMO
    settlement code when the store was written), else from an OKTMO code column, else ``_U``."""
    groups = list(h.district_group_ru().parent)
    if "district_group" in people.columns:
        return coded("district_group", h.district_group_ru())
    for column in ("oktmo", "settlement_code", "municipality_code"):
        if column in people.columns:
            ref = geography.oktmo()
            mapping = dict(zip(ref["oktmo"], ref["district_group"], strict=True))
            group = pl.col(column).replace_strict(mapping, default=UNKNOWN, return_dtype=pl.String)
            return pl.when(group.is_in(groups)).then(group).otherwise(pl.lit(UNKNOWN)).alias("district_group")
    return pl.lit(UNKNOWN).alias("district_group")


def rows_t12(store: Store) -> dict[str, pl.DataFrame]:
    """Rows of T12 (Russian pilot), per measure: recipients served in the period, from the Russian store only."""
    require_jurisdiction(store, "ru")
    people = store.people()
    people = people.select("person_cid", district_group(people), "sex", "age_band")
    rows = (
        store.served()
        .select("person_cid", pl.col("service_code").alias("service"))
        .unique()
        .join(people, on="person_cid", how="inner")
        .rename({"person_cid": "unit"})
    )
    return {"recipients": rows}


register(T12, rows_t12)
