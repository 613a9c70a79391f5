"""Lifecycle and supervision of an actor cell: start, fail, resume, restart, stop.

Every transition is driven by a system message on the cell's control lane
(``post_system``), so a failure is a message to the parent and ordering with
other system messages is kept. Stop is ordered: children first, in reverse
start order, each bounded by its shutdown timeout, then ``on_stop``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

from .._errors import ActorStopped, InvalidActorName, SystemClosed
from ._aio import drive, settle
from ._calls import CAST, Refusal
from ._tracing import traced_receive
from ..mailbox._queues import SignalMark
from ._signals import ChildFailed, DeadLetter, Terminated
from ._state import CellState, Envelope
from ._timers import Timer

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._ref import ActorRef

__all__ = ["check_name", "Lifecycle", "START", "STOP", "STOP_FAILED", "FAILED", "RESUME", "RESTART", "SIGNAL"]

log = logging.getLogger("rayka")
START, STOP, STOP_FAILED, FAILED, RESUME, RESTART, SIGNAL = range(1, 8)
RUNNING, SUSPENDED, STOPPING, TERMINATED = 0, 1, 2, 3


def check_name(name: Any, cls: Any, parent_path: str) -> None:
    """Raise ``InvalidActorName`` for a name that is not a plain non-empty string."""
    if name is not None and not (isinstance(name, str) and name and "/" not in name and not name.startswith("$")):
        raise InvalidActorName(
            f"invalid actor name {name!r} for a {getattr(cls, '__name__', cls)} under {parent_path}: use a "
            "non-empty string without '/' that does not start with '$'"
        )


class Lifecycle(CellState):
    """Mixin of ``ActorCell``: the lifecycle half of the cell."""

    __slots__ = ()

    # -- creation --------------------------------------------------------------
    def spawn_child(self, cls: Any, args: tuple, kwargs: dict, name: str | None,
                    mailbox: Any, restart: Any, uid: int | None = None) -> ActorRef:
        system = self._system
        info = system._class_info(cls)
        check_name(name, cls, self.path)
        with system.lock:
            if system.closed:
                raise SystemClosed(f"actor system {system.name!r} is shut down; cannot spawn {cls.__name__}")
            if system.failure is not None:
                raise SystemClosed(f"actor system {system.name!r} stopped its user actors after a failure escalated "
                                   f"to the root ({system.failure!r}); cannot spawn {cls.__name__}: start a new system")
            if self.state >= STOPPING:
                raise ActorStopped(f"cannot spawn {cls.__name__} under {self.path}: it is stopping")
            children = self._children
            if children is None:
                children = self._children = {}
            if name is None:
                name = system.auto_name()
            elif name in children:
                raise InvalidActorName(
                    f"an actor named {name!r} already exists under {self.path}; pick another name, "
                    f"or reach the existing one with lookup({(self.path.rstrip('/') + '/' + name)!r})"
                )
            cell = system._make_cell(self, name, info, args, kwargs, mailbox, restart, uid)
            children[name] = cell
            system.started += 1
        try:
            cell.start()
        except BaseException:
            with system.lock:
                if children.get(name) is cell:
                    del children[name]
                system.started -= 1
            raise
        return cell.ref

    def start(self) -> None:
        """Build the instance (errors propagate, with a note) and queue ``on_start``.

        The cell is visible by name while its constructor runs, so messages may
        arrive first: they wait (``run`` skips a cell with no instance yet) and
        are handled once it exists, or go to dead letters if it cannot be built.
        """
        try:
            self.create_instance()
        except BaseException as error:
            self.state = TERMINATED
            self.wake()  # the loop dead-letters what was sent meanwhile
            error.add_note(f"rayka: while constructing {self.info.cls.__name__} for {self.path}")
            raise
        if self.info.has_on_start:
            self.post_system(START)
        elif len(self.mailbox) or self._sys:
            self.wake()

    def create_instance(self) -> None:
        cls: Any = self.info.cls
        instance = cls.__new__(cls)
        instance._cell = self  # its context (a façade over this cell) is made when first asked for
        instance.__init__(*self.args, **(self.kwargs or {}))
        self.instance = instance
        self._receive = instance.receive
        if self._system._tracing:
            self._receive = traced_receive(instance.receive, self, cls.__qualname__)  # path read per span

    # -- system messages -------------------------------------------------------
    def process_system(self) -> None:
        sys = self._sys
        while sys:
            op, arg = sys.popleft()
            if self.state == TERMINATED:
                continue
            if op == START:
                self.call_hook(self.instance.on_start)
            elif op == STOP:
                self.begin_stop(None)
            elif op == STOP_FAILED:
                self.begin_stop(arg)
            elif op == FAILED:
                self.supervise(*arg)
            elif op == RESUME:
                self.resume()
            elif op == RESTART:
                self.begin_restart(arg)
            elif op == SIGNAL:
                watched = arg.ref._cell
                watching = self._watching
                if isinstance(arg, ChildFailed) and watched.parent_cell is self:
                    if watching:
                        watching.pop(watched, None)
                    self.mailbox.force((arg, None, SignalMark(watched)))
                elif watching and watched in watching:
                    custom = watching.pop(watched)  # watch_with: its message instead of Terminated
                    self.mailbox.force((arg if custom is None else custom, None, SignalMark(watched)))

    def request_stop(self) -> None:
        if self.state < STOPPING:
            self.post_system(STOP)

    # -- handlers and hooks ----------------------------------------------------
    def call_hook(self, hook: Any, *args: Any) -> None:
        if self.info.blocking:
            self.start_async(self._system.run_blocking(hook, *args), None)
            return
        try:
            result = hook(*args)
        except BaseException as error:  # noqa: BLE001
            self.handler_failed(error, None)
            return
        if inspect.isawaitable(result):
            self.start_async(result, None)

    def start_async(self, awaitable: Any, envelope: Envelope | None) -> None:
        loop = self.dispatcher.loop
        if inspect.iscoroutine(awaitable):
            future: Any = loop.create_task(awaitable)
            future.rayka_cell = self  # which actor a step of this task belongs to (the loop watchdog reads it)
        else:
            future = asyncio.ensure_future(awaitable)
        self._busy = future
        started = time.perf_counter() if self._system._timing else 0.0
        future.add_done_callback(functools.partial(self.async_done, envelope, started))

    def async_done(self, envelope: Envelope | None, started: float, future: asyncio.Future) -> None:
        if started:
            self.info.stats.observe(time.perf_counter() - started)
        if self._busy is future:
            self._busy = None
        reply = envelope[2] if envelope is not None and self._current is envelope else None
        self._current = None
        self.handler_finished(future, envelope, reply)
        if self.state == RUNNING:
            self._scheduled = True
            self.dispatcher.schedule(self)
        else:  # failed or stopping: not scheduled now; whoever resumes or restarts it wakes it
            self._scheduled = False

    def handler_finished(self, future: asyncio.Future, envelope: Envelope | None, reply: Any) -> None:
        """A handler task ended: answer ``reply`` (``None``: nobody, or deferred) or hand its failure on."""
        if future.cancelled():
            if reply is not None:
                reply.set_exception(ActorStopped(f"{self.path} stopped while handling the message"))
        elif (failure := future.exception()) is not None:
            self.handler_failed(failure, envelope)
        elif reply is not None:
            reply.set_result(future.result())

    def handler_failed(self, error: BaseException, envelope: Envelope | None, force: bool = False) -> bool:
        """Fail the actor for ``error`` (its parent decides); False when it was only a refusal, answered here."""
        if type(error) is Refusal:
            self._refused(envelope, error.error)
            return False
        if envelope is not None:
            reply = envelope[2]
            if reply is not None:
                reply.set_exception(error)
        self._current = None
        if self.state != RUNNING and not force:
            log.error("rayka: %s failed while %s: %r", self.path, ("suspended", "stopping")[self.state == STOPPING],
                      error, exc_info=error)
            return True
        self.state = SUSPENDED
        self._failure = error
        self.info.stats.failures += 1
        self._system.count("failures")
        parent = self.parent_cell
        if parent is None:
            self._system.root_failed(error)
        else:
            parent.post_system(FAILED, (self, error))
        return True

    def _refused(self, envelope: Envelope | None, error: BaseException) -> None:
        """A message the actor cannot take: its ask fails with ``error``; a tell is logged and dead-lettered."""
        if self._current is envelope:
            self._current = None
        if envelope is None:
            return
        message, sender, reply = envelope
        if reply is not None and type(reply) is not SignalMark and reply is not CAST:
            reply.set_exception(error)
            return
        log.warning("rayka: %s", error)
        self.info.stats.dead_letters += 1
        self._system.dead_letters.publish(DeadLetter(message, sender, self.path, "refused"))

    # -- restart ---------------------------------------------------------------
    def begin_restart(self, error: BaseException) -> None:
        if self.state >= STOPPING:
            return
        self.state = SUSPENDED
        try:
            task = drive(self.dispatcher.loop, self._restart(error))
        except BaseException as bug:  # noqa: BLE001 - a runtime bug must not kill the dispatcher
            log.critical("rayka: restart of %s broke: %r; stopping it", self.path, bug, exc_info=bug)
            self.force_terminate()
            return
        if task is not None:
            self._busy = task

    async def _restart(self, error: BaseException) -> None:
        try:
            await self._restart_steps(error)
        finally:
            self._busy = None

    async def _restart_steps(self, error: BaseException) -> None:
        await self.restart_teardown(error)
        await self.restart_build(error)

    async def restart_teardown(self, error: BaseException | None = None) -> None:
        """The first half of a restart: the old instance stops (its children, then ``on_stop``).

        The cell stays suspended, its mailbox and ref kept, until :meth:`restart_build`.
        A :class:`~rayka.Supervisor` runs the halves itself to restart siblings in OTP's order.
        """
        self.state = SUSPENDED
        self.cancel_timers()
        await self._settle_busy()
        if self._stash:
            stash, self._stash = self._stash, None
            self.mailbox.prepend(stash)
        old = self.instance
        if old is not None and self.info.has_on_pre_restart:
            await self._run_hook(old.on_pre_restart, error)  # it stops the children it wants stopped
            await self._await_stopping_children()
        else:
            await self._stop_children()
            if old is not None:
                await self._run_hook(old.on_stop)
        self.instance = None  # its on_stop ran: a stop that comes before the build must not run it again

    async def restart_build(self, error: BaseException) -> None:
        """The second half of a restart: a new instance, ``on_restart(error)``, then it runs again."""
        if self.state >= STOPPING:
            return
        try:
            self.create_instance()
        except BaseException as new_error:  # noqa: BLE001
            self.instance = None
            self.handler_failed(new_error, None, force=True)
            return
        self._system.count("restarts")
        from ._supervising import count_restart

        count_restart(self)
        log.info("rayka: %s restarted after %r", self.path, error)
        if not await self._run_hook(self.instance.on_restart, error, fail=True):
            return
        self.state = RUNNING
        self._failure = None
        self.wake()

    async def _run_hook(self, hook: Any, *args: Any, fail: bool = False) -> bool:
        """Run a lifecycle hook bounded by the shutdown timeout; False if it failed."""
        try:
            if self.info.blocking:
                result = self._system.run_blocking(hook, *args)
            else:
                result = hook(*args)
            if inspect.isawaitable(result):
                future = asyncio.ensure_future(result)
                if not await settle(future, self.info.shutdown_timeout or self._system.shutdown_timeout):
                    log.warning("rayka: %s: %s did not finish in time; cancelled", self.path, hook.__name__)
                    return not fail
                result = future.result()
        except BaseException as error:  # noqa: BLE001
            if fail:
                self.handler_failed(error, None, force=True)
            else:
                log.error("rayka: %s: %s raised %r", self.path, hook.__name__, error, exc_info=error)
            return False
        return True

    async def _settle_busy(self) -> None:
        busy = self._busy
        if busy is not None and not busy.done():
            timeout = self.info.shutdown_timeout or self._system.shutdown_timeout
            if not await settle(busy, timeout):
                busy.cancel()  # a concurrent actor's handlers, not only the wait for them
                log.warning("rayka: %s: handler still running after %s s; cancelled", self.path, timeout)

    # -- stop ------------------------------------------------------------------
    def begin_stop(self, failure: BaseException | None) -> None:
        if self.state >= STOPPING:
            return
        self._failure = failure
        self.state = STOPPING
        self.cancel_timers()
        try:
            drive(self.dispatcher.loop, self._stop())
        except BaseException as bug:  # noqa: BLE001 - a runtime bug must not kill the dispatcher
            log.critical("rayka: stop of %s broke: %r; terminating it", self.path, bug, exc_info=bug)
            self.force_terminate()

    async def _stop(self) -> None:
        await self._settle_busy()
        await self._stop_children()
        if self.instance is not None:
            await self._run_hook(self.instance.on_stop)
        self.finish_stop()

    def can_stop_now(self) -> bool:
        info = self.info
        return (self._busy is None and not self._children and not self._sys and self.state < STOPPING
                and not info.blocking and not info.async_on_stop)

    def stop_now(self) -> None:
        """Stop a childless, idle actor synchronously (the common case in a big shutdown)."""
        self.state = STOPPING
        self.cancel_timers()
        instance = self.instance
        if instance is not None and self.info.has_on_stop:
            try:
                instance.on_stop()
            except BaseException as error:  # noqa: BLE001
                log.error("rayka: %s: on_stop raised %r", self.path, error, exc_info=error)
        self.finish_stop()

    async def _stop_children(self) -> None:
        children = self._children
        if not children:
            return
        for child in reversed(list(children.values())):
            if child.state == TERMINATED:
                continue
            if child.can_stop_now():
                child.stop_now()
                continue
            await self.stop_child(child)

    async def stop_child(self, child: ActorCell, *, ask: bool = True) -> None:
        """Stop ``child`` (or, with ``ask=False``, wait for a stop already asked) within its shutdown
        timeout; past it, terminate it without waiting."""
        waiter = child.termination_future()
        if ask:
            child.request_stop()
        timeout = self.child_timeout(child)
        if not await settle(waiter, timeout):
            log.warning("rayka: %s did not stop within %s s; terminating it", child.path, timeout)
            child.force_terminate()

    async def _await_stopping_children(self) -> None:
        """Wait for the children an ``on_pre_restart`` stopped (each within its timeout); the rest stay."""
        for child in list(self._children.values()) if self._children else ():
            if child.state == TERMINATED:
                continue
            asked = any(op in (STOP, STOP_FAILED) for op, _ in (getattr(child, "_sys", None) or ()))
            if child.state < STOPPING and not asked:
                continue  # kept across the restart
            await self.stop_child(child, ask=False)

    def child_timeout(self, child: ActorCell) -> float | None:
        """A child's shutdown timeout: the parent's ``shutdown_timeouts`` entry, the class's, the system's."""
        per_child = getattr(self.instance, "shutdown_timeouts", None)
        if per_child and child.name in per_child:
            return per_child[child.name]
        return child.info.shutdown_timeout or self._system.shutdown_timeout

    def termination_future(self) -> asyncio.Future:
        future = self.dispatcher.loop.create_future()
        if self.state == TERMINATED:
            future.set_result(None)
        else:
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(future)
        return future

    def force_terminate(self) -> None:
        self._system.forced += 1
        for child in list(self._children.values()) if self._children else ():
            child.force_terminate()
        busy = self._busy
        if busy is not None and not busy.done():
            busy.cancel()
        if self.state != TERMINATED:
            self.finish_stop()

    def finish_stop(self) -> None:
        if self.state == TERMINATED:
            return
        self.state = TERMINATED
        current, self._current = self._current, None
        reply = current[2] if current is not None else None
        if reply is not None:
            reply.set_exception(ActorStopped(f"{self.path} stopped while handling the message"))
        self.flush_to_dead_letters()
        if self._stash:
            for envelope in self._stash:
                self._dead_letter(envelope, "left in mailbox")
            self._stash = None
        self.instance = None
        self._receive = None
        ref = self.ref
        watchers, self._watchers = self._watchers, None
        parent = self.parent_cell
        system = self._system
        if parent is not None:
            parent.child_gone(self)
            if self._failure is not None:
                if watchers is parent:
                    watchers = None
                elif type(watchers) is set:
                    watchers.discard(parent)
                parent.post_system(SIGNAL, ChildFailed(ref, self._failure))
        if watchers is not None:
            signal = Terminated(ref)
            for watcher in watchers if type(watchers) is set else (watchers,):
                watcher.post_system(SIGNAL, signal)
        if self._watching:
            for watched in self._watching:
                watched.remove_watcher(self)
            self._watching = None
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)
        self._scheduled = False
        system.on_terminated(self)

    def flush_to_dead_letters(self) -> None:
        for envelope in self.mailbox.drain():
            self._dead_letter(envelope, "left in mailbox")

    def child_gone(self, child: Any) -> None:
        """Forget a terminated child: its name is free again."""
        self._system.remove_child(self, child)

    # -- watch -----------------------------------------------------------------
    def add_watcher(self, watcher: CellState) -> None:
        if self.state == TERMINATED:
            watcher.post_system(SIGNAL, Terminated(self.ref))
            return
        held = self._watchers
        if held is None:
            self._watchers = watcher  # one watcher (the common case) is kept as is: a set is ~0.2 KiB
        elif type(held) is set:
            held.add(watcher)
        elif held is not watcher:
            self._watchers = {held, watcher}

    def remove_watcher(self, watcher: CellState) -> None:
        held = self._watchers
        if held is watcher:
            self._watchers = None
        elif type(held) is set:
            held.discard(watcher)

    # -- timers ----------------------------------------------------------------
    def start_timer(self, delay: float, interval: float | None, message: Any) -> Timer:
        if delay < 0:
            raise ValueError(f"{self.path}: timer delay must be >= 0 seconds, got {delay!r}")
        timer = Timer(self, message, interval)
        if self._timers is None:
            self._timers = set()
        self._timers.add(timer)
        timer.arm(delay)
        return timer

    def cancel_timers(self) -> None:
        timers, self._timers = self._timers, None
        for timer in timers or ():
            timer.cancel()
