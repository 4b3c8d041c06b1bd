"""Re-identification risk of a release, measured the way sdcMicro and ARX measure it.

A record whose quasi-identifiers (age band, sex, municipality, ...) are shared by few others can be
singled out. This module gives the DPO the standard figures for that, each computed exactly as the
reference tool computes it, so a number in our report can be checked against sdcMicro or ARX:

* **sdcMicro** (``freqCalc``, ``indivRisk``, ``measure_risk``): the sample frequency ``fk`` and the
  estimated population frequency ``Fk`` of every record, where a missing value matches any value;
  k-anonymity violations; the Benedetti-Franconi individual risk and the expected number of
  re-identifications.
* **ARX** (``RiskModelSampleSummary``, ``RiskModelSampleRisks``, ``RiskModelPopulationUniqueness``):
  prosecutor, journalist and marketer risk; sample uniqueness; population uniqueness by the Zayatz,
  Pitman and SNB models and Dankar et al.'s rule choosing between them; distinct and entropy
  l-diversity. ARX has no wildcard: its equivalence classes are records with identical
  quasi-identifiers, a missing value being one more value.

>>> f = pl.DataFrame({"a": [1, 1, 1, 2], "b": ["x", "x", "x", "y"]})
>>> report = assess(f, ["a", "b"])
>>> report.fk.to_list(), report.violations
([3, 3, 3, 1], {2: 1, 3: 1, 5: 4})
>>> report.prosecutor_risk.highest_risk, report.prosecutor_risk.success_rate
(1.0, 0.5)

A missing value is a wildcard for sdcMicro: ``(1, null)`` could be ``(1, "x")``, so it counts there too.

>>> g = pl.DataFrame({"a": [1, 1, 2], "b": ["x", None, "y"]})
>>> assess(g, ["a", "b"]).fk.to_list()
[2, 2, 1]
>>> assess(g, ["a", "b"], sampling_fraction=0.0)
Traceback (most recent call last):
...
ValueError: sampling_fraction must be in (0, 1], got 0.0

The first measure the DPO report shows is still the plain k-anonymity summary (a missing value is its
own value here, as in a published table):

>>> k_anonymity(f, ["a", "b"])
{'records': 4, 'classes': 2, 'min_k': 1, 'records_below_k': {'2': 1, '3': 1, '5': 4}, 'sample_uniques': 1}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special, stats

VIOLATION_LEVELS = (2, 3, 5)

# ARXSolverConfiguration's defaults: a Newton-Raphson try stops after 1000 iterations, the whole
# search after 10000; a solution is accepted when both equations are within 1e-6 of zero.
_ACCURACY = 1e-6
_ITERATIONS_PER_TRY = 1000
_ITERATIONS_TOTAL = 10000


@dataclass(frozen=True)
class AttackerRisk:
    """ARX's summary of one attacker model (prosecutor or journalist).

    ``highest_risk`` is ARX's "highest risk": 1 / the size of the smallest class (for the journalist,
    the smallest *population* class). ``records_at_highest_risk`` is the share of records in the classes
    carrying that risk (ARX ``getFractionOfRecordsAffectedByHighestRisk``). ``success_rate`` is ARX's
    "success rate", the share of records an attacker re-identifies on average.
    """

    highest_risk: float
    records_at_highest_risk: float
    success_rate: float


@dataclass(frozen=True)
class PopulationUniqueness:
    """Estimated share of the population that is unique on the quasi-identifiers (ARX).

    Each model value is ARX's ``getFractionOfUniqueTuples*``: estimated population uniques divided by
    the population size ``records / sampling_fraction``; ``None`` where ARX has no estimate (the model
    gives NaN or 0). ``estimate`` is the value Dankar et al.'s rule picks and ``model`` names the pick:
    ``"pitman"``, ``"zayatz"``, ``"snb"``, or ``"none"`` when the sample has no unique record (then
    every estimate is 0).
    """

    sampling_fraction: float
    population_size: float
    estimate: float
    model: str
    zayatz: float | None
    pitman: float | None
    snb: float | None


@dataclass(frozen=True)
class LDiversity:
    """l-diversity of one sensitive attribute over ARX's equivalence classes.

    ``distinct``: the fewest distinct sensitive values in any class (ARX ``DistinctLDiversity``).
    ``entropy``: the smallest ``exp(H)`` over classes, H the Shannon entropy of the class's sensitive
    values (ARX ``EntropyLDiversity`` holds for every l up to this). A missing value is one more value.
    """

    distinct: int
    entropy: float


@dataclass(frozen=True)
class RiskReport:
    """Re-identification risk figures of one frame; see ``assess`` for each field's definition."""

    fk: pl.Series
    Fk: pl.Series
    violations: dict[int, int]
    individual_risk: pl.Series
    expected_reidentifications: float
    global_risk: float
    prosecutor_risk: AttackerRisk
    journalist_risk: AttackerRisk
    marketer_risk: float
    sample_uniqueness: float
    population_uniqueness: PopulationUniqueness | None
    l_diversity: dict[str, LDiversity]


