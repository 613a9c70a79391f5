"""Tools for testing actors: a probe that records what it gets, and a manual clock.

Example:
    >>> import rayka
    >>> from rayka.testing import TestProbe
    >>> with rayka.ActorSystem("doc") as system:
    ...     probe = TestProbe(system)
    ...     probe.ref.tell("hello")
    ...     probe.expect("hello")
    ...     probe.expect_no_message(0.01)
    'hello'
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
from typing import Any, Callable

from .actors import Actor, ActorRef

__all__ = ["ANY", "ManualClock", "Probe", "TestProbe"]


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
"""Matches any message in :meth:`TestProbe.expect`."""


class _Watch:
    __slots__ = ("ref",)

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref


class Probe(Actor):
    """An actor that records every message (and its sender) into a thread-safe queue."""

    def __init__(self, inbox: queue.Queue | None = None, reply: Any = None) -> None:
        self.inbox = inbox if inbox is not None else queue.Queue()
        self.reply = reply

    def receive(self, message: Any) -> Any:
        if type(message) is _Watch:
            self.context.watch(message.ref)
            return True
        self.inbox.put((message, self.context.sender))
        return self.reply


class TestProbe:
    """A probe actor plus assertions on what it received, with timeouts.

    Args:
        system: the actor system to spawn the probe in.
        name: the probe's actor name (generated when omitted).
        reply: what the probe answers to asks.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, system: Any, name: str | None = None, reply: Any = None) -> None:
        self.inbox: queue.Queue = queue.Queue()
        # in cluster mode the probe lives in the driver's process (its queue cannot travel); its ref can
        place = "driver" if getattr(system.cluster, "node_id", None) == "driver" else None
        self.ref: ActorRef = system.spawn(Probe, self.inbox, reply, name=name, node=place)
        self.last_sender: ActorRef | None = None

    def watch(self, ref: ActorRef, timeout: float = 3.0) -> ActorRef:
        """Make the probe watch ``ref``: ``expect(rayka.Terminated)`` then sees it stop."""
        self.ref.ask(_Watch(ref), timeout=timeout).result()
        return ref

    def expect(self, expected: Any = ANY, timeout: float = 3.0) -> Any:
        """Wait for the next message and check it: equal to ``expected``, an instance of it
        when it is a type, anything for ``ANY``, or ``expected(message)`` true when it is callable.

        Returns the message. Raises ``AssertionError`` on a mismatch or when nothing came in time.
        """
        try:
            message, self.last_sender = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.ref.path}: expected {expected!r}, got nothing within {timeout} s") from None
        if expected is ANY:
            ok = True
        elif isinstance(expected, type):
            ok = isinstance(message, expected)
        elif callable(expected) and not isinstance(expected, ActorRef):
            ok = bool(expected(message))
        else:
            ok = message == expected
        if not ok:
            raise AssertionError(f"{self.ref.path}: expected {expected!r}, got {message!r}")
        return message

    def expect_n(self, n: int, timeout: float = 3.0) -> list[Any]:
        """Wait for ``n`` messages and return them in arrival order."""
        return [self.expect(ANY, timeout) for _ in range(n)]

    def expect_no_message(self, duration: float = 0.1) -> None:
        """Check that nothing arrives within ``duration`` seconds."""
        try:
            message, _ = self.inbox.get(timeout=duration)
        except queue.Empty:
            return
        raise AssertionError(f"{self.ref.path}: expected no message, got {message!r}")


class _Handle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to, for timers and restart backoff in tests.

    Pass it as ``ActorSystem(name, clock=ManualClock())``; ``advance(s)`` moves
    time and runs what fell due, on the system's loop thread, before it returns.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, Callable[[], Any], _Handle]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._loop: Any = None
        self._thread_id = 0

    def attach(self, loop: Any, thread_id: int) -> None:
        self._loop = loop
        self._thread_id = thread_id

    def time(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], Any]) -> _Handle:
        handle = _Handle()
        with self._lock:
            heapq.heappush(self._heap, (self._now + delay, next(self._seq), callback, handle))
        return handle

    def pending(self) -> list[float]:
        """Due times of the callbacks not yet run (cancelled ones excluded), soonest first."""
        with self._lock:
            return sorted(when for when, _, _, handle in self._heap if not handle.cancelled)

    def advance(self, seconds: float) -> int:
        """Move time forward and run every callback that fell due; returns how many ran."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got {seconds!r}")
        target = self._now + seconds
        ran = 0
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > target:
                    break
                when, _, callback, handle = heapq.heappop(self._heap)
                self._now = max(self._now, when)
            if not handle.cancelled:
                self._run(callback)
                ran += 1
        self._now = target
        return ran

    def _run(self, callback: Callable[[], Any]) -> None:
        if self._loop is None or threading.get_ident() == self._thread_id:
            callback()
            return
        done = threading.Event()

        def call() -> None:
            try:
                callback()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(call)
        done.wait(10)
