import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.pseudonym import pseudonym

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
values = st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30)


def _p(vals, key):
    return pl.DataFrame({"v": vals}, schema={"v": pl.String}).select(pseudonym("v", key))["v"].to_list()


@settings(max_examples=60, deadline=None)
@given(values)
def test_pseudonyms_are_deterministic_per_key(vals):
    first, second = _p(vals, KEY_A), _p(vals, KEY_A)
    assert first == second
    by_value = dict(zip(vals, first, strict=True))
    assert all(by_value[v] == p for v, p in zip(vals, first, strict=True))


@settings(max_examples=60, deadline=None)
@given(values)
def test_pseudonyms_differ_across_keys_and_never_equal_an_input(vals):
    a, b = _p(vals, KEY_A), _p(vals, KEY_B)
    assert all(x != y for x, y in zip(a, b, strict=True))
    assert not set(a) & set(vals)


def test_distinct_values_get_distinct_pseudonyms_and_nulls_stay_null():
    out = _p(["7501010010", "7501010011", None, "7501010010"], KEY_A)
    assert out[0] == out[3] and out[0] != out[1] and out[2] is None
    assert all(len(x) == 32 for x in out if x)


def test_short_keys_are_refused():
    import pytest

    with pytest.raises(ValueError):
        pseudonym("v", b"short")


@settings(max_examples=40, deadline=None)
@given(values, st.binary(min_size=32, max_size=32))
def test_pseudonyms_differ_across_domains_and_purposes(vals, master):
    from anonymise.keys import PURPOSES, derive

    slots = [(d, p) for d in ("bg-central", "ru", "local:ruse-svetilnik") for p in PURPOSES]
    outputs = {slot: _p(vals, derive(master, *slot)) for slot in slots}
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            assert all(x != y for x, y in zip(outputs[a], outputs[b], strict=True)), (a, b)
    assert not {p for out in outputs.values() for p in out} & set(vals)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=40) | st.none(), max_size=20), st.binary(min_size=32, max_size=100))
def test_hmac_with_keyed_states_equals_the_standard_library(vals, key):
    import hmac

    from anonymise.pseudonym import hmac_hex

    expected = [None if v is None else hmac.digest(key, v.encode(), "sha256").hex()[:32] for v in vals]
    assert hmac_hex(vals, key) == expected


def test_a_hash_collision_falls_back_to_exact_deduplication(monkeypatch):
    # every value hashing alike must still give each its own pseudonym
    monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series([0] * self.len(), dtype=pl.UInt64))
    out = _p(["a", "b", "a", None, "c"], KEY_A)
    assert out[0] == out[2] and len({out[0], out[1], out[4]}) == 3 and out[3] is None
