"""Benchmark: what the Redis blocklist check adds to an authenticated request.

Run by hand, never by the test suite:

    FERRETDB_BIN=... REDIS_SERVER_BIN=... python bench/blocklist_overhead.py [--rounds 3000]

Without MONGO_URI / REDIS_URL it starts FerretDB (SQLite backend) and redis-server on free local
ports and builds the app in-process on them. It times `GET /api/v1/users/me` through the Flask
test client with a valid access token, in alternating blocks so both sides see the same machine:

- with the check: Flask-JWT-Extended's blocklist loader runs `blacklist.is_revoked` (one MGET);
- without it: the loader answers "not revoked" without asking Redis;

and `blacklist.is_revoked` on its own. The overhead is the difference of the medians. Writes
bench/results/blocklist_overhead.md and blocklist_overhead.png.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_jwt_extended import decode_token

import blacklist
from bench.common import RESULTS, in_process_app, local_servers, percentile, plot, samples_us
from extensions import jwt

BLOCKS = 10

PLOT_SCRIPT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(8, 4.5))
series = data["series"]
ax.boxplot([series[name] for name in series], showfliers=False)
ax.set_xticks(range(1, len(series) + 1), list(series))
ax.set_ylabel("microseconds per call (whiskers: 1.5 IQR, no outliers)")
ax.set_title(data["title"])
ax.grid(True, axis="y", alpha=0.3)
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000, help="requests per side")
    args = parser.parse_args()
    per_block = max(1, args.rounds // BLOCKS)

    with local_servers("bench_blocklist") as (mongo_uri, redis_url):
        app, _user, headers = in_process_app(mongo_uri, redis_url)
        with app.app_context():
            claims = decode_token(headers["Authorization"].removeprefix("Bearer "))
        client = app.test_client()

        def request_me() -> None:
            status = client.get("/api/v1/users/me", headers=headers).status_code
            if status != 200:
                sys.exit(f"GET /users/me answered {status}")

        checked: list[float] = []
        unchecked: list[float] = []
        for _ in range(BLOCKS):
            checked += samples_us(request_me, per_block)
            with mock.patch.object(jwt, "_token_in_blocklist_callback", lambda _h, _p: False):
                unchecked += samples_us(request_me, per_block)
        with app.app_context():
            alone = samples_us(lambda: blacklist.is_revoked(claims), per_block * BLOCKS)

    rows = {
        "request, with the check": checked,
        "request, without it": unchecked,
        "is_revoked alone (one MGET)": alone,
    }
    overhead = statistics.median(checked) - statistics.median(unchecked)
    when = datetime.now(UTC)
    lines = [
        f"# Blocklist check overhead, `GET /api/v1/users/me` ({when:%Y-%m-%d})",
        "",
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"MongoDB: {'MONGO_URI' if os.environ.get('MONGO_URI') else 'FerretDB 1.24 (SQLite)'}, "
        f"local redis-server over loopback TCP; in-process Flask test client; "
        f"{len(checked)} requests per side in {BLOCKS} alternating blocks "
        f"(load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| what | p50 µs | p95 µs |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {statistics.median(s):.0f} | {percentile(s, 0.95):.0f} |"
        for name, s in rows.items()
    ]
    lines += [
        "",
        f"**Overhead of the check: {overhead:.0f} µs per authenticated request** (difference "
        f"of the medians; {overhead / statistics.median(unchecked):.0%} of this request), "
        f"against {statistics.median(alone):.0f} µs for the MGET alone.",
        "",
        "![latency](blocklist_overhead.png)",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "blocklist_overhead.md").write_text(report)
    plot(
        PLOT_SCRIPT,
        {"series": rows, "title": f"Blocklist check, {os.cpu_count()} cores ({when:%Y-%m-%d})"},
        RESULTS / "blocklist_overhead.png",
    )


if __name__ == "__main__":
    main()
