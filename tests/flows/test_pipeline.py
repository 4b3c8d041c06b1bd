"""End to end: synthetic partners → the real Prefect flow → release and report, checked as users would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from anonymise.pseudonym import pseudonym
from flows.keystore import open_store
from flows.publish import verify_release
from tests.canaries import find_leaks, plant
from tests.workspaces import prepare, t04_totals

PERIOD = "2025"


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, prefect_server, session_root):
    from flows.pipeline import run_pipeline
    from flows.synth import generate

    root = tmp_path_factory.mktemp("e2e")
    inbox = root / "inbox"
    summary = generate(inbox, scale=0.2, seed=11, defects=0.02)
    batch = next((inbox / "plovdiv-ksuds").iterdir())
    canaries = plant(batch)
    ws = root / "ws"
    prepare(ws, tables=None)  # the full default release, once
    result = run_pipeline(inbox=inbox, workspace=ws, period=PERIOD, jurisdiction="bg")
    report = json.loads((Path(result["report"]) / "report.json").read_text("utf-8"))
    return {
        "root": root,
        "inbox": inbox,
        "summary": summary,
        "ws": ws,
        "result": result,
        "report": report,
        "canaries": canaries,
        "session_root": session_root,
    }


def test_a_signed_release_with_t04_and_t11_is_written(e2e):
    release = Path(e2e["result"]["release_dir"])
    tables = ["T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08", "T09", "T10", "T11"]
    assert sorted(p.name for p in release.iterdir()) == sorted(
        [f"{t}.csv" for t in tables] + ["hierarchies.json", "manifest.json", "manifest.sig", "signing-key.pem"]
    )
    assert verify_release(release).ok
    t04 = pl.read_csv(release / "T04.csv", infer_schema=False)
    assert t04.columns == [
        "period",
        "geo",
        "partner",
        "service",
        "age_band",
        "sex",
        "measure",
        "value",
        "conf_status",
    ]
    assert set(t04["conf_status"]) <= {"F", "C", "D"}
    assert t04.filter(pl.col("conf_status") != "F")["value"].is_null().all()
    assert t04.filter(pl.col("conf_status") == "F")["value"].is_not_null().all()
    assert (t04.filter(pl.col("conf_status") == "F")["value"].cast(pl.Int64).is_between(1, 4)).sum() == 0


def test_report_json_has_the_public_keys(e2e):
    r = e2e["report"]
    for key in ("run_id", "period", "policy_hash", "inputs", "quarantine_reasons", "release_id", "release_files"):
        assert key in r, key
    assert r["period"] == PERIOD and r["release_id"] == e2e["result"]["release_id"]
    assert {"T04.csv", "T10.csv", "T11.csv", "hierarchies.json"} <= set(r["release_files"])
    assert "T12.csv" not in r["release_files"] and "T05.csv" in r["release_files"]
    assert r["disclosure"]["tables"]["T04"]["audit"]["passed"]
    assert set(r["disclosure"]["tables"]["T09"]["group_disclosure"]) == {"100%", "0%", "zero_protected_below"}
    assert r["pseudonymisation"]["collisions"] == 0


def test_received_equals_accepted_plus_quarantined_per_partner_and_entity(e2e):
    truth = json.loads(e2e["summary"].truth_path.read_text("utf-8"))
    inputs = e2e["report"]["inputs"]
    assert set(inputs) == {"ruse-svetilnik", "plovdiv-ksuds", "sofia-kisuds", "ruzhintsi-ksuds"}
    for partner, entities in inputs.items():
        for entity, v in entities.items():
            assert v["received"] == v["accepted"] + v["quarantined"], (partner, entity)
            planted = 0
            if partner == "plovdiv-ksuds":
                planted = {"persons": 1, "memberships": 1, "cases": 1, "events": 3}.get(entity, 0)
            assert v["received"] == truth["counts"][partner][entity] + planted, (partner, entity)
    assert e2e["report"]["quality"]["reconciles"]


def test_every_planted_defect_is_quarantined_with_its_reason(e2e):
    truth = json.loads(e2e["summary"].truth_path.read_text("utf-8"))
    ws = e2e["ws"]
    planted = [p for p in truth["planted"] if p["partner"] != "samara-krug"]
    assert planted, "the generator planted no defects"
    for p in planted:
        q = pl.read_csv(ws / "quarantine" / p["partner"] / p["batch"] / f"{p['entity']}.csv")
        row = q.filter(pl.col("_row") == p["row"])
        assert row.height == 1, p
        assert f"{p['reason']}:{p['field']}" in row["reasons"].item().split(";"), (p, row["reasons"].item())


def test_a_child_served_by_two_partners_counts_once_nationally(e2e):
    truth = json.loads(e2e["summary"].truth_path.read_text("utf-8"))
    ws = e2e["ws"]
    keys = open_store(ws / "keys")
    store = ws / "store" / "bg" / PERIOD
    linked = 0
    for child in truth["cross_partner_children"]:
        cids = set()
        for partner, person_id in zip(child["partners"], child["person_ids"], strict=True):
            persons = pl.concat([pl.read_parquet(f) for f in (store / partner).rglob("persons.parquet")])
            pid = pl.DataFrame({"v": [person_id]}).select(pseudonym("v", keys.key(f"local:{partner}", "person")))
            match = persons.filter(pl.col("person_pid") == pid["v"].item())
            cids.update(match["person_cid"].to_list())
        if cids:
            assert len(cids) == 1, child
            linked += 1
    assert linked >= 1
    totals = t04_totals(e2e["result"]["release_dir"], but="partner")
    national = int(totals.filter(pl.col("partner") == "_T")["value"].item())
    events = pl.concat([pl.read_parquet(f) for f in store.rglob("events.parquet")])
    in_period = events.filter(pl.col("month").str.starts_with(PERIOD))
    assert national == in_period["person_cid"].n_unique()
    per_partner = dict(in_period.group_by("partner_id").agg(pl.col("person_cid").n_unique()).iter_rows())
    assert national < sum(per_partner.values())  # someone is counted by two partners, once nationally
    for partner, value, status in (
        totals.filter(pl.col("partner") != "_T").select("partner", "value", "conf_status").rows()
    ):
        if status == "F":
            assert int(value) == per_partner[partner]


def test_no_canary_leaves_the_inbox_and_the_key_store(e2e, tmp_path_factory):
    root = e2e["session_root"]
    inbox_hits = find_leaks([e2e["inbox"]], exclude=[])  # the inbox itself is searched when it is the root
    assert len(inbox_hits) >= 5, "the canaries were not planted: this test would prove nothing"
    # the run's workspace, Prefect's home and database, and every temp file outside pytest's test folders
    leaks = find_leaks([e2e["ws"]], exclude=[e2e["ws"] / "keys"]) + find_leaks(
        [root], exclude=[tmp_path_factory.getbasetemp()]
    )
    assert leaks == []
    assert any((root / "tmp").rglob("*.db")) or any((root / "prefect-home").rglob("*.db")), (
        "no Prefect database searched"
    )


def test_the_same_inputs_and_keys_give_a_byte_identical_release(e2e, tmp_path):
    from flows.pipeline import run_pipeline

    ws2 = tmp_path / "ws2"
    shutil.copytree(e2e["ws"] / "keys", ws2 / "keys")
    for name in ("policy.toml", "policy.approval.json"):
        shutil.copy(e2e["ws"] / name, ws2 / name)
    again = run_pipeline(inbox=e2e["inbox"], workspace=ws2, period=PERIOD, jurisdiction="bg")
    assert again["release_id"] == e2e["result"]["release_id"]
    first, second = Path(e2e["result"]["release_dir"]), Path(again["release_dir"])
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_malformed_batches_fail_alone_with_file_line_and_problem(e2e, tmp_path):
    from flows.pipeline import run_pipeline

    inbox = tmp_path / "inbox"
    shutil.copytree(e2e["inbox"], inbox)
    sofia = next((inbox / "sofia-kisuds").iterdir())
    (sofia / "persons.csv").write_bytes((sofia / "persons.csv").read_text("utf-8").encode("cp1251", "replace"))
    ruse = next((inbox / "ruse-svetilnik").iterdir())
    text = (ruse / "events.csv").read_text("utf-8")
    (ruse / "events.csv").write_text(text[: len(text) // 2].rstrip("\n").rsplit(",", 2)[0], "utf-8")
    ruzh = next((inbox / "ruzhintsi-ksuds").iterdir())
    lines = (ruzh / "memberships.csv").read_text("utf-8").splitlines()
    (ruzh / "memberships.csv").write_text("\n".join(ln.rsplit(",", 1)[0] for ln in lines) + "\n", "utf-8")

    result = run_pipeline(inbox=inbox, workspace=prepare(tmp_path / "ws").root, period=PERIOD, jurisdiction="bg")
    report = json.loads((Path(result["report"]) / "report.json").read_text("utf-8"))
    failed = {b["partner"]: b["error"] for b in report["input_batches"] if b["status"] == "failed"}
    assert set(failed) == {"sofia-kisuds", "ruse-svetilnik", "ruzhintsi-ksuds"}
    assert "persons.csv, line" in failed["sofia-kisuds"] and "UTF-8" in failed["sofia-kisuds"]
    assert "events.csv, line" in failed["ruse-svetilnik"] and "truncated" in failed["ruse-svetilnik"]
    assert "memberships.csv, line 1: missing column(s) valid_to" in failed["ruzhintsi-ksuds"]
    assert set(report["inputs"]) == {"plovdiv-ksuds"}
    assert verify_release(Path(result["release_dir"])).ok
    # the release itself says which partners its national totals cover
    manifest = json.loads((Path(result["release_dir"]) / "manifest.json").read_text("utf-8"))
    assert manifest["coverage"]["partners"] == ["plovdiv-ksuds"]
    assert {b.split("/")[0] for b in manifest["coverage"]["unreadable_batches"]} == set(failed)
    t11 = pl.read_csv(Path(result["release_dir"]) / "T11.csv", infer_schema=False).filter(
        pl.col("measure") == "batches"
    )
    assert sorted(t11.select("partner", "check", "value").rows()) == [
        ("plovdiv-ksuds", "read", "1"),
        ("ruse-svetilnik", "unreadable", "1"),
        ("ruzhintsi-ksuds", "unreadable", "1"),
        ("sofia-kisuds", "unreadable", "1"),
    ]


def test_the_russian_pilot_runs_in_its_own_domain_and_never_in_the_bulgarian_run(e2e, tmp_path):
    from flows.pipeline import run_pipeline

    assert "samara-krug" not in e2e["report"]["inputs"]
    assert any("samara-krug" in s for s in e2e["report"]["skipped_folders"])
    ws = prepare(tmp_path / "ws-ru", tables=("T11", "T12")).root
    result = run_pipeline(inbox=e2e["inbox"], workspace=ws, period=PERIOD, jurisdiction="ru")
    report = json.loads((Path(result["report"]) / "report.json").read_text("utf-8"))
    assert set(report["inputs"]) == {"samara-krug"}
    assert report["release_files"] == ["T11.csv", "T12.csv", "hierarchies.json"]
    domains = {d["domain"] for d in report["pseudonymisation"]["domains"]}
    assert domains == {"local:samara-krug", "ru"}
    ru_persons = pl.read_parquet(next((ws / "store" / "ru").rglob("persons.parquet")))
    # the store keeps the district group of the person's OKTMO settlement, and T12 publishes by it
    assert "samara" in set(ru_persons["district_group"])
    t12 = pl.read_csv(next((ws / "releases").rglob("T12.csv")), infer_schema=False)
    assert "samara" in set(t12["district_group"])
    ru_cids = set(ru_persons["person_cid"])
    bg_cids = set(
        pl.concat([pl.read_parquet(f) for f in (e2e["ws"] / "store" / "bg").rglob("persons.parquet")])["person_cid"]
    )
    assert ru_cids and not ru_cids & bg_cids


def test_the_html_report_renders_in_a_real_browser(e2e, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: .ci/run installs it (apt-get install chromium)")
    page = Path(e2e["result"]["report"]) / "report.html"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for text in (
        "Доклад за анонимизация",
        "A. Идентичност",
        "H. Решение",
        e2e["result"]["release_id"],
        "reconciles",
        "passed",
        "Group disclosure scan of T09",
    ):
        assert text in dom, text
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 20_000


def test_cli_run_and_verify_exit_codes(e2e, tmp_path):
    cli = [sys.executable, "-m", "flows.cli"]
    bad = subprocess.run(
        [*cli, "run", "--inbox", str(e2e["inbox"]), "--workspace", str(tmp_path / "w"), "--period", "2025-Q9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "YYYY-Qn" in bad.stderr
    ok = subprocess.run([*cli, "verify", e2e["result"]["release_dir"]], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    release = Path(e2e["result"]["release_dir"])
    tampered = tmp_path / "tampered"
    shutil.copytree(release, tampered)
    (tampered / "T11.csv").write_text("period\n", "utf-8")
    fail = subprocess.run([*cli, "verify", str(tampered)], capture_output=True, text=True, timeout=120)
    assert fail.returncode == 1 and "T11.csv" in fail.stderr


def test_an_unexpected_error_in_a_stage_never_carries_its_message(monkeypatch):
    from flows.pipeline import StageFailed, stage

    def leaky() -> None:
        raise ValueError("could not parse 'Канарийка Зюмбюлеврунова' as date")

    monkeypatch.delenv("ZAKRILA_DEBUG", raising=False)
    with pytest.raises(StageFailed) as err:
        stage("check-contract")(leaky).fn()
    assert str(err.value) == "stage check-contract failed with ValueError"
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_formula_text_never_reaches_an_output_unescaped(e2e):
    truth = json.loads(e2e["summary"].truth_path.read_text("utf-8"))
    assert truth["formula_cells"], "the generator planted no formula text"
    for path in e2e["ws"].rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".html") and "keys" not in path.parts:
            text = path.read_text("utf-8")
            for formula in ("=HYPERLINK", "@SUM("):
                assert formula not in text, path


def test_cli_run_writes_a_release_and_exits_zero(tmp_path, session_root):
    from tests.batches import write_batch

    inbox = tmp_path / "inbox"
    for partner in ("ruse-svetilnik", "plovdiv-ksuds"):
        write_batch(inbox, partner)
    prepare(tmp_path / "ws")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--inbox",
            str(inbox),
            "--workspace",
            str(tmp_path / "ws"),
            "--period",
            "2025-H1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert Path(result["release_dir"]).is_dir() and result["release_id"].startswith("bg-2025-H1-")
    assert "report.html" in run.stderr


def test_a_run_with_no_readable_batch_writes_no_release_and_says_why(tmp_path, prefect_server):
    from flows.pipeline import RunFailed, run_pipeline
    from tests.batches import write_batch

    inbox = tmp_path / "inbox"
    folder = write_batch(inbox)
    (folder / "persons.csv").write_bytes(b"\xff\xfe not a csv")
    prepare(tmp_path / "ws")
    with pytest.raises(RunFailed, match="no batch could be read"):
        run_pipeline(inbox=inbox, workspace=tmp_path / "ws", period="2025", jurisdiction="bg")
    assert not (tmp_path / "ws" / "releases").exists()
    report = json.loads(next((tmp_path / "ws" / "reports").rglob("report.json")).read_text("utf-8"))
    assert report["status"] == "no_release" and "persons.csv, line 1" in report["input_batches"][0]["error"]


def test_the_release_passes_the_audit_from_its_files_alone(e2e):
    import anonymise

    release = Path(e2e["result"]["release_dir"])
    assert anonymise.audit(release) == []
    hierarchies = json.loads((release / "hierarchies.json").read_text("utf-8"))
    for table in ("T04", "T10", "T11"):
        header = pl.read_csv(release / f"{table}.csv", n_rows=0).columns
        dims = [c for c in header if c not in ("period", "measure", "value", "conf_status")]
        assert sorted(hierarchies[table]) == sorted(dims)
        for d in dims:
            assert set(hierarchies[table][d]) == {"additive", "parent"}
    assert hierarchies["T04"]["sex"] == {"additive": True, "parent": {"f": "_T", "m": "_T", "u": "_T", "x": "_T"}}
    assert hierarchies["T04"]["geo"]["parent"]["BG323"] == "BG32" and hierarchies["T04"]["partner"]["additive"] is False
    disclosure = json.loads((release / "manifest.json").read_text("utf-8"))["disclosure"]
    assert disclosure["T04"]["at_most"] == {"new_entrants": "unique_persons"}
    # what release history relies on is stated: persons served grow with the period; age band and
    # residence are measured at its end
    assert disclosure["T04"]["grows_with_period"] == ["unique_persons", "new_entrants"]
    assert {"geo", "age_band"} <= set(disclosure["T04"]["varies_with_period"])
    assert "sex" not in disclosure["T04"]["varies_with_period"]
    # T09: no published count of a Child Guarantee group equals its published population (100 %)
    t09 = pl.read_csv(release / "T09.csv", schema_overrides={"value": pl.Int64}).filter(
        pl.col("measure") == "children_reached"
    )
    population = t09.filter(pl.col("group") == "_T").select("geo", "cg_area", pl.col("value").alias("population"))
    groups = t09.filter(pl.col("group").is_in(["disability", "minority", "homeless", "precarious_family"]))
    whole = groups.join(population, on=["geo", "cg_area"]).filter(
        (pl.col("population") > 0) & (pl.col("value") == pl.col("population"))
    )
    assert whole.height == 0, whole


def test_publishing_any_secondary_cell_of_the_release_back_is_a_finding(e2e):
    # The must-hold: every secondary suppression is needed. The true values come from the store.
    import random

    from anonymise.auditing import audit_tables, read_release
    from anonymise.ministry import BUILDERS, Store
    from anonymise.period import Period
    from schemas.partners import PARTNERS

    release = Path(e2e["result"]["release_dir"])
    store_root = e2e["ws"] / "store" / "bg" / PERIOD

    def load(entity: str) -> pl.DataFrame:
        return pl.concat(
            [pl.read_parquet(f) for f in sorted(store_root.rglob(f"{entity}.parquet"))], how="diagonal_relaxed"
        )

    store = Store(Period.parse(PERIOD), "bg", [p.id for p in PARTNERS.values()], load("persons"), load("events"))
    tables, metas = read_release(release)
    rnd = random.Random(0)
    tried = 0
    for tid in ("T04", "T10"):
        truth = BUILDERS[tid](store)
        secondary = tables[tid].with_row_index("i").filter(pl.col("conf_status") == "D")["i"].to_list()
        for i in rnd.sample(secondary, min(6, len(secondary))):
            back = dict(tables)
            back[tid] = tables[tid].with_columns(
                pl.when(pl.int_range(pl.len()) == i)
                .then(float(truth["value"][i]))
                .otherwise(pl.col("value"))
                .alias("value")
            )
            assert not audit_tables(back, metas).passed, tables[tid].row(i)
            tried += 1
    assert tried >= 6
