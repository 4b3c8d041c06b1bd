"""Disclosure control at national scale: protect and audit T04 with all its hierarchies, then every
default table of a national release together; time risk.assess.

    .venv/bin/python benchmarks/disclosure.py                 # 10k → ~100k cells, the release, 1 M records
    .venv/bin/python benchmarks/disclosure.py --partners 5 20 --persons 20000 --records 200000

T04 (users by service: geography municipality/NUTS3/NUTS2/country × partner × service/activity ×
age band/group × sex, unique persons and new entrants) is built from a synthetic national store in
which the number of partners (social-service complexes, 20,000 persons served each unless
``--persons`` is given) sets the table's size. For each size it prints cells, primary and secondary
suppressions, the time to protect (suppression until the attacker's linear programs pass, then
pruning within ``--prune-seconds``) and to audit from the published values, and how time grows with
cells. Then every default table of the release that the synthetic store can build (T01–T04,
T06–T10; T11 carries no personal data, T12 is Russia's) is protected together and audited, as the
pipeline does. Baselines from the same run: the line rule alone (sdcTable's SIMPLEHEURISTIC-like
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
from anonymise.ministry import BUILDERS, SPECS, T04, Store, build_t04  # noqa: E402
from anonymise.ministry_tables import registered_operations  # noqa: E402
from anonymise.period import Period  # noqa: E402
from anonymise.policy import default_policy_text, parse_policy  # noqa: E402
from anonymise.risk import assess, k_anonymity  # noqa: E402
from anonymise.suppression import FREE, _line_rule, primary_status, protect, table_meta  # noqa: E402
from anonymise.tables import TableSpec  # noqa: E402
from schemas import codes, geography  # noqa: E402


def pick(rng: np.random.Generator, options: list[str | None], n: int) -> pl.Series:
    """Return ``n`` draws from ``options`` (which may hold None: a missing value) as a string column."""
    return pl.Series([options[i] for i in rng.integers(0, len(options), n)], dtype=pl.String)


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
    band = rng.choice(np.arange(bands.size), persons, p=band_w / band_w.sum())
    low = np.array([lo for _, lo, _ in codes.AGE_BANDS])
    high = np.array([hi if hi is not None else 90 for _, _, hi in codes.AGE_BANDS])
    p = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in range(persons)],
            "person_pid": [f"l{i}" for i in range(persons)],
            "partner_id": rng.choice(partner_ids, persons),
            "municipality_code": home,
            "age_band": bands[band],
            "age": rng.integers(low[band], high[band] + 1).astype(np.int32),
            "sex": rng.choice(["f", "m", "x", "u"], persons, p=[0.49, 0.49, 0.01, 0.01]),
            "rural": rng.random(persons) < 0.3,
        }
    )
    n_events = persons * 3
    who = rng.integers(0, persons, n_events)
    e = pl.DataFrame(
        {
            "person_cid": [f"p{i}" for i in who],
            "person_pid": [f"l{i}" for i in who],
            "partner_id": np.where(
                rng.random(n_events) < 0.9, p["partner_id"].to_numpy()[who], rng.choice(partner_ids, n_events)
            ),
            "service_code": rng.choice(services, n_events),
            "month": rng.choice(["2024-11", "2025-02", "2025-05", "2025-09"], n_events),
            "event_pid": [f"e{i}" for i in range(n_events)],
            "modality": rng.choice(codes.MODALITY, n_events),
            "setting": rng.choice(codes.SETTING, n_events),
        }
    ).with_columns(
        (
            pl.col("month").str.slice(0, 4)
            + "-Q"
            + ((pl.col("month").str.slice(5, 2).cast(pl.Int32) + 2) // 3).cast(pl.String)
        ).alias("quarter"),
        pl.lit(None, dtype=pl.String).alias("case_pid"),
    )
    # what the other tables of the release count: person attributes, families, cases, ESF participations
    yes_no = ["yes", "no", "declined"]
    p = p.with_columns(
        pl.Series("disability", rng.choice(yes_no, persons, p=[0.06, 0.9, 0.04])),
        pl.Series("minority", rng.choice(yes_no, persons, p=[0.1, 0.85, 0.05])),
        pl.Series("homeless", rng.choice(yes_no, persons, p=[0.02, 0.96, 0.02])),
        pl.Series("citizenship_group", rng.choice(["national", "eu", "third_country"], persons, p=[0.95, 0.02, 0.03])),
        pl.when(pl.col("age") < 18).then(pl.lit("child")).otherwise(pl.lit("adult")).alias("role"),
    )
    # families: each adult heads one; children join the adults of their municipality two by two
    adults = p.filter(pl.col("role") == "adult").select(
        "person_pid", "municipality_code", pl.int_range(pl.len()).over("municipality_code").alias("head")
    )
    heads = adults.select("person_pid", pl.concat_str(pl.lit("F"), "person_pid").alias("family_pid"))
    counts = adults.group_by("municipality_code").agg(pl.len().alias("adults"))
    kids = (
        p.filter(pl.col("role") == "child")
        .select("person_pid", "municipality_code", pl.int_range(pl.len()).over("municipality_code").alias("k"))
        .join(counts, on="municipality_code", how="inner")
        .with_columns(((pl.col("k") // 2) % pl.col("adults")).cast(pl.Int64).alias("head"))
        .join(adults.with_columns(pl.col("head").cast(pl.Int64)), on=["municipality_code", "head"], how="inner")
        .select(pl.concat_str(pl.lit("F"), "person_pid_right").alias("family_pid"), "person_pid")
    )
    memberships = pl.concat(
        [
            heads.select("family_pid", "person_pid", pl.lit("mother").alias("relation")),
            kids.select("family_pid", "person_pid", pl.lit("child").alias("relation")),
        ]
    ).with_columns(
        pl.lit(None, dtype=pl.String).alias("valid_from_month"), pl.lit(None, dtype=pl.String).alias("valid_to_month")
    )
    n_cases = max(persons // 40, 1)
    case_kids = kids.sample(min(n_cases, kids.height), seed=seed)
    months = ["2024-06", "2024-11", "2025-02", "2025-05", "2025-09"]
    cases = case_kids.select(
        pl.concat_str(pl.lit("k"), pl.int_range(pl.len()).cast(pl.String)).alias("case_pid"),
        "family_pid",
        pl.col("person_pid").alias("child_pid"),
        pl.Series("case_type", rng.choice(codes.CASE_TYPE, case_kids.height)),
        pl.Series("referral_source", rng.choice(codes.REFERRAL_SOURCE, case_kids.height)),
        pl.Series("opened_month", rng.choice(months, case_kids.height)),
        pick(rng, [*months[2:], None], case_kids.height).alias("closed_month"),
        pl.Series("outcome", rng.choice(codes.OUTCOME, case_kids.height)),
        pl.Series("child_age_band_at_opening", rng.choice(bands[:4], case_kids.height)),
    )
    operations = registered_operations()
    takers = p.filter(pl.col("role") == "adult").sample(fraction=0.15, seed=seed)
    participations = takers.select(
        "person_pid",
        "person_cid",
        pl.Series("operation_code", rng.choice(operations, takers.height)),
        pl.Series("entry_month", rng.choice(months, takers.height)),
        pick(rng, [*months[1:], None], takers.height).alias("exit_month"),
        pick(rng, ["employment", "job_search", None], takers.height).alias("result_4w"),
        pick(rng, ["employment", None], takers.height).alias("result_6m"),
    )
    spec = replace(
        T04,
        dims=tuple(
            replace(d, hierarchy=h.flat("partner", partner_ids.tolist())) if d.name == "partner" else d
            for d in T04.dims
        ),
    )
    store = Store(Period.parse("2025"), "bg", partner_ids.tolist(), p, e, cases, memberships, participations)
    return store, spec


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


def national_release(store: Store, spec: TableSpec, prune_seconds: float) -> None:
    """Protect and audit every default table of the release that the store can build, together."""
    wanted = [t for t in parse_policy(default_policy_text()).tables if SPECS[t].threshold is not None]
    specs = {t: spec if t == "T04" else SPECS[t] for t in wanted}
    tables, skipped = {}, []
    for t in wanted:
        try:
            frame = build_t04(store, spec) if t == "T04" else BUILDERS[t](store)
        except ValueError as e:  # a table of another jurisdiction's store (T12: Russia)
            skipped.append(f"{t} ({e})")
            continue
        if frame.height:
            tables[t] = frame
        else:
            skipped.append(f"{t} (no rows in the synthetic store)")
    t0 = time.perf_counter()
    out, summary = protect(tables, specs, prune_seconds=prune_seconds)  # type: ignore[arg-type]
    t_protect = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = audit_tables(out, {t: table_meta(specs[t]) for t in out})
    t_audit = time.perf_counter() - t0
    cells = sum(s.cells for s in summary.values())
    primary = sum(s.primary for s in summary.values())
    secondary = sum(s.secondary for s in summary.values())
    print(
        f"\nnational release, all default tables with suppression, protected together "
        f"({', '.join(f'{t} {summary[t].cells}' for t in sorted(summary))} cells):"
    )
    print(
        f"cells {cells}, primary {primary}, secondary {secondary}, protect {t_protect:.1f} s, audit {t_audit:.1f} s, "
        f"total {t_protect + t_audit:.1f} s" + ("" if report.passed else "  AUDIT FAILED")
    )
    if skipped:
        print("not built: " + "; ".join(skipped))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partners", type=int, nargs="+", default=[2, 8, 20, 48])
    ap.add_argument("--persons", type=int, default=None, help="persons served (default: 20,000 per partner)")
    ap.add_argument("--persons-per-partner", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--prune-seconds", type=float, default=20.0)
    ap.add_argument("--municipalities", type=int, default=None, help="live in the first N municipalities only")
    ap.add_argument(
        "--release-partners", type=int, default=20, help="partners of the store the whole release is built from"
    )
    args = ap.parse_args()

    def persons(partners: int) -> int:
        return args.persons or args.persons_per_partner * partners

    print("T04, national synthetic store: protect (suppression + proof) and audit from published values")
    print(
        f"{'partners':>8} {'cells':>8} {'primary':>8} {'second.':>8} {'pruned':>7} {'protect s':>10} {'audit s':>8} "
        f"{'narrowest':>9} {'line rule s':>11} {'line-rule supp.':>15}"
    )
    rows = []
    for partners in args.partners:
        store, spec = national_store(persons(partners), partners, municipalities=args.municipalities)
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
    for (c0, t0_), (c1, t1_) in zip(rows, rows[1:], strict=False):
        if c1 != c0 and t0_ > 0:
            print(f"growth: time ∝ cells^{np.log(t1_ / t0_) / np.log(c1 / c0):.2f} from {c0} to {c1} cells")
    if len(rows) > 2:
        (c0, t0_), (c1, t1_) = rows[0], rows[-1]
        print(f"growth: time ∝ cells^{np.log(t1_ / t0_) / np.log(c1 / c0):.2f} from {c0} to {c1} cells overall")

    if args.release_partners:
        store, spec = national_store(
            persons(args.release_partners), args.release_partners, municipalities=args.municipalities
        )
        national_release(store, spec, args.prune_seconds)  # type: ignore[arg-type]

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
