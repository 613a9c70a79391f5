"""The reply future that ``ask`` returns: awaitable from any event loop and blocking with ``result``."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import weakref
from asyncio import events
from typing import Any, Callable, Generator, Generic, TypeVar

from .._errors import AskTimeout

__all__ = ["Reply"]

T = TypeVar("T")
_PENDING, _VALUE, _ERROR = 0, 1, 2
_resolve_lock = threading.Lock()
_monotonic = time.monotonic
_log = logging.getLogger("rayka")


class Reply(Generic[T]):
    """The future answer to an ask.

    ``reply.result(timeout)`` blocks the calling thread; ``await reply`` works
    in any asyncio loop (an actor's, a Jupyter cell's, your own). Either one
    raises the handler's exception, :class:`~rayka.AskTimeout` at the ask's
    deadline, or :class:`~rayka.ActorStopped`.

    Example:
        >>> reply = Reply()
        >>> reply.set_result(42)
        True
        >>> reply.result(timeout=1)
        42
    """

    __slots__ = ("_latch", "_state", "_value", "_callbacks", "_deadline", "_what", "_loop_thread", "_assist")

    def __init__(self, deadline: float | None = None, what: str = "ask", loop_thread: int | None = None) -> None:
        self._latch = threading.Lock()
        self._latch.acquire()
        self._state = _PENDING
        self._value: Any = None
        self._callbacks: list[Callable[[Reply[T]], None]] | None = None
        self._deadline = deadline
        self._what = what
        self._loop_thread = loop_thread
        self._assist: Any = None  # a backend's helper: .wait(timeout) fetches the reply on the waiting thread

    # -- resolving -------------------------------------------------------
    def _resolve(self, state: int, value: Any) -> bool:
        with _resolve_lock:
            if self._state:
                return False
            self._value = value
            self._state = state
        self._latch.release()
        callbacks = self._callbacks
        if callbacks:
            self._callbacks = None
            for callback in callbacks:
                self._call(callback)
        return True

    def set_result(self, value: T) -> bool:
        """Resolve with ``value``; returns False when it was already resolved."""
        return self._resolve(_VALUE, value)

    def set_exception(self, error: BaseException) -> bool:
        """Resolve with ``error``; returns False when it was already resolved."""
        return self._resolve(_ERROR, error)

    def _expire(self) -> None:
        self._resolve(_ERROR, AskTimeout(f"{self._what} got no reply in time; raise the ask's timeout or check the target"))

    # -- reading ---------------------------------------------------------
    def _detach(self) -> None:
        """The reply is used other than by a blocking ``result``: let the backend deliver it by itself."""
        assist = self._assist
        if assist is not None:
            self._assist = None
            assist.detach()

    def done(self) -> bool:
        """True once resolved (a reply, an error, or the deadline passed)."""
        if self._assist is not None:
            self._detach()
        if not self._state and self._deadline is not None and _monotonic() >= self._deadline:
            self._expire()
        return self._state != _PENDING

    def result(self, timeout: float | None = None) -> T:
        """Block until resolved and return the reply or raise its error.

        Args:
            timeout: seconds to wait at most; the ask's own deadline applies too.

        Raises:
            AskTimeout: nothing came in time.
        """
        if not self._state:
            if timeout is not None and timeout < 0:
                raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
            if self._loop_thread == threading.get_ident():
                raise RuntimeError(
                    f"{self._what}: .result() inside an actor would block its own event loop; "
                    "use `await ref.ask(...)` in an async receive instead"
                )
            wait = timeout
            if self._deadline is not None:
                left = max(0.0, self._deadline - _monotonic())
                wait = left if wait is None else min(wait, left)
            assist = self._assist
            if assist is not None:
                self._assist = None
                started = _monotonic()
                assist.wait(wait)
                if wait is not None:
                    wait = max(0.0, wait - (_monotonic() - started))
            if self._latch.acquire(timeout=-1 if wait is None else wait):
                self._latch.release()
            elif self._deadline is not None and _monotonic() >= self._deadline:
                self._expire()
            else:
                raise AskTimeout(f"{self._what}: no reply within {timeout} s of waiting; the ask is still pending")
        if self._state == _ERROR:
            raise self._value
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Block until resolved and return its error, or None after a reply."""
        try:
            self.result(timeout)
        except AskTimeout as error:
            if self._state != _ERROR:
                raise
            return error
        except BaseException as error:  # noqa: BLE001 - handing back what the handler raised
            return error
        return None

    def future(self) -> concurrent.futures.Future[T]:
        """A ``concurrent.futures.Future`` resolved with this reply, for ``concurrent.futures.wait`` and
        ``as_completed`` (it also resolves at the ask's deadline, with :class:`~rayka.AskTimeout`)."""
        from ._waiting import future_of

        return future_of(self)

    def add_done_callback(self, callback: Callable[[Reply[T]], None]) -> None:
        """Call ``callback(reply)`` once resolved (at once if it already is), on the resolving thread."""
        if self._assist is not None:
            self._detach()
        if not self._state:
            with _resolve_lock:
                if not self._state:
                    if self._callbacks is None:
                        self._callbacks = []
                    self._callbacks.append(callback)
                    return
        self._call(callback)

    def _call(self, callback: Callable[[Reply[T]], None]) -> None:
        """Run a user's callback: its error is logged (as ``concurrent.futures`` does), never raised into
        the thread that resolved the reply, which may be an actor's loop."""
        try:
            callback(self)
        except Exception as error:  # noqa: BLE001
            _log.error("rayka: %s: done callback %r raised %r", self._what, callback, error, exc_info=error)

    def __await__(self) -> Generator[Any, None, Any]:
        if not self._state:
            loop = events.get_running_loop()
            future = loop.create_future()

            def wake(reply: Reply[T]) -> None:
                if events._get_running_loop() is loop:
                    if not future.done():
                        future.set_result(None)
                else:
                    loop.call_soon_threadsafe(_set_if_pending, future)

            self.add_done_callback(wake)
            timer = watchdog = None
            deadline = self._deadline
            if deadline is not None and not self._state:
                left = deadline - _monotonic()
                if left < _EXACT_BELOW:
                    timer = loop.call_later(max(0.0, left), self._expire)
                else:  # a long deadline: one shared sweep per loop instead of a timer per ask
                    watchdog = _watchdog(loop)
                    watchdog.add(self)
            try:
                yield from future.__await__()
            finally:
                if timer is not None:
                    timer.cancel()
                if watchdog is not None:
                    watchdog.pending.discard(self)
        if self._state == _ERROR:
            raise self._value
        return self._value

    def __repr__(self) -> str:
        state = ("pending", "value", "error")[self._state]
        return f"<Reply {self._what} {state}>"


_EXACT_BELOW = 1.0  # seconds: deadlines closer than this get their own timer
_SWEEP_EVERY = 0.05  # seconds between sweeps of the long deadlines (at most this late, 1% of 5 s)


class _Watchdog:
    """Expires the awaited replies of one loop whose deadlines are far off, in one periodic sweep."""

    __slots__ = ("loop", "pending", "armed", "__weakref__")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.pending: set[Reply[Any]] = set()
        self.armed = False

    def add(self, reply: Reply[Any]) -> None:
        self.pending.add(reply)
        if not self.armed:
            self.armed = True
            self.loop.call_later(_SWEEP_EVERY, self.sweep)

    def sweep(self) -> None:
        now = _monotonic()
        for reply in [r for r in self.pending if r._state or (r._deadline is not None and r._deadline <= now)]:
            self.pending.discard(reply)
            if not reply._state:
                reply._expire()
        if self.pending:
            self.loop.call_later(_SWEEP_EVERY, self.sweep)
        else:
            self.armed = False


_watchdogs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _watchdog(loop: Any) -> _Watchdog:
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog(loop)
    return watchdog


def _set_if_pending(future: Any) -> None:
    if not future.done():
        future.set_result(None)
