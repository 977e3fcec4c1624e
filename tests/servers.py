"""Start and stop the real servers the integration and e2e tests talk to.

Each server is a child process of the test run on a free 127.0.0.1 port, with its files in a
temporary directory; it is stopped by PID (SIGTERM, then SIGKILL) and can be restarted on the
same port with the same data, to test outages.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import email.policy
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pymongo
import pytest
import redis
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pymongo.errors import PyMongoError

REPO_ROOT = Path(__file__).resolve().parent.parent
FERRETDB_VERSION = "v1.24.2"

INSTALL_HINTS = {
    "FERRETDB_BIN": (
        "FerretDB {version} is needed. Run `make test` (scripts/provision_services.sh builds it "
        "with Go >= 1.24 into {cache}), or set FERRETDB_BIN to a ferretdb {version} binary."
    ),
    "REDIS_SERVER_BIN": (
        "redis-server is needed. Install it with "
        "`sudo apt-get update && sudo apt-get install -y redis-server` "
        "(or run `make test` as root), or set REDIS_SERVER_BIN to a redis-server binary."
    ),
    "UWSGI_BIN": (
        "uwsgi is needed. Install the dev requirements: "
        "`.venv/bin/pip install -r requirements-dev.txt` (or run `make test`)."
    ),
}


class ServiceUnavailable(Exception):
    """A server binary the tests need is not installed; the message says how to get it."""


class ServerStartError(RuntimeError):
    """A server process did not become ready; the message ends with the tail of its log."""


def ferretdb_cache_path() -> Path:
    """Where scripts/provision_services.sh caches the FerretDB binary it builds."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "flask-api" / f"ferretdb-{FERRETDB_VERSION}"


def find_binary(env_var: str, *fallbacks: str | Path) -> str:
    """The executable named by `env_var`, else the first existing fallback (a path or a name
    on PATH); raises ServiceUnavailable with install instructions when there is none."""
    hint = INSTALL_HINTS[env_var].format(version=FERRETDB_VERSION, cache=ferretdb_cache_path())
    explicit = os.environ.get(env_var)
    if explicit:
        if os.access(explicit, os.X_OK) and Path(explicit).is_file():
            return explicit
        raise ServiceUnavailable(f"{env_var}={explicit} is not an executable file. {hint}")
    for candidate in fallbacks:
        found = shutil.which(str(candidate))
        if found:
            return found
    raise ServiceUnavailable(f"{env_var} is not set and no binary was found. {hint}")


def on_ci() -> bool:
    return os.environ.get("CI") == "true"


def require_binary(env_var: str, *fallbacks: str | Path) -> str:
    """Like find_binary, for fixtures: skips the test with how to install the missing binary,
    or fails it when CI=true (CI must run every test)."""
    try:
        return find_binary(env_var, *fallbacks)
    except ServiceUnavailable as exc:
        if on_ci():
            pytest.fail(f"CI=true and a test service is missing: {exc}", pytrace=False)
        pytest.skip(str(exc))


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive `sig` when the test run dies, so a crashed or
    killed pytest leaves no servers behind (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, sig, 0, 0, 0)

    return preexec


