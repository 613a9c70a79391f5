"""The state one actor's cell shares among its parts.

``ActorCell`` is assembled from parts: the message loop (``_cell.py``), the
lifecycle (``_lifecycle.py``), supervision of its children
(``_supervising.py``); the user's view, ``ActorContext`` (``_context.py``), is
a façade that holds the cell. The parts all work on one object, whose fields are declared here once, with their
types, and filled in by ``ActorCell.__init__``. The methods below are the
ones a part calls on another part; ``ActorCell`` (through its parts) defines
them all.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from ._cell import ActorCell
    from ._dispatcher import Dispatcher
    from ._ref import ActorRef
    from ._reply import Reply
    from ._system import ActorSystem, ClassInfo
    from ._timers import Timer

__all__ = ["CellState", "Envelope"]

if TYPE_CHECKING:
    from ..mailbox._queues import SignalMark

    #: what a mailbox holds: ``(message, sender, reply)``, a plain tuple (see ``mailbox/_queues.py``)
    Envelope = tuple[Any, ActorRef | None, Reply | SignalMark | None]
else:
    Envelope = tuple


class CellState:
    """Fields of an actor's cell (see the module docstring); no behaviour of its own."""

    __slots__ = (
        "_system", "dispatcher", "parent_cell", "name", "uid", "_path", "ref",
        "info", "args", "kwargs", "restart_type",
        "instance", "_receive", "mailbox", "_put", "_sys", "_scheduled", "_busy", "state",
        "_children", "_watchers", "_watching", "_current", "_timers", "_stash",
        "_record", "_waiters", "_failure",
    )

    _system: ActorSystem
    dispatcher: Dispatcher
    parent_cell: ActorCell | None
    name: str
    uid: int
    _path: str | None
    ref: ActorRef
    info: ClassInfo
    args: tuple
    kwargs: dict | None
    restart_type: Any
    instance: Any
    _receive: Any
    mailbox: Any
    _put: Any
    _sys: deque | None
    _scheduled: bool
    _busy: Any
    state: int
    _children: dict[str, ActorCell] | None
    _watchers: Any  # None, the one watcher cell, or a set of them
    _watching: dict[Any, Any] | None
    _current: Envelope | None
    _timers: set[Timer] | None
    _stash: list | None
    _record: Any
    _waiters: list[asyncio.Future] | None
    _failure: BaseException | None

    if TYPE_CHECKING:  # what one part calls on another (ActorCell has them all)
        @property
        def path(self) -> str: ...

        @property
        def stash_capacity(self) -> int | None: ...

        def post_system(self, op: int, arg: Any = None) -> None: ...

        def wake(self) -> None: ...

        def flush_to_dead_letters(self) -> None: ...

        def _dead_letter(self, envelope: Envelope, reason: str) -> None: ...

        def handler_failed(self, error: BaseException, envelope: Envelope | None, force: bool = False) -> bool: ...

        def handler_finished(self, future: asyncio.Future, envelope: Envelope | None, reply: Any) -> None: ...

        def _call(self, call: Any) -> Any: ...

        def supervise(self, child: ActorCell, error: BaseException) -> None: ...

        def resume(self) -> None: ...

        def request_stop(self) -> None: ...

        def start_timer(self, delay: float, interval: float | None, message: Any) -> Timer: ...

        def spawn_child(self, cls: Any, args: tuple, kwargs: dict, name: str | None, mailbox: Any, restart: Any,
                        uid: int | None = None) -> ActorRef: ...

        def add_watcher(self, watcher: Any) -> None: ...

        def remove_watcher(self, watcher: Any) -> None: ...

        def termination_future(self) -> asyncio.Future: ...

        async def stop_child(self, child: ActorCell, *, ask: bool = True) -> None: ...

        def ask(self, message: Any, timeout: float | None) -> Reply: ...

        def run(self) -> None: ...

        def child_gone(self, child: Any) -> None: ...
