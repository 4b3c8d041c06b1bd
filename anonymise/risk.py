"""Re-identification risk of the pseudonymised store: k-anonymity over the quasi-identifiers.

A record in an equivalence class of size k (records sharing every quasi-identifier value) is one of k
look-alikes; small classes are where singling out starts. This is the first measure the DPO report
shows; sdcMicro's and ARX's full set (individual risk, expected re-identifications, uniqueness in the
population) comes with issue 5.

>>> f = pl.DataFrame({"a": [1, 1, 1, 2], "b": ["x", "x", "x", "y"]})
>>> k_anonymity(f, ["a", "b"])
{'records': 4, 'classes': 2, 'min_k': 1, 'records_below_k': {'2': 1, '3': 1, '5': 4}, 'sample_uniques': 1}
"""

from __future__ import annotations

import polars as pl


def k_anonymity(frame: pl.DataFrame, quasi_identifiers: list[str]) -> dict[str, object]:
    """Return min k, class count, records in classes smaller than 2, 3 and 5, and sample uniques."""
    if frame.height == 0:
        return {"records": 0, "classes": 0, "min_k": None, "records_below_k": {}, "sample_uniques": 0}
    sizes = frame.group_by(quasi_identifiers).len()
    fk = frame.join(sizes, on=quasi_identifiers, how="left", nulls_equal=True)["len"]
    return {
        "records": frame.height,
        "classes": sizes.height,
        "min_k": int(sizes["len"].min()),  # type: ignore[arg-type]
        "records_below_k": {str(k): int((fk < k).sum()) for k in (2, 3, 5)},
        "sample_uniques": int((fk == 1).sum()),
    }
