"""Benchmark: what a cache hit costs on `GET /api/v1/templates/<id>` next to a MongoDB read.

Run by hand, never by the test suite:

    FERRETDB_BIN=... REDIS_SERVER_BIN=... python bench/templates_cache.py [--rounds 2000]

Without MONGO_URI / REDIS_URL it starts FerretDB (SQLite backend) and redis-server on free local
ports (tests/servers.py) and builds the app in-process on them. For a small (2 KB) and the
largest allowed (100 KB) template it measures, one call after the other:

- the read path alone (inside a request context): a cache hit (`template_cache.read_template`:
  one MGET + unpickle) vs the MongoDB read it replaces (`find_one` + render + ETag);
- the whole request through the Flask test client with a JWT (auth, blocklist check, headers):
  cache on vs the cache bypassed (the view reading MongoDB directly).

Prints a Markdown table of medians and writes it to bench/results/templates_cache.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, in_process_app, local_servers, samples_us
from resources.templates import template_etag
from schemas.templates import render_template_object
from services import template_cache
from stores.templates import build_template_document, find_template, insert_template

SIZES = {"2 KB": 2_000, "100 KB": 100_000}


def median_us(call: Callable[[], object], rounds: int) -> float:
    return statistics.median(samples_us(call, rounds))


def measure(app, templateid: str, headers: dict[str, str], rounds: int) -> dict[str, float]:
    def load():
        return find_template(templateid)

    def hit():
        found = template_cache.read_template(
            templateid, load, render_template_object, template_etag
        )
        if not found.from_cache:
            raise RuntimeError("expected a cache hit")

    def mongo_read():
        document = load()
        return render_template_object(document), template_etag(document)

    with app.test_request_context():
        template_cache.read_template(
            templateid, load, render_template_object, template_etag
        )  # fill
        results = {"hit": median_us(hit, rounds), "mongo": median_us(mongo_read, rounds)}

    client = app.test_client()
    url = f"/api/v1/templates/{templateid}"

    def get():
        status = client.get(url, headers=headers).status_code
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}")

    results["http_hit"] = median_us(get, rounds)

    def uncached(templateid, load, render, etag):
        document = load()
        return template_cache.CachedTemplate(render(document), etag(document))

    with mock.patch.object(template_cache, "read_template", uncached):
        results["http_mongo"] = median_us(get, rounds)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    with local_servers("bench_templates") as (mongo_uri, redis_url):
        app, user, headers = in_process_app(mongo_uri, redis_url)
        with app.app_context():
            templateids = {
                label: insert_template(
                    build_template_document(
                        {"name": f"bench {label}", "content": "x" * size},
                        {"type": "user", "id": str(user["_id"]), "username": user["username"]},
                    )
                )["templateid"]
                for label, size in SIZES.items()
            }
        rows = {
            label: measure(app, tid, headers, args.rounds) for label, tid in templateids.items()
        }

    lines = [
        f"# Cache hit vs MongoDB read, `GET /api/v1/templates/<id>` ({datetime.now(UTC):%Y-%m-%d})",
        "",
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"MongoDB: {'MONGO_URI' if os.environ.get('MONGO_URI') else 'FerretDB 1.24 (SQLite)'}, "
        f"local redis-server; medians of {args.rounds} sequential calls, in microseconds "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other work shares the machine).",
        "",
        "| template | read path: cache hit | read path: MongoDB | ratio | "
        "whole request: cached | whole request: MongoDB | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {r['hit']:.0f} | {r['mongo']:.0f} | {r['mongo'] / r['hit']:.1f}x | "
            f"{r['http_hit']:.0f} | {r['http_mongo']:.0f} | {r['http_mongo'] / r['http_hit']:.2f}x |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "templates_cache.md").write_text(report)


if __name__ == "__main__":
    main()
