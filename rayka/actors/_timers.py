"""Timers and clocks.

Actors schedule messages to themselves with ``context.schedule_once`` and
``schedule_repeatedly``; timers are cancelled when the actor stops or
restarts. Timers and supervision backoff read time from the system's clock:
:class:`LoopClock` in production, :class:`rayka.testing.ManualClock` in tests.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Protocol

__all__ = ["Clock", "LoopClock", "Timer"]


class Clock(Protocol):
    """What the runtime needs of a clock: the time, and callbacks later on the loop thread."""

    def time(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any: ...

    def attach(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = 0

    def attach(self, loop: asyncio.AbstractEventLoop, thread_id: int) -> None:
        self._loop = loop
        self._thread_id = thread_id

    def time(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> Any:
        loop = self._loop
        assert loop is not None
        if threading.get_ident() == self._thread_id:
            return loop.call_later(delay, callback)
        handle = _LateHandle()
        loop.call_soon_threadsafe(handle.start, loop, delay, callback)
        return handle


class _LateHandle:
    """A cancellable handle for a timer armed from another thread."""

    __slots__ = ("_handle", "_cancelled")

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = False

    def start(self, loop: asyncio.AbstractEventLoop, delay: float, callback: Callable[[], Any]) -> None:
        if not self._cancelled:
            self._handle = loop.call_later(delay, callback)

    def cancel(self) -> None:
        self._cancelled = True
        if self._handle is not None:
            self._handle.cancel()


class Timer:
    """A scheduled message to an actor itself; ``cancel()`` stops it."""

    __slots__ = ("_cell", "message", "interval", "_handle", "active")

    def __init__(self, cell: Any, message: Any, interval: float | None) -> None:
        self._cell = cell
        self.message = message
        self.interval = interval
        self._handle: Any = None
        self.active = True

    def arm(self, delay: float) -> None:
        self._handle = self._cell._system.clock.call_later(delay, self._fire)

    def _fire(self) -> None:
        if not self.active:
            return
        cell = self._cell
        if self.interval is None:
            self.active = False
            if cell._timers is not None:
                cell._timers.discard(self)
        else:
            self.arm(self.interval)
        cell.tell(self.message, None)

    def cancel(self) -> None:
        """Cancel the timer; a message not yet sent is never sent."""
        self.active = False
        if self._handle is not None:
            self._handle.cancel()
        timers = self._cell._timers
        if timers is not None:
            timers.discard(self)

    def __repr__(self) -> str:
        kind = "once" if self.interval is None else f"every {self.interval}s"
        return f"<Timer {kind} {self.message!r} to {self._cell.path}{'' if self.active else ' cancelled'}>"
