"""Benchmark keyed pseudonyms against a bare HMAC loop and Presidio's anonymizer, measured in the same run.

    .venv/bin/python benchmarks/pseudonymise.py     # 5 M national IDs, 1 M distinct; a couple of minutes

What is measured, on the same values in the same process:

* **zakrila**: ``frame.select(pseudonym("id", key))`` on a one-column Polars frame (the select only).
* **bare loop**: ``[hmac.digest(key, v.encode(), "sha256").hex()[:32] for v in values]`` over every value,
  the baseline of the issue: what a team writes without thinking about repetition.
* **Presidio**: ``AnonymizerEngine().anonymize`` per value with the span given (no analyzer) and a custom
  operator computing the same HMAC: the path a team using Presidio for pseudonymisation would take. It
  is far too slow for millions of values, so it is timed on the first ``--presidio-sample`` values and
  extrapolated linearly to all rows (its cost per value does not depend on repetition: it has no cache).
* **prototype** rows: candidate changes to ``anonymise/pseudonym.py``, not shipped, timed the same way
  as zakrila so the lead can decide: deduplication keyed on Polars' 64-bit ``hash`` (``prototype_series``)
  with three ways of computing the same HMAC per distinct value.
* **reference**: the bare loop with the fastest of those HMAC functions, to show how much of a
  prototype's gain comes from hashing each distinct value once and how much from a cheaper HMAC.

The values are valid ЕГН (the project's own generator, ``flows.synth.identifiers.egn``), ``--distinct``
persons born 1940-2024 over ``--rows`` rows. Each person appears at least once; the remaining rows go
to persons with probability proportional to 1/rank^0.5 (Zipf-ish: at the defaults the busiest person
has about 2,000 rows, the median person 4, the 99th percentile 22, as in service-event data), shuffled
into random order.

Every path is timed best of ``--repeat``, Presidio included (which favours it), the paths taking turns
within each round so that load from other processes on a shared machine does not fall on one path
alone. Every output of every run is checked against the bare loop's (Presidio's on its sample): a
benchmark of a wrong result is worthless, and the script stops with an ``AssertionError`` instead.

How to read the table: *seconds* are for all rows (Presidio's extrapolated); *× bare loop* and
*× Presidio* say how many times faster than that path a row is. The issue's targets are zakrila at
least 3× the bare loop (hashing each distinct value once bounds this near rows/distinct = 5× when the
HMAC itself costs the same per value) and at least 50× Presidio. The stage tables split a
hash-each-distinct-once pipeline (a timed replica of the shipped one, and the faster prototype) into
its steps to show where the time goes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymise.pseudonym import PSEUDONYM_LENGTH, hmac_hex, pseudonym  # noqa: E402
from flows.synth.identifiers import SERIALS_PER_SEX, egn  # noqa: E402

#: A fixed, public benchmark key: the figures do not depend on the key, only its length does.
KEY = hashlib.sha256(b"zakrila pseudonymise benchmark").digest()
#: Zipf exponent of the repetition: weight of the person of rank r is 1/r**ZIPF.
ZIPF = 0.5
FIRST_BIRTH, LAST_BIRTH = date(1940, 1, 1), date(2024, 12, 31)
TARGET_BARE, TARGET_PRESIDIO = 3.0, 50.0


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


# --- prototypes: the variants weighed for anonymise/pseudonym.py (the pads variant is what ships) ---------


def hmac_hex_digest(values: list[bytes | None], key: bytes, length: int) -> list[str | None]:
    """Return the truncated hex HMAC-SHA256 of each value with one ``hmac.digest`` call each (as shipped)."""
    return [None if v is None else hmac.digest(key, v, "sha256").hex()[:length] for v in values]


def hmac_hex_copy(values: list[bytes | None], key: bytes, length: int) -> list[str | None]:
    """Return the same HMAC-SHA256, keyed once with ``hmac.new`` and copied per value (standard library only)."""
    keyed = hmac.new(key, digestmod="sha256").copy
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        h = keyed()
        h.update(v)
        out.append(h.hexdigest()[:length])
    return out


def hmac_hex_pads(values: list[bytes | None], key: bytes, length: int) -> list[str | None]:
    """Return the same HMAC-SHA256 as ``hmac.digest``, with the keyed pads hashed once, not once per value.

    HMAC (RFC 2104) is H((K ^ opad) || H((K ^ ipad) || m)). ``hmac.digest`` sets the key up again for
    every message; here the two keyed SHA-256 states are computed once and copied per value.
    """
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded)).copy
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        i = inner()
        i.update(v)
        o = outer()
        o.update(i.digest())
        out.append(o.hexdigest()[:length])
    return out


Hasher = Callable[[list[bytes | None], bytes, int], list[str | None]]


def _first_and_index(keys: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Return the positions of the first occurrence of each distinct key and, per row, its key's rank there."""
    first = keys.arg_unique()
    ranks = pl.int_range(first.len(), dtype=pl.UInt32, eager=True)
    return first, keys.replace_strict(keys.gather(first), ranks, return_dtype=pl.UInt32)


