"""Waiting on many replies: ``rayka.gather``, ``rayka.wait`` and ``Reply.future()``.

Each returns at once: ``gather`` and ``wait`` give a :class:`Reply` (so the
same call works from a thread with ``.result()``, from asyncio code with
``await`` and inside an actor), ``future()`` a ``concurrent.futures.Future``.

A reply expires at its ask's deadline only when someone looks at it; a
combination must not wait past a part's deadline for a look that never
comes, so one daemon thread (the *sweeper*) looks at the earliest deadline
each combination depends on, and then at the next.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import logging
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

from .._errors import AskTimeout
from ._reply import _ERROR, Reply

__all__ = ["gather", "wait", "future_of"]

T = TypeVar("T")
_monotonic = time.monotonic
_log = logging.getLogger("rayka")


class _Sweeper:
    """Calls ``fn()`` at a monotonic time, on its own daemon thread (started on first use)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def at(self, when: float, fn: Callable[[], object]) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._seq), fn))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rayka-reply-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        heap = self._heap
        while True:
            with self._cond:
                while not heap or heap[0][0] > _monotonic():
                    self._cond.wait(None if not heap else heap[0][0] - _monotonic())
                _, _, fn = heapq.heappop(heap)
            try:
                fn()
            except Exception as error:  # noqa: BLE001 - a bug here must not stop later deadlines
                _log.error("rayka: reply deadline check %r raised %r", fn, error, exc_info=error)


_sweeper = _Sweeper()


def _combined(parts: list[Reply[Any]], what: str) -> Reply[Any]:
    loop_thread = next((part._loop_thread for part in parts if part._loop_thread is not None), None)
    return Reply(None, what, loop_thread)


def _watch(out: Reply[Any], parts: list[Reply[Any]], until: float | None, on_timeout: Callable[[], None]) -> None:
    """Look at ``parts`` at the earliest deadline that can still matter to ``out``, until it is resolved."""
    def arm() -> None:
        pending = [part._deadline for part in parts if not part._state and part._deadline is not None]
        if until is not None:
            pending.append(until)
        if pending:
            _sweeper.at(min(pending), look)

    def look() -> None:
        if out._state:
            return
        for part in parts:
            if not part._state:
                part.done()  # expires a part past its deadline: its callback answers ``out``
        if out._state:
            return
        if until is not None and _monotonic() >= until:
            on_timeout()
            return
        arm()

    arm()


def _check_timeout(timeout: float | None, what: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"{what}: timeout must be a number of seconds >= 0 or None, got {timeout!r}")
    return _monotonic() + timeout


def _replies(replies: Iterable[Reply[Any]], what: str) -> list[Reply[Any]]:
    parts = list(replies)
    for part in parts:
        if not isinstance(part, Reply):
            raise TypeError(f"{what} takes Reply objects (from ask, a proxy call, gather), got {type(part).__name__}")
    return parts


def gather(replies: Iterable[Reply[T]], *, timeout: float | None = None) -> Reply[list[T]]:
    """One :class:`Reply` for many: their results in order, or the first error (like ``ray.get(list)``).

    Args:
        replies: the replies to wait for (from ``ask``, proxy calls, other gathers).
        timeout: seconds; past it the combined reply fails with :class:`~rayka.AskTimeout`
            (the parts' own deadlines apply too).

    Example:
        >>> import rayka
        >>> class Square(rayka.Actor):
        ...     def receive(self, n):
        ...         return n * n
        >>> with rayka.ActorSystem("doc") as system:
        ...     ref = system.spawn(Square)
        ...     rayka.gather([ref.ask(n) for n in range(4)]).result(timeout=5)
        [0, 1, 4, 9]
    """
    parts = _replies(replies, "gather")
    until = _check_timeout(timeout, "gather")
    out: Reply[list[T]] = _combined(parts, f"gather of {len(parts)} replies")
    if not parts:
        out.set_result([])
        return out
    count = itertools.count(1).__next__  # atomic under the GIL: the part that makes it len(parts) answers
    total = len(parts)

    def part_done(part: Reply[Any]) -> None:
        if part._state == _ERROR:
            out.set_exception(part._value)
        elif count() == total:
            out.set_result([part._value for part in parts])

    for part in parts:
        part.add_done_callback(part_done)

    def timed_out() -> None:
        left = sum(1 for part in parts if not part._state)
        out.set_exception(AskTimeout(f"gather of {total} replies: {left} still pending after {timeout} s"))

    if not out._state:
        _watch(out, parts, until, timed_out)
    return out


def wait(replies: Iterable[Reply[T]], *, num_returns: int = 1,
         timeout: float | None = None) -> Reply[tuple[list[Reply[T]], list[Reply[T]]]]:
    """A :class:`Reply` of ``(done, pending)`` once ``num_returns`` replies are resolved (like ``ray.wait``).

    ``done`` holds at most ``num_returns`` replies, both lists keep the input
    order, and a reply that failed counts as done. At ``timeout`` it resolves
    with what is done by then (not an error).

    Example:
        >>> import rayka
        >>> class Echo(rayka.Actor):
        ...     def receive(self, message):
        ...         return message
        >>> with rayka.ActorSystem("doc") as system:
        ...     ref = system.spawn(Echo)
        ...     done, pending = rayka.wait([ref.ask(1), ref.ask(2)], num_returns=2).result(timeout=5)
        ...     [reply.result() for reply in done], pending
        ([1, 2], [])
    """
    parts = _replies(replies, "wait")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int) or not 1 <= num_returns <= max(1, len(parts)):
        raise ValueError(f"wait: num_returns must be an int from 1 to the number of replies ({len(parts)}), "
                         f"got {num_returns!r}")
    until = _check_timeout(timeout, "wait")
    out: Reply[tuple[list[Reply[T]], list[Reply[T]]]] = _combined(parts, f"wait for {num_returns} of {len(parts)}")

    def split() -> None:
        done = [part for part in parts if part._state][:num_returns]
        chosen = {id(part) for part in done}
        out.set_result((done, [part for part in parts if id(part) not in chosen]))

    if not parts:
        split()
        return out
    count = itertools.count(1).__next__

    def part_done(part: Reply[Any]) -> None:
        if count() == num_returns:
            split()

    for part in parts:
        part.add_done_callback(part_done)
    if not out._state:
        if until is not None and until <= _monotonic():
            split()
        else:
            _watch(out, parts, until, split)
    return out


def future_of(reply: Reply[T]) -> concurrent.futures.Future[T]:
    """A ``concurrent.futures.Future`` that resolves with ``reply`` (also at its deadline)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()
    future.set_running_or_notify_cancel()

    def copy(done: Reply[T]) -> None:
        if done._state == _ERROR:
            future.set_exception(done._value)
        else:
            future.set_result(done._value)

    reply.add_done_callback(copy)
    if not reply._state and reply._deadline is not None:
        _sweeper.at(reply._deadline, reply.done)
    return future
