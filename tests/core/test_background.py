from __future__ import annotations

import asyncio
import threading
import time

from corral.core.background import start_in_thread


def test_work_starts_after_its_delay_in_another_thread() -> None:
    ran_in: list[threading.Thread] = []
    done = threading.Event()

    def work() -> None:
        ran_in.append(threading.current_thread())
        done.set()

    async def scenario() -> bool:
        start_in_thread(work, delay=0.5)
        # Work started at once would have run by now; work due in half a second cannot have.
        await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.05)
        started_at_once = bool(ran_in)
        await asyncio.get_running_loop().run_in_executor(None, done.wait, 10)
        return started_at_once

    assert asyncio.run(scenario()) is False
    assert ran_in
    assert ran_in[0] is not threading.main_thread()


def test_work_under_one_key_runs_once_at_a_time() -> None:
    runs: list[str] = []
    release = threading.Event()

    def slow() -> None:
        runs.append("slow")
        release.wait(10)

    def quick() -> None:
        runs.append("quick")

    async def scenario() -> list[str]:
        start_in_thread(slow, key="reload")
        start_in_thread(quick, key="reload")  # the first still runs: not started
        start_in_thread(quick, key="other")  # another key is not held back
        await asyncio.sleep(0.2)
        while_held = sorted(runs)
        release.set()
        for _ in range(1000):  # once the first is done, work under its key starts again
            start_in_thread(quick, key="reload")
            await asyncio.sleep(0.01)
            if runs.count("quick") == 2:
                break
        return while_held

    assert asyncio.run(scenario()) == ["quick", "slow"]
    assert runs.count("quick") == 2
