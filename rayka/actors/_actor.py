"""The Actor base class that users subclass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic

from typing_extensions import TypeVar

from ._supervision import DEFAULT_STRATEGY, Strategy

from ._calls import Refusal
from ._context import ActorContext

if TYPE_CHECKING:
    from ..mailbox import Mailbox
    from ._state import CellState

__all__ = ["Actor"]

M = TypeVar("M")
R = TypeVar("R", default=Any)


class Actor(Generic[M, R]):
    """An object with private state that handles one message at a time.

    Subclass it and write ``receive(self, message)``, plain or ``async``; its
    return value answers an ``ask``. Class attributes tune the actor:

    - ``supervisor_strategy``: how this actor supervises its children.
    - ``mailbox``: the default mailbox spec (``spawn(..., mailbox=...)`` overrides it).
    - ``throughput``: messages handled per turn before others get the loop.
    - ``blocking``: run ``receive`` on a thread pool (for blocking or CPU-heavy handlers).
    - ``max_concurrency``: handle up to N messages at once (``async def``
      handlers overlap at their awaits, ``blocking`` ones on N threads); 1 by default.

    The runtime keeps ``context``, ``_cell`` and ``_context`` on every actor:
    a subclass must not assign them.

    Typed messages: ``class Counter(rayka.Actor[int])`` makes ``spawn``
    return an ``ActorRef[int]``, so a type checker refuses ``ref.tell("x")``.
    ``rayka.Actor[int, str]`` also types the answers: ``ref.ask(1)`` is then a
    ``Reply[str]`` (declared, not checked against ``receive``, which may be
    ``async``). A plain ``rayka.Actor`` takes anything and answers ``Any``.

    Example:
        >>> import rayka
        >>> class Echo(rayka.Actor):
        ...     def receive(self, message):
        ...         return message
        >>> with rayka.ActorSystem("doc") as system:
        ...     system.spawn(Echo).ask("hi").result(timeout=1)
        'hi'
    """

    __slots__ = ("_cell", "_context", "__dict__", "__weakref__")

    _cell: CellState
    _context: ActorContext
    #: how this actor supervises its children; a class attribute, or set per instance (as ``Supervisor`` does)
    supervisor_strategy: Strategy = DEFAULT_STRATEGY
    mailbox: ClassVar[Mailbox | None] = None
    throughput: ClassVar[int | None] = None
    blocking: ClassVar[bool] = False
    #: how many messages may be handled at once (async handlers, or threads with ``blocking``); 1: one at a time
    max_concurrency: ClassVar[int] = 1

    @property
    def context(self) -> ActorContext:
        """This actor's context: its ref, parent, children, sender, spawn, stop, watch, timers."""
        try:
            return self._context
        except AttributeError:  # made on first use: an idle actor that never asks for it does not pay for it
            context = self._context = ActorContext(self._cell)
            return context

    def receive(self, message: M) -> Any:
        """Handle one message; the return value answers an ask.

        An actor that only has methods (called through ``ref.proxy()`` or
        ``ref.call``) need not define it: a plain message is then refused (an
        ask fails with ``TypeError``, a tell goes to dead letters) and the
        actor goes on.
        """
        raise Refusal(TypeError(
            f"{type(self).__name__} actor {self._cell.path} got a {type(message).__name__} message but has no "
            "receive(): call its methods (`ref.proxy().name(...)`, `ref.call(Class.name, ...)`), or define receive"
        ))

    def on_start(self) -> Any:
        """Run once after the actor is created, before its first message."""

    def on_stop(self) -> Any:
        """Run once when the actor stops, after its children have stopped."""

    def on_pre_restart(self, error: BaseException) -> Any:
        """Run on the failing instance before it is replaced (Akka's ``preRestart``).

        By default its children are stopped (in reverse start order) and then
        :meth:`on_stop` runs. Override it to keep some children across the
        restart: the ones you do not stop stay, and the new instance finds
        them in ``self.context.children``. The restart waits for the children
        you stop. May be ``async``.
        """

    def on_restart(self, error: BaseException) -> Any:
        """Run on the new instance after a restart caused by ``error``; by default calls ``on_start``."""
        return self.on_start()
