"""Concurrent actors (``max_concurrency = N``): up to N handlers of one actor in flight at once.

As Ray's async and threaded actors and Orleans' reentrant grains: async
handlers overlap at their awaits, ``blocking`` ones run on N pool threads.
Handlers *start* in mailbox order; they may finish in any order. The cell's
``_busy`` holds a :class:`Running` (the handlers in flight) instead of one
future, so stop and restart wait for all of them (bounded by the shutdown
timeout, then cancelled). What a handler asks of its context (``sender``,
``defer_reply``) is kept per handler in a context variable, since
``cell._current`` cannot name N messages at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from typing import Any, Generator

from ._calls import Call
from ._state import CellState, Envelope

__all__ = ["Concurrent", "Running", "handling"]

#: in a concurrent actor's handler: a one-item list holding the envelope being handled
#: (replaced by ``defer_reply``); ``None`` elsewhere
handling: contextvars.ContextVar[list | None] = contextvars.ContextVar("rayka_handling", default=None)


class Running:
    """The handlers of one concurrent actor in flight; awaiting it waits for them all."""

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        self.tasks: set[asyncio.Future] = set()

    def done(self) -> bool:
        return not self.tasks

    def cancel(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def __await__(self) -> Generator[Any, None, Any]:
        # cancelling this wait (a stop past its timeout) cancels the handlers too
        return asyncio.gather(*self.tasks, return_exceptions=True).__await__()


class Concurrent(CellState):
    """The cell's part that starts and finishes a concurrent actor's handlers."""

    __slots__ = ()

    def start_some(self, limit: int, n: int) -> bool:
        """Start handlers while fewer than ``limit`` run (at most ``n`` messages); False when full or failed."""
        mailbox = self.mailbox
        running = self._busy if type(self._busy) is Running else None
        blocking = self.info.blocking
        for _ in range(n):
            if running is not None and len(running.tasks) >= limit:
                return False  # busy: a handler that finishes wakes the actor
            if self._sys or self.state:
                return True
            try:
                envelope = mailbox.pop()
            except IndexError:
                return True
            mailbox.processed += 1
            self.info.stats.processed += 1
            message, _, reply = envelope
            holder = [envelope]
            context = contextvars.copy_context()
            context.run(handling.set, holder)
            handler = self._receive if message.__class__ is not Call else self._call
            if blocking:
                result: Any = self._system.run_blocking(context.run, handler, message)
            else:
                try:
                    result = context.run(handler, message)
                except BaseException as error:  # noqa: BLE001 - every failure goes to the supervisor
                    if self.handler_failed(error, envelope):
                        self._scheduled = False
                        return False
                    continue
                if not inspect.isawaitable(result):  # a plain method: answered at once
                    if reply is not None and holder[0] is envelope:
                        reply.set_result(result)
                    continue
            if inspect.iscoroutine(result):
                task: Any = self.dispatcher.loop.create_task(result, context=context)
                task.rayka_cell = self
            else:
                task = asyncio.ensure_future(result)
            if running is None:
                running = self._busy = Running()
            running.tasks.add(task)
            task.add_done_callback(functools.partial(self._handler_done, holder, envelope, limit))
        return True

    def _handler_done(self, holder: list, envelope: Envelope, limit: int, future: asyncio.Future) -> None:
        running = self._busy
        was_full = False
        if type(running) is Running:
            was_full = len(running.tasks) >= limit
            running.tasks.discard(future)
            if not running.tasks:
                self._busy = None
        self.handler_finished(future, envelope, envelope[2] if holder[0] is envelope else None)
        if self.state:
            return  # failed or stopping: whoever resumes or restarts it wakes it
        if was_full:  # it stayed scheduled while full: run it again now there is room
            self._scheduled = True
            self.dispatcher.schedule(self)
        else:
            self.wake()
