"""Benchmark keyed pseudonyms against a bare HMAC loop and Presidio's anonymizer, measured in the same run.

    .venv/bin/python benchmarks/pseudonymise.py     # 5 M national IDs, 1 M distinct; a couple of minutes

Three paths are timed on the same values in the same process:

* **zakrila**: ``frame.select(pseudonym("id", key))`` on a one-column Polars frame: the shipped
  expression of ``anonymise/pseudonym.py`` itself, the select only (no replica).
* **bare loop**: ``[hmac.digest(key, v.encode(), "sha256").hex()[:32] for v in values]`` over every value,
  the baseline of the issue: what a team writes without thinking about repetition.
* **Presidio**: ``AnonymizerEngine().anonymize`` per value with the span given (no analyzer) and a custom
  operator computing the same HMAC: the path a team using Presidio for pseudonymisation would take. It
  is far too slow for millions of values, so it is timed on the first ``--presidio-sample`` values and
  extrapolated linearly to all rows (its cost per value does not depend on repetition: it has no cache).

One more row is timed with them for reference, not as a contender: **the bare loop with the keyed
states computed once**, i.e. the shipped ``_hmac_hex_bytes`` over every value (encoding included, as in
the bare loop). Set against the bare loop and zakrila it splits zakrila's gain into the part that comes
from a cheaper HMAC and the part that comes from hashing each distinct value once.

The values are valid ЕГН (the project's own generator, ``flows.synth.identifiers.egn``), ``--distinct``
persons born 1940-2024 over ``--rows`` rows. Each person appears at least once; the remaining rows go
to persons with probability proportional to 1/rank^0.5 (Zipf-ish: at the defaults the busiest person
has about 2,000 rows, the median person 4, the 99th percentile 22, as in service-event data), shuffled
into random order.

Every path is timed best of ``--repeat``, Presidio included (which favours it), the paths taking turns
within each round so that load from other processes on a shared machine does not fall on one path
alone. Every output of every run is checked against the bare loop's (Presidio's on its sample): a
benchmark of a wrong result is worthless, and the script stops with an ``AssertionError`` instead.
The header gives the machine, the Python, Polars and Presidio versions and the load average at the
start (and the footer at the end), so that a reader can judge how noisy the figures are.

How to read the table: *seconds* are for all rows (Presidio's extrapolated); *× bare loop* and
*× Presidio* say how many times faster than that path a row is. The issue's targets are zakrila at
least 3× the bare loop and at least 50× Presidio, printed as PASS or MISS.

The step table then splits zakrila's select into the steps of the shipped pipeline by running the real
expression again (``--repeat`` more runs, outside the race, output checked) with timers wrapped around
the shipped building blocks it calls: ``anonymise.pseudonym``'s ``_hash_series``, ``_first_and_index``,
``_keyed_states``, ``_hmac_hex_bytes`` and ``hmac_hex``, and the ``Series.hash`` and ``Series.to_list``
methods. Each step is charged its own time only (a callee's time is not counted again in its caller):
"rest of _hash_series" is the glue between the building blocks, and "select around _hash_series" what
Polars spends outside the function. Nothing of the pipeline is copied here, so the table cannot drift
from what ships: a step the code stops calling drops out of the table. The run shown is the profiled
run with the fastest select; its steps add up to its total.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial, wraps
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anonymise.pseudonym as shipped  # noqa: E402
from anonymise.pseudonym import PSEUDONYM_LENGTH, _hmac_hex_bytes, pseudonym  # noqa: E402
from flows.synth.identifiers import SERIALS_PER_SEX, egn  # noqa: E402

#: A fixed, public benchmark key: the figures do not depend on the key, only its length does.
KEY = hashlib.sha256(b"zakrila pseudonymise benchmark").digest()
#: Zipf exponent of the repetition: weight of the person of rank r is 1/r**ZIPF.
ZIPF = 0.5
FIRST_BIRTH, LAST_BIRTH = date(1940, 1, 1), date(2024, 12, 31)
TARGET_BARE, TARGET_PRESIDIO = 3.0, 50.0

ZAKRILA = "zakrila: select(pseudonym(id, key))"
BARE = "bare loop: hmac.digest per value (baseline)"
PRESIDIO = "Presidio: AnonymizerEngine, custom HMAC operator"
REFERENCE = "reference: bare loop, _hmac_hex_bytes"


def national_ids(rows: int, distinct: int, seed: int = 0) -> pl.Series:
    """Return ``rows`` valid ЕГН with exactly ``distinct`` distinct values, Zipf-ish repeated, shuffled."""
    if not 0 < distinct <= rows:
        raise ValueError("need 0 < distinct <= rows")
    rng = np.random.default_rng(seed)
    epoch = date(1970, 1, 1)
    first, days = (FIRST_BIRTH - epoch).days, (LAST_BIRTH - FIRST_BIRTH).days + 1
    # One code per (birth date, sex, serial slot): distinct codes give distinct ЕГН.
    code = rng.choice(days * 2 * SERIALS_PER_SEX, size=distinct, replace=False)
    birth, rest = first + code // (2 * SERIALS_PER_SEX), code % (2 * SERIALS_PER_SEX)
    persons = egn(birth, (rest % 2).astype(bool), rest // 2)
    weight = 1.0 / np.arange(1, distinct + 1) ** ZIPF  # persons are in random order, so rank is random
    extra = rng.choice(distinct, size=rows - distinct, p=weight / weight.sum())
    order = np.concatenate([np.arange(distinct), extra])
    rng.shuffle(order)
    return persons.gather(order).alias("id")


def agree(name: str, got: Sequence[str | None] | pl.Series, want: Sequence[str | None] | pl.Series) -> None:
    """Raise unless ``got`` equals ``want`` value for value (explicit, so ``python -O`` keeps the check)."""
    a = got if isinstance(got, pl.Series) else pl.Series(list(got), dtype=pl.String)
    b = want if isinstance(want, pl.Series) else pl.Series(list(want), dtype=pl.String)
    if a.len() != b.len() or not a.eq_missing(b).all():
        raise AssertionError(f"{name}: pseudonyms differ from the bare hmac.digest loop")


def bare_loop(values: list[str], key: bytes) -> list[str]:
    """Return the issue's baseline: one ``hmac.digest`` per value, repeated values hashed again."""
    return [hmac.digest(key, v.encode(), "sha256").hex()[:PSEUDONYM_LENGTH] for v in values]


