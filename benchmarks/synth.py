"""Benchmark the synthetic generator against a naive per-row loop measured in the same run.

    .venv/bin/python benchmarks/synth.py --scale 333     # about 1 M persons, 25 M events

Generates all five partners at the given scale into a temporary folder and prints persons, events,
seconds and rows per second; then times a naive generator — a Python loop that draws and writes one
event row at a time with the csv module, same columns — on a 200,000-row sample, extrapolates it to
the same number of events, and prints the ratio.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.synth import generate  # noqa: E402
from schemas.codes import MODALITY, SETTING, SPECIALIST_ROLE, service_codes  # noqa: E402
from schemas.contract import ENTITIES  # noqa: E402

SAMPLE = 200_000


def naive_events(path: Path, rows: int, seed: int = 0) -> float:
    """Write ``rows`` event rows one at a time with the csv module; return the seconds it took."""
    started = time.perf_counter()
    rnd = random.Random(seed)
    first, span = date(2024, 1, 1), 731
    services, roles = service_codes(), SPECIALIST_ROLE
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(ENTITIES["events"].columns)
        for i in range(rows):
            day = first + timedelta(days=rnd.randrange(span))
            out.writerow(
                [
                    f"E{i:08d}",
                    f"C{rnd.randrange(100_000):05d}",
                    f"P{rnd.randrange(1_000_000):07d}",
                    day.isoformat(),
                    rnd.choice(services),
                    rnd.choice(MODALITY),
                    rnd.choice(SETTING),
                    rnd.randrange(10, 180),
                    rnd.choice(roles),
                    "site",
                    "",
                ]
            )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=33.0, help="1.0 is the pilot (about 3,000 persons)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--defects", type=float, default=0.01)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zakrila-synth-bench-") as tmp:
        summary = generate(Path(tmp) / "inbox", scale=args.scale, seed=args.seed, defects=args.defects)
        persons = sum(c["persons"] for c in summary.counts.values())
        events = sum(c["events"] for c in summary.counts.values())
        rows = sum(sum(c.values()) for c in summary.counts.values())
        size = sum(f.stat().st_size for f in (Path(tmp) / "inbox").rglob("*.csv"))
        naive = naive_events(Path(tmp) / "naive.csv", SAMPLE, args.seed) * events / SAMPLE
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"scale            {args.scale:g}")
    print(f"persons          {persons:,}")
    print(f"events           {events:,}")
    print(f"rows (all files) {rows:,}  ({size / 2**30:.2f} GiB of CSV)")
    print(f"seconds          {summary.seconds:.1f}")
    print(f"rows/s           {rows / summary.seconds:,.0f}  (events/s {events / summary.seconds:,.0f})")
    print(
        f"naive loop       {naive:.1f} s for {events:,} event rows alone "
        f"(extrapolated from {SAMPLE:,}; {SAMPLE / (naive * SAMPLE / events):,.0f} rows/s)"
    )
    print(f"ratio            {naive / summary.seconds:.1f}x faster than the naive loop (events only)")
    print(f"peak memory      {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
