"""The image's HEALTHCHECK command, as the Dockerfile writes it, run against the app under uwsgi:
it passes while the server answers on $PORT and fails when nothing listens there."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.recipes import healthcheck_command
from tests.servers import free_port


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    command = healthcheck_command()
    assert command[0] == "python"
    return subprocess.run(
        [sys.executable, *command[1:]],
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_passes_against_the_running_server(live_server):
    result = run_healthcheck(live_server.port)
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_nothing_answers():
    assert run_healthcheck(free_port()).returncode != 0
