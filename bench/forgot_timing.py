"""Benchmark: does `POST /api/v1/auth/password/forgot` answer an address with an account in the
same time as one without? (What an attacker enumerating accounts would measure.)

Run by hand, never by the test suite:

    FERRETDB_BIN=... REDIS_SERVER_BIN=... python bench/forgot_timing.py [--rounds 200]

Without MONGO_URI / REDIS_URL it starts FerretDB (SQLite backend) and redis-server on free local
ports; it always starts an SMTP server (aiosmtpd) and the app under uwsgi (2 workers, as in
production, rate limits on but high enough never to refuse) mailing to it. One account is
registered; then `rounds` pairs of requests, one for its address and one for an address with no
account, in random order within each pair, each timed by the client from sending to the last
byte of the answer. Twice: with a pause after each request (so that the mail sent after a known
address's answer has left before the next request), and back to back. Writes
bench/results/forgot_timing.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench.common import REPO, RESULTS, local_servers, percentile
from tests.servers import LiveServer, SmtpServer, find_binary

FORGOT = "/api/v1/auth/password/forgot"
WARMUP = 20
PAUSE_SECONDS = 0.05


def timed_forgot(session: requests.Session, url: str, email: str) -> float:
    """Milliseconds from sending the request to having read the whole 202."""
    started = time.perf_counter_ns()
    response = session.post(url + FORGOT, json={"email": email}, timeout=15)
    elapsed = (time.perf_counter_ns() - started) / 1e6
    if response.status_code != 202:
        raise SystemExit(f"forgot answered {response.status_code}: {response.text}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="requests per side")
    rounds = parser.parse_args().rounds
    uwsgi = find_binary("UWSGI_BIN", REPO / ".venv" / "bin" / "uwsgi", "uwsgi")
    with (
        local_servers(f"bench_forgot_{secrets.token_hex(4)}") as (mongo_uri, redis_url),
        tempfile.TemporaryDirectory() as workdir,
    ):
        mailbox = SmtpServer(Path(workdir) / "smtp")
        mailbox.start()
        env = {
            "APP_ENV": "testing",
            "WEB_CONCURRENCY": "2",
            "MONGO_URI": mongo_uri,
            "REDIS_URL": redis_url,
            "SECRET_KEY": secrets.token_hex(32),
            "JWT_SECRET_KEY": secrets.token_hex(32),
            # The production path (the mail budget is counted in Redis), never refusing.
            "RATELIMIT_ENABLED": "true",
            "DEFAULT_RATE_LIMIT": "1000000",
            "PASSWORD_RESET_ADDRESS_LIMIT": "1000000",
            "PASSWORD_RESET_ACCOUNT_LIMIT": "1000000",
            "SMTP_URL": mailbox.url,
            "LOG_LEVEL": "WARNING",
        }
        server = LiveServer(uwsgi, env, Path(workdir) / "uwsgi")
        if server.flask("db", "init").returncode != 0:
            raise SystemExit("flask db init failed")
        with server, requests.Session() as session:
            known = f"known{secrets.token_hex(4)}@example.com"
            registered = session.post(
                server.url + "/api/v1/auth/register",
                json={"username": known.split("@")[0], "email": known, "password": "bench-pass-1"},
                timeout=15,
            )
            if registered.status_code != 201:
                raise SystemExit(f"register answered {registered.status_code}")
            results = {
                pause: measure(session, server.url, known, rounds, pause)
                for pause in (PAUSE_SECONDS, 0.0)
            }
            sent = 2 * (WARMUP + rounds)
            mailbox.wait_for_message(known, "Reset your password", count=sent)
            mails_to_unknown = sum("ghost" in str(m["To"]) for m in mailbox.messages)
        mailbox.stop()
    write_report(results, rounds, mails_to_unknown)


def measure(
    session: requests.Session, url: str, known: str, rounds: int, pause: float
) -> dict[str, list[float]]:
    """Timings (ms) of `rounds` requests per side, after warm-up, `pause` seconds apart."""
    samples: dict[str, list[float]] = {"known": [], "unknown": []}
    for turn in range(WARMUP + rounds):
        pair = [("known", known), ("unknown", f"ghost{turn}@example.com")]
        random.shuffle(pair)
        for side, email in pair:
            elapsed = timed_forgot(session, url, email)
            if turn >= WARMUP:
                samples[side].append(elapsed)
            time.sleep(pause)
    return samples


def table(samples: dict[str, list[float]]) -> str:
    medians = {side: statistics.median(values) for side, values in samples.items()}
    rows = [
        f"| {side} | {medians[side]:.2f} | {percentile(values, 0.1):.2f} | "
        f"{percentile(values, 0.9):.2f} | {statistics.mean(values):.2f} |"
        for side, values in samples.items()
    ]
    difference = medians["known"] - medians["unknown"]
    return "\n".join(
        [
            "| address | p50 ms | p10 ms | p90 ms | mean ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Difference of the medians (known minus unknown): **{difference:+.2f} ms**.",
        ]
    )


def write_report(
    results: dict[float, dict[str, list[float]]], rounds: int, mails_to_unknown: int
) -> None:
    paused, back_to_back = results[PAUSE_SECONDS], results[0.0]
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    report = f"""# Forgot-password timing, known vs unknown address ({when})

vm: {os.cpu_count()} cores, Python {platform.python_version()}; the app under uwsgi (2 workers,
APP_ENV=testing), FerretDB 1.24 (SQLite) and redis-server over loopback, an aiosmtpd server
receiving the mail; rate limits on (the mail budget counted in Redis) but set never to refuse;
{rounds} requests per side after {WARMUP} warm-up pairs, known and unknown in random order
within each pair; times from the client (`requests`, a new connection each) until the whole
202 was read. Every known-address request was mailed ({2 * (WARMUP + rounds)} messages
arrived); mails to the unknown addresses: {mails_to_unknown}.

## {PAUSE_SECONDS * 1000:.0f} ms between requests

{table(paused)}

## Back to back

{table(back_to_back)}

The answer cannot depend on the account: the view validates the body, counts the address's mail
budget (one Redis call, keyed on the submitted address whether or not it has an account) and
answers 202; the look-up, the token and the SMTP delivery run after the response was sent
(`call_on_close`). What the account does change is how long the worker stays busy *after* the
answer (here a few milliseconds: a MongoDB write and a local SMTP delivery; with a remote SMTP
server, up to MAIL_TIMEOUT). A request sent at once after a known address's may find its worker
still busy with that mail: back to back, the request *after* a known address is the slower one,
and since the pairs' order is random, the unknown side follows a known one three times in four.
That is the residual signal: not in the answer to an address, but in the next answer a worker
gives, by about the time the mail takes (here 1-2 ms; with a remote SMTP server, that server's
round trips). Delivering from a queue outside the request workers would remove it.
"""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forgot_timing.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
