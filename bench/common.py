"""What the benchmarks share: throwaway local servers, timing, and plots from the bench venv.

Benchmarks are run by hand, never by the test suite; their extra packages (python-eve,
matplotlib) live in their own venv (bench/.work/venv), never in the app's requirements.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
RESULTS = HERE / "results"
BENCH_VENV = WORK / "venv"
sys.path.insert(0, str(REPO))

from tests.servers import FerretDBServer, RedisServer, ferretdb_cache_path, find_binary  # noqa: E402


def ensure_bench_venv() -> Path:
    """The bench venv's python, with python-eve and matplotlib (created on first use)."""
    python = BENCH_VENV / "bin" / "python"
    if not (python.exists() and (BENCH_VENV / ".ready").exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "eve", "matplotlib"], check=True)
        (BENCH_VENV / ".ready").touch()
    return python


def plot(script: str, data: dict[str, Any], png: Path) -> None:
    """Run a matplotlib `script` (argv[1]: the data as JSON, argv[2]: the PNG) in the bench venv."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    try:
        subprocess.run([str(ensure_bench_venv()), "-c", script, handle.name, str(png)], check=True)
    finally:
        os.unlink(handle.name)


@contextmanager
def local_servers(database: str) -> Iterator[tuple[str, str]]:
    """MONGO_URI and REDIS_URL from the environment, else throwaway FerretDB and redis-server."""
    if os.environ.get("MONGO_URI") and os.environ.get("REDIS_URL"):
        yield os.environ["MONGO_URI"], os.environ["REDIS_URL"]
        return
    with tempfile.TemporaryDirectory() as workdir, ExitStack() as stack:
        ferret = FerretDBServer(
            find_binary("FERRETDB_BIN", ferretdb_cache_path(), "ferretdb"), Path(workdir) / "f"
        )
        redis_server = RedisServer(
            find_binary("REDIS_SERVER_BIN", "redis-server"), Path(workdir) / "r"
        )
        stack.enter_context(ferret)
        stack.enter_context(redis_server)
        yield ferret.uri_for(database), redis_server.url


def in_process_app(mongo_uri: str, redis_url: str):
    """The app built in this process on the given servers, rate limits off, quiet logs; with a
    fresh user and the `Authorization` headers of its access token."""
    from app import create_app
    from services.tokens import issue_token_pair
    from stores.users import build_user_document, insert_user

    app = create_app(
        {
            "APP_ENV": "testing",
            "MONGO_URI": mongo_uri,
            "REDIS_URL": redis_url,
            "RATELIMIT_ENABLED": False,
            "PROMETHEUS_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        user = insert_user(build_user_document(f"bench{time.time_ns()}", "b@example.com", "-"))
        pair = issue_token_pair(user)
    return app, user, {"Authorization": f"Bearer {pair['access_token']}"}


def samples_us(call: Callable[[], object], rounds: int) -> list[float]:
    """`rounds` timings of `call`, in microseconds, after a warm-up."""
    for _ in range(min(100, rounds)):  # warm up connections and code paths
        call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
