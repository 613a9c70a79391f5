"""Small asyncio helpers for the runtime's own coroutines."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Coroutine, Generator

__all__ = ["drive", "settle"]


class _Rest:
    """Awaitable that carries on a coroutine already started by :func:`drive`."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine, first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, None, Any]:
        coro, value = self.coro, self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:  # the task was dropped: close the coroutine, do not resume it
                coro.close()
                raise
            except BaseException as error:  # noqa: BLE001 - forwarded into the coroutine
                try:
                    value = coro.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(rest: _Rest) -> Any:
    return await rest


def drive(loop: asyncio.AbstractEventLoop, coro: Coroutine) -> asyncio.Future | None:
    """Run a runtime coroutine now, on this thread, as far as it goes without waiting.

    Returns ``None`` when it finished at once (exceptions propagate), or a
    task that carries it on. Only for rayka's own coroutines, which await
    plain futures: user code always runs in a real task.
    """
    try:
        first = coro.send(None)
    except StopIteration:
        return None
    return loop.create_task(_finish(_Rest(coro, first)))


async def settle(awaitable: Awaitable[Any], timeout: float | None) -> bool:
    """Wait for ``awaitable`` at most ``timeout`` seconds; True if it finished, else cancel it.

    Works outside a task too (unlike ``asyncio.wait_for`` on 3.12+).
    Exceptions of the awaitable are swallowed here: callers read the
    future themselves when they care.
    """
    loop = asyncio.get_running_loop() if _in_loop() else None
    future = asyncio.ensure_future(awaitable, loop=loop)
    if future.done():
        return True
    waiter = future.get_loop().create_future()

    def done(_: Any) -> None:
        if not waiter.done():
            waiter.set_result(True)

    future.add_done_callback(done)
    handle = None
    if timeout is not None:
        handle = future.get_loop().call_later(timeout, _set_if_pending, waiter, False)
    try:
        finished = await waiter
    finally:
        if handle is not None:
            handle.cancel()
        future.remove_done_callback(done)
    if not finished:
        future.cancel()
    return finished


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _set_if_pending(waiter: asyncio.Future, value: Any) -> None:
    if not waiter.done():
        waiter.set_result(value)
