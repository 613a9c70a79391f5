"""Notice an actor that holds the event loop, and say which one and how to fix it.

Every actor of a node runs on one event loop, so a handler that blocks (a
``time.sleep``, a synchronous HTTP call, a long computation) stops every
other actor, timer and reply of that node. The watchdog is a daemon thread
that pings the loop every ``threshold / 2`` seconds (one
``call_soon_threadsafe``; nothing on the message path). When a ping waits
longer than ``threshold``, it reads what the loop is running (the actor whose
turn it is and the message it handles, or the actor whose async handler
holds the loop between awaits) and logs a warning naming both, how long so
far, and the two fixes; when the loop comes back it logs how long it was held
in all. A loop that is merely busy (many turns, none of them long) is
reported as lag, without blaming an actor.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

__all__ = ["LoopWatchdog"]

log = logging.getLogger("rayka")

_FIXES = ("give blocking code its own thread with the class attribute `blocking = True`, or make I/O "
          "`async def receive` and await it; everything else on this node waits meanwhile")


class LoopWatchdog:
    """Watch one system's loop from a daemon thread.

    Args:
        system: the actor system (its loop and dispatcher).
        threshold: seconds a single hold of the loop may last before a warning.
    """

    def __init__(self, system: Any, threshold: float) -> None:
        self.threshold = threshold
        self.reported = 0  # holds reported so far
        self.lag = 0.0  # seconds the last ping waited for the loop
        self.max_lag = 0.0  # the longest wait since the metrics last read it (``take_max_lag``)
        self.episode_over = threading.Event()  # set once a reported hold has ended (its total logged)
        self._system = system
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rayka-{system.name}-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        loop = self._system._loop
        dispatcher = self._system._dispatcher
        interval = self.threshold / 2
        while not self._stop.wait(interval):
            answered = threading.Event()
            sent = time.monotonic()
            try:
                loop.call_soon_threadsafe(self._answer, answered, sent)
            except RuntimeError:  # the loop is closed
                return
            turns = dispatcher.turns
            if answered.wait(self.threshold) or self._stop.is_set():
                continue
            culprit = self._culprit(loop, dispatcher, turns)
            self.reported += 1
            if culprit is None:
                log.warning("rayka: system %r: the event loop is %.1f s late (busy with many short turns, "
                            "none over %.1f s)", self._system.name, time.monotonic() - sent, self.threshold)
            else:
                log.warning("rayka: %s has held the event loop for %.1f s so far, handling a %s message; %s",
                            culprit[0], time.monotonic() - sent, culprit[1], _FIXES)
            while not answered.wait(0.5):
                if self._stop.is_set():
                    return
            if culprit is not None:
                log.warning("rayka: %s held the event loop for %.1f s in all (handling a %s message)",
                            culprit[0], time.monotonic() - sent, culprit[1])
            self.episode_over.set()

    def _answer(self, answered: threading.Event, sent: float) -> None:
        """Runs on the loop: how late it is is how long the ping waited."""
        lag = time.monotonic() - sent
        self.lag = lag
        if lag > self.max_lag:
            self.max_lag = lag
        answered.set()

    def take_max_lag(self) -> float:
        """The longest lag since the last call (the current one if a hold is under way), and start again."""
        lag, self.max_lag = self.max_lag, 0.0
        return lag

    def _culprit(self, loop: asyncio.AbstractEventLoop, dispatcher: Any, turns: int) -> tuple[str, str] | None:
        """``(actor path, message type)`` of what holds the loop, or ``None`` if nothing holds it long."""
        cell = dispatcher.current
        if cell is not None and dispatcher.turns == turns:  # one turn all along: that actor holds the loop
            return cell.path, _message_type(getattr(cell, "_current", None))
        current: dict = getattr(asyncio.tasks, "_current_tasks", {})
        task = current.get(loop)  # a task step that does not yield (read without a lock)
        if task is not None:
            cell = getattr(task, "rayka_cell", None)
            if cell is not None:
                return cell.path, _message_type(getattr(cell, "_current", None))
            return f"task {task.get_name()!r}", "(not an actor's)"
        return None


def _message_type(envelope: Any) -> str:
    if not envelope:
        return "lifecycle hook (no)"
    return type(envelope[0]).__name__
