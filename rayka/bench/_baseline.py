"""The local benchmark's bare-asyncio side: the floor a runtime on one event loop can reach.

Each function runs one repetition of one case and returns its raw figures,
with the same keys as the rayka side in ``local.py``; every loop started here
is closed.

- tell: a deque plus a waiter future; the consumer is woken only when it is
  parked, the producer yields every 256 messages; one handler call per message;
- tell from a thread: the same deque, with the wake-up handed over by
  ``call_soon_threadsafe`` only when the consumer is parked;
- ask between tasks: future ping-pong between two tasks;
- ask from a thread: ``call_soon_threadsafe`` to a handler that releases a lock;
- fan-out: mini-actors (a deque and a task parked on a future), fed from one
  ``call_soon_threadsafe`` callback;
- spawn: creating those mini-actors and letting each task park.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections import deque
from typing import Any

from ._peers import WAIT, Countdown, wait
from ._report import percentile

__all__ = [
    "asyncio_ask_pingpong",
    "asyncio_ask_thread",
    "asyncio_fan_out",
    "asyncio_spawn",
    "asyncio_tell",
    "asyncio_tell_thread",
]

_now = time.perf_counter


def asyncio_tell(n: int) -> dict[str, float]:
    """Producer task -> consumer task through a deque; the consumer is woken only when parked."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        queue: deque = deque()
        state: dict[str, Any] = {"waiter": None}
        done = loop.create_future()

        async def consumer() -> None:
            countdown = Countdown(n, locked=False)
            hit, popleft = countdown.hit, queue.popleft
            while True:
                while queue:
                    popleft()
                    hit()  # one handler call per message, as an actor's receive
                if countdown.event.is_set():
                    done.set_result(None)
                    return
                state["waiter"] = waiter = loop.create_future()
                await waiter

        async def producer() -> None:
            append = queue.append
            for i in range(n):
                append(i)
                waiter = state["waiter"]
                if waiter is not None:
                    state["waiter"] = None
                    waiter.set_result(None)
                if i & 255 == 255:
                    await asyncio.sleep(0)

        task = loop.create_task(consumer())
        await asyncio.sleep(0)
        started = _now()
        await producer()
        await asyncio.wait_for(done, WAIT)
        elapsed = _now() - started
        await task
        return elapsed

    return {"msgs_per_s": n / asyncio.run(main())}


class _LoopThread:
    """An asyncio loop running in its own thread (like rayka's), closed on exit."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-asyncio", daemon=True)

    def __enter__(self) -> asyncio.AbstractEventLoop:
        self.thread.start()
        return self.loop

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


def asyncio_tell_thread(n: int) -> dict[str, float]:
    """The main thread feeds a consumer task's deque; ``call_soon_threadsafe`` only when it is parked."""
    queue: deque = deque()
    lock = threading.Lock()
    state: dict[str, Any] = {"waiter": None}
    countdown = Countdown(n, locked=False)
    finished = countdown.event

    def wake(waiter: asyncio.Future) -> None:
        if not waiter.done():
            waiter.set_result(None)

    async def consumer() -> None:
        loop = asyncio.get_running_loop()
        hit, popleft = countdown.hit, queue.popleft
        while True:
            while queue:
                popleft()
                hit()
            if finished.is_set():
                return
            waiter = loop.create_future()
            state["waiter"] = waiter  # published before the last look at the queue
            if queue:
                with lock:
                    if state["waiter"] is waiter:  # nobody took it: no wake-up is coming
                        state["waiter"] = None
                        continue
            await waiter

    with _LoopThread() as loop:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(WAIT)
        task = asyncio.run_coroutine_threadsafe(consumer(), loop)
        append = queue.append
        started = _now()
        for i in range(n):
            append(i)
            if state["waiter"] is not None:
                with lock:
                    waiter, state["waiter"] = state["waiter"], None
                if waiter is not None:
                    loop.call_soon_threadsafe(wake, waiter)
        wait(finished, "asyncio tell thread->task")
        elapsed = _now() - started
        task.result(WAIT)
    return {"msgs_per_s": n / elapsed}


