"""ActorCell: one actor's runtime state, its mailbox and its message loop.

An actor costs one cell, one ref, one mailbox object, its own instance and the
``ActorContext`` façade its instance holds. Lifecycle lives in
``_lifecycle.py``, supervision in ``_supervising.py``; their shared fields are
declared in ``_state.py``.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .._errors import ActorStopped, MailboxFull, SystemClosed
from ..mailbox._queues import SignalMark, UnboundedQueue, new_deque, rescue, trim_deque
from ._calls import Call, dispatch
from ._concurrent import Concurrent, Running
from ._lifecycle import Lifecycle
from ._ref import ActorRef
from ._reply import Reply
from ._signals import DeadLetter
from ._state import Envelope
from ._tracing import traced_put
from ._supervising import Supervising

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["ActorCell", "RUNNING", "SUSPENDED", "STOPPING", "TERMINATED"]

RUNNING, SUSPENDED, STOPPING, TERMINATED = 0, 1, 2, 3
_monotonic = time.monotonic
_perf = time.perf_counter
# An actor that goes idle gives its empty mailbox deque back while it has handled fewer messages than this:
# a deque is ~0.6 KiB (what a million mostly idle entities notice), and making one again costs ~0.8 µs (what
# an actor in a ping-pong notices on every message). Past this count an actor keeps its deque.
_TRIM_BELOW = 1024


class ActorCell(Lifecycle, Supervising, Concurrent):
    """The runtime side of one actor (internal; users see ``ActorContext`` and ``ActorRef``)."""

    __slots__ = ()  # the fields are CellState's

    def __init__(self, system: ActorSystem, parent: ActorCell | None, name: str, uid: int,
                 info: Any, args: tuple, kwargs: dict | None, mailbox: Any, restart_type: Any) -> None:
        self._system = system
        self.dispatcher = system._dispatcher
        self.parent_cell = parent
        self.name = name
        self.uid = uid
        self._path: str | None = None
        self.ref = ActorRef(self)
        self.info = info
        self.args = args
        self.kwargs = kwargs
        self.restart_type = restart_type
        self.instance: Any = None
        self._receive: Any = None
        self.mailbox = mailbox
        self._put = mailbox.put if not system._tracing else traced_put(mailbox.put)
        self._sys: deque | None = None
        self._scheduled = False
        self._busy: Any = None
        self.state = RUNNING
        self._children: dict[str, ActorCell] | None = None
        self._watchers: Any = None  # None, the one watcher cell, or a set of them (add_watcher)
        self._watching: dict[Any, Any] | None = None  # watched cell -> watch_with message (None: Terminated)
        self._current: tuple | None = None
        self._timers: set | None = None
        self._stash: list | None = None
        self._record: Any = None
        self._waiters: list | None = None
        self._failure: BaseException | None = None

    # -- identity ------------------------------------------------------------
    @property
    def path(self) -> str:
        path = self._path
        if path is None:
            parent = self.parent_cell
            if parent is None:
                path = "/"
            else:
                base = parent.path
                path = (base if base != "/" else "") + "/" + self.name
            self._path = path
        return path

    @property
    def key(self) -> tuple:
        return (self._system.uid, self.path, self.uid)

    @property
    def failure(self) -> BaseException | None:
        """The error this actor failed with last, until a restart clears it."""
        return self._failure

    @property
    def terminated(self) -> bool:
        return self.state == TERMINATED

    @property
    def system(self) -> ActorSystem:
        return self._system

    @property
    def throughput(self) -> int:
        return self.info.throughput or self._system.throughput

    @property
    def stash_capacity(self) -> int | None:
        return self.info.stash_capacity

    def reduce_ref(self) -> tuple:
        return self._system._reduce_ref(self)

    # -- sending ---------------------------------------------------------------
    def tell(self, message: Any, sender: ActorRef | None, reply: Reply | SignalMark | None = None) -> None:
        """Queue one envelope: the one enqueue path of tell, ask and send (a full mailbox raises)."""
        if self.state == TERMINATED:
            system = self._system
            if system.terminated:
                verb = "told" if reply is None else "asked"
                raise SystemClosed(f"actor system {system.name!r} is shut down; {self.path} cannot be {verb}")
            self._dead_letter((message, sender, reply), "stopped")  # counted; an ask fails at once
            return
        try:
            dropped = self._put((message, sender, reply))
        except OverflowError:
            raise self._full(message) from None
        if dropped is not None:
            self._dead_letter(dropped, "overflow")
        if not self._scheduled:
            self._scheduled = True
            self.dispatcher.schedule(self)

    def ask(self, message: Any, timeout: float | None) -> Reply:
        if timeout is not None:
            if timeout < 0:
                raise ValueError(f"ask to {self.path}: timeout must be >= 0 or None, got {timeout!r}")
            deadline = _monotonic() + timeout
        else:
            deadline = None
        reply: Reply = Reply(deadline, "ask to " + self.path, self._system._loop_thread)
        self.tell(message, None, reply)
        return reply

    def put_envelope(self, envelope: Envelope) -> Reply | None:
        """Queue an envelope built elsewhere (forwarded or remote asks); dead targets fail its reply.

        A full ``backpressure`` mailbox keeps it waiting in line: the returned
        reply resolves once it got in (``None`` when it got in at once).
        """
        if self.state == TERMINATED:
            self._dead_letter(envelope, "stopped")
            return None
        mailbox = self.mailbox
        if getattr(mailbox, "overflow", None) == "backpressure":
            admitted: Reply = Reply(None, "admission to " + self.path, self._system._loop_thread)
            # admitted, or the actor stopped while it waited (the drain dead-letters it then)
            waiting = not mailbox.offer(envelope, lambda ok: admitted.set_result(None))
            self.wake()
            return admitted if waiting else None
        try:
            self.tell(*envelope)
        except MailboxFull:  # nobody here to raise to: the envelope is a dead letter (its ask fails)
            self._dead_letter(envelope, "overflow")
        return None

    def send(self, message: Any, sender: ActorRef | None) -> Reply:
        reply: Reply = Reply(None, "send to " + self.path, self._system._loop_thread)
        offer = getattr(self.mailbox, "offer", None)
        if offer is None or self.mailbox.overflow != "backpressure" or self.state == TERMINATED:
            self.tell(message, sender)
            reply.set_result(None)
            return reply
        def admitted(ok: bool) -> None:
            if ok:
                reply.set_result(None)
            else:
                reply.set_exception(ActorStopped(f"{self.path} stopped while the send waited for room"))

        if offer((message, sender, None), admitted):
            reply.set_result(None)
        self.wake()
        return reply

    def _full(self, message: Any) -> MailboxFull:
        mailbox = self.mailbox
        hint = ("use `ref.send(message)` and wait on it for room" if mailbox.overflow == "backpressure"
                else "slow the sender, raise the capacity, or pick another overflow policy")
        return MailboxFull(
            f"mailbox of {self.path} is full ({mailbox.capacity} messages); {type(message).__name__} "
            f"message not queued: {hint}"
        )

    def _dead_letter(self, envelope: Envelope, reason: str) -> None:
        self.info.stats.dead_letters += 1
        message, sender, reply = envelope
        if reply is not None:
            if reason == "overflow":
                reply.set_exception(MailboxFull(f"mailbox of {self.path} is full: the ask was dropped (overflow)"))
            elif self._failure is not None:  # it stopped because of an error: say which
                stopped = ActorStopped(f"{self.path}: message not handled ({reason}): the actor stopped after "
                                       f"{type(self._failure).__name__}: {self._failure}")
                stopped.__cause__ = self._failure
                reply.set_exception(stopped)
            else:
                reply.set_exception(ActorStopped(f"{self.path}: message not handled ({reason})"))
        self._system.dead_letters.publish(DeadLetter(message, sender, self.path, reason))

    def wake(self) -> None:
        """Make sure the cell will run (any thread)."""
        if not self._scheduled:
            self._scheduled = True
            self.dispatcher.schedule(self)

    def post_system(self, op: int, arg: Any = None) -> None:
        """Queue a system message on the control lane; it overtakes user messages."""
        sys = self._sys
        if sys is None:
            sys = new_deque(self, "_sys")
        sys.append((op, arg))
        if self._sys is not sys:  # the loop gave that deque back meanwhile (trim_deque)
            rescue(self, "_sys", sys)
        self._scheduled = True
        self.dispatcher.schedule(self)

    # -- the message loop ------------------------------------------------------
    def run(self) -> None:
        if self._receive is None and self.state != TERMINATED:  # its constructor runs on another thread
            self._scheduled = False
            if self._receive is not None:  # built meanwhile: start() may have seen the flag still set
                self.wake()
            return
        if self._sys:
            self.process_system()
        busy = self._busy
        if self.state or (busy is not None and type(busy) is not Running):  # Running: a concurrent actor's handlers
            self._scheduled = False
            if self.state == TERMINATED:
                self.flush_to_dead_letters()
            return
        info = self.info
        if info.max_concurrency > 1:
            if not self.start_some(info.max_concurrency, info.throughput or self._system.throughput):
                return
        elif info.is_async or info.blocking:
            if not self._start_one(info):
                return
        elif not self._turn(info.throughput or self._system.throughput):
            return
        self._current = None
        mailbox = self.mailbox
        if len(mailbox) or self._sys:
            self.dispatcher.ready.append(self)
        else:
            # idle: give the empty deques back (~0.6 KiB each), unless the actor is busy all along (see _TRIM_BELOW)
            if type(mailbox) is UnboundedQueue and mailbox._q is not None and mailbox.processed < _TRIM_BELOW:
                trim_deque(mailbox)
            if self._sys is not None:
                trim_deque(self, "_sys")
            self._scheduled = False
            if len(mailbox) or self._sys:
                self.wake()

    def _turn(self, n: int) -> bool:
        """Handle up to ``n`` messages; False if the actor failed (the one turn loop of sync actors)."""
        mailbox = self.mailbox
        if type(mailbox) is UnboundedQueue:  # the default mailbox: pop its deque directly, no lock to take
            q = mailbox._q
            if not q:
                return True
            if len(q) > mailbox.peak:  # sampled once a turn (a bounded queue counts it on put)
                mailbox.peak = len(q)
            pop = q.popleft
        else:
            pop = mailbox.pop
        receive = self._receive
        call = Call
        count = 0
        started = _perf() if self._system._timing else 0.0  # handling time: two clock reads a turn, when read
        while count < n:
            try:
                envelope = pop()
            except IndexError:
                break
            count += 1
            self._current = envelope
            message, _, reply = envelope
            try:
                if reply is not None and message.__class__ is call:  # a call always has a reply (or CAST)
                    result = dispatch(self.instance, message, self.path)
                    if inspect.isawaitable(result):  # an async method: it runs as a task, and ends the turn
                        self._handled(count, started)
                        self.start_async(result, envelope)
                        return False
                else:
                    result = receive(message)
            except BaseException as error:  # noqa: BLE001 - every failure goes to the supervisor
                if self.handler_failed(error, envelope):
                    self._handled(count, started)
                    self._scheduled = False
                    return False
                continue  # refused: answered, and the actor goes on
            if reply is not None and self._current is envelope:  # not deferred, not stashed
                reply.set_result(result)
            if self._sys:
                break
        self._handled(count, started)
        return True

    def _handled(self, count: int, started: float) -> None:
        """Count the messages a turn handled (and time them, when handling time is kept)."""
        self.mailbox.processed += count
        stats = self.info.stats
        stats.processed += count
        if started and count:
            stats.observe(_perf() - started, count)

    def _start_one(self, info: Any) -> bool:
        """Start handling one message of an async or blocking actor; False when it is now busy or failed."""
        mailbox = self.mailbox
        try:
            envelope = mailbox.pop()
        except IndexError:
            return True
        mailbox.processed += 1
        info.stats.processed += 1
        self._current = envelope
        message, _, reply = envelope
        handler = self._receive if message.__class__ is not Call else self._call
        if info.blocking:
            self.start_async(self._system.run_blocking(handler, message), envelope)
            return False
        try:
            result = handler(message)
        except BaseException as error:  # noqa: BLE001 - every failure goes to the supervisor
            if self.handler_failed(error, envelope):
                self._scheduled = False
                return False
            return True  # refused: answered, and the actor goes on
        if not inspect.isawaitable(result):  # a plain method of an async actor
            if reply is not None and self._current is envelope:
                reply.set_result(result)
            return True
        self.start_async(result, envelope)
        return False

    def _call(self, call: Call) -> Any:
        return dispatch(self.instance, call, self.path)
