"""The dispatcher: one ready queue of actors per node, drained on the node's event loop.

An actor is put on the ready queue when its mailbox becomes non-empty; the
dispatcher runs ready actors in turn, each for at most ``throughput``
messages, and gives the event loop back every ``turns_per_slice`` turns so
timers, I/O and async handlers keep running. Idle actors are on no queue,
and cost no task and no thread. When the queue is empty the dispatcher is
parked: it holds no callback on the loop until something becomes ready.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._state import CellState

__all__ = ["Dispatcher"]

_get_ident = threading.get_ident
log = logging.getLogger("rayka")


class Dispatcher:
    """Runs ready actors on one event loop; ``schedule`` is safe from any thread."""

    __slots__ = ("loop", "thread_id", "ready", "_armed", "turns_per_slice", "current", "turns")

    def __init__(self, loop: asyncio.AbstractEventLoop, thread_id: int, turns_per_slice: int = 256) -> None:
        self.loop = loop
        self.thread_id = thread_id
        self.ready: deque[CellState] = deque()
        self._armed = False
        self.turns_per_slice = turns_per_slice
        self.current: CellState | None = None  # the actor whose turn it is, for backpressure and the watchdog
        self.turns = 0  # drains so far: the watchdog tells one long turn from many short ones

    def schedule(self, cell: CellState) -> None:
        """Put ``cell`` on the ready queue and make sure a drain is coming."""
        self.ready.append(cell)
        if not self._armed:
            self._arm()

    def _arm(self) -> None:
        self._armed = True
        if _get_ident() == self.thread_id:
            self.loop.call_soon(self._drain)
        else:
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: the system is shut down
                self._armed = False

    def _drain(self) -> None:
        ready = self.ready
        popleft = ready.popleft
        turns = self.turns_per_slice
        self.turns += 1
        try:
            while ready and turns:
                turns -= 1
                cell = self.current = popleft()
                cell.run()
                self.turns += 1
        except BaseException as bug:  # noqa: BLE001 - a runtime bug must not stop every actor
            log.critical("rayka: the dispatcher hit a bug running %s: %r", getattr(cell, "path", cell), bug,
                         exc_info=bug)
        self.current = None
        if ready:
            self.loop.call_soon(self._drain)
            return
        self._armed = False
        if ready:  # something was scheduled from another thread between the check and the flag
            self._arm()
