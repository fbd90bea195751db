"""Latency and throughput of project memory at scale.

    python bench/memory.py [--items 1000000] [--projects 10] [--database-url URL] [--quick]

Loads ``--items`` synthetic items (Zipf-distributed vocabulary, 8-20 words each) over
``--projects`` projects with batch remember, then measures in-process recall and restore
latency, and single-item remember over HTTP against a real ``corral serve`` on the same database.
SQLite by default (a temporary file); ``--database-url`` names an empty PostgreSQL database.
``--quick`` loads 20,000 items. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, percentile, scratch_runtime

from corral.core.memory.recall import RecallQuery, recall
from corral.core.memory.remember import remember_many
from corral.core.memory.restore import restore
from corral.core.projects import create_project
from corral.schemas.memory import MemoryItemCreate
from corral.schemas.tenancy import ProjectCreate

BATCH = 5000
KINDS = ["note"] * 6 + ["fact"] * 2 + ["decision", "task"]


class Corpus:
    """Deterministic synthetic text: pseudo-words drawn with a Zipf law, like natural language."""

    def __init__(self, seed: int = 7, vocabulary: int = 30_000) -> None:
        self.random = random.Random(seed)
        syllables = [
            "ka",
            "lo",
            "mi",
            "ne",
            "ru",
            "sa",
            "ti",
            "vo",
            "zen",
            "dar",
            "pel",
            "quo",
            "bri",
            "fu",
            "gan",
            "hes",
            "jor",
            "wim",
            "yul",
            "cos",
        ]
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(self.random.choices(syllables, k=self.random.randint(2, 4))))
        self.words = sorted(words)
        self.random.shuffle(self.words)
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(vocabulary)))

    def text(self, low: int, high: int) -> str:
        count = self.random.randint(low, high)
        return " ".join(self.random.choices(self.words, cum_weights=self.cumulative, k=count))

    def query(self) -> str:
        # Queries favour mid-frequency words, as people search for subjects, not filler.
        picks = self.random.choices(self.words[50:5000], k=self.random.randint(2, 4))
        return " ".join(picks)


def load(rt, admin, projects: list[str], total: int, corpus: Corpus) -> float:  # type: ignore[no-untyped-def]
    per_project = total // len(projects)
    started = time.perf_counter()
    done = 0
    for start in range(0, per_project, BATCH):
        for project in projects:
            count = min(BATCH, per_project - start)
            items = [
                MemoryItemCreate(
                    content=corpus.text(8, 20),
                    kind=corpus.random.choice(KINDS),
                    session=f"s{(start + i) // 50}",
                )
                for i in range(count)
            ]
            remember_many(rt, admin, project, items)
            done += count
        elapsed = time.perf_counter() - started
        print(f"  loaded {done:>9,} items  {done / elapsed:>8,.0f} items/s", file=sys.stderr)
    return done / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_remember_p50(url: str, key: str, project: str, corpus: Corpus, count: int) -> list[float]:
    timings = []
    with httpx2.Client(base_url=url, headers={"authorization": f"Bearer {key}"}) as client:
        for i in range(count + 20):
            body = {"content": f"{corpus.text(8, 20)} http {i}", "kind": "note"}
            started = time.perf_counter()
            response = client.post(f"/v1/projects/{project}/memory/items", json=body)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            if i >= 20:  # warm-up: connection, caches
                timings.append(elapsed)
    return timings


def serve(database_url: str, home: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(
        CORRAL_HOME=home,
        CORRAL_DATABASE_URL=database_url,
        CORRAL_LOG_LEVEL="warning",
        CORRAL_CONFIG=f"{home}/cli.json",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "corral.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx2.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("corral serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database-url", help="An empty PostgreSQL database to run on.")
    parser.add_argument("--quick", action="store_true", help="20,000 items, fewer queries.")
    args = parser.parse_args()
    if args.quick:
        args.items, args.queries = 20_000, 100
    corpus = Corpus()
    with scratch_runtime(args.database_url) as (rt, admin, key):
        url = str(rt.db.url.render_as_string(hide_password=False))
        projects = [f"bench-{i}" for i in range(args.projects)]
        for name in projects:
            create_project(rt, admin, ProjectCreate(name=name))
        rate = load(rt, admin, projects, args.items, corpus)

        recall_ms, restore_ms, hits = [], [], 0
        for i in range(args.queries):
            project = projects[i % len(projects)]
            query = corpus.query()
            started = time.perf_counter()
            result = recall(rt, admin, project, RecallQuery(query=query, limit=10))
            recall_ms.append((time.perf_counter() - started) * 1000)
            hits += len(result.hits)
        for i in range(max(args.queries // 3, 20)):
            project = projects[i % len(projects)]
            started = time.perf_counter()
            restore(rt, admin, project, task=corpus.query(), budget=2000)
            restore_ms.append((time.perf_counter() - started) * 1000)

        with tempfile.TemporaryDirectory() as home:
            process, server_url = serve(url, home)
            try:
                http_ms = [
                    t * 1000 for t in http_remember_p50(server_url, key, projects[0], corpus, 200)
                ]
            finally:
                process.terminate()
                process.wait(timeout=30)

    figures = {
        "benchmark": "memory",
        "database": rt.db.dialect,
        "items": args.items,
        "projects": args.projects,
        "batch_remember_items_per_s": round(rate),
        "recall_p50_ms": round(median(recall_ms), 2),
        "recall_p95_ms": round(percentile(recall_ms, 0.95), 2),
        "restore_p50_ms": round(median(restore_ms), 2),
        "restore_p95_ms": round(percentile(restore_ms, 0.95), 2),
        "http_remember_p50_ms": round(median(http_ms), 2),
        "http_remember_p95_ms": round(percentile(http_ms, 0.95), 2),
        "mean_hits_per_recall": round(hits / args.queries, 1),
    }
    print(f"Memory at {args.items:,} items over {args.projects} projects ({rt.db.dialect})")
    rows = [
        (
            "batch remember",
            f"{figures['batch_remember_items_per_s']:,} items/s",
            ">= 2,000 items/s",
        ),
        ("recall p50 (in-process)", f"{figures['recall_p50_ms']} ms", "<= 10 ms"),
        ("recall p95 (in-process)", f"{figures['recall_p95_ms']} ms", "<= 25 ms"),
        ("restore p95 (in-process)", f"{figures['restore_p95_ms']} ms", "<= 50 ms"),
        ("remember p50 (HTTP)", f"{figures['http_remember_p50_ms']} ms", "<= 5 ms"),
    ]
    for name, value, target in rows:
        print(f"  {name:<26}{value:>18}   target {target}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