@dataclass
class Stages:
    """Seconds spent in each step of a hash-each-distinct-value-once pipeline (one run)."""

    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap to ``name``."""
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.started
        self.started = now


def prototype_series(
    series: pl.Series, key: bytes, length: int, hasher: Hasher, stages: Stages | None = None
) -> pl.Series:
    """Return the pseudonyms of ``series``, deduplicating on a 64-bit hash of the values, not the strings.

    Polars' ``hash`` is vectorised and cheap; distinct values and each row's index among them come from
    ``arg_unique`` and one ``replace_strict`` on integers, and the pseudonyms are gathered by that index.
    A 64-bit collision between two distinct values would give both one pseudonym, so the result is
    checked (each row's representative must equal the row) and, on a collision, deduplicated on the
    strings themselves instead: exact in every case, and fast unless two distinct values share a hash
    (odds about 3 in 10^8 at a million distinct values; Polars' hash is not keyed, so crafted values
    could force the slower path, never a wrong pseudonym).
    """
    stages = stages or Stages()
    values = series.cast(pl.String)
    first, index = _first_and_index(values.hash())
    distinct = values.gather(first)
    stages.lap("distinct values and row index")
    if not distinct.gather(index).eq_missing(values).all():
        first, index = _first_and_index(values)
        distinct = values.gather(first)
    stages.lap("collision check")
    raw = distinct.cast(pl.Binary).to_list()
    stages.lap("distinct values to Python")
    digests = hasher(raw, key, length)
    stages.lap("HMAC of each distinct value")
    column = pl.Series(series.name, digests, dtype=pl.String)
    stages.lap("pseudonyms back to Polars")
    out = column.gather(index)
    stages.lap("pseudonyms to rows")
    return out


def shipped_series(series: pl.Series, key: bytes, length: int, stages: Stages) -> pl.Series:
    """Return the pseudonyms by the steps of ``anonymise.pseudonym._hash_series``, timing each step.

    A replica for profiling only (its output is checked like every path's); the table times the real
    expression.
    """
    distinct = series.drop_nulls().unique(maintain_order=False)
    stages.lap("distinct values (unique)")
    strings = distinct.cast(pl.String).to_list()
    stages.lap("distinct values to Python")
    digests = hmac_hex(strings, key, length)
    stages.lap("HMAC of each distinct value")
    column = pl.Series(digests, dtype=pl.String)
    stages.lap("pseudonyms back to Polars")
    out = series.cast(pl.String).replace_strict(distinct.cast(pl.String), column, default=None, return_dtype=pl.String)
    stages.lap("pseudonyms to rows (replace_strict)")
    return out


def prototype(key: bytes, hasher: Hasher, sink: list[Stages] | None = None) -> pl.Expr:
    """Return the prototype as an expression on ``id``, built like ``pseudonym`` (one ``map_batches``).

    Each call's stage timings are appended to ``sink`` when one is given.
    """

    def run(series: pl.Series) -> pl.Series:
        stages = Stages()
        out = prototype_series(series, key, PSEUDONYM_LENGTH, hasher, stages)
        if sink is not None:
            sink.append(stages)
        return out

    return pl.col("id").map_batches(run, return_dtype=pl.String)


def fastest_stages(runs: list[Stages]) -> dict[str, float]:
    """Return the fastest time of each stage over several runs."""
    best: dict[str, float] = {}
    for stages in runs:
        for name, seconds in stages.seconds.items():
            best[name] = min(best.get(name, float("inf")), seconds)
    return best


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
    """What a run measured: the rows of the table, the stage profiles and the verdict on the targets."""

    rows: int
    distinct: int
    table: list[Row]
    stages: dict[str, dict[str, float]]
    targets: dict[str, bool]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="values to pseudonymise")
    parser.add_argument("--distinct", type=int, default=1_000_000, help="distinct values among them")
    parser.add_argument("--presidio-sample", type=int, default=20_000, help="values Presidio is timed on")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cores} cores usable ({os.cpu_count()} in the machine), Polars {pl.__version__} on "
        f"{pl.thread_pool_size()} threads, Python {platform.python_version()}, {platform.machine()}"
    )


def _print_report(report: Report, bare: float, presidio: float, seed: int, repeat: int) -> None:
    print(f"machine   {_machine()}")
    print(
        f"values    {report.rows:,} ЕГН, {report.distinct:,} distinct (Zipf-ish repetition, s = {ZIPF:g}), seed {seed}"
    )
    print(f"timing    best of {repeat}, paths taking turns; every output equals the bare loop's\n")
    print(f"{'path':<48} {'seconds':>9} {'values/s':>12} {'× bare loop':>12} {'× Presidio':>11}")
    for row in report.table:
        mark = "*" if row.extrapolated_from else " "
        print(
            f"{row.path:<48} {row.seconds:>8.3f}{mark} {report.rows / row.seconds:>12,.0f} "
            f"{bare / row.seconds:>11.1f}× {presidio / row.seconds:>10.1f}×"
        )
    for row in report.table:
        if row.extrapolated_from:
            print(f"* extrapolated to {report.rows:,} values from {row.extrapolated_from:,} timed")
    print()
    for target, met in report.targets.items():
        print(f"{'PASS' if met else 'MISS'}  {target}")
    for row in report.table:
        if row.path.startswith("prototype"):
            print(f"      {row.path}: {bare / row.seconds:.1f}× bare loop, {presidio / row.seconds:.1f}× Presidio")
    for name, steps in report.stages.items():
        total = sum(steps.values())
        print(f"\nstages of {name} (fastest of each step; {total:.3f} s in all)")
        for step, seconds in steps.items():
            print(f"  {step:<40} {seconds:>6.3f} s  {100 * seconds / total:>4.0f} %")


def main(argv: list[str] | None = None) -> Report:
    """Run the benchmark, print the table, the targets and the stage profiles, and return what was measured."""
    args = _parser().parse_args(argv)
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
        agree("bare loop", got, reference[0])

    def check(name: str) -> Callable[[object], None]:
        def against_reference(got: object) -> None:
            column = got.to_series() if isinstance(got, pl.DataFrame) else got
            assert isinstance(column, pl.Series | list)
            agree(name, column, reference[0].head(len(column)))

        return against_reference

    shipped_stages: list[Stages] = []
    prototype_stages: list[Stages] = []

    def replica() -> pl.Series:
        shipped_stages.append(Stages())
        return shipped_series(ids, KEY, PSEUDONYM_LENGTH, shipped_stages[-1])

    zakrila, bare, presidio = (
        "zakrila: select(pseudonym(id, key))",
        "bare loop: hmac.digest per value (baseline)",
        "Presidio: AnonymizerEngine, custom HMAC operator",
    )
    prototype_digest, prototype_copy, prototype_pads = (
        "prototype: hash-keyed dedup, hmac.digest",
        "prototype: hash-keyed dedup, hmac.new().copy()",
        "prototype: hash-keyed dedup, pads hashed once",
    )
    bare_pads = "reference: bare loop, pads hashed once"
    paths = [
        Contender(bare, lambda: bare_loop(values, KEY), check_bare),
        Contender(zakrila, partial(frame.select, pseudonym("id", KEY)), check(zakrila)),
        Contender(presidio, lambda: [anonymize(v) for v in sample], check(presidio), sample=len(sample)),
        Contender(prototype_digest, partial(frame.select, prototype(KEY, hmac_hex_digest)), check(prototype_digest)),
        Contender(prototype_copy, partial(frame.select, prototype(KEY, hmac_hex_copy)), check(prototype_copy)),
        Contender(
            prototype_pads,
            partial(frame.select, prototype(KEY, hmac_hex_pads, prototype_stages)),
            check(prototype_pads),
        ),
        Contender(
            bare_pads, lambda: hmac_hex_pads([v.encode() for v in values], KEY, PSEUDONYM_LENGTH), check(bare_pads)
        ),
        Contender("replica of _hash_series", replica, check("replica of _hash_series")),
    ]
    seconds = race(paths, args.repeat, args.rows)

    order = [zakrila, bare, presidio, prototype_digest, prototype_copy, prototype_pads, bare_pads]
    table = [Row(name, seconds[name], len(sample) if name == presidio else None) for name in order]
    stages = {
        "zakrila (replica of _hash_series)": fastest_stages(shipped_stages),
        prototype_pads: fastest_stages(prototype_stages),
    }
    targets = {
        f"zakrila ≥ {TARGET_BARE:g}× the bare loop": seconds[bare] / seconds[zakrila] >= TARGET_BARE,
        f"zakrila ≥ {TARGET_PRESIDIO:g}× Presidio": seconds[presidio] / seconds[zakrila] >= TARGET_PRESIDIO,
    }
    report = Report(args.rows, args.distinct, table, stages, targets)
    _print_report(report, seconds[bare], seconds[presidio], args.seed, args.repeat)
    return report


if __name__ == "__main__":
    main()
