"""End to end: the cell key method and differential privacy chosen in the policy, run by the real flow.

Two cell-key releases of one workspace (two partners, then the first alone); one differentially private
release of one small partner, charged to a series ledger that already holds a release (a ledger from
before seals, sealed by the DPO after review), and a second that the ledger refuses (it stops before
noise is drawn); and, in a workspace of its own, a run that fails after reserving its budget (which
stays spent) followed by one that publishes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import stat
from pathlib import Path

import polars as pl
import pytest

from anonymise.cellkey import KEY_BITS, ptable
from anonymise.dp import LedgerError, published_cells, seal_ledger
from anonymise.ministry import SPECS
from flows import stages
from flows.governance import approve
from flows.keystore import open_store
from flows.publish import verify_release
from flows.report import render_html
from flows.workspace import Workspace
from tests.workspaces import prepare

PERIOD = "2025"
FIRST = "ruse-svetilnik"  # first in the partner registry: its persons' attributes come from it in every run
T04_TOTAL = {"geo": "_T", "partner": "_T", "service": "_T", "age_band": "_T", "sex": "_T"}


def use_method(ws: Workspace, method: str, **changes: str) -> None:
    """Switch the workspace policy to ``method`` (and replace lines of it), then have the DPO approve it."""
    text = ws.policy.read_text("utf-8").replace('method = "suppression"', f'method = "{method}"')
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    ws.policy.write_text(text, "utf-8")
    approve(ws, None, os.environ["ZAKRILA_DPO_PASSPHRASE"])


def read(release: Path, table: str) -> pl.DataFrame:
    """Return a release table as the ministry reads it (values as integers)."""
    return pl.read_csv(release / f"{table}.csv", infer_schema=False).with_columns(pl.col("value").cast(pl.Int64))


def at(frame: pl.DataFrame, **cell: str) -> int:
    """Return the value of one cell."""
    return int(frame.filter(*[pl.col(k) == v for k, v in cell.items()])["value"].item())


def entrants_above_persons(release: Path) -> int:
    """Return how many cells of T04 publish more new entrants than unique persons (its at_most bound)."""
    t04 = read(release, "T04")
    cell = [c for c in t04.columns if c not in ("measure", "value", "conf_status")]
    wide = t04.pivot(on="measure", index=cell, values="value")
    assert wide.height * 2 == t04.height  # every cell publishes both measures
    return wide.filter(pl.col("new_entrants") > pl.col("unique_persons")).height


@pytest.fixture(scope="module")
def inboxes(tmp_path_factory):
    from flows.synth import generate

    root = tmp_path_factory.mktemp("methods")
    both = root / "inbox-both"
    generate(both, scale=0.1, seed=5, defects=0.0)
    for folder in both.iterdir():
        if folder.is_dir() and folder.name not in (FIRST, "plovdiv-ksuds"):
            shutil.rmtree(folder)
    alone = root / "inbox-first"
    shutil.copytree(both / FIRST, alone / FIRST)
    return root, both, alone


@pytest.fixture(scope="module")
def cell_key(inboxes, prefect_server):
    from flows.pipeline import run_pipeline

    root, both, alone = inboxes
    ws = prepare(root / "ws-cellkey")
    use_method(ws, "cell_key")
    runs = [run_pipeline(inbox=inbox, workspace=ws.root, period=PERIOD, jurisdiction="bg") for inbox in (both, alone)]
    reports = [json.loads((Path(r["report"]) / "report.json").read_text("utf-8")) for r in runs]
    return ws, runs, reports


@pytest.fixture(scope="module")
def dp(inboxes, prefect_server):
    from flows.pipeline import run_pipeline

    root, _, alone = inboxes
    ws = prepare(root / "ws-dp")
    use_method(ws, "dp", **{"series_epsilon_cap = 4.0": "series_epsilon_cap = 2.5"})
    earlier = {
        "series": "bg",
        "epsilon_cap": 2.5,
        "delta_cap": 0.0,
        "charges": [{"release_id": "bg-2024-earlier", "epsilon": 1.0, "delta": 0.0}],
    }
    (ws.root / "ledgers").mkdir()
    (ws.root / "ledgers" / "bg.json").write_text(json.dumps(earlier), "utf-8")
    # a ledger from before seals is refused until the DPO has reviewed and sealed it (zakrila ledger seal)
    key = stages.ledger_key(ws, "bg")
    with pytest.raises(LedgerError, match="is not sealed"):
        stages.budget_ledger(ws, "bg", 2.5, 0.0)
    seal_ledger(ws.root / "ledgers" / "bg.json", "bg", key=key, reviewed=True, note="2024 ledger checked by the DPO")
    run = run_pipeline(inbox=alone, workspace=ws.root, period=PERIOD, jurisdiction="bg")
    return ws, run, json.loads((Path(run["report"]) / "report.json").read_text("utf-8"))


# --- the cell key method -----------------------------------------------------------------------------


def test_cell_key_releases_are_signed_perturbed_and_never_publish_1_to_js(cell_key):
    _, runs, _ = cell_key
    for run in runs:
        release = Path(run["release_dir"])
        assert verify_release(release).ok
        manifest = json.loads((release / "manifest.json").read_text("utf-8"))
        assert (
            manifest["disclosure"]["T04"] | {"D": 5, "V": 3.0, "js": 2, "method": "cell_key"}
            == manifest["disclosure"]["T04"]
        )
        assert manifest["disclosure_control"]["method"] == "cell_key"
        assert "same published value" in manifest["disclosure_control"]["guarantee"]
        for table in ("T04", "T10"):
            frame = read(release, table)
            assert set(frame["conf_status"]) == {"P"} and frame["value"].min() >= 0
            assert frame.filter(pl.col("value").is_between(1, 2)).height == 0


def test_same_contributors_publish_the_same_value_in_every_table_and_release(cell_key):
    ws, runs, _ = cell_key
    first, second = (Path(r["release_dir"]) for r in runs)
    assert first != second
    dims = ["geo", "partner", "service", "age_band", "sex", "measure"]
    # The first partner's cells count the same people in both releases (its attributes win in both).
    mine = [
        read(r, "T04").filter((pl.col("partner") == FIRST) & (pl.col("measure") == "unique_persons"))
        for r in (first, second)
    ]
    both = mine[0].join(mine[1], on=dims, suffix="_2")
    assert both.height == mine[0].height == mine[1].height and both.filter(pl.col("value") > 2).height >= 10
    assert (both["value"] == both["value_2"]).all()
    # The national total of T04 and of T10 counts the same people served: the same value in both tables.
    for release in (first, second):
        assert at(read(release, "T04"), **T04_TOTAL, measure="unique_persons") == at(
            read(release, "T10"), geo="_T", rural="_T", age_band="_T"
        )
    # ... and it is what the cell key method gives, computed here with the standard library alone.
    store = ws.root / "store" / "bg" / PERIOD / FIRST
    events = pl.concat([pl.read_parquet(f) for f in store.rglob("events.parquet")])
    served = set(events.filter(pl.col("month").str.starts_with(PERIOD))["person_cid"].to_list())
    key = open_store(ws.keys).key("bg-central", "record")
    total = sum(int.from_bytes(hmac.digest(key, p.encode(), hashlib.sha256)[: KEY_BITS // 8], "big") for p in served)
    cell_key = (total % 2**KEY_BITS) / 2**KEY_BITS
    row = ptable(D=5, V=3.0, js=2).rows[-1]
    (noise,) = [v for v, lo, up in zip(row.noise, row.lower, row.upper, strict=True) if lo <= cell_key < up]
    assert at(read(second, "T04"), **T04_TOTAL, measure="unique_persons") == len(served) + noise


def test_the_report_states_d_v_js_and_the_ptable_properties(cell_key):
    _, runs, reports = cell_key
    d = reports[0]["disclosure"]
    assert d["method"] == "cell_key" and d["parameters"] == {"D": 5, "V": 3.0, "js": 2}
    assert d["ptable"]["largest_absolute_mean"] < 1e-6 and d["ptable"]["largest_noise"] == 5
    assert d["ptable"]["variance_by_count"][str(d["ptable"]["symmetry"])] == pytest.approx(3.0)
    assert all(d["checks"].values())
    assert d["tables"]["T04"]["audit"]["passed"] and d["tables"]["T04"]["largest_deviation"] <= 5
    assert d["history"]["not_needed"]
    page = render_html(reports[0])
    for text in ("cell key method", "D = 5", "p-table SHA-256", "same contributors same value"):
        assert text in page, text


def test_cell_key_releases_keep_at_most_and_say_which_relations_do_not_hold(cell_key):
    _, runs, reports = cell_key
    for run, report in zip(runs, reports, strict=True):
        release = Path(run["release_dir"])
        assert entrants_above_persons(release) == 0
        manifest = json.loads((release / "manifest.json").read_text("utf-8"))
        t04, t10 = (manifest["disclosure"][t]["published_relations"] for t in ("T04", "T10"))
        assert any("new_entrants ≤ unique_persons" in x for x in t04["hold"])
        assert not any("new_entrants" in x for x in t10["hold"])
        assert any("not the sum of its published children" in x for x in t04["do_not_hold"] + t10["do_not_hold"])
        d = report["disclosure"]
        assert d["checks"]["relations_hold"] and d["checks"]["same_contributors_same_value"]
        assert any(x.startswith("T04: new_entrants ≤ unique_persons") for x in d["relations"]["hold"])
        assert d["ptable"]["actual_variance"]["from_symmetry_on"] == pytest.approx(3.0)
        assert d["ptable"]["actual_variance"]["smallest"] <= d["ptable"]["actual_variance"]["largest"] <= 3.0 + 1e-6
        assert "at_most bounds hold" in d["tables"]["T04"]["audit"]["method"]
        page = render_html(report)
        for text in ("Actual variance of the p-table", "Do <b>not</b> hold", "not the sum of its published children"):
            assert text in page, text


# --- differential privacy ----------------------------------------------------------------------------


def test_dp_publishes_every_cell_of_the_code_lists_with_noise(dp):
    _, run, _ = dp
    release = Path(run["release_dir"])
    assert verify_release(release).ok
    for table in ("T04", "T10"):
        frame = read(release, table)
        assert frame.height == published_cells(SPECS[table]) * len(SPECS[table].measures)
        assert set(frame["conf_status"]) == {"P"} and frame["value"].min() >= 0
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    assert manifest["disclosure"]["T04"]["method"] == "dp" and manifest["disclosure"]["T04"]["groups_per_person"] == 4
    assert 0 < manifest["disclosure_control"]["epsilon"] <= 1.0


def test_dp_release_is_charged_to_the_series_ledger_and_the_report_prints_it(dp):
    ws, run, report = dp
    ledger = json.loads((ws.root / "ledgers" / "bg.json").read_text("utf-8"))
    assert [c["release_id"] for c in ledger["charges"]] == ["bg-2024-earlier", run["release_id"]]
    assert [(c["run_id"], c["status"]) for c in ledger["charges"]] == [
        (None, "published"),
        (run["run_id"], "published"),
    ]
    assert ledger["seal"]["key_id"] == "bg-central#1" and ledger["reviews"][0]["found"] == "it is not sealed"
    text = (ws.root / "ledgers" / "bg.json").read_text("utf-8")
    assert not [m for m in open_store(ws.keys).material() if m.hex() in text]  # a MAC, never a key
    budget = report["disclosure"]["budget"]
    assert 0 < budget["epsilon_release"] <= 1.0 and budget["epsilon_series"] == pytest.approx(
        1 + budget["epsilon_release"]
    )
    assert budget["epsilon_cap"] == 2.5 and budget["groups_per_person"] == 4 and budget["mechanism"] == "laplace"
    assert budget["ledger"]["charges"] == ledger["charges"]
    assert (
        budget["epsilon_remaining"] == pytest.approx(2.5 - budget["epsilon_series"]) and budget["delta_remaining"] == 0
    )
    assert stat.S_IMODE((ws.root / "ledgers" / "bg.json").stat().st_mode) == 0o600
    for table in ("T04", "T10"):
        for measure in SPECS[table].measure_names:
            noise = budget["noise_by_measure"][table][measure]
            assert noise["scale"] == budget["scale"] > 0 and noise["interval"][1] == int(budget["accuracy"])
            assert noise["cells"] == published_cells(SPECS[table])
    assert budget["noise_by_measure"]["T04"]["new_entrants"]["clamped_to"] == "unique_persons"
    page = render_html(report)
    assert "Privacy budget of series bg" in page and run["release_id"] in page
    for text in ("Remaining in the series", "accuracy interval", "clamped to unique_persons"):
        assert text in page, text


def test_dp_release_keeps_at_most_and_says_which_relations_do_not_hold(dp):
    _, run, report = dp
    release = Path(run["release_dir"])
    assert entrants_above_persons(release) == 0
    manifest = json.loads((release / "manifest.json").read_text("utf-8"))
    stated = manifest["disclosure"]["T04"]["published_relations"]
    assert any("new_entrants ≤ unique_persons" in x for x in stated["hold"])
    assert any("not the sum of its published children" in x for x in stated["do_not_hold"])
    assert "need not add up" in manifest["disclosure_control"]["guarantee"]
    assert any("not the sum" in x for x in report["disclosure"]["relations"]["do_not_hold"])


def test_a_dp_release_beyond_the_series_cap_is_refused_before_any_noise(dp, inboxes):
    from flows.pipeline import RunFailed, run_pipeline

    ws, run, _ = dp
    before = (ws.root / "ledgers" / "bg.json").read_text("utf-8")
    releases = sorted(p.name for p in ws.releases.iterdir())
    with pytest.raises(RunFailed, match="privacy budget of series 'bg' exceeded") as refused:
        run_pipeline(inbox=inboxes[2], workspace=ws.root, period=PERIOD, jurisdiction="bg")
    assert "cap ε=2.5" in str(refused.value) and "no release written" in str(refused.value)
    assert (ws.root / "ledgers" / "bg.json").read_text("utf-8") == before
    assert sorted(p.name for p in ws.releases.iterdir()) == releases
    latest = max((p for p in ws.reports.iterdir() if p.name != Path(run["report"]).name), key=lambda p: p.name)
    report = json.loads((latest / "report.json").read_text("utf-8"))
    assert report["status"] == "no_release" and "privacy budget" in report["failure"]
    assert report["disclosure"]["refused"] == report["failure"]
    assert report["disclosure"]["budget"]["epsilon_series"] is None  # nothing spent by the refused run
    assert "refused" in render_html(report)


def test_a_reset_or_corrupt_ledger_stops_the_series_with_a_clear_error(dp, inboxes):
    from anonymise.dp import LedgerError
    from flows import stages
    from flows.pipeline import RunFailed, run_pipeline

    ws, run, _ = dp
    path = ws.root / "ledgers" / "bg.json"
    original = path.read_text("utf-8")
    try:
        # deleted: the release already published with differential privacy is no longer charged
        path.unlink()
        with pytest.raises(LedgerError, match=run["release_id"]) as reset:
            stages.budget_ledger(ws, "bg", 2.5, 0.0)
        assert str(path) in str(reset.value)

        # hand-edited: a charge removed while the totals still count it
        data = json.loads(original)
        data["charges"] = data["charges"][:1]
        path.write_text(json.dumps(data), "utf-8")
        with pytest.raises(LedgerError, match="edited by hand") as edited:
            stages.budget_ledger(ws, "bg", 2.5, 0.0)
        assert str(path) in str(edited.value)

        # hand-edited with care: the earlier charge removed and the totals fixed; only the seal tells
        data = json.loads(original)
        data["charges"] = data["charges"][1:]
        spent = data["charges"][0]["epsilon"]
        data |= {"epsilon_spent": spent, "epsilon_remaining": 2.5 - spent}
        path.write_text(json.dumps(data, indent=2), "utf-8")
        releases = sorted(p.name for p in ws.releases.iterdir())
        with pytest.raises(RunFailed, match="does not match its seal") as refused:
            run_pipeline(inbox=inboxes[2], workspace=ws.root, period=PERIOD, jurisdiction="bg")
        assert str(path) in str(refused.value) and "no noise was drawn" in str(refused.value)
        assert json.loads(path.read_text("utf-8")) == data  # never reset or rewritten
        assert sorted(p.name for p in ws.releases.iterdir()) == releases
        for material in open_store(ws.keys).material():
            assert material.hex() not in str(refused.value)
    finally:
        path.write_text(original, "utf-8")


def test_a_dp_run_charges_before_drawing_and_a_run_failing_after_keeps_its_budget_spent(
    inboxes, prefect_server, monkeypatch
):
    import anonymise.dp as module
    from flows.pipeline import RunFailed, run_pipeline

    root, _, alone = inboxes
    ws = prepare(root / "ws-dp-failing")
    use_method(ws, "dp")
    path = ws.root / "ledgers" / "bg.json"
    seen_at_draw: list[list[dict[str, object]]] = []
    calibrate = module._calibrate

    def spied(*args):
        noise, *rest = calibrate(*args)

        def draw(counts):
            seen_at_draw.append(json.loads(path.read_text("utf-8"))["charges"])  # the ledger as the noise is drawn
            return noise(counts)

        return (draw, *rest)

    audit = stages.audit_stage

    def failing_audit(*args):
        out = audit(*args)
        out["T04"] = out["T04"] | {"passed": False, "findings": ["T04: failed on purpose"]}
        return out

    monkeypatch.setattr(module, "_calibrate", spied)
    monkeypatch.setattr(stages, "audit_stage", failing_audit)
    with pytest.raises(RunFailed, match="disclosure audit failed for T04"):
        run_pipeline(inbox=alone, workspace=ws.root, period=PERIOD, jurisdiction="bg")
    (report_dir,) = ws.reports.iterdir()
    report = json.loads((report_dir / "report.json").read_text("utf-8"))
    (charges,) = seen_at_draw
    assert charges == [
        {
            "release_id": None,
            "run_id": report_dir.name,
            "status": "reserved",
            "epsilon": charges[0]["epsilon"],
            "delta": 0.0,
        }
    ]
    ledger = json.loads(path.read_text("utf-8"))
    assert ledger["charges"] == charges  # nothing published, and the budget stays spent
    assert not ws.releases.exists() or not any(ws.releases.iterdir())
    budget = report["disclosure"]["budget"]
    assert report["status"] == "no_release"
    assert budget["epsilon_release"] == charges[0]["epsilon"] == budget["epsilon_series"] > 0
    assert budget["epsilon_remaining"] == pytest.approx(4.0 - budget["epsilon_series"])
    assert "stays spent" in budget["composition"]

    # the next run is charged on its own: the failed run's charge is neither reused nor charged twice
    monkeypatch.setattr(stages, "audit_stage", audit)
    seen_at_draw.clear()
    run = run_pipeline(inbox=alone, workspace=ws.root, period=PERIOD, jurisdiction="bg")
    ledger = json.loads(path.read_text("utf-8"))
    assert [(c["run_id"], c["release_id"], c["status"]) for c in ledger["charges"]] == [
        (report_dir.name, None, "reserved"),
        (run["run_id"], run["release_id"], "published"),
    ]
    assert [c["status"] for c in seen_at_draw[0]] == ["reserved", "reserved"]  # charged before its noise too
    report = json.loads((Path(run["report"]) / "report.json").read_text("utf-8"))
    assert report["disclosure"]["budget"]["epsilon_series"] == pytest.approx(ledger["epsilon_spent"])
    assert report["disclosure"]["budget"]["epsilon_series_before"] == pytest.approx(charges[0]["epsilon"])
    text = path.read_text("utf-8")
    assert not [m for m in open_store(ws.keys).material() if m.hex() in text]