def assess(
    frame: pl.DataFrame,
    quasi_identifiers: list[str],
    weight: str | None = None,
    sensitive: list[str] | None = None,
    sampling_fraction: float | None = None,
) -> RiskReport:
    """Return the sdcMicro and ARX risk figures of ``frame`` over ``quasi_identifiers``.

    sdcMicro figures (``measure_risk`` on a data frame, ``alpha = 1``):

    * ``fk``: per record, how many records are compatible with it, a missing value matching any value
      (``freqCalc``). Its quirks are kept: a record missing every key counts the whole sample, but with
      two or more key variables it is not counted by the fully observed records (with one key variable
      it is).
    * ``Fk``: per record, the sum of ``weight`` over the same records (equal to ``fk`` without weights).
    * ``violations``: k -> number of records with ``fk < k``, for k = 2, 3, 5 (``print(sdc, "kAnon")``).
    * ``individual_risk``: ``indivRisk(method="approx")`` with ``pk = fk / Fk``: ``pk/(1-pk) log(1/pk)``
      for fk = 1, ``pk/(1-pk) - (pk/(1-pk))^2 log(1/pk)`` for fk = 2, ``pk / (fk - (1-pk))`` above, and
      ``1/fk`` where ``fk == Fk``; without weights ``1/fk`` (``survey = FALSE``).
    * ``expected_reidentifications``: the sum of the individual risks (``global_risk_ER``);
      ``global_risk`` is that sum over the number of records.

    ARX figures, over classes of identical quasi-identifiers (``RiskModelSampleSummary``); with a
    ``weight`` the population class size is the class's sum of weights, without one the sample is its
    own population (as ARX without a population table):

    * ``prosecutor_risk``: highest risk ``1 / min f``, the share of records in the smallest classes,
      success rate ``classes / records``.
    * ``journalist_risk``: highest risk ``1 / min F``, the share of records in the classes of smallest
      ``F``, success rate ``max(classes / sum F, mean over records of 1/F)``.
    * ``marketer_risk``: mean over records of ``1 / F``.
    * ``sample_uniqueness``: share of records alone in their class.
    * ``population_uniqueness``: see ``PopulationUniqueness``; ``None`` without ``sampling_fraction``.
    * ``l_diversity``: per ``sensitive`` attribute, see ``LDiversity``.
    """
    if not quasi_identifiers:
        raise ValueError("at least one quasi-identifier is needed")
    if sampling_fraction is not None and not 0 < sampling_fraction <= 1:
        raise ValueError(f"sampling_fraction must be in (0, 1], got {sampling_fraction}")
    n = frame.height
    if weight is None:
        weights = np.ones(n)
    else:
        if frame[weight].null_count():
            raise ValueError(f"weight column {weight!r} has missing values")
        weights = frame[weight].cast(pl.Float64).to_numpy()

    record_class, classes = _equivalence_classes(frame, quasi_identifiers)
    class_size = np.bincount(record_class, minlength=classes.height).astype(np.float64)
    class_weight = np.bincount(record_class, weights=weights, minlength=classes.height)

    class_fk, class_Fk = _wildcard_frequencies(classes, quasi_identifiers, class_size, class_weight)
    fk = class_fk[record_class]
    Fk = class_Fk[record_class]
    risk = 1.0 / fk if weight is None else _benedetti_franconi(fk, Fk)

    population_class = class_weight if weight is not None else class_size
    return RiskReport(
        fk=pl.Series("fk", fk.round().astype(np.int64)),
        Fk=pl.Series("Fk", Fk),
        violations={k: int((fk < k).sum()) for k in VIOLATION_LEVELS},
        individual_risk=pl.Series("individual_risk", risk),
        expected_reidentifications=float(risk.sum()),
        global_risk=float(risk.sum() / n) if n else 0.0,
        prosecutor_risk=_attacker_risk(class_size, class_size),
        journalist_risk=_attacker_risk(class_size, population_class),
        marketer_risk=float((class_size / population_class).sum() / n) if n else 0.0,
        sample_uniqueness=float((class_size == 1).sum() / n) if n else 0.0,
        population_uniqueness=None
        if sampling_fraction is None
        else population_uniqueness(class_size, sampling_fraction),
        l_diversity={s: _l_diversity(record_class, frame[s]) for s in sensitive or []},
    )


