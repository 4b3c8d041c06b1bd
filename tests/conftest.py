"""Test session set-up: every file a run writes lands under one root the leak tests can grep.

Prefect's home (with its database) and the temp folder are pointed into ``SESSION_ROOT`` before
Prefect is imported anywhere; the ephemeral Prefect server starts once per session.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SESSION_ROOT = Path(tempfile.mkdtemp(prefix="zakrila-tests-"))
PREFECT_HOME = SESSION_ROOT / "prefect-home"
TMP = SESSION_ROOT / "tmp"
PREFECT_HOME.mkdir()
TMP.mkdir()
os.environ["PREFECT_HOME"] = str(PREFECT_HOME)
os.environ["TMPDIR"] = str(TMP)
os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{PREFECT_HOME / 'prefect.db'}"
os.environ.pop("PREFECT_API_URL", None)
os.environ["ZAKRILA_KEYSTORE_PASSPHRASE"] = "test-passphrase-not-secret"
os.environ["ZAKRILA_DPO_PASSPHRASE"] = "test-dpo-passphrase-not-secret"
for name in ("ZAKRILA_MASTER_KEYS", "ZAKRILA_MASTER_KEYS_BLOCK", "ZAKRILA_KEYSTORE_PASSPHRASE_BLOCK"):
    os.environ.pop(name, None)
tempfile.tempdir = None  # re-read TMPDIR


def _remove_session_root() -> None:
    """Remove the session's folder (Prefect's home, temp files, workspaces) unless asked to keep it.

    ``ZAKRILA_KEEP_TEST_FILES=1`` keeps it, to look at what a failing run wrote. Registered with
    ``atexit`` before Prefect is imported, so it runs after Prefect's own clean-up of its temp folder.
    """
    import shutil

    if os.environ.get("ZAKRILA_KEEP_TEST_FILES") == "1":
        print(f"\nzakrila test files kept in {SESSION_ROOT}")
        return
    shutil.rmtree(SESSION_ROOT, ignore_errors=True)


atexit.register(_remove_session_root)  # before Prefect's: runs after its clean-up

from flows import settings  # noqa: E402,F401  (process defaults before Prefect)


@pytest.fixture(scope="session")
def session_root() -> Path:
    """Return the folder that holds Prefect's home and the temp folder of this test session."""
    return SESSION_ROOT


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """Start one ephemeral Prefect server (with a database in the session root) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
