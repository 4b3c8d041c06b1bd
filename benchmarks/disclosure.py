"""Disclosure control at national scale: protect and audit T04 with all its hierarchies; time risk.assess.

    .venv/bin/python benchmarks/disclosure.py                 # 10k → ~100k cells, and 1 M records
    .venv/bin/python benchmarks/disclosure.py --partners 5 20 --persons 20000 --records 200000

T04 (users by service: geography municipality/NUTS3/NUTS2/country × partner × service/activity ×
age band/group × sex, unique persons and new entrants) is built from a synthetic national store in
which the number of partners (social-service complexes) sets the table's size. For each size it
prints cells, primary and secondary suppressions, the time to protect (suppression until the
attacker's linear programs pass, then pruning) and to audit from the published values, and how time
grows with cells. Baselines from the same run: the line rule alone (sdcTable's SIMPLEHEURISTIC-like
first step, no proof), and for risk.assess the plain k-anonymity group-by (no wildcard matching of
missing values, no individual risk).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anonymise import hierarchy as h  # noqa: E402
from anonymise.auditing import audit_tables  # noqa: E402
from anonymise.constraints import system  # noqa: E402
from anonymise.ministry import T04, Store, build_t04  # noqa: E402
from anonymise.period import Period  # noqa: E402
from anonymise.risk import assess, k_anonymity  # noqa: E402
from anonymise.suppression import FREE, _line_rule, primary_status, protect, table_meta  # noqa: E402
from schemas import codes, geography  # noqa: E402


def national_store(
    persons: int, partners: int, seed: int = 0, municipalities: int | None = None
) -> tuple[Store, object]:
    """Return a synthetic national store and the T04 spec with ``partners`` complexes."""
    rng = np.random.default_rng(seed)
    munis = geography.settlements()["municipality_code"].unique().sort().to_numpy()[:municipalities]
    # people live mostly in big municipalities: a Zipf-like weight
    w = 1.0 / np.arange(1, munis.size + 1) ** 0.8
    w /= w.sum()
    home = rng.choice(munis, persons, p=w)
    partner_ids = np.array([f"complex-{i:03d}" for i in range(partners)])
    services = np.array(codes.service_codes())
    bands = np.array([b for b, _, _ in codes.AGE_BANDS])
    band_w = np.array([8, 10, 12, 8, 4, 3, 6, 2, 1], dtype=float)
    p = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in range(persons)],
            "person_pid": [f"l{i}" for i in range(persons)],
            "partner_id": rng.choice(partner_ids, persons),
            "municipality_code": home,
            "age_band": rng.choice(bands, persons, p=band_w / band_w.sum()),
            "sex": rng.choice(["f", "m", "x", "u"], persons, p=[0.49, 0.49, 0.01, 0.01]),
        }
    )
    n_events = persons * 3
    who = rng.integers(0, persons, n_events)
    e = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in who],
            "partner_id": np.where(
                rng.random(n_events) < 0.9, p["partner_id"].to_numpy()[who], rng.choice(partner_ids, n_events)
            ),
            "service_code": rng.choice(services, n_events),
            "month": rng.choice(["2024-11", "2025-02", "2025-05", "2025-09"], n_events),
        }
    )
    spec = replace(
        T04,
        dims=tuple(
            replace(d, hierarchy=h.flat("partner", partner_ids.tolist())) if d.name == "partner" else d
            for d in T04.dims
        ),
    )
    return Store(Period.parse("2025"), "bg", partner_ids.tolist(), p, e), spec


def line_rule_only(table: pl.DataFrame, spec: object) -> tuple[float, int]:
    """Baseline: the line rule to its fixpoint, no linear programs (what a first heuristic gives)."""
    started = time.perf_counter()
    s = system({"T04": table}, {"T04": table_meta(spec)})  # type: ignore[arg-type]
    status = primary_status(s).with_columns(pl.lit(0).alias("margin"))
    while (more := _line_rule(s, status)).len():
        status = status.with_columns(
            pl.when(pl.col("cell").is_in(more.implode()) & (pl.col("status") == FREE))
            .then(pl.lit("D"))
            .otherwise(pl.col("status"))
            .alias("status")
        )
    return time.perf_counter() - started, int((status["status"] != FREE).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, nargs="+", default=[4, 12, 30])
    ap.add_argument("--persons", type=int, default=60_000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--prune-seconds", type=float, default=60.0)
    ap.add_argument("--municipalities", type=int, default=None, help="live in the first N municipalities only")
    args = ap.parse_args()

    print("T04, national synthetic store: protect (suppression + proof) and audit from published values")
    print(
        f"{'partners':>8} {'cells':>8} {'primary':>8} {'second.':>8} {'pruned':>7} {'protect s':>10} {'audit s':>8} "
        f"{'narrowest':>9} {'line rule s':>11} {'line-rule supp.':>15}"
    )
    rows = []
    for partners in args.partners:
        store, spec = national_store(args.persons, partners, municipalities=args.municipalities)
        table = build_t04(store, spec)  # type: ignore[arg-type]
        base_t, base_supp = line_rule_only(table, spec)
        t0 = time.perf_counter()
        out, summary = protect({"T04": table}, {"T04": spec}, prune_seconds=args.prune_seconds)  # type: ignore[dict-item]
        t_protect = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = audit_tables(out, {"T04": table_meta(spec)})  # type: ignore[arg-type]
        t_audit = time.perf_counter() - t0
        s = summary["T04"]
        narrow = report.tables["T04"]["narrowest_width"]
        rows.append((table.height, t_protect + t_audit))
        print(
            f"{partners:>8} {table.height:>8} {s.primary:>8} {s.secondary:>8} {s.pruned:>7} {t_protect:>10.1f} "
            f"{t_audit:>8.1f} {narrow!s:>9} {base_t:>11.1f} {base_supp:>15}"
            + ("" if report.passed else "  AUDIT FAILED")
            + ("" if s.pruning_complete else "  (pruning cut at budget)")
        )
    if len(rows) >= 2:
        (c0, t0_), (c1, t1_) = rows[0], rows[-1]
        if c1 != c0 and t0_ > 0:
            k = np.log(t1_ / t0_) / np.log(c1 / c0)
            print(f"growth: time ∝ cells^{k:.2f} from {c0} to {c1} cells")

    print(f"\nrisk.assess on {args.records:,} records, 5 quasi-identifiers, 1 % missing per column")
    rng = np.random.default_rng(1)
    n = args.records
    frame = pl.DataFrame(
        {
            "age_band": rng.choice([b for b, _, _ in codes.AGE_BANDS], n),
            "sex": rng.choice(["f", "m"], n),
            "nuts3": rng.choice(geography.nuts()["code"].to_list(), n),
            "citizenship": rng.choice(["national", "eu", "third_country", "unknown"], n),
            "isced": rng.integers(0, 9, n),
            "disability": rng.choice(["yes", "no", "declined"], n),
        }
    ).with_columns(
        [
            pl.when(pl.Series(rng.random(n) < 0.01)).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("age_band", "sex", "nuts3", "citizenship", "isced")
        ]
    )
    qi = ["age_band", "sex", "nuts3", "citizenship", "isced"]
    t0 = time.perf_counter()
    k_anonymity(frame, qi)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = assess(frame, qi, sensitive=["disability"], sampling_fraction=0.05)
    took = time.perf_counter() - t0
    print(
        f"risk.assess: {took:.1f} s (fk/Fk with wildcard missing values, individual risk, ARX risks, "
        f"population uniqueness by {r.population_uniqueness.model if r.population_uniqueness else '—'}, l-diversity)"
    )
    print(f"baseline, k-anonymity group-by only: {base:.2f} s")


if __name__ == "__main__":
    main()
