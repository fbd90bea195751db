"""Server time of the console's memory pages with a large memory.

    python bench/console_memory.py [--items 100000] [--requests 60] [--database-url URL] [--quick]

Loads ``--items`` synthetic items into one project (batch remember; a mix of kinds, 1% pinned,
2% superseded through repeated keys), signs a person in, then requests every memory page
(listing with each filter, a deep page, search, an item and its confirmation page) through the
app in this process and prints p50 / p95 per page. The time is the whole request through the
ASGI app, so it bounds the server's time from above. SQLite by default (a temporary file);
``--database-url`` names an empty PostgreSQL database. ``--quick`` loads 5,000 items. Prints a
table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, percentile, print_table, scratch_runtime
from fastapi.testclient import TestClient
from memory import Corpus

from corral.core import logins, users
from corral.core.memory.items import list_items
from corral.core.memory.remember import remember_many
from corral.core.pagination import encode_cursor
from corral.core.projects import create_project
from corral.core.statistics import refresh_trace_statistics
from corral.schemas.memory import MemoryItemCreate, MemoryKind, Validity
from corral.schemas.tenancy import ProjectCreate, UserCreate
from corral.server.app import create_app

BATCH = 5000
PROJECT = "big"
KINDS = [MemoryKind.NOTE] * 5 + [MemoryKind.FACT] * 2 + [MemoryKind.DECISION, MemoryKind.TASK]
KINDS += [MemoryKind.PREFERENCE]
PASSWORD = "benchmark password"


def load(rt, admin, total: int, corpus: Corpus) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    done = 0
    while done < total:
        count = min(BATCH, total - done)
        items = []
        for i in range(count):
            n = done + i
            kind = corpus.random.choice(KINDS)
            items.append(
                MemoryItemCreate(
                    content=corpus.text(8, 30),
                    kind=kind,
                    # Every 50th item re-uses one of a few hundred keys: it supersedes the last.
                    key=f"subject-{n % 997}" if n % 50 == 0 else None,
                    tags=[corpus.random.choice(corpus.words[:200])],
                    pinned=n % 100 == 7,
                    importance=corpus.random.random(),
                )
            )
        remember_many(rt, admin, PROJECT, items, supersede=True)
        done += count
        rate = done / (time.perf_counter() - started)
        print(f"  loaded {done:>8,} items  {rate:>8,.0f} items/s", file=sys.stderr)
    return done / (time.perf_counter() - started)


def signed_in(rt, admin, http: TestClient) -> None:  # type: ignore[no-untyped-def]
    user = users.create_user(rt, admin, UserCreate(email="bench@example.com", workspace_admin=True))
    invite = logins.create_invite(rt, admin, user.id, 1)
    logins.accept_invite(rt, invite.accept_path.split("token=")[1], PASSWORD)
    session = logins.login(rt, "bench@example.com", PASSWORD, address="127.0.0.1")
    http.cookies.set(logins.SESSION_COOKIE, session.cookie)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="Timed requests per page.")
    parser.add_argument("--database-url", help="An empty PostgreSQL database to run on.")
    parser.add_argument("--quick", action="store_true", help="5,000 items, 15 requests a page.")
    args = parser.parse_args()
    if args.quick:
        args.items, args.requests = 5_000, 15

    corpus = Corpus()
    with scratch_runtime(args.database_url) as (rt, admin, _key):
        for name in ("other-a", "other-b", PROJECT):
            create_project(rt, admin, ProjectCreate(name=name))
        rate = load(rt, admin, args.items, corpus)
        refresh_trace_statistics(rt)  # as the server does at start and every 15 minutes
        newest = list_items(rt, admin, PROJECT, validity=Validity.ALL, limit=1).data[0]
        middle = encode_cursor(newest.id // 2)  # a page halfway down the project
        edited = newest.id
        pages = {
            "projects": "/console/memory",
            "project": f"/console/memory/{PROJECT}",
            "filter kind=task status=open": f"/console/memory/{PROJECT}?kind=task&status=open",
            "filter pinned": f"/console/memory/{PROJECT}?pinned=yes",
            "filter superseded": f"/console/memory/{PROJECT}?validity=superseded",
            "deep page (all)": f"/console/memory/{PROJECT}?validity=all&cursor={middle}",
            "search": f"/console/memory/{PROJECT}?q=",
            "item": f"/console/memory/{PROJECT}/items/{edited}",
            "forget confirmation": f"/console/memory/{PROJECT}/items/{edited}/forget",
        }
        timings: dict[str, list[float]] = {name: [] for name in pages}
        with TestClient(create_app(runtime=rt)) as http:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request
            signed_in(rt, admin, http)
            for name, path in pages.items():
                for i in range(args.requests + 3):
                    url = path + corpus.query() if path.endswith("?q=") else path
                    started = time.perf_counter()
                    answer = http.get(url)
                    elapsed = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        raise SystemExit(f"{url} answered {answer.status_code}: {answer.text}")
                    if i >= 3:  # warm-up: caches, first compilation of templates
                        timings[name].append(elapsed)
    rows = [
        (name, f"{median(ms):.1f}", f"{percentile(ms, 0.95):.1f}", f"{max(ms):.1f}")
        for name, ms in timings.items()
    ]
    print_table(
        f"Console memory pages, {args.items:,} items in one project ({rt.db.dialect})",
        rows,
        ("page", "p50 ms", "p95 ms", "max ms"),
    )
    print(f"\nloaded at {rate:,.0f} items/s")
    figures = {
        "benchmark": "console_memory",
        "database": rt.db.dialect,
        "items": args.items,
        "requests_per_page": args.requests,
        "pages": {
            name: {
                "p50_ms": round(median(ms), 2),
                "p95_ms": round(percentile(ms, 0.95), 2),
            }
            for name, ms in timings.items()
        },
        "worst_p95_ms": round(max(percentile(ms, 0.95) for ms in timings.values()), 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
