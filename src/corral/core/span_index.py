"""The ``span-search-index`` job: adds newly stored spans to the SQLite text index.

Ingest does not touch the index (it must stay a plain batch of inserts); this job catches up
behind it in short write transactions, so ingest waits at most one batch for the write lock.
While ingest is queued for the database the job steps aside, up to a bounded lag: a burst is
stored first and indexed after. Searches scan what the job has not reached yet, so nothing
stored is ever missing from results.
PostgreSQL indexes on insert; there the job has nothing to do.
"""

from __future__ import annotations

from corral.core.group_commit import writers_waiting
from corral.core.runtime import Runtime
from corral.db import span_search

BATCH = 2_000
"""Spans indexed per write transaction."""
MAX_BATCHES = 50
"""Batches per run: a large back-fill proceeds over several runs, leaving other jobs their turn."""
INTERVAL_SECONDS = 2.0
MAX_LAG = 200_000
"""Spans the job leaves for later while ingest waits; past this it indexes anyway, so that a
search never scans many more unindexed spans than this. Scanning 200,000 of the benchmark's spans
for a text found in none took about 150 ms on a 2-core machine: a search during a burst then
stays inside the console's 300 ms, while indexing (about 15 µs per span, in the single write
slot, as much as storing the span there) waits until ingest does."""


def index_span_text(rt: Runtime) -> int:
    """Index the spans stored since the last run (up to a bound); returns how many."""
    if rt.db.dialect != "sqlite":
        return 0
    total = 0
    for _ in range(MAX_BATCHES):
        if writers_waiting(rt):
            with rt.db.read() as uow:
                if span_search.unindexed(uow) <= MAX_LAG:
                    break
        with rt.db.write() as uow:
            added = span_search.index_pending(uow, BATCH)
        total += added
        if added < BATCH:
            break
    return total
