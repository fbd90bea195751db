"""Work a request starts and does not wait for, run in the event loop's thread pool.

A gateway call that finds its cached reads or its key due to be loaded again starts that
reload itself. Started at once, the reload's Python code competes for the interpreter with the
call that started it, which is still on its way to the provider: at low concurrency that was
most of a call's slowest percentiles. Started :data:`START_DELAY_SECONDS` later, the call is
waiting for its provider by then and the reload runs in that pause.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable

START_DELAY_SECONDS = 0.02
"""How long a reload waits before it starts: far longer than a call takes to reach its
provider, far shorter than the time left before what it reloads expires (half its lifetime)."""

_running: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[Hashable]] = (
    weakref.WeakKeyDictionary()
)
"""Keys of work under way or about to start, by event loop: one at a time per key."""
_futures: set[asyncio.Future[None]] = set()
"""Kept until done, so that no future is collected while its work runs."""


def start_in_thread(
    work: Callable[[], None], *, key: Hashable | None = None, delay: float = 0.0
) -> None:
    """Run ``work`` in the running event loop's thread pool, ``delay`` seconds from now,
    without waiting for it.

    Args:
        work: What to run; it handles its own errors (one that escapes is logged by the loop).
        key: If given, nothing is started while work under the same key is waiting or running.
        delay: Seconds before the work starts.
    """
    loop = asyncio.get_running_loop()
    running = _running.setdefault(loop, set())
    if key is not None:
        if key in running:
            return
        running.add(key)

    def start() -> None:
        future = loop.run_in_executor(None, work)
        _futures.add(future)
        future.add_done_callback(finished)

    def finished(future: asyncio.Future[None]) -> None:
        _futures.discard(future)
        running.discard(key)

    if delay > 0:
        loop.call_later(delay, start)
    else:
        start()
