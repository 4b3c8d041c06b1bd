"""Process defaults reach Prefect: they must be in the environment before Prefect is imported."""

import os
import subprocess
import sys


def _prefect_value(setting: str, env: dict[str, str]) -> str:
    code = f"import flows.cli\nfrom prefect.settings import {setting} as s\nprint(s.value())\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def test_cli_gives_the_ephemeral_server_time_to_start_on_a_loaded_machine():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_SERVER_EPHEMERAL")}
    assert int(_prefect_value("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", env)) >= 120


def test_an_operator_setting_wins_over_the_default():
    env = dict(os.environ, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="7")
    assert _prefect_value("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", env) == "7"


def test_no_telemetry_and_no_persisted_results():
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_RESULTS_PERSIST_BY_DEFAULT",)}
    assert _prefect_value("PREFECT_RESULTS_PERSIST_BY_DEFAULT", env) == "False"