class ServerProcess:
    """One server child process: start (wait until ready), stop, restart on the same port.

    Subclasses say how to launch the server (`command`) and how to tell it is ready
    (`is_ready`). Output goes to `log_path`, appended across restarts.
    """

    name = "server"
    start_timeout = 30.0
    stop_timeout = 10.0
    # Sent to the server if the test run itself dies without stopping it.
    parent_death_signal = signal.SIGKILL
    # Port-in-use failures are retried on a new port, but only before the first start: after
    # that the port is part of the server's identity (clients hold URLs with it).
    start_attempts = 3

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"
        self.port = port or free_port()
        self._port_fixed = port is not None
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    # --- to be provided by subclasses -------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    def environment(self) -> Mapping[str, str] | None:
        return None  # inherit the test run's environment

    def cwd(self) -> Path:
        return self.workdir

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it is ready; raises ServerStartError otherwise."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        attempts = 1 if self._port_fixed else self.start_attempts
        for attempt in range(1, attempts + 1):
            try:
                self._spawn_and_wait()
            except ServerStartError:
                port_taken = "address already in use" in self.log_tail(20).lower()
                if not port_taken or attempt == attempts:
                    raise
                self.port = free_port()  # lost a race for the port: try another one
                continue
            else:
                self._port_fixed = True
                return

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL to the whole process group after a timeout."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self._kill_group(process.pid)
                process.wait(timeout=self.stop_timeout)
        # Children (uwsgi workers) must not outlive their master.
        self._kill_group(process.pid)

    def restart(self) -> None:
        """Stop, then start again on the same port with the same files."""
        self.stop()
        self.start()

    def ensure_running(self) -> None:
        """Start the server again if a test stopped it and did not restart it."""
        if not self.running:
            self.stop()  # reap a crashed process
            self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------------
    def _spawn_and_wait(self) -> None:
        self._starts += 1
        command = self.command()
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start #{self._starts}: {' '.join(command)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                cwd=self.cwd(),
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own process group: a Ctrl-C in the terminal reaches pytest only, and the
                # fallback kill can take the server's children with it.
                start_new_session=True,
                preexec_fn=_parent_death_signal(self.parent_death_signal),
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise ServerStartError(
                    f"{self.name} exited with code {code} while starting "
                    f"(port {self.port}); log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready after {self.start_timeout:.0f} s (port {self.port}); "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


class FerretDBServer(ServerProcess):
    """FerretDB with its SQLite backend: a MongoDB wire-protocol server, data in `workdir`."""

    name = "ferretdb"

    def __init__(self, binary: str, workdir: Path, port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.binary = binary
        self.data_dir = self.workdir / "data"
        self.state_dir = self.workdir / "state"
        self.data_dir.mkdir(exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def uri_for(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}"

    def client(self, timeout_ms: int = 2000) -> pymongo.MongoClient:
        """A new client with short timeouts; close it (use it as a context manager)."""
        return pymongo.MongoClient(
            self.uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
        )

    def command(self) -> list[str]:
        return [
            self.binary,
            "--handler=sqlite",
            # A directory: one SQLite file per database. The trailing slash is required.
            f"--sqlite-url=file:{self.data_dir}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            "--telemetry=disable",
            # "-" disables the debug HTTP listener (metrics/pprof, default 127.0.0.1:8088), which
            # would otherwise collide between concurrent instances.
            "--debug-addr=-",
            # state.json (instance UUID, telemetry state) goes here instead of the cwd.
            f"--state-dir={self.state_dir}",
            "--log-level=warn",
        ]

    def is_ready(self) -> bool:
        if not port_accepts(self.port):
            return False  # cheaper than a failed server selection, which waits out its timeout
        try:
            with self.client(timeout_ms=1000) as client:
                client.admin.command("ping")
        except PyMongoError:
            return False
        return True


class RedisServer(ServerProcess):
    """redis-server; databases are handed out to tests one at a time.

    Without persistence by default; `appendonly=True` keeps an append-only file in `workdir`, as
    production must run it, so that revocations and idempotency records survive a restart.
    """

    name = "redis"
    # The integration tests use db 0; every live app server gets a db of its own (1..N-1), so
    # rate-limit counters and revocations never leak from one app instance to the next.
    databases = 256

    def __init__(
        self, binary: str, workdir: Path, port: int | None = None, appendonly: bool = False
    ) -> None:
        super().__init__(workdir, port)
        self.binary = binary
        self.appendonly = appendonly
        self._next_db = 0

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0, timeout: float = 2.0) -> redis.Redis:
        """A new client with short timeouts; close it (use it as a context manager)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            db=db,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **self.connection_options(),
        )

    def connection_options(self) -> dict[str, object]:
        """What a client needs beyond host, port and timeouts (TLS, for the TLS server)."""
        return {}

    def allocate_db(self) -> int:
        """An emptied database number (1..databases-1) for one app instance."""
        self._next_db = self._next_db % (self.databases - 1) + 1
        if self.running:
            with self.client(self._next_db) as client:
                client.flushdb()
        return self._next_db

    def listen_arguments(self) -> list[str]:
        return ["--port", str(self.port)]

    def command(self) -> list[str]:
        return [
            self.binary,
            *self.listen_arguments(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
            "--databases",
            str(self.databases),
        ]

    def is_ready(self) -> bool:
        try:
            with self.client(timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False


def write_throwaway_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A new CA and a server certificate it signs for 127.0.0.1 and localhost, valid for a day,
    as PEM files (ca.pem, server.pem, server.key) in `directory`. Nothing trusts the CA but a
    client given ca.pem: the same position as Heroku Data for Redis's self-signed certificate."""

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def certificate(subject: str, public_key, issuer: str, signing_key, *, ca: bool):
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate(
        "throwaway test CA", ca_key.public_key(), "throwaway test CA", ca_key, ca=True
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate(
        "127.0.0.1", server_key.public_key(), "throwaway test CA", ca_key, ca=False
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class TlsRedisServer(RedisServer):
    """redis-server that speaks TLS only (`--port 0 --tls-port`), with a certificate from a
    throwaway CA (`.ca_path`): `.url_for(db)` is `rediss://`, `.client()` trusts the CA."""

    name = "redis-tls"

    def __init__(self, binary: str, workdir: Path, port: int | None = None) -> None:
        super().__init__(binary, workdir, port)
        self.ca_path, self.cert_path, self.key_path = write_throwaway_certificates(self.workdir)

    def url_for(self, db: int) -> str:
        return f"rediss://127.0.0.1:{self.port}/{db}"

    def connection_options(self) -> dict[str, object]:
        """TLS, verifying the server against the throwaway CA."""
        return {"ssl": True, "ssl_ca_certs": str(self.ca_path)}

    def listen_arguments(self) -> list[str]:
        return [
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.cert_path),
            "--tls-key-file",
            str(self.key_path),
            "--tls-ca-cert-file",
            str(self.ca_path),
            "--tls-auth-clients",
            "no",
        ]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, in a thread of the test run, that
    accepts every message and keeps it for the tests: `.url` (what SMTP_URL names), `.messages`,
    `.wait_for_message(to, subject)`, `.messages_to(to, subject)`.

    `tls="smtps"` speaks TLS from the first byte, `tls="starttls"` requires STARTTLS; both with a
    certificate from a throwaway CA (`.ca_path`) that nothing trusts unless told to (a process
    with `SSL_CERT_FILE=<ca_path>` does). With `credentials=(user, password)` it accepts mail
    only after that login.
    """

    def __init__(
        self, workdir: Path, tls: str | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        self.tls = tls
        self.credentials = credentials
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()
        options: dict[str, object] = {}
        if tls is not None:
            Path(workdir).mkdir(parents=True, exist_ok=True)
            self.ca_path, cert_path, key_path = write_throwaway_certificates(Path(workdir))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_path, key_path)
            if tls == "smtps":
                options["ssl_context"] = context
            else:
                options.update(tls_context=context, require_starttls=True)
        if credentials is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        scheme = {None: "smtp", "smtps": "smtps", "starttls": "smtp+starttls"}[self.tls]
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False)
        given = (auth_data.login.decode(), auth_data.password.decode())
        return AuthResult(success=given == self.credentials)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def messages_to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        """The messages to `address` (with that subject, if given), in the order they came."""
        return [
            message
            for message in self.messages
            if address.lower() in str(message["To"]).lower()
            and (subject is None or message["Subject"] == subject)
        ]

    def wait_for_message(
        self, to: str, subject: str | None = None, count: int = 1, timeout: float = 15
    ) -> EmailMessage:
        """The `count`th message to `to` (with that subject), waiting for it: mail goes out
        after the response."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: len(self.messages_to(to, subject)) >= count, timeout
            )
        assert arrived, f"no message #{count} to {to} ({subject}) within {timeout} s"
        return self.messages_to(to, subject)[count - 1]


class LiveServer(ServerProcess):
    """The app under uwsgi (`uwsgi --ini uwsgi.ini` from the repository root), over real HTTP.

    `env` is the complete set of app settings the server runs with; `restart()` reuses it and
    the port.
    """

    name = "uwsgi"
    start_timeout = 30.0
    stop_timeout = 10.0
    # uwsgi has die-on-term: SIGTERM makes the master stop its workers and exit.
    parent_death_signal = signal.SIGTERM
    health_path = "/health"

    # App settings a developer may have exported in their shell: never inherited, so every
    # live server runs with exactly the settings its test asked for.
    APP_SETTINGS = (
        "APP_ENV",
        "MONGO_URI",
        "REDIS_URL",
        "SECRET_KEY",
        "JWT_SECRET_KEY",
        "JWT_ACCESS_TOKEN_EXPIRES",
        "JWT_REFRESH_TOKEN_EXPIRES",
        "DEFAULT_RATE_LIMIT",
        "LOGIN_RATE_LIMIT",
        "LOGIN_ACCOUNT_RATE_LIMIT",
        "LOGIN_ADDRESS_RATE_LIMIT",
        "REGISTER_RATE_LIMIT",
        "TRUSTED_PROXY_HOPS",
        "METRICS_TOKEN",
        "RATELIMIT_ENABLED",
        "CORS_ORIGINS",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "REDIS_TLS_VERIFY",
        "PORT",
        "WEB_CONCURRENCY",
        "PROMETHEUS_ENABLED",
        "PROMETHEUS_MULTIPROC_DIR",
        "SENTRY_DSN",
        "SMTP_URL",
        "MAIL_FROM",
        "PUBLIC_URL",
        "MAIL_OUTBOX_DIR",
        "PASSWORD_RESET_EXPIRES",
        "EMAIL_VERIFICATION_EXPIRES",
        "PASSWORD_RESET_ADDRESS_LIMIT",
        "PASSWORD_RESET_ACCOUNT_LIMIT",
        "REQUIRE_VERIFIED_EMAIL",
        "FLASK_APP",
        "FLASK_DEBUG",
    )

    def __init__(
        self,
        uwsgi_bin: str,
        env: Mapping[str, str],
        workdir: Path,
        app_dir: Path = REPO_ROOT,
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.uwsgi_bin = uwsgi_bin
        self.app_dir = Path(app_dir)
        self.env = {key: str(value) for key, value in env.items()}
        self.env["PORT"] = str(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.uwsgi_bin, "--ini", "uwsgi.ini"]

    def cwd(self) -> Path:
        return self.app_dir

    def environment(self) -> dict[str, str]:
        self.env["PORT"] = str(self.port)  # follows a retry on another port
        base = {k: v for k, v in os.environ.items() if k not in self.APP_SETTINGS}
        # Log lines reach the log file as they are written.
        base["PYTHONUNBUFFERED"] = "1"
        return {**base, **self.env}

    def is_ready(self) -> bool:
        try:
            response = requests.get(self.url + self.health_path, timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`flask --app run ...` with exactly this server's settings (same MongoDB and Redis)."""
        return subprocess.run(
            [str(Path(self.uwsgi_bin).with_name("flask")), "--app", "run", *args],
            cwd=self.app_dir,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def live_worker_pids(self) -> list[int]:
        """PIDs of the master's children now (its workers, respawned ones included), from /proc."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                # The command name (field 2) is in parentheses and may hold spaces: split after it.
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if self.pid is not None and int(fields[1]) == self.pid:
                    children.append(int(stat.parent.name))
        return sorted(children)

    def worker_pids(self) -> list[int]:
        """PIDs of the workers the master spawned since the last start, from the uwsgi log."""
        text = self.log_text().rsplit("\n--- start #", 1)[-1]
        pids: list[int] = []
        for line in text.splitlines():
            if line.startswith("spawned uWSGI worker") and "(pid: " in line:
                pids.append(int(line.split("(pid: ", 1)[1].split(",", 1)[0].rstrip(")")))
        return pids
