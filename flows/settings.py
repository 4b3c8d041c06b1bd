"""Process-wide defaults that must be set before Prefect or Great Expectations are imported.

Nothing may phone home (the machines have no internet, and telemetry is a data flow of its own), and
no task result may be persisted (results of tasks near the inbox could hold personal data).
"""

from __future__ import annotations

import os

DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    "PREFECT_UI_ENABLED": "false",
    # Prefect waits 20 s for its ephemeral server by default; on a loaded 2-core machine the
    # server's first start (database migrations) can take longer, and the run then fails before
    # it has begun. Two minutes costs nothing when the server comes up quickly.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "TLDEXTRACT_CACHE": os.devnull,
}


def apply() -> None:
    """Set the defaults where the environment has not chosen otherwise."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)


apply()
