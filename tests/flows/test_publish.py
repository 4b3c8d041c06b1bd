import json

import polars as pl
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from flows.publish import escape_formulas, release_id, verify_release, write_release


def _release(tmp_path, key=None):
    key = key or Ed25519PrivateKey.from_private_bytes(bytes(32))
    table = pl.DataFrame({"period": ["2025"], "sex": ["_T"], "measure": ["n"], "value": [12], "conf_status": ["F"]})
    folder, files = write_release(tmp_path, "bg-2025-abc", {"T04": table}, {"period": "2025"}, key)
    return folder, files


def test_a_release_verifies_and_lists_every_file(tmp_path):
    folder, files = _release(tmp_path)
    assert [f["name"] for f in files] == ["T04.csv"]
    result = verify_release(folder)
    assert result.ok, result.problems
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"][0]["sha256"] == files[0]["sha256"]


def test_a_changed_table_or_manifest_fails_verification(tmp_path):
    folder, _ = _release(tmp_path)
    (folder / "T04.csv").write_text((folder / "T04.csv").read_text().replace("12", "13"))
    assert any("SHA-256 differs" in p for p in verify_release(folder).problems)
    folder, _ = _release(tmp_path)
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"2025"', '"2026"'))
    assert any("signature does not match" in p for p in verify_release(folder).problems)


def test_an_untrusted_key_and_an_unlisted_file_are_reported(tmp_path):
    folder, _ = _release(tmp_path)
    (folder / "extra.csv").write_text("x\n")
    result = verify_release(folder, trusted_key_sha256="0" * 64)
    assert not result.ok
    assert any("not the trusted key" in p for p in result.problems)
    assert any("extra.csv: not listed" in p for p in result.problems)


def test_the_same_content_gives_the_same_bytes(tmp_path):
    a, _ = _release(tmp_path / "a")
    b, _ = _release(tmp_path / "b")
    for name in ("T04.csv", "manifest.json", "manifest.sig"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_spreadsheet_formulas_are_escaped():
    frame = pl.DataFrame({"t": ['=HYPERLINK("http://x","y")', "+359888", "-1+1", "@SUM(A1)", "ok", None]})
    out = escape_formulas(frame)["t"].to_list()
    assert out[:4] == ['\'=HYPERLINK("http://x","y")', "'+359888", "'-1+1", "'@SUM(A1)"]
    assert out[4:] == ["ok", None]


def test_release_id_changes_with_any_input():
    base = release_id("2025", "bg", ["a", "b"], "p", ["k"], "v")
    assert base == release_id("2025", "bg", ["b", "a"], "p", ["k"], "v")
    assert base != release_id("2025", "bg", ["a", "c"], "p", ["k"], "v")
    assert base != release_id("2025", "bg", ["a", "b"], "q", ["k"], "v")
    assert base.startswith("bg-2025-")
