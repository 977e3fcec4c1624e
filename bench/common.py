"""What the benchmarks share: throwaway local servers, timing, and plots from the bench venv.

Benchmarks are run by hand, never by the test suite; their extra packages (python-eve,
matplotlib, py-spy) live in their own venv (bench/.work/venv, pinned in bench/requirements.txt),
never in the app's requirements.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
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
BENCH_REQUIREMENTS = HERE / "requirements.txt"
# The settings every benchmarked app of ours needs (development-grade, never deployed).
SECRETS = {
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-0123456789abcdef01234567",
}
sys.path.insert(0, str(REPO))

from tests.servers import FerretDBServer, RedisServer, ferretdb_cache_path, find_binary  # noqa: E402


def ensure_bench_venv() -> Path:
    """The bench venv's python with bench/requirements.txt installed (again when it changes)."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".ready"
    wanted = hashlib.sha256(BENCH_REQUIREMENTS.read_bytes()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(BENCH_REQUIREMENTS),
            ],
            check=True,
        )
        stamp.write_text(wanted)
    return python


def bench_tool(name: str) -> str:
    """An executable of the bench venv (py-spy)."""
    ensure_bench_venv()
    return str(BENCH_VENV / "bin" / name)


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


# --- servers under load --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uri_for(mongo_uri: str, database: str) -> str:
    """`mongo_uri` naming `database` (replacing the one it names, keeping its options)."""
    base, _, options = mongo_uri.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:
        base = base.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{options}" if options else "")


def uwsgi_binary() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if not found:
        sys.exit("uwsgi not found: install requirements.txt")
    return found


def uwsgi_command(port: int, *app_options: str) -> list[str]:
    """uwsgi serving another WSGI app with the settings of our uwsgi.ini that bear on speed:
    2 workers under a master, apps loaded after the fork, one request per connection, no
    request logging by uwsgi, the same buffer and harakiri."""
    return [
        uwsgi_binary(),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--processes",
        "2",
        "--master",
        "--lazy-apps",
        "--enable-threads",
        "--need-app",
        "--die-on-term",
        "--single-interpreter",
        "--strict",
        "--disable-logging",
        "--add-header",
        "Connection: close",
        "--harakiri",
        "30",
        "--buffer-size",
        "32768",
        *app_options,
    ]


class Server:
    """A child process serving on a free local port, stopped by its own pid when done."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], port: int, log: Path, cwd=REPO
    ) -> None:
        self.name, self.command, self.env, self.port, self.log = name, command, env, port, log
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.process.pid

    def start(self, ready_path: str | None) -> Server:
        """Start it and wait until `ready_path` answers below 500 (None: the port accepts)."""
        import requests

        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited; see {self.log}")
            with contextlib.suppress(OSError, requests.RequestException):
                if ready_path is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                if requests.get(self.url + ready_path, timeout=5).status_code < 500:
                    return self
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.name} did not start; see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def tree_at(ref: str) -> tuple[Path, str]:
    """The repository as of git `ref`, extracted once into bench/.work (our app as it was, for
    before/after): (its path, its short commit)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{ref}^{{commit}}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = WORK / f"ref-{commit}"
    if not (tree / "run.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree, commit


def app_server(name: str, settings: dict[str, str], logs: Path, root: Path = REPO) -> Server:
    """Our app from `root` under its own uwsgi.ini with 2 workers, on a free port; `settings` is
    its environment."""
    port = free_port()
    env = {**settings, "PORT": str(port), "WEB_CONCURRENCY": "2"}
    command = [uwsgi_binary(), "--ini", str(root / "uwsgi.ini")]
    return Server(name, command, env, port, logs / f"{name}.log", cwd=root)


def redis_server(port: int, workdir: Path) -> Server:
    """A throwaway redis-server on 127.0.0.1, nothing persisted."""
    command = [find_binary("REDIS_SERVER_BIN", "redis-server"), "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    return Server("redis", command, {}, port, workdir / "redis.log")


def eve_server(mongo_uri: str, logs: Path, **env: str) -> Server:
    """python-eve (bench/eve_app.py) from the bench venv; `env`: its settings besides MONGO_URI."""
    port = free_port()
    command = uwsgi_command(port, "--virtualenv", str(BENCH_VENV), "--wsgi-file")
    command += [str(HERE / "eve_app.py"), "--callable", "app"]
    return Server("eve", command, {"MONGO_URI": mongo_uri, **env}, port, logs / "eve.log")


def floor_server(mongo_uri: str, logs: Path) -> Server:
    """The floors (bench/floors.py, which extends bench/bare_app.py), in the app's venv: they use
    its query builders."""
    port = free_port()
    command = uwsgi_command(port, "--wsgi-file", str(HERE / "floors.py"), "--callable", "app")
    command += ["--chdir", str(REPO), "--pythonpath", str(REPO)]
    return Server("floor", command, {"MONGO_URI": mongo_uri}, port, logs / "floor.log")