def k_anonymity(frame: pl.DataFrame, quasi_identifiers: list[str]) -> dict[str, object]:
    """Return min k, class count, records in classes smaller than 2, 3 and 5, and sample uniques.

    Classes are records with identical quasi-identifiers, a missing value being one more value.
    """
    if frame.height == 0:
        return {"records": 0, "classes": 0, "min_k": None, "records_below_k": {}, "sample_uniques": 0}
    record_class, classes = _equivalence_classes(frame, quasi_identifiers)
    sizes = np.bincount(record_class, minlength=classes.height)
    k = sizes[record_class]
    return {
        "records": frame.height,
        "classes": classes.height,
        "min_k": int(sizes.min()),
        "records_below_k": {str(level): int((k < level).sum()) for level in VIOLATION_LEVELS},
        "sample_uniques": int((k == 1).sum()),
    }


def population_uniqueness(class_sizes: np.ndarray, sampling_fraction: float) -> PopulationUniqueness:
    """Return ARX's population-uniqueness estimates for a sample with these equivalence-class sizes.

    The population has ``records / sampling_fraction`` records. Dankar et al.'s rule, as ARX applies
    it: at a sampling fraction up to 0.1 take Pitman, falling back to Zayatz when Pitman has no
    solution; above 0.1 take the smaller of Zayatz and SNB, or Zayatz when SNB has no solution.

    >>> population_uniqueness(np.array([1.0] * 7), 0.2).estimate
    1.0
    """
    sizes, counts = np.unique(np.asarray(class_sizes, dtype=np.int64), return_counts=True)
    records = float((sizes * counts).sum())
    population = records / sampling_fraction
    fraction = records / population  # ARX recomputes it from the population size
    uniques = float(counts[sizes == 1].sum())
    if uniques == 0:
        return PopulationUniqueness(sampling_fraction, population, 0.0, "none", 0.0, 0.0, 0.0)

    zayatz = _zayatz(sizes, counts, records, population, fraction)
    pitman = _pitman(sizes, counts, records, population)
    snb = _snb(sizes, counts, fraction)
    if fraction <= 0.1:
        chosen, model = (pitman, "pitman") if _valid(pitman) else (zayatz, "zayatz")
    elif _valid(snb):
        chosen, model = (zayatz, "zayatz") if zayatz < snb else (snb, "snb")
    else:
        chosen, model = zayatz, "zayatz"

    def share(estimate: float) -> float | None:
        return estimate / population if _valid(estimate) else None

    return PopulationUniqueness(
        sampling_fraction=sampling_fraction,
        population_size=population,
        estimate=chosen / population if _valid(chosen) else 0.0,
        model=model,
        zayatz=share(zayatz),
        pitman=share(pitman),
        snb=share(snb),
    )


def _equivalence_classes(frame: pl.DataFrame, quasi_identifiers: list[str]) -> tuple[np.ndarray, pl.DataFrame]:
    """Return each record's class number (0-based) and the classes' key values in that order."""
    grouped = frame.select(quasi_identifiers).with_row_index("_record").group_by(quasi_identifiers).agg("_record")
    members = grouped["_record"]
    record_class = np.empty(frame.height, dtype=np.int64)
    record_class[members.explode().to_numpy()] = np.repeat(np.arange(grouped.height), members.list.len().to_numpy())
    return record_class, grouped.drop("_record")