def bare_loop_keyed_once(values: list[str], key: bytes) -> list[str]:
    """Return the bare loop's pseudonyms with the shipped HMAC (keyed states once), every value hashed."""
    return _hmac_hex_bytes([v.encode() for v in values], key, PSEUDONYM_LENGTH)


def presidio_operator(key: bytes) -> Callable[[str], str]:
    """Return Presidio's anonymizer set up once with a custom HMAC operator, as a function of one value.

    The span is given (no analyzer), so only the anonymizer's own cost per call is measured.
    """
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    engine = AnonymizerEngine()
    operators = {
        "EGN": OperatorConfig(
            "custom", {"lambda": lambda s: hmac.digest(key, s.encode(), "sha256").hex()[:PSEUDONYM_LENGTH]}
        )
    }

    def anonymize(value: str) -> str:
        found = [RecognizerResult("EGN", 0, len(value), 1.0)]
        return engine.anonymize(text=value, analyzer_results=found, operators=operators).text

    anonymize("0000000000")  # warm up: the first call sets up the operator registry
    return anonymize


# --- the step table: timers around the shipped building blocks, no replica ----------------------------------

#: What is wrapped, in pipeline order: (owner, attribute, step name printed).
STEPS: list[tuple[Any, str, str]] = [
    (pl.Series, "hash", "Series.hash: 64-bit hash of each value"),
    (shipped, "_first_and_index", "_first_and_index: distinct hashes, row index"),
    (pl.Series, "to_list", "Series.to_list: distinct values to Python"),
    (shipped, "_keyed_states", "_keyed_states: keyed SHA-256 states"),
    (shipped, "_hmac_hex_bytes", "_hmac_hex_bytes: HMAC of each distinct value"),
    (shipped, "hmac_hex", "hmac_hex: HMAC of each distinct value (odd length)"),
    (shipped, "_hash_series", "rest of _hash_series: collision check, back to Polars, gather to rows"),
]
SELECT_STEP = "select around _hash_series: map_batches, frame"


