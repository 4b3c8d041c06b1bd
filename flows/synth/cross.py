"""Children served by two Bulgarian partners: the same child, with the same ЕГН, in both batches.

About 2 % of the young children of Plovdiv and Sofia move (with their mother or guardian) and are
served by a second Bulgarian partner as well. The second partner records the same person — same
ЕГН, birth date, sex and names, sometimes typed in Latin letters — under its own person_id, in a
family of its own. Linking these across partners is what the national pseudonymisation domain is
for, and the truth file lists them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from anonymise.transliterate import bg_latin
from flows.synth import names
from flows.synth.draws import YEAR, categorical, choose, rng_for
from flows.synth.families import Household

SHARE = 0.02
#: Where the children of each source partner go (weights).
DESTINATIONS = {
    "plovdiv-ksuds": {"sofia-kisuds": 5, "ruse-svetilnik": 3, "ruzhintsi-ksuds": 2},
    "sofia-kisuds": {"plovdiv-ksuds": 4, "ruse-svetilnik": 4, "ruzhintsi-ksuds": 2},
}
LATIN_COPY = 0.3
STAGE_CROSS = 99


def exchange(households: dict[str, Household], seed: int, start: int, end: int) -> int:
    """Copy cross-partner children (and their main adult) into their second partner; return how many.

    Every household gains a ``cross`` column: the number of the shared child (the same in both
    partners) or -1.
    """
    for h in households.values():
        h.persons = h.persons.with_columns(pl.lit(-1, dtype=pl.Int64).alias("cross"), pl.lit(False).alias("latin"))
    rng = rng_for(seed, STAGE_CROSS, 0)
    shared = 0
    for source_id, destinations in DESTINATIONS.items():
        source = households[source_id]
        p = source.persons.with_row_index("row")
        fam = source.families
        eligible = p.filter(
            (pl.col("relation") == "child")
            & (pl.col("national_id_type") == "egn")
            & (pl.col("birth") >= end - int(6 * YEAR))
            & (pl.col("cross") < 0)
            & ~pl.col("fam").is_in(fam.filter(pl.col("foster") | pl.col("imported"))["fam"].to_list())
        )
        # One child per family, so a mother is never copied twice into the same partner.
        eligible = (
            eligible.with_columns(pl.Series("draw", rng.random(eligible.height)))
            .sort("draw")
            .unique("fam", keep="first", maintain_order=True)
            .sort("row")
            .drop("draw")
        )
        children = p.filter(pl.col("relation") == "child").height
        count = min(eligible.height, max(1, round(SHARE * children)) if children else 0)
        chosen = np.sort(rng.choice(eligible.height, size=count, replace=False))
        picked = eligible[chosen]
        target_of = choose(rng, destinations, count)
        numbers = np.arange(shared, shared + count)
        source.persons = source.persons.with_columns(source.persons["cross"].scatter(picked["row"].to_numpy(), numbers))
        adults = p.filter(
            pl.col("relation").is_in(["mother", "guardian", "grandparent"]) & (pl.col("role") != "other_adult")
        )
        adults = adults.sort(["fam", "rank", "birth"], maintain_order=True)
        adults = adults.unique("fam", keep="first", maintain_order=True)
        for target_id in sorted(destinations):
            mask = target_of == target_id
            if not mask.any():
                continue
            _import(
                rng, households[target_id], source, picked.filter(pl.Series(mask)), adults, numbers[mask], start, end
            )
        shared += count
    return shared


def _import(
    rng: np.random.Generator,
    target: Household,
    source: Household,
    children: pl.DataFrame,
    adults: pl.DataFrame,
    numbers: np.ndarray,
    start: int,
    end: int,
) -> None:
    """Append one new family per moved child (child and main adult) to the target household."""
    k = children.height
    base = target.families.height
    new_fam = np.arange(base, base + k)
    old = source.families.filter(pl.col("fam").is_in(children["fam"].to_list()))
    old = children.select("fam").join(old, on="fam", how="left", maintain_order="left")
    profile = target.profile
    site = categorical(rng, [s.weight for s in profile.sites], k)
    entry = rng.integers(start, max(start + 1, end - 30), k)
    length = (rng.exponential(profile.case_months * 30.44, k) + 30).astype(np.int64)
    guardian = children.select("fam").join(
        adults.select("fam", "relation"), on="fam", how="left", maintain_order="left"
    )["relation"]
    families = old.with_columns(
        pl.Series("fam", new_fam),
        pl.Series("site", site),
        pl.lit(False).alias("mixed"),
        pl.lit(False).alias("foster"),
        pl.lit(False).alias("prenatal"),
        pl.lit(False).alias("expecting"),
        pl.Series("due", entry),
        pl.lit(1, dtype=pl.Int64).alias("children"),
        pl.Series("mother", (guardian == "mother").fill_null(False).to_numpy()),
        pl.lit(False).alias("father"),
        pl.lit(False).alias("grandparent"),
        pl.lit(False).alias("sibling"),
        pl.Series("guardian", (guardian != "mother").fill_null(True).to_numpy()),
        pl.Series("entry", entry),
        pl.Series("length", length),
        pl.lit(False).alias("undocumented"),
        pl.lit(True).alias("imported"),
    ).select(target.families.columns)
    remap = dict(zip(children["fam"].to_list(), new_fam.tolist(), strict=True))
    moved_adults = adults.filter(pl.col("fam").is_in(children["fam"].to_list()))
    copies = pl.concat(
        [
            moved_adults.with_columns(pl.lit(-1, dtype=pl.Int64).alias("cross")),
            children.with_columns(pl.Series("cross", numbers).cast(pl.Int64)),
        ]
    ).with_columns(pl.col("fam").replace_strict(remap, return_dtype=pl.Int64))
    latin = (copies["cross"] >= 0).to_numpy() & (rng.random(copies.height) < LATIN_COPY)
    copies = copies.with_columns(pl.Series("latin", latin))
    spelled = {c: names.map_unique(copies[c], bg_latin) for c in ("given", "middle", "family")}
    copies = copies.with_columns(
        [pl.when(pl.col("latin")).then(pl.lit(spelled[c])).otherwise(pl.col(c)).alias(c) for c in spelled]
    )
    target.families = pl.concat([target.families, families], how="vertical_relaxed")
    target.persons = pl.concat([target.persons, copies.select(target.persons.columns)], how="vertical_relaxed").sort(
        ["fam", "rank", "birth"], maintain_order=True
    )
