"""ESF participation: parents enrolled in the partner's operation, with entry, exit and results.

Only partners that run an ESF/ESF+ operation (``Partner.operation_code``: Ruse and Sofia) send this
file. Parents join when their family's case opens, leave after a few months to a year and a half,
and the common result indicators are recorded four weeks and six months after leaving (empty while
they have not yet passed).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flows.synth.draws import choose, date_series, lookup, rng_for
from schemas.partners import Partner

STAGE_PARTICIPATIONS = 8
JOIN = {"mother": 0.45, "father": 0.15}
RESULT_4W = {"none": 55, "job_search": 18, "education": 6, "qualification": 6, "employment": 15}
RESULT_6M = {"none": 45, "job_search": 12, "education": 6, "qualification": 9, "employment": 28}


def draw_participations(
    partner: Partner, index: int, seed: int, persons: pl.DataFrame, cases: pl.DataFrame, start: int, end: int
) -> pl.DataFrame | None:
    """Return the partner's ESF participations, or None if it runs no ESF operation."""
    if partner.operation_code is None:
        return None
    rng = rng_for(seed, index, STAGE_PARTICIPATIONS)
    relation = persons["relation"].to_numpy().astype(object)
    share = lookup(relation, JOIN, 0.0)
    fam = persons["fam"].to_numpy()
    first_open = np.full(int(fam.max(initial=0)) + 1, end + 1, dtype=np.int64)
    np.minimum.at(first_open, cases["fam"].to_numpy(), cases["opened_day"].to_numpy())
    opened = first_open[fam]
    rows = np.flatnonzero((rng.random(persons.height) < share) & (opened <= end))
    n = int(rows.shape[0])
    entry = np.minimum(np.maximum(opened[rows], start - 120) + rng.integers(0, 31, n), end)
    leave = entry + rng.integers(90, 541, n)
    left = leave <= end
    r4, r6 = choose(rng, RESULT_4W, n), choose(rng, RESULT_6M, n)
    r4[~(left & (leave + 28 <= end))] = None
    r6[~(left & (leave + 183 <= end))] = None
    frame = pl.DataFrame(
        {
            "person_id": persons["person_id"].gather(rows),
            "operation_code": [partner.operation_code] * n,
            "entry_date": date_series(entry, "entry_date"),
            "exit_date": date_series(leave, "exit_date"),
            "result_4w": pl.Series(r4.tolist(), dtype=pl.String),
            "result_6m": pl.Series(r6.tolist(), dtype=pl.String),
        }
    ).with_columns(pl.when(pl.lit(left)).then(pl.col("exit_date")).otherwise(None).alias("exit_date"))
    return frame.sort("entry_date", "person_id", maintain_order=True)
