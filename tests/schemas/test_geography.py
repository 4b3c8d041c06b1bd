"""Tests for the reference geography (EKATTE -> municipality -> district -> NUTS, and OKTMO)."""

from __future__ import annotations

import doctest

import polars as pl
import pytest

from schemas import geography
from schemas.geography import (
    GEOGRAPHY_VERSION,
    geography_columns,
    municipality_of,
    nuts,
    nuts3_of,
    oktmo,
    settlements,
    settlements_in_municipality,
)

# (EKATTE, name, municipality code, municipality name, NUTS 3)
PINNED = [
    ("35523", "Калояново", "PDV12", "Калояново", "BG421"),
    ("63255", "Ружинци", "VID33", "Ружинци", "BG311"),
    ("68134", "София", "SOF46", "Столична", "BG411"),
    ("63427", "Русе", "RSE27", "Русе", "BG323"),
    ("56784", "Пловдив", "PDV22", "Пловдив", "BG421"),
]


def _row(ekatte: str) -> dict[str, object]:
    return settlements().filter(pl.col("ekatte") == ekatte).row(0, named=True)


@pytest.mark.parametrize(("ekatte", "name", "municipality", "municipality_bg", "nuts3"), PINNED)
def test_pinned_settlements(ekatte: str, name: str, municipality: str, municipality_bg: str, nuts3: str) -> None:
    row = _row(ekatte)
    assert row["name_bg"] == name
    assert row["municipality_code"] == municipality
    assert row["municipality_bg"] == municipality_bg
    assert municipality_of(ekatte) == municipality
    assert nuts3_of(ekatte) == nuts3


def test_settlement_table_shape_and_dtypes() -> None:
    s = settlements()
    assert s.columns == [
        "ekatte", "name_bg", "kind", "municipality_code", "municipality_bg",
        "district_code", "district_bg", "nuts3", "nuts2", "nuts1", "rural",
    ]  # fmt: skip
    assert all(dtype == pl.String for name, dtype in s.schema.items() if name != "rural")
    assert s.schema["rural"] == pl.Boolean
    assert s.null_count().sum_horizontal().item() == 0
    assert s.height == 5256  # the whole classifier, not a sample
    assert s["municipality_code"].n_unique() == 265
    assert s["district_code"].n_unique() == 28


def test_codes_are_unique_five_digit_strings_with_valid_check_digit() -> None:
    codes = settlements()["ekatte"]
    assert codes.is_unique().all()
    assert codes.str.contains(r"^\d{5}$").all()
    assert "00014" in codes.to_list()  # leading zeros kept

    def check_digit(code: str) -> int:
        digits = [int(c) for c in code[:4]]
        r = sum(w * d for w, d in zip((1, 2, 3, 4), digits, strict=True)) % 11
        if r == 10:
            r = sum(w * d for w, d in zip((3, 4, 5, 6), digits, strict=True)) % 11
        return 0 if r == 10 else r

    assert all(check_digit(c) == int(c[4]) for c in codes)


def test_codes_are_consistent_with_their_parents() -> None:
    s = settlements()
    assert (s["municipality_code"].str.slice(0, 3) == s["district_code"]).all()
    assert s["municipality_code"].str.contains(r"^[A-Z]{3}\d{2}$").all()
    assert (s["nuts3"].str.slice(0, 4) == s["nuts2"]).all()
    assert (s["nuts2"].str.slice(0, 3) == s["nuts1"]).all()
    # a district has exactly one NUTS 3 region, a municipality exactly one district
    assert s.group_by("district_code").agg(pl.col("nuts3").n_unique())["nuts3"].max() == 1
    assert s.group_by("municipality_code").agg(pl.col("district_code").n_unique())["district_code"].max() == 1
    assert s.group_by("municipality_code").agg(pl.col("municipality_bg").n_unique())["municipality_bg"].max() == 1


def test_rural_flag_follows_settlement_kind() -> None:
    s = settlements()
    assert set(s["kind"].unique()) == {"град", "село", "манастир"}
    assert (s["rural"] == (s["kind"] != "град")).all()
    assert s.filter(pl.col("kind") == "град").height == 257


def test_every_settlement_maps_to_a_known_nuts3() -> None:
    n = nuts()
    nuts3 = set(n.filter(pl.col("level") == 3)["code"])
    assert len(nuts3) == 28
    assert set(settlements()["nuts3"]) == nuts3


def test_nuts_hierarchy_is_consistent() -> None:
    n = nuts()
    assert n.columns == ["code", "level", "name_bg", "name_en", "parent"]
    assert n["code"].is_unique().all()
    parents = dict(zip(n["code"], n["parent"], strict=True))
    levels = dict(zip(n["code"], n["level"], strict=True))
    assert parents["BG"] is None and levels["BG"] == 0
    assert sorted(c for c, level in levels.items() if level == 1) == ["BG3", "BG4"]
    assert len([c for c, level in levels.items() if level == 2]) == 6
    for code, parent in parents.items():
        if code == "BG":
            continue
        assert parent in parents, code
        assert levels[parent] == levels[code] - 1
        assert code.startswith(parent)
    assert n.filter(pl.col("code") == "BG411")["name_bg"].item() == "София (столица)"


