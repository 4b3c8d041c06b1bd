"""The disclosure benchmark runs end to end at a tiny size and prints its figures and baselines."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_disclosure_benchmark_prints_cells_times_and_baselines():
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "disclosure.py"),
            "--partners",
            "2",
            "3",
            "--persons",
            "3000",
            "--municipalities",
            "2",
            "--records",
            "5000",
            "--prune-seconds",
            "5",
            "--release-partners",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    assert "primary" in out and "line rule s" in out and "growth: time" in out
    assert "AUDIT FAILED" not in out
    assert "national release, all default tables" in out and "T04" in out and "T10" in out
    assert "risk.assess:" in out and "baseline, k-anonymity" in out
