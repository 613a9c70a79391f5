"""ActorContext: what an actor sees of itself and the system (``self.context``).

A thin façade over the actor's cell: it holds nothing but the cell, reads the
cell's fields (declared in ``CellState``) and keeps the cell's own methods
(its message loop, lifecycle and supervision) out of the user's reach, as
Akka's ``ActorContext`` is "not for user extension".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import RaykaError
from ..mailbox._queues import SignalMark
from ._calls import CAST
from ._concurrent import handling
from ._signals import ChildFailed
if TYPE_CHECKING:
    from ._actor import Actor
    from ._state import CellState
    from ._ref import ActorRef
    from ._reply import Reply
    from ._timers import Timer

__all__ = ["ActorContext"]

M = TypeVar("M")
R = TypeVar("R")


class ActorContext:
    """An actor's view of itself: ``self``, ``parent``, ``children``, ``sender``,
    ``spawn``, ``stop``, ``watch``, ``unwatch``, timers and the stash.

    Use it only from inside the actor's own handlers and hooks.

    Example:
        >>> import rayka
        >>> class Parent(rayka.Actor):
        ...     def on_start(self):
        ...         self.context.spawn(rayka.testing.Probe, name="kid")
        ...     def receive(self, message):
        ...         return [child.path for child in self.context.children]
        >>> import rayka.testing
        >>> with rayka.ActorSystem("doc") as system:
        ...     system.spawn(Parent, name="p").ask("kids").result(timeout=1)
        ['/user/p/kid']
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: CellState) -> None:
        self._cell = cell

    def __repr__(self) -> str:
        return f"<ActorContext of {self._cell.path}>"

    # -- identity ------------------------------------------------------------
    @property
    def self(self) -> ActorRef:
        """This actor's own ref."""
        return self._cell.ref

    @property
    def parent(self) -> ActorRef | None:
        """The parent's ref (``None`` only for the root guardian)."""
        parent = self._cell.parent_cell
        return parent.ref if parent is not None else None

    @property
    def children(self) -> list[ActorRef]:
        """The live children, in start order."""
        children = self._cell._children
        return [cell.ref for cell in list(children.values())] if children else []

    def child(self, name: str) -> ActorRef | None:
        """The child called ``name``, or ``None``."""
        children = self._cell._children
        cell = children.get(name) if children else None
        return cell.ref if cell is not None else None

    @property
    def sender(self) -> ActorRef | None:
        """The sender of the message being handled, when it gave one."""
        current = self._cell._current
        if current is None:  # maybe a concurrent actor's handler: its message is kept per handler
            holder = handling.get()
            return holder[0][1] if holder is not None else None
        return current[1]

    def defer_reply(self) -> Reply | None:
        """Take over the reply of the ask being handled (``None`` for a tell), to answer it later.

        The handler's return value then no longer answers the ask: resolve the
        returned :class:`Reply` yourself with ``set_result`` or ``set_exception``
        (a router forwarding it, a queue holding it until there is room).
        """
        cell = self._cell
        current = cell._current
        holder = handling.get() if current is None else None
        if holder is not None:  # a concurrent actor's handler
            current = holder[0]
        if current is None:
            return None
        message, sender, reply = current
        if reply is None or isinstance(reply, SignalMark) or reply is CAST:  # a tell, a signal, a cast
            return None
        if holder is not None:
            holder[0] = (message, sender, None)
        else:
            cell._current = (message, sender, None)
        return reply

    @property
    def system(self) -> Any:
        """The :class:`~rayka.ActorSystem` this actor lives in."""
        return self._cell._system

    # -- children ------------------------------------------------------------
    def spawn(self, cls: type[Actor[M, R]], *args: Any, name: str | None = None, mailbox: Any = None,
              restart: Any = None, node: Any = None, **kwargs: Any) -> ActorRef[M, R]:
        """Start a child actor of ``cls(*args, **kwargs)``; see :meth:`ActorSystem.spawn`.

        The child lives on this actor's node unless ``node`` places it on
        another one (cluster mode); it is supervised by this actor either way.
        """
        cell = self._cell
        if node is not None:
            backend = cell._system._backend
            return backend.spawn_child(cell, cls, args, kwargs, name=name, mailbox=mailbox, restart=restart, node=node)
        return cell.spawn_child(cls, args, kwargs, name, mailbox, restart)

    def stop(self, ref: ActorRef | None = None) -> None:
        """Stop ``ref`` (a child, or this actor itself when omitted)."""
        (ref if ref is not None else self._cell.ref).stop()

    # -- death watch ---------------------------------------------------------
    def watch(self, ref: ActorRef) -> ActorRef:
        """Get ``Terminated(ref)`` once when ``ref`` stops, also if it is dead already."""
        return self._watch(ref, None)

    def watch_with(self, ref: ActorRef, message: Any) -> ActorRef:
        """Like :meth:`watch`, but get ``message`` instead of ``Terminated(ref)`` (Akka's ``watchWith``).

        Watching ``ref`` again (with either method) replaces the message. A
        parent still gets ``ChildFailed`` for a child stopped by a failure.

        Example:
            >>> import rayka
            >>> from rayka.testing import TestProbe
            >>> class Watcher(rayka.Actor):
            ...     def __init__(self, target, probe):
            ...         self.target, self.probe = target, probe
            ...     def on_start(self):
            ...         self.context.watch_with(self.target, ("gone", self.target.name))
            ...     def receive(self, message):
            ...         self.probe.tell(message)
            >>> with rayka.ActorSystem("doc") as system:
            ...     probe = TestProbe(system)
            ...     target = system.spawn(rayka.testing.Probe, name="worker")
            ...     _ = system.spawn(Watcher, target, probe.ref)
            ...     target.stop()
            ...     probe.expect(timeout=2)
            ('gone', 'worker')
        """
        return self._watch(ref, message)

    def _watch(self, ref: ActorRef, message: Any) -> ActorRef:
        me = self._cell
        watching = me._watching
        if watching is None:
            watching = me._watching = {}
        watching[ref._cell] = message
        ref._cell.add_watcher(me)
        return ref

    def unwatch(self, ref: ActorRef) -> ActorRef:
        """Stop watching ``ref``; its ``Terminated`` (or ``watch_with`` message) not yet handled is dropped."""
        me, cell = self._cell, ref._cell
        if me._watching:
            me._watching.pop(cell, None)
        cell.remove_watcher(me)
        me.mailbox.remove(
            lambda envelope: type(envelope[2]) is SignalMark and envelope[2].cell is cell
            and not isinstance(envelope[0], ChildFailed))
        return ref

    # -- timers --------------------------------------------------------------
    def schedule_once(self, delay: float, message: Any) -> Timer:
        """Send ``message`` to this actor after ``delay`` seconds; cancelled when it stops or restarts."""
        return self._cell.start_timer(delay, None, message)

    def schedule_repeatedly(self, interval: float, message: Any, *, initial_delay: float | None = None) -> Timer:
        """Send ``message`` to this actor every ``interval`` seconds until cancelled, stopped or restarted."""
        if interval <= 0:
            raise ValueError(f"{self._cell.path}: interval must be > 0 seconds, got {interval!r}")
        first = interval if initial_delay is None else initial_delay
        return self._cell.start_timer(first, interval, message)

    # -- stash ---------------------------------------------------------------
    def stash(self) -> None:
        """Set the message being handled aside until :meth:`unstash_all`."""
        cell = self._cell
        current = cell._current
        if current is None:
            if handling.get() is not None:
                raise RaykaError(f"{cell.path}: stash() is not available with max_concurrency > 1 (handlers "
                                 "overlap, so there is no one message to set aside); stash in a one-at-a-time actor")
            raise RaykaError(f"{cell.path}: stash() works only while handling a message")
        stash = cell._stash
        if stash is None:
            stash = cell._stash = []
        limit = cell.stash_capacity
        if limit is not None and len(stash) >= limit:
            raise RaykaError(
                f"{cell.path}: stash is full ({limit} messages); unstash before stashing more"
            )
        stash.append(current)
        cell._current = None

    def unstash_all(self) -> int:
        """Put every stashed message back at the front of the mailbox, in order; returns how many."""
        cell = self._cell
        stash = cell._stash
        if not stash:
            return 0
        cell._stash = None
        cell.mailbox.prepend(stash)
        cell.wake()
        return len(stash)
