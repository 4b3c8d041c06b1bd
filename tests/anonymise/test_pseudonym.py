"""Keyed pseudonyms: deterministic per key, separated across keys, domains and purposes, and never
equal to any input — inputs that look like pseudonyms (32 lower-case hex characters) and pseudonyms
fed back in included, so that a pass-through of "already pseudonymised" values or a pseudonym that
is its own fixed point would fail."""

import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from anonymise.pseudonym import PSEUDONYM_LENGTH, pseudonym

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))
HEX = re.compile(rf"[0-9a-f]{{{PSEUDONYM_LENGTH}}}")
#: Strings shaped exactly like pseudonyms, drawn freely and as hex of random bytes.
pseudonym_shaped = st.text(
    alphabet="0123456789abcdef", min_size=PSEUDONYM_LENGTH, max_size=PSEUDONYM_LENGTH
) | st.binary(min_size=PSEUDONYM_LENGTH // 2, max_size=PSEUDONYM_LENGTH // 2).map(bytes.hex)
values = st.lists(st.text(min_size=1, max_size=20) | pseudonym_shaped, min_size=1, max_size=30)
few_values = st.lists(st.text(max_size=12) | pseudonym_shaped, min_size=1, max_size=6)
DOMAINS = ("bg-central", "ru", "local:ruse-svetilnik")


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
    assert all(HEX.fullmatch(x) for x in a + b)  # the shape the pseudonym-shaped inputs share
    assert all(x != y for x, y in zip(a, b, strict=True))
    assert not set(a) & set(vals) and not set(b) & set(vals)


@settings(max_examples=60, deadline=None)
@given(values)
def test_a_pseudonym_fed_back_in_gets_a_new_pseudonym(vals):
    once = _p(vals, KEY_A)
    twice = _p(once, KEY_A)
    for x, p1, p2 in zip(vals, once, twice, strict=True):
        assert p2 != p1 and p2 != x
    # pseudonyms (of this key and another) among the values of one call: none is passed through,
    # and what they become is neither a value nor a pseudonym of a value
    other = _p(vals, KEY_B)
    mixed = vals + once + other
    out = _p(mixed, KEY_A)
    assert all(o != m for o, m in zip(out, mixed, strict=True))
    assert not set(out[len(vals) :]) & (set(vals) | set(once) | set(other))
    assert out[: len(vals)] == once and out[len(vals) : 2 * len(vals)] == twice  # and still deterministic


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

    slots = [(d, p) for d in DOMAINS for p in PURPOSES]
    keys = {slot: derive(master, *slot) for slot in slots}
    assert all(derive(master, *slot) == key for slot, key in keys.items())  # derivation is deterministic
    outputs = {slot: _p(vals, key) for slot, key in keys.items()}
    assert all(_p(vals, derive(master, *slot)) == out for slot, out in list(outputs.items())[:3])
    for i, a in enumerate(slots):
        for b in slots[i + 1 :]:
            assert all(x != y for x, y in zip(outputs[a], outputs[b], strict=True)), (a, b)
    assert not {p for out in outputs.values() for p in out} & set(vals)


@settings(max_examples=30, deadline=None)
@given(few_values, st.binary(min_size=32, max_size=32))
def test_a_pseudonym_of_one_domain_or_purpose_fed_to_another_is_never_a_fixed_point(vals, master):
    """Chains across slots: P_b(P_a(x)) is neither P_a(x), nor x, nor P_b(x), for every pair of slots
    (a = b included): re-pseudonymising a store under another domain's key never gives back a value
    of either domain."""
    from anonymise.keys import PURPOSES, derive

    keys = {(d, p): derive(master, d, p) for d in DOMAINS for p in PURPOSES}
    outputs = {slot: _p(vals, key) for slot, key in keys.items()}
    every_pseudonym = {p for out in outputs.values() for p in out}
    firsts = [p for out in outputs.values() for p in out]  # every slot's pseudonyms, in one call per key
    for b, key in keys.items():
        chained = _p(firsts, key)
        assert all(c != p for c, p in zip(chained, firsts, strict=True)), b
        assert not set(chained) & set(vals), b
        assert not set(chained) & every_pseudonym, b


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
