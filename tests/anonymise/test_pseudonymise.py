"""Linkage through pseudonymisation: the same person at two partners gets one central pseudonym."""

from __future__ import annotations

import polars as pl
import pytest

from anonymise.pseudonymise import DomainKeys, pseudonymise_batch
from schemas.contract import ENTITIES


def _keys(local: int, central: int = 99) -> DomainKeys:
    def k(i: int) -> bytes:
        return bytes([i]) * 32

    return DomainKeys(k(local), k(local + 1), k(local + 2), k(local + 3), k(local + 4), k(central), k(central + 1))


def _batch(given: str, family: str, birth: str, national_id: str | None = None, middle: str | None = None):
    persons = {c: [None] for c in ENTITIES["persons"].columns}
    persons |= {
        "person_id": ["p1"],
        "role": ["child"],
        "given_name": [given],
        "middle_name": [middle],
        "family_name": [family],
        "birth_date": [birth],
        "sex": ["m"],
        "national_id": [national_id],
        "national_id_type": ["egn" if national_id else "none"],
    }
    events = {c: [None] for c in ENTITIES["events"].columns}
    events |= {
        "event_id": ["e1"],
        "person_id": ["p1"],
        "date": ["2025-03-01"],
        "service_code": ["hot_meal"],
        "modality": ["centre"],
        "setting": ["group"],
        "duration_min": ["30"],
    }
    return {
        "persons": pl.DataFrame(persons, schema={c: pl.String for c in persons}),
        "events": pl.DataFrame(events, schema={c: pl.String for c in events}),
    }


def _cid(batch, local: int, language: str = "bg") -> tuple[str, str]:
    from datetime import date

    out = pseudonymise_batch(batch, _keys(local), f"p{local}", date(2025, 12, 31), language=language)
    row = out.frames["persons"].row(0, named=True)
    return row["person_cid"], row["link_method"]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Иван", "Петров", "2019-03-12"), ("Ivan", "Petrov", "2019-03-12")),  # official Latin spelling
        (("Щерьо", "Жълтев", "2018-01-02"), ("Shteryo", "Zhaltev", "2018-01-02")),
        (("Пётр", "Фёдоров", "2017-05-05"), ("Петр", "Федоров", "2017-05-05")),  # ё vs е
        (("  иван ", "ПЕТРОВ", "2019-03-12"), ("Иван", "Петров", "2019-03-12")),  # case and spacing
        (("Мария-Магдалена", "Илиева", "2016-06-06"), ("Мария Магдалена", "Илиева", "2016-06-06")),
        (("Пeтър", "Пeтpов", "2015-07-07"), ("Петър", "Петров", "2015-07-07")),  # Latin look-alike letters
    ],
)
def test_known_spelling_pairs_link_to_one_central_pseudonym(a, b):
    cid_a, method_a = _cid(_batch(*a), 1)
    cid_b, method_b = _cid(_batch(*b), 10)
    assert method_a == method_b == "fallback"
    assert cid_a == cid_b


def test_with_and_without_patronymic_link():
    with_middle = _cid(_batch("Мария", "Иванова", "2019-01-01", middle="Петрова"), 1)[0]
    without = _cid(_batch("Мария", "Иванова", "2019-01-01"), 10)[0]
    assert with_middle == without


def test_different_people_and_birth_dates_do_not_link():
    assert _cid(_batch("Иван", "Петров", "2019-03-12"), 1)[0] != _cid(_batch("Иван", "Петров", "2019-03-13"), 1)[0]
    assert _cid(_batch("Иван", "Петров", "2019-03-12"), 1)[0] != _cid(_batch("Иван", "Петрова", "2019-03-12"), 1)[0]


def test_a_valid_national_id_wins_over_the_name():
    a = _cid(_batch("Иван", "Петров", "2018-07-23", national_id="1847230710"), 1)
    b = _cid(_batch("Ivan", "Petroff", "2018-07-23", national_id="1847230710"), 10)
    assert a[0] == b[0] and a[1] == "national_id"


def test_the_fallback_key_is_not_the_national_id_key():
    by_id = _cid(_batch("Иван", "Петров", "2018-07-23", national_id="1847230710"), 1)[0]
    by_name = _cid(_batch("Иван", "Петров", "2018-07-23"), 1)[0]
    assert by_id != by_name


def test_russian_names_use_icao_and_stay_in_their_own_keys():
    ru_a = _cid(_batch("Юлия", "Щербакова", "2017-01-01"), 1, "ru")[0]
    ru_b = _cid(_batch("Iuliia", "Shcherbakova", "2017-01-01"), 10, "ru")[0]
    assert ru_a == ru_b


def _many_events(n: int):
    batch = _batch("Иван", "Петров", "2019-03-12")
    events = pl.concat([batch["events"]] * n).with_columns(pl.format("e{}", pl.int_range(pl.len())).alias("event_id"))
    return batch | {"events": events}


def test_collisions_are_counted_per_kind_and_only_stand_ins_leave_the_batch():
    from datetime import date

    out = pseudonymise_batch(_many_events(20), _keys(1), "p1", date(2025, 12, 31), stand_in_key=bytes(range(32)))
    assert out.linkage["collisions"] == 0 and set(out.collisions.values()) == {0}
    assert {"local/person", "local/event", "central/person"} <= set(out.collisions)
    for kind, frame in out.pairs.items():
        assert frame.columns == ["pseudonym", "stand_in"], kind
        assert frame["stand_in"].dtype == pl.UInt64
    assert out.pairs["local/event"].height == 20
    assert not pseudonymise_batch(_many_events(2), _keys(1), "p1", date(2025, 12, 31)).pairs  # no key, no pairs


def test_truncated_pseudonyms_collide_and_are_counted(monkeypatch):
    from datetime import date

    import anonymise.pseudonymise as module

    real = module.pseudonym
    monkeypatch.setattr(module, "pseudonym", lambda column, key, length=32: real(column, key, 1))
    out = pseudonymise_batch(_many_events(20), _keys(1), "p1", date(2025, 12, 31), stand_in_key=bytes(range(32)))
    # 20 event IDs, at most 16 one-hex-digit pseudonyms: at least 4 events merged
    assert out.collisions["local/event"] >= 4
    assert out.linkage["collisions"] == sum(out.collisions.values()) >= 4
    pairs = out.pairs["local/event"]
    assert pairs.height - pairs["pseudonym"].n_unique() == out.collisions["local/event"]
