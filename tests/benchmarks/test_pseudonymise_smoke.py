"""The pseudonymisation benchmark runs end to end at tiny sizes and its agreement checks hold (no timings)."""

from __future__ import annotations

import hmac
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from stdnum.bg import egn

pytest.importorskip("presidio_anonymizer")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pseudonymise.py"
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pseudonymise_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _digest(values: list[str | None], key: bytes = KEY) -> list[str | None]:
    return [None if v is None else hmac.digest(key, v.encode(), "sha256").hex()[:32] for v in values]


def test_main_completes_at_tiny_sizes_with_every_path_agreeing(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    report = bench.main(["--rows", "2000", "--distinct", "500", "--presidio-sample", "50", "--repeat", "1"])
    paths = [row.path for row in report.table]
    assert paths[:3] == [
        "zakrila: select(pseudonym(id, key))",
        "bare loop: hmac.digest per value (baseline)",
        "Presidio: AnonymizerEngine, custom HMAC operator",
    ]
    assert all(row.seconds > 0 for row in report.table)
    assert [row.extrapolated_from for row in report.table if row.extrapolated_from] == [50]
    assert len(report.targets) == 2
    out = capsys.readouterr().out
    assert "extrapolated to 2,000 values from 50 timed" in out
    assert "500 distinct" in out


def test_generated_ids_are_valid_egn_with_the_asked_number_of_distinct_values(bench: ModuleType) -> None:
    ids = bench.national_ids(2000, 500, seed=1)
    assert ids.len() == 2000 and ids.n_unique() == 500
    assert all(egn.is_valid(v) for v in ids.unique().to_list())
    assert ids.equals(bench.national_ids(2000, 500, seed=1))


def test_a_disagreeing_path_stops_the_benchmark(bench: ModuleType) -> None:
    with pytest.raises(AssertionError, match="differ"):
        bench.agree("wrong", ["a", "b"], ["a", "c"])


@pytest.mark.parametrize("hasher", ["hmac_hex_digest", "hmac_hex_copy", "hmac_hex_pads"])
@pytest.mark.parametrize("length", [32, 64, 100])
def test_every_prototype_hmac_gives_hmac_digest_for_any_key_length(bench: ModuleType, hasher: str, length: int) -> None:
    key = bytes(range(length))
    values = ["7501010010", "", "Иван", None]
    raw = [None if v is None else v.encode() for v in values]
    assert getattr(bench, hasher)(raw, key, 32) == _digest(values, key)


def test_the_prototype_is_exact_with_nulls_and_when_every_hash_collides(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = pl.Series("id", ["7501010010", None, "7501010011", "7501010010", None, "x"])
    want = _digest(series.to_list())
    assert bench.prototype_series(series, KEY, 32, bench.hmac_hex_pads).to_list() == want
    monkeypatch.setattr(pl.Series, "hash", lambda self, *a, **k: pl.Series([0] * self.len(), dtype=pl.UInt64))
    assert bench.prototype_series(series, KEY, 32, bench.hmac_hex_digest).to_list() == want