@dataclass
class StepTimer:
    """Seconds charged to each wrapped callable during one run, its callees' time excluded (single thread)."""

    seconds: dict[str, float] = field(default_factory=dict)
    _callees: list[float] = field(default_factory=list)  # time spent in wrapped callees, per open call

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """Return ``function`` charging its own time to ``name`` on every call."""

        @wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._callees.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - self._callees.pop()
                if self._callees:
                    self._callees[-1] += elapsed

        return timed


@contextmanager
def timing_shipped_steps(timer: StepTimer) -> Iterator[None]:
    """Wrap the shipped building blocks (and two Series methods) with ``timer``; restore them on exit."""
    with ExitStack() as stack:
        for owner, attribute, name in STEPS:
            stack.enter_context(mock.patch.object(owner, attribute, timer.wrap(name, getattr(owner, attribute))))
        yield


def profile_select(frame: pl.DataFrame, key: bytes) -> tuple[pl.DataFrame, dict[str, float]]:
    """Run the shipped ``select(pseudonym(...))`` once with its steps timed; return its output and the steps."""
    timer = StepTimer()
    expr = pseudonym("id", key)
    with timing_shipped_steps(timer):
        out = timer.wrap(SELECT_STEP, frame.select)(expr)
    order = [name for _, _, name in STEPS] + [SELECT_STEP]
    return out, {name: timer.seconds[name] for name in order if name in timer.seconds}


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class Contender:
    """One way to pseudonymise the values: a timed run and the check of its output."""

    name: str
    run: Callable[[], object]
    check: Callable[[object], None]
    sample: int | None = None  # values it runs on when fewer than all rows: its time is extrapolated


def race(paths: list[Contender], repeat: int, rows: int) -> dict[str, float]:
    """Return each path's fastest seconds for ``rows`` values over ``repeat`` rounds, checking every output.

    The paths take turns within each round, so load from other processes on a shared machine falls on
    all of them rather than on whichever happened to run at the time.
    """
    best = {path.name: float("inf") for path in paths}
    for _ in range(max(repeat, 1)):
        for path in paths:
            started = time.perf_counter()
            result = path.run()
            seconds = time.perf_counter() - started
            path.check(result)
            del result  # free it before the next path allocates its own
            best[path.name] = min(best[path.name], seconds * rows / (path.sample or rows))
    return best


@dataclass
class Row:
    """One path of the table: its name, seconds for all rows, and how many values it was timed on if fewer."""

    path: str
    seconds: float
    extrapolated_from: int | None = None


@dataclass
class Report:
    """What a run measured: the table, the steps of zakrila's select and the verdict on the targets."""

    rows: int
    distinct: int
    table: list[Row]
    steps: dict[str, float]
    targets: dict[str, bool]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="values to pseudonymise")
    parser.add_argument("--distinct", type=int, default=1_000_000, help="distinct values among them")
    parser.add_argument("--presidio-sample", type=int, default=20_000, help="values Presidio is timed on")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def _machine() -> list[str]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        presidio = importlib.metadata.version("presidio-anonymizer")
    except importlib.metadata.PackageNotFoundError:
        presidio = "?"
    return [
        f"machine   {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs ({cores} usable)",
        f"software  Python {platform.python_version()} ({platform.python_implementation()}), "
        f"Polars {pl.__version__} on {pl.thread_pool_size()} threads, presidio-anonymizer {presidio}",
    ]


