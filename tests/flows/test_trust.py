"""What a DPO relies on: approved policies only, rotation that keeps linkage, erasure, section D."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from anonymise.policy import PolicyError
from anonymise.pseudonym import pseudonym
from flows.erasure import load_register, record
from flows.keystore import forget_unlocked, open_store
from flows.rotation import rotate
from flows.workspace import Workspace
from tests.canaries import CANARIES, plant
from tests.workspaces import prepare, t04_totals

PERIOD = "2025"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    from flows.synth import generate

    root = tmp_path_factory.mktemp("trust")
    summary = generate(root / "inbox", scale=0.1, seed=5, defects=0.0)
    plant(next((root / "inbox" / "plovdiv-ksuds").iterdir()))
    return {"inbox": root / "inbox", "truth": json.loads(summary.truth_path.read_text("utf-8"))}


def _run(inbox: Path, ws: Workspace) -> dict:
    from flows.pipeline import run_pipeline

    result = run_pipeline(inbox=inbox, workspace=ws.root, period=PERIOD, jurisdiction="bg")
    return json.loads((Path(result["report"]) / "report.json").read_text("utf-8")) | {"result": result}


def _national_total(report: dict) -> int:
    return int(t04_totals(report["result"]["release_dir"])["value"].item())


def _store(ws: Workspace, entity: str) -> pl.DataFrame:
    files = sorted((ws.root / "store" / "bg" / PERIOD).rglob(f"{entity}.parquet"))
    return pl.concat(
        [pl.read_parquet(f).with_columns(pl.lit(f.parent.parent.name).alias("_partner")) for f in files],
        how="diagonal_relaxed",
    )


@pytest.mark.parametrize("tamper", ["edit", "unapproved", "other_key"])
def test_an_altered_or_unapproved_policy_stops_the_run_before_anything_is_read(tmp_path, inbox, prefect_server, tamper):
    from flows.pipeline import run_pipeline

    ws = prepare(tmp_path / "ws")
    if tamper == "edit":
        ws.policy.write_text(ws.policy.read_text("utf-8").replace("threshold = 5", "threshold = 3"), "utf-8")
        expected = "changed after the DPO approved it"
    elif tamper == "unapproved":
        (ws.root / "policy.approval.json").unlink()
        expected = "has not been approved"
    else:
        other = prepare(tmp_path / "other")
        shutil.copy(other.root / "policy.approval.json", ws.root / "policy.approval.json")
        expected = "signed with another key"
    with pytest.raises(PolicyError, match=expected):
        run_pipeline(inbox=inbox["inbox"], workspace=ws.root, period=PERIOD, jurisdiction="bg")
    for folder in ("quarantine", "store", "releases", "reports"):
        assert not (ws.root / folder).exists(), folder


def test_the_cli_refuses_an_unapproved_policy_with_one_line_and_non_zero_exit(tmp_path, inbox):
    ws = prepare(tmp_path / "ws")
    (ws.root / "policy.approval.json").unlink()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--inbox",
            str(inbox["inbox"]),
            "--workspace",
            str(ws.root),
            "--period",
            PERIOD,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1 and "not been approved" in run.stderr and "Traceback" not in run.stderr


def test_a_run_without_keys_never_invents_them(tmp_path, inbox, prefect_server):
    from flows.pipeline import run_pipeline

    ws = prepare(tmp_path / "ws")
    shutil.rmtree(ws.keys / "keystore.json", ignore_errors=True)
    (ws.keys / "keystore.json").unlink()
    forget_unlocked()
    from anonymise.keys import KeyStoreError

    with pytest.raises(KeyStoreError, match="zakrila keys init"):
        run_pipeline(inbox=inbox["inbox"], workspace=ws.root, period=PERIOD, jurisdiction="bg")
    assert not (ws.keys / "keystore.json").exists()


def test_rotation_keeps_linkage_and_the_national_counts(tmp_path, inbox, prefect_server):
    ws = prepare(tmp_path / "ws")
    before = _run(inbox["inbox"], ws)
    total_before = _national_total(before)
    store_before = _store(ws, "persons")
    rotated = rotate(ws, open_store(ws.keys), "bg-central", inbox["inbox"])
    assert rotated["to"] == "bg-central#2" and rotated["pairs"] > 0
    rekeyed = _store(ws, "persons")
    assert set(rekeyed["person_cid"]).isdisjoint(set(store_before["person_cid"]))
    # the re-keyed store equals what the new key makes from the inbox
    after = _run(inbox["inbox"], ws)
    fresh = _store(ws, "persons")
    assert rekeyed.sort("person_pid").equals(fresh.sort("person_pid"))
    assert _national_total(after) == total_before
    assert after["pseudonymisation"]["national"] == before["pseudonymisation"]["national"]
    domains = {d["domain"]: d for d in after["pseudonymisation"]["domains"]}
    assert domains["bg-central"]["key_id"] == "bg-central#2" and domains["bg-central"]["retired_generations"] == [1]
    assert after["pseudonymisation"]["rotations"][0]["from"] == "bg-central#1"
    open_store(ws.keys).destroy("bg-central", 1)
    assert _national_total(_run(inbox["inbox"], ws)) == total_before


def test_an_erased_subject_leaves_the_store_and_the_release(tmp_path, inbox, prefect_server):
    ws = prepare(tmp_path / "ws")
    before = _run(inbox["inbox"], ws)
    total_before = _national_total(before)
    keys = open_store(ws.keys)
    entry = record(ws, keys, "plovdiv-ksuds", national_id=CANARIES["national_id"], id_type="egn")
    assert CANARIES["national_id"] not in json.dumps(load_register(ws))
    # and a child served by two partners, named by one partner's person ID, goes at both
    pair = inbox["truth"]["cross_partner_children"][0]
    record(ws, keys, pair["partners"][0], person_id=pair["person_ids"][0])
    after = _run(inbox["inbox"], ws)
    persons = _store(ws, "persons")
    assert entry["pseudonym"] not in persons["person_cid"].to_list()
    pid = (
        pl.DataFrame({"v": [pair["person_ids"][1]]})
        .select(pseudonym("v", keys.key(f"local:{pair['partners'][1]}", "person")))["v"]
        .item()
    )
    assert pid not in persons["person_pid"].to_list()
    erasure = after["pseudonymisation"]["erasure"]
    assert erasure["register_entries"] == 2 and erasure["persons_erased"] == 3
    assert erasure["rows_removed"]["events"] > 0
    assert after["release_id"] != before["release_id"]  # an erasure never overwrites a release
    # Publishing the new national total beside the earlier release would reveal, by subtraction, that
    # two persons left and in which cells: the history check protects every such cell instead.
    total = t04_totals(after["result"]["release_dir"])
    assert total["conf_status"].item() != "F" and total["value"].item() is None
    history = after["disclosure"]["history"]
    assert history["passed"] and before["release_id"] in history["compared"]
    assert history["cells_protected_for_history"]["T04"] > 0
    assert total_before > 2
    assert Path(before["result"]["release_dir"]).exists()
    assert not _store(ws, "events")["person_cid"].is_in([entry["pseudonym"]]).any()


def test_section_d_of_the_report_is_complete(tmp_path, inbox, prefect_server):
    report = _run(inbox["inbox"], prepare(tmp_path / "ws"))
    d = report["pseudonymisation"]
    assert "HMAC-SHA256" in d["algorithm"] and "ICAO" in d["normalisation"]
    for domain in d["domains"]:
        assert {"domain", "key_id", "created", "age_days", "fingerprint", "generation"} <= set(domain)
    assert {x["domain"] for x in d["domains"]} == {
        "bg-central",
        "local:ruse-svetilnik",
        "local:plovdiv-ksuds",
        "local:sofia-kisuds",
        "local:ruzhintsi-ksuds",
    }
    national = d["national"]
    assert national["linked_across_partners"] >= 1
    assert {"linked_across_batches", "new_pseudonyms", "persons_by_method", "unique_persons"} <= set(national)
    assert national["new_pseudonyms"] == national["unique_persons"]  # the first period in this workspace
    for figures in d["linkage"].values():
        assert figures["persons"] == figures["by_national_id"] + figures["by_fallback"] + figures["without_identifier"]
    assert d["collisions"] == 0
    assert d["leak_scan"]["store_cells_equal_to_a_clear_identifier"] == 0
    assert d["leak_scan"]["clear_identifiers_checked"] > 1000
    assert d["leak_scan"]["key_material"]["files_with_key_material"] == 0
    assert d["leak_scan"]["key_material"]["files_scanned"] > 10
    assert report["identity"]["policy_approval"]["dpo_key_sha256"]
    html = (Path(report["result"]["report"]) / "report.html").read_text("utf-8")
    assert "Linkage per partner" in html and "bg-central#1" in html


def test_a_person_sent_again_in_a_later_batch_is_linked_across_batches_not_partners(tmp_path, inbox, prefect_server):
    src = next((inbox["inbox"] / "ruzhintsi-ksuds").iterdir())
    local = tmp_path / "inbox"
    shutil.copytree(inbox["inbox"] / "ruzhintsi-ksuds", local / "ruzhintsi-ksuds")
    shutil.copytree(src, local / "ruzhintsi-ksuds" / "b20260331")  # the partner resends its people
    report = _run(local, prepare(tmp_path / "ws"))
    national = report["pseudonymisation"]["national"]
    assert national["linked_across_partners"] == 0
    assert national["linked_across_batches"] == national["unique_persons"]
