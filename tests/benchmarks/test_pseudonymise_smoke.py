"""The pseudonymisation benchmark runs end to end at tiny sizes and its agreement checks hold (no timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest
from stdnum.bg import egn

import anonymise.pseudonym as shipped

pytest.importorskip("presidio_anonymizer")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pseudonymise.py"
PATHS = [
    "zakrila: select(pseudonym(id, key))",
    "bare loop: hmac.digest per value (baseline)",
    "Presidio: AnonymizerEngine, custom HMAC operator",
]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pseudonymise_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_main_completes_at_tiny_sizes_with_every_path_agreeing(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    report = bench.main(["--rows", "2000", "--distinct", "500", "--presidio-sample", "50", "--repeat", "1"])
    assert [row.path for row in report.table] == [*PATHS, "reference: bare loop, _hmac_hex_bytes"]
    assert all(row.seconds > 0 for row in report.table)
    assert [row.extrapolated_from for row in report.table if row.extrapolated_from] == [50]
    assert list(report.targets) == ["zakrila ≥ 3× the bare loop", "zakrila ≥ 50× Presidio"]
    out = capsys.readouterr().out
    for path in PATHS:
        assert path in out
    for target in report.targets:
        assert f"PASS  {target}" in out or f"MISS  {target}" in out
    assert "extrapolated to 2,000 values from 50 timed" in out
    assert "500 distinct" in out
    assert "machine " in out and "Polars " in out and "Python " in out
    assert "at the start" in out and "at the end" in out
    assert "_first_and_index: distinct hashes, row index" in out
    assert "_hmac_hex_bytes: HMAC of each distinct value" in out


def test_the_step_table_times_the_shipped_code_in_place_and_leaves_it_as_it_was(bench: ModuleType) -> None:
    before = [getattr(owner, name) for owner, name, _ in bench.STEPS]
    frame = pl.DataFrame({"id": ["7501010010", None, "7501010011", "7501010010", None, "x"]})
    out, steps = bench.profile_select(frame, bench.KEY)
    assert out.equals(frame.select(shipped.pseudonym("id", bench.KEY)))
    assert [getattr(owner, name) for owner, name, _ in bench.STEPS] == before
    called = {
        "Series.hash: 64-bit hash of each value",
        "_first_and_index: distinct hashes, row index",
        "_keyed_states: keyed SHA-256 states",
        "_hmac_hex_bytes: HMAC of each distinct value",
        bench.SELECT_STEP,
    }
    assert called <= set(steps)
    assert all(seconds >= 0 for seconds in steps.values())


def test_generated_ids_are_valid_egn_with_the_asked_number_of_distinct_values(bench: ModuleType) -> None:
    ids = bench.national_ids(2000, 500, seed=1)
    assert ids.len() == 2000 and ids.n_unique() == 500
    assert all(egn.is_valid(v) for v in ids.unique().to_list())
    assert ids.equals(bench.national_ids(2000, 500, seed=1))


def test_a_disagreeing_path_stops_the_benchmark(bench: ModuleType) -> None:
    with pytest.raises(AssertionError, match="differ"):
        bench.agree("wrong", ["a", "b"], ["a", "c"])


def test_the_reference_row_gives_the_bare_loops_pseudonyms(bench: ModuleType) -> None:
    values = ["7501010010", "", "Иван", "7501010010"]
    assert bench.bare_loop_keyed_once(values, bench.KEY) == bench.bare_loop(values, bench.KEY)