def _print_report(report: Report, seconds: dict[str, float], load: str, seed: int, repeat: int) -> None:
    bare, presidio, zakrila = seconds[BARE], seconds[PRESIDIO], seconds[ZAKRILA]
    print(*_machine(), sep="\n")
    print(f"load      {load} at the start")
    print(
        f"values    {report.rows:,} ЕГН, {report.distinct:,} distinct (Zipf-ish repetition, s = {ZIPF:g}), seed {seed}"
    )
    print(f"timing    best of {repeat}, paths taking turns; every output equals the bare loop's\n")
    print(f"{'path':<50} {'seconds':>9} {'values/s':>12} {'× bare loop':>12} {'× Presidio':>11}")
    for row in report.table:
        mark = "*" if row.extrapolated_from else " "
        print(
            f"{row.path:<50} {row.seconds:>8.3f}{mark} {report.rows / row.seconds:>12,.0f} "
            f"{bare / row.seconds:>11.1f}× {presidio / row.seconds:>10.1f}×"
        )
    for row in report.table:
        if row.extrapolated_from:
            print(f"* extrapolated to {report.rows:,} values from {row.extrapolated_from:,} timed")
    print()
    for target, met in report.targets.items():
        print(f"{'PASS' if met else 'MISS'}  {target}")
    cheaper, dedup = bare / seconds[REFERENCE], seconds[REFERENCE] / zakrila
    print(f"      of zakrila's {bare / zakrila:.1f}× the bare loop, {cheaper:.2f}× comes from keying the HMAC once")
    print(
        f"      (reference row) and {dedup:.2f}× from hashing each distinct value once "
        f"(rows/distinct = {report.rows / report.distinct:.3g})"
    )
    total = sum(report.steps.values())
    print(f"\nsteps of zakrila's select, shipped code timed in place (fastest of {repeat} more runs: {total:.3f} s)")
    for step, spent in report.steps.items():
        print(f"  {step:<70} {spent:>6.3f} s {100 * spent / total:>4.0f} %")
    print(f"\nload      {_load()} at the end")


def main(argv: list[str] | None = None) -> Report:
    """Run the benchmark, print the table, the targets and the step table, and return what was measured."""
    args = _parser().parse_args(argv)
    load = _load()
    ids = national_ids(args.rows, args.distinct, args.seed)
    if ids.n_unique() != args.distinct:
        raise AssertionError("the generator did not give the asked number of distinct values")
    frame = ids.to_frame()
    values = ids.to_list()
    sample = values[: min(args.presidio_sample, len(values))]
    anonymize = presidio_operator(KEY)
    reference: list[pl.Series] = []  # the bare loop's output, set by its first run

    def check_bare(got: object) -> None:
        assert isinstance(got, list)
        if not reference:
            reference.append(pl.Series("id", got, dtype=pl.String))
        agree(BARE, got, reference[0])

    def check(name: str) -> Callable[[object], None]:
        def against_reference(got: object) -> None:
            column = got.to_series() if isinstance(got, pl.DataFrame) else got
            assert isinstance(column, pl.Series | list)
            agree(name, column, reference[0].head(len(column)))

        return against_reference

    paths = [
        Contender(BARE, lambda: bare_loop(values, KEY), check_bare),
        Contender(ZAKRILA, partial(frame.select, pseudonym("id", KEY)), check(ZAKRILA)),
        Contender(PRESIDIO, lambda: [anonymize(v) for v in sample], check(PRESIDIO), sample=len(sample)),
        Contender(REFERENCE, lambda: bare_loop_keyed_once(values, KEY), check(REFERENCE)),
    ]
    seconds = race(paths, args.repeat, args.rows)

    profiles = []
    for _ in range(max(args.repeat, 1)):
        out, steps = profile_select(frame, KEY)
        check("zakrila, steps timed")(out)
        del out
        profiles.append(steps)

    order = [ZAKRILA, BARE, PRESIDIO, REFERENCE]
    table = [Row(name, seconds[name], len(sample) if name == PRESIDIO else None) for name in order]
    targets = {
        f"zakrila ≥ {TARGET_BARE:g}× the bare loop": seconds[BARE] / seconds[ZAKRILA] >= TARGET_BARE,
        f"zakrila ≥ {TARGET_PRESIDIO:g}× Presidio": seconds[PRESIDIO] / seconds[ZAKRILA] >= TARGET_PRESIDIO,
    }
    report = Report(args.rows, args.distinct, table, min(profiles, key=lambda s: sum(s.values())), targets)
    _print_report(report, seconds, load, args.seed, args.repeat)
    return report


if __name__ == "__main__":
    main()