def _wildcard_frequencies(
    classes: pl.DataFrame, quasi_identifiers: list[str], size: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return sdcMicro's fk and Fk for each class, a missing value matching any value.

    sdcMicro's ``freqCalc`` works on distinct keys too: a key with missing values adds every key it is
    compatible with (equal wherever both are observed); a fully observed key adds the keys with
    missing values, except keys missing everything when there are several key variables. Keys with
    the same pattern of observed columns are handled together, so the work grows with the number of
    patterns, not of records.
    """
    width = len(quasi_identifiers)
    full = (1 << width) - 1
    pattern = (
        classes.select(
            pl.sum_horizontal(
                pl.col(q).is_not_null().cast(pl.Int64) * (1 << i) for i, q in enumerate(quasi_identifiers)
            )
        )
        .to_series()
        .to_numpy()
    )
    fk, Fk = size.copy(), weight.copy()
    if (pattern == full).all():
        return fk, Fk

    keyed = classes.with_columns(
        pl.Series("_row", np.arange(classes.height)), pl.Series("_n", size), pl.Series("_w", weight)
    )
    groups = {
        int(p[0]): part
        for p, part in keyed.with_columns(pl.Series("_p", pattern))
        .partition_by("_p", as_dict=True, include_key=False)
        .items()
    }
    complete = groups.pop(full, None)
    missing_all = groups.pop(0, None)
    blank_n = float(missing_all["_n"].sum()) if missing_all is not None else 0.0
    blank_w = float(missing_all["_w"].sum()) if missing_all is not None else 0.0

    def observed(p: int) -> list[str]:
        return [q for i, q in enumerate(quasi_identifiers) if p >> i & 1]

    def credit(target: pl.DataFrame, source: pl.DataFrame, on: list[str]) -> None:
        """Add to each target key the counts of the source keys equal to it on ``on``."""
        if not on:
            fk[target["_row"].to_numpy()] += float(source["_n"].sum())
            Fk[target["_row"].to_numpy()] += float(source["_w"].sum())
            return
        totals = source.group_by(on).agg(pl.col("_n").sum(), pl.col("_w").sum())
        hits = target.select("_row", *on).join(totals, on=on, how="inner")
        rows = hits["_row"].to_numpy()
        fk[rows] += hits["_n"].to_numpy()
        Fk[rows] += hits["_w"].to_numpy()

    if width == 1 and complete is not None:
        rows = complete["_row"].to_numpy()
        fk[rows] += blank_n
        Fk[rows] += blank_w
    for p, part in groups.items():
        if complete is not None:
            # Keys of one pattern are distinct on their observed columns, so each complete key meets at
            # most one of them: one join credits both ways.
            hits = complete.select("_row", "_n", "_w", *observed(p)).join(
                part.select(pl.col("_row").alias("_key"), *observed(p)), on=observed(p), how="inner"
            )
            rows, keys = hits["_row"].to_numpy(), hits["_key"].to_numpy()
            fk[rows] += size[keys]
            Fk[rows] += weight[keys]
            fk += np.bincount(keys, weights=hits["_n"].to_numpy(), minlength=fk.size)
            Fk += np.bincount(keys, weights=hits["_w"].to_numpy(), minlength=fk.size)
        rows = part["_row"].to_numpy()
        fk[rows] += blank_n
        Fk[rows] += blank_w
        shared: dict[int, list[pl.DataFrame]] = {}
        for other_p, other in groups.items():
            if other_p != p:
                shared.setdefault(p & other_p, []).append(other.select("_n", "_w", *observed(p & other_p)))
        for common, others in shared.items():
            credit(part, pl.concat(others), observed(common))
    if missing_all is not None:
        rows = missing_all["_row"].to_numpy()
        fk[rows] = size.sum()
        Fk[rows] = weight.sum()
    return fk, Fk


def _benedetti_franconi(fk: np.ndarray, Fk: np.ndarray) -> np.ndarray:
    """Return sdcMicro's approximate individual risk (``indivRisk(method = "approx")``)."""
    with np.errstate(all="ignore"):
        pk = fk / Fk
        odds = pk / (1 - pk)
        risk = np.select(
            [fk > 2, fk == 2, fk == 1],
            [pk / (fk - (1 - pk)), odds - odds**2 * np.log(1 / pk), odds * np.log(1 / pk)],
            0.0,
        )
    return np.where(fk == Fk, 1 / fk, risk)


def _attacker_risk(sample_class: np.ndarray, population_class: np.ndarray) -> AttackerRisk:
    """Return ARX's highest risk, share of records at it and success rate for these class sizes."""
    records = sample_class.sum()
    if records == 0:
        return AttackerRisk(0.0, 0.0, 0.0)
    smallest = population_class.min()
    success = sample_class.size / records
    if population_class is not sample_class:
        success = max(sample_class.size / population_class.sum(), (sample_class / population_class).sum() / records)
    return AttackerRisk(
        highest_risk=float(1 / smallest),
        records_at_highest_risk=float(sample_class[population_class == smallest].sum() / records),
        success_rate=float(success),
    )


def _l_diversity(record_class: np.ndarray, values: pl.Series) -> LDiversity:
    """Return the distinct and entropy l-diversity of ``values`` over the classes."""
    if values.len() == 0:
        return LDiversity(0, 0.0)
    per_class = (
        pl.DataFrame({"_class": record_class, "value": values})
        .group_by("_class", "value")
        .len()
        .with_columns(share=pl.col("len") / pl.col("len").sum().over("_class"))
        .group_by("_class")
        .agg(pl.len().alias("distinct"), (-(pl.col("share") * pl.col("share").log()).sum()).exp().alias("entropy"))
    )
    return LDiversity(int(per_class["distinct"].min()), float(per_class["entropy"].min()))  # type: ignore[arg-type]


def _valid(estimate: float) -> bool:
    """Tell whether ARX accepts a model's estimate: a number other than 0."""
    return not math.isnan(estimate) and estimate != 0.0


def _zayatz(sizes: np.ndarray, counts: np.ndarray, records: float, population: float, fraction: float) -> float:
    """Return the population uniques by Zayatz (1991), as ARX ``ModelZayatz`` computes them."""
    population_int, records_int = int(population), int(records)  # ARX casts to int
    classes = counts.sum()
    picked_once = stats.hypergeom.pmf(1, population_int, sizes, records_int)
    expected = (counts / classes * picked_once).sum()
    uniques = counts[sizes == 1].sum()
    conditional = (uniques / classes * stats.hypergeom.pmf(1, population_int, 1, records_int)) / expected
    return float(uniques * conditional / fraction)


def _pitman(sizes: np.ndarray, counts: np.ndarray, records: float, population: float) -> float:
    """Return the population uniques by Pitman's model (Hoshino 2001), as ARX ``ModelPitman``."""
    c1 = float(counts[sizes == 1].sum())
    c2 = float(counts[sizes == 2].sum()) or 1.0  # ARX: overestimate when there are no pairs
    u, n = float(counts.sum()), records
    c = c1 * (c1 - 1) / c2
    with np.errstate(all="ignore"):
        t0 = np.float64(n * u * c - c1 * (n - 1) * (2 * u + c)) / np.float64(2 * c1 * u + c1 * c - n * c)
        a0 = (t0 * (c1 - n) + (n - 1) * c1) / (n * u)
    repeated = sizes != 1
    rep_sizes, rep_counts = sizes[repeated].astype(np.float64), counts[repeated].astype(np.float64)

    def equations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, a = x
        digamma, trigamma = special.digamma, lambda z: special.polygamma(1, z)
        v1 = digamma(u - 1 + t / a + 1)
        v2 = trigamma((a + t + a * (u - 1)) / a)
        v3 = trigamma(t / a + 1)
        v4 = digamma(t / a + 1)
        a2 = a * a
        d1 = (v3 - v2) / a2
        d5 = (a * v1 + t * v2 - a * v4 - t * v3) / (a2 * a)
        d3 = (a2 * (u - 1) - t * t * v2 + t * t * v3 - 2 * a * t * v1 + 2 * a * t * v4) / (a2 * a2)
        o1 = (v1 - v4) / a
        o3 = (-t * v1 + a * (u - 1) + t * v4) / a2
        o2 = digamma(n + t) - digamma(t + 1)
        d2 = trigamma(t + 1) - trigamma(n + t)
        d4 = (rep_counts * (trigamma(1 - a) - trigamma(rep_sizes - a))).sum()
        o4 = (rep_counts * (digamma(rep_sizes - a) - digamma(1 - a))).sum()
        return np.array([o1 - o2, o3 - o4]), np.array([[d2 - d1, -d5], [-d5, -d3 - d4]])

    t, a = _newton_raphson(equations, np.array([t0, a0]), constraint=lambda x: bool(x[0] >= 0))
    if math.isnan(t) or math.isnan(a) or a == 0:
        return math.nan
    with np.errstate(all="ignore"):
        log_based = np.exp(special.gammaln(t + 1) - special.gammaln(t + a)) * np.float64(population) ** a
        if t + 1 <= 0 or t + a <= 0:  # Apache's logGamma is NaN there
            log_based = np.float64(math.nan)
        direct = special.gamma(t + 1) / special.gamma(t + a) * np.float64(population) ** a
    candidates = [float(v) for v in (log_based, direct) if 0 <= v <= population]
    return max(candidates) if candidates else math.nan


def _snb(sizes: np.ndarray, counts: np.ndarray, fraction: float) -> float:
    """Return the population uniques by the SNB model (Chen 1998), as ARX ``ModelSNB``.

    ARX's second equation multiplies by ``(1 - d)^(a + 2)`` where its Jacobian (and Chen) divide, so
    Newton-Raphson seldom converges and ARX seldom has an SNB estimate; both are kept as ARX has them.
    """
    f = fraction
    size_f, count_f = sizes.astype(np.float64), counts.astype(np.float64)
    c1 = float(counts[sizes == 1].sum())
    c2 = float(counts[sizes == 2].sum())
    with np.errstate(all="ignore"):
        # Shlosser's estimate of the non-empty population classes, including ARX's "- 1" per class size
        kept = (1 - f) ** size_f * count_f
        var1 = (size_f * f * f * (1 - f * f) ** (size_f - 1) * count_f).sum()
        var2 = (kept * (1 + f) ** size_f - 1).sum()
        var4 = (size_f * f * (1 - f) ** (size_f - 1) * count_f).sum()
        k = counts.sum() + c1 * (var1 / var2) * (kept.sum() / var4) ** 2

    def equations(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = x
        d = (1 - f) * (1 - b)
        f1 = k * f * (b / (1 - d)) ** a * (a * d / (1 - d) + 1) - c1
        f2 = k * a * b**a * (f * f) * (1 - b) / 2 * (1 - d) ** (a + 2) * (2 - (1 - a) * d) - c2
        # ARX's derivatives, term by term (obtained by its authors with Matlab)
        v0 = (b - 1) * (f - 1)
        v1 = v0 - 1
        v2 = 1 - v0
        v3 = a * v0 / v1 - 1
        v4 = (-b / v1) ** a
        v6 = f**2
        v7 = b**a
        v9 = a * v7 * v6 * k
        v10 = 2 * v2 ** (a + 2)
        v11 = v1**2
        v13 = f * k
        v14 = f - 1
        v15 = a - 1
        v16 = b - 1
        v17 = v15 * v0
        v18 = v6 * k
        v19 = v17 + 2
        v20 = v18 * v19
        j11 = -v13 * np.log(-b / v1) * v3 * v4 - (v13 * v4 * v0) / v1
        j12 = a * v13 * (1 / v1 - (b * v14) / v11) * v3 * (-b / v1) ** v15 - v13 * v4 * (
            (a * v14) / v1 - (a * v16 * v14**2) / v11
        )
        j21 = (
            (v9 * np.log(v2) * v19 * v16) / v10
            - (v9 * v16**2 * v14) / v10
            - (v7 * v20 * v16) / v10
            - (a * v7 * v18 * np.log(b) * v19 * v16) / v10
        )
        j22 = (
            -(v9 * v19) / v10
            - (a**2 * b**v15 * v20 * v16) / v10
            - (a * v7 * v18 * v17) / v10
            - (a * v7 * v20 * (a + 2) * v0) / (2 * v2 ** (a + 3))
        )
        return np.array([f1, f2]), np.array([[j11, j12], [j21, j22]])

    a, b = _newton_raphson(equations, np.array([1.0, 1.0]))
    with np.errstate(all="ignore"):
        return float(k * np.float64(b) ** a)


def _newton_raphson(
    equations: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    constraint: Callable[[np.ndarray], bool] | None = None,
) -> tuple[float, float]:
    """Return a root of two equations by ARX's Newton-Raphson search, or NaNs when there is none.

    The first try starts at ``start``; as in ARX, a try ends on NaN, on leaving ``constraint`` or after
    its iteration budget, and the next one starts at a random fraction of ``start`` (a seeded generator
    here where ARX uses ``Math.random``, so results are reproducible). ARX's wall-clock limits are not
    imitated.
    """
    random = np.random.default_rng(0)
    total = 0
    solution = start.astype(np.float64)
    first = True
    with np.errstate(all="ignore"):
        while total <= _ITERATIONS_TOTAL:
            if not first:
                solution = random.random(2) * start
            first = False
            iterations = 0
            while True:
                total += 1
                value, jacobian = equations(solution)
                if abs(value[0]) <= _ACCURACY and abs(value[1]) <= _ACCURACY:
                    return float(solution[0]), float(solution[1])
                det = jacobian[0, 0] * jacobian[1, 1] - jacobian[0, 1] * jacobian[1, 0]
                inverse = np.array([[jacobian[1, 1], -jacobian[0, 1]], [-jacobian[1, 0], jacobian[0, 0]]]) / det
                solution = solution - inverse @ value
                if constraint is not None and not constraint(solution):
                    break
                if np.isnan(solution).any() or iterations > _ITERATIONS_PER_TRY:
                    break
                iterations += 1
    return math.nan, math.nan