def test_settlement_nuts_chain_matches_nuts_table() -> None:
    parents = dict(nuts().select("code", "parent").iter_rows())
    for nuts3, nuts2, nuts1 in settlements().select("nuts3", "nuts2", "nuts1").unique().iter_rows():
        assert parents[nuts3] == nuts2
        assert parents[nuts2] == nuts1
        assert parents[nuts1] == "BG"


def test_municipalities_of_partners_have_settlements() -> None:
    kaloyanovo = settlements_in_municipality("PDV12")
    assert "35523" in kaloyanovo
    villages = settlements().filter(pl.col("ekatte").is_in(kaloyanovo) & (pl.col("kind") == "село"))
    assert villages.height >= 10
    assert settlements_in_municipality("PDV22") == ["56784"]  # Plovdiv municipality is the city alone
    assert len(settlements_in_municipality("RSE27")) == 14
    assert len(settlements_in_municipality("SOF46")) == 38
    assert len(settlements_in_municipality("VID33")) == 10
    assert kaloyanovo == sorted(kaloyanovo)


def test_unknown_municipality_has_no_settlements() -> None:
    assert settlements_in_municipality("XXX99") == []
    assert settlements_in_municipality("36701000") == []


def test_drenovets_is_a_rural_village_of_ruzhintsi() -> None:
    rows = settlements().filter(pl.col("name_bg") == "Дреновец")
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["ekatte"] == "23672"
    assert row["municipality_code"] == "VID33"
    assert row["kind"] == "село"
    assert row["rural"] is True
    assert "23672" in settlements_in_municipality("VID33")


def test_unknown_codes_raise_key_error() -> None:
    for lookup in (municipality_of, nuts3_of):
        with pytest.raises(KeyError, match="unknown EKATTE code '99999'"):
            lookup("99999")
        with pytest.raises(KeyError, match="leading zeros"):
            lookup("14")


def test_geography_columns_derives_values_and_nulls_for_unknown() -> None:
    frame = pl.DataFrame({"settlement_code": ["35523", "56784", "68134", "23672", "99999", None]})
    out = frame.with_columns(geography_columns("settlement_code"))
    assert out.columns == ["settlement_code", "municipality_code", "district_code", "nuts3", "nuts2", "rural"]
    assert out.schema["rural"] == pl.Boolean
    assert out["municipality_code"].to_list() == ["PDV12", "PDV22", "SOF46", "VID33", None, None]
    assert out["district_code"].to_list() == ["PDV", "PDV", "SOF", "VID", None, None]
    assert out["nuts3"].to_list() == ["BG421", "BG421", "BG411", "BG311", None, None]
    assert out["nuts2"].to_list() == ["BG42", "BG42", "BG41", "BG31", None, None]
    assert out["rural"].to_list() == [True, False, False, True, None, None]


def test_geography_columns_accepts_an_expression_and_works_lazily() -> None:
    frame = pl.LazyFrame({"code": ["63427"]})
    out = frame.select(geography_columns(pl.col("code"))).collect()
    assert out.row(0) == ("RSE27", "RSE", "BG323", "BG32", False)


def test_tables_are_copies() -> None:
    s = settlements()
    s.drop_in_place("rural")
    assert "rural" in settlements().columns


def test_oktmo_pilot_cities() -> None:
    o = oktmo()
    assert o.columns == ["oktmo", "name_ru", "kind", "district_group"]
    assert all(dtype == pl.String for dtype in o.schema.values())
    assert o["oktmo"].is_unique().all()
    assert o["oktmo"].str.contains(r"^36\d{6}$").all()  # Samara oblast, 8-digit municipal level
    cities = {r["name_ru"]: r for r in o.iter_rows(named=True)}
    assert cities["Самара"]["oktmo"] == "36701000"
    assert cities["Сызрань"]["oktmo"] == "36735000"
    assert cities["Тольятти"]["oktmo"] == "36740000"
    assert {cities[c]["kind"] for c in ("Самара", "Сызрань", "Тольятти")} == {"город"}
    assert cities["Самара"]["district_group"] == "samara"
    assert cities["Сызрань"]["district_group"] == "syzran"
    assert cities["Тольятти"]["district_group"] == "tolyatti"
    assert set(o["district_group"]) <= {"samara", "syzran", "tolyatti", "other"}
    assert o.filter(pl.col("kind") == "муниципальный район").height >= 1


def test_version_names_the_classifiers() -> None:
    assert GEOGRAPHY_VERSION == "EKATTE 2017-02-20; NUTS 2024"


def test_module_doctests() -> None:
    result = doctest.testmod(geography)
    assert result.attempted > 0
    assert result.failed == 0