def asyncio_ask_pingpong(n: int) -> dict[str, float]:
    """Future ping-pong between two tasks, ``n`` round trips."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        inbox: list[asyncio.Future] = [loop.create_future()]

        async def server() -> None:
            while True:
                message, reply = await inbox[0]
                inbox[0] = loop.create_future()
                if reply is None:
                    return
                reply.set_result(message)

        task = loop.create_task(server())
        await asyncio.sleep(0)
        started = _now()
        for i in range(n):
            reply = loop.create_future()
            inbox[0].set_result((i, reply))
            await reply
        elapsed = _now() - started
        inbox[0].set_result((None, None))
        await task
        return elapsed

    return {"round_trips_per_s": n / asyncio.run(main())}


def asyncio_ask_thread(n: int) -> dict[str, float]:
    """The main thread calls a handler on the loop with ``call_soon_threadsafe`` and waits on a lock."""
    box: list[Any] = [None]

    def handler(message: Any, latch: threading.Lock) -> None:
        box[0] = message
        latch.release()

    times = []
    with _LoopThread() as loop:
        call = loop.call_soon_threadsafe
        for i in range(n):
            started = _now()
            latch = threading.Lock()
            latch.acquire()
            call(handler, i, latch)
            if not latch.acquire(timeout=WAIT):
                raise RuntimeError("asyncio ask thread->loop: no answer (hung?)")
            times.append(_now() - started)
    times.sort()
    return {"median_us": percentile(times, 0.5) * 1e6, "p99_us": percentile(times, 0.99) * 1e6}


class _Mini:
    """A mini-actor: a deque and a task parked on a future while the deque is empty."""

    __slots__ = ("queue", "waiter", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Any) -> None:
        self.queue: deque = deque()
        self.waiter: asyncio.Future | None = None
        self.task = loop.create_task(self.run(loop, handle))

    async def run(self, loop: asyncio.AbstractEventLoop, handle: Any) -> None:
        queue = self.queue
        while True:
            while queue:
                if handle(queue.popleft()) is _STOP:
                    return
            self.waiter = waiter = loop.create_future()
            await waiter

    def put(self, message: Any) -> None:
        self.queue.append(message)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter.set_result(None)


_STOP = object()


async def _stop_minis(minis: list[_Mini]) -> None:
    for mini in minis:
        mini.put(_STOP)
    await asyncio.gather(*(mini.task for mini in minis))


def asyncio_fan_out(n: int) -> dict[str, float]:
    """One ``call_soon_threadsafe`` from the main thread puts a message in each of ``n`` mini-actors."""
    countdown = Countdown(n, locked=False)

    def handle(message: Any) -> Any:
        if message is _STOP:
            return _STOP
        countdown.hit()
        return None

    def fan(minis: list[_Mini]) -> None:
        for mini in minis:
            mini.put(None)

    async def build() -> list[_Mini]:
        loop = asyncio.get_running_loop()
        minis = [_Mini(loop, handle) for _ in range(n)]
        await asyncio.sleep(0)
        return minis

    with _LoopThread() as loop:
        minis = asyncio.run_coroutine_threadsafe(build(), loop).result(WAIT)
        started = _now()
        loop.call_soon_threadsafe(fan, minis)
        wait(countdown.event, "asyncio fan-out")
        elapsed = _now() - started
        asyncio.run_coroutine_threadsafe(_stop_minis(minis), loop).result(WAIT)
    return {"total_ms": elapsed * 1e3, "msgs_per_s": n / elapsed}


def asyncio_spawn(n: int, *, traced: bool) -> dict[str, float]:
    """Create ``n`` mini-actors and let each task park; with ``traced``, the tracemalloc bytes per actor."""

    def handle(message: Any) -> Any:
        return _STOP if message is _STOP else None

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        gc.collect()
        if traced:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0] if traced else 0
            started = _now()
            minis = [_Mini(loop, handle) for _ in range(n)]
            await asyncio.sleep(0)  # each task runs once and parks
            elapsed = _now() - started
            grown = tracemalloc.get_traced_memory()[0] - before if traced else 0
        finally:
            if traced:
                tracemalloc.stop()
        if not all(mini.waiter is not None for mini in minis):
            raise RuntimeError("asyncio spawn: a mini-actor did not park")
        await _stop_minis(minis)
        if traced:
            return {"bytes_per_actor": grown / n}
        return {"actors_per_s": n / elapsed, "us_per_actor": elapsed / n * 1e6}

    return asyncio.run(main())
