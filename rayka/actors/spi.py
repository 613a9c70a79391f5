"""The service-provider interface: what a backend (``rayka.cluster``) may use of the core.

A backend reaches the core only through :class:`~rayka.actors.Backend` and
this module; nothing else of ``rayka.actors`` that starts with ``_`` is used
outside the package (a test checks). The names here are stable within a
wire version; they are not for applications.
"""

from __future__ import annotations

import asyncio
from enum import IntEnum
from typing import Any

from ._calls import CAST, Call, Proxy
from ._stats import BOUNDS, collect_node
from ._tracing import Traced, wrap
from ._cell import ActorCell
from . import _lifecycle as _lc
from ._lifecycle import check_name
from ._reply import _ERROR, _VALUE, Reply
from ._signals import ChildFailed, DeadLetter, Terminated

__all__ = [
    "BOUNDS", "CAST", "ActorCell", "Call", "CellState", "ChildFailed", "DeadLetter", "Op", "Proxy", "Reply",
    "Terminated",
    "Traced", "traced", "wrap",
    "add_child", "cell_of", "check_name", "class_info", "collect_node", "is_local_cell", "loop_of", "make_cell",
    "pause_current_actor", "reply_outcome", "resume_actor", "set_assist", "spawn_top_level", "stop_failed",
    "stop_top_level", "tree_of",
]


def traced(system: Any) -> bool:
    """Whether ``system`` traces its messages (``ActorSystem(tracing=True)``)."""
    return bool(system._tracing)


class Op(IntEnum):
    """Lifecycle operations on a cell's control lane (``cell.post_system(op, arg)``)."""

    START = _lc.START
    STOP = _lc.STOP
    STOP_FAILED = _lc.STOP_FAILED
    FAILED = _lc.FAILED
    RESUME = _lc.RESUME
    RESTART = _lc.RESTART
    SIGNAL = _lc.SIGNAL


class CellState(IntEnum):
    RUNNING = 0
    SUSPENDED = 1
    STOPPING = 2
    TERMINATED = _lc.TERMINATED


def cell_of(ref: Any) -> Any:
    """The cell behind a ref: an ``ActorCell`` here, or a backend's stand-in for a remote actor (else ``None``)."""
    return getattr(ref, "_cell", None)


def is_local_cell(cell: Any) -> bool:
    return type(cell) is ActorCell


def loop_of(system: Any) -> tuple[asyncio.AbstractEventLoop, int]:
    """The system's event loop and the id of the thread that runs it."""
    return system._loop, system._loop_thread


def spawn_top_level(system: Any, cls: Any, args: tuple, kwargs: dict, name: str | None, mailbox: Any,
                    restart: Any, uid: int | None = None) -> Any:
    """Start an actor under ``/user`` in this process (``uid`` given by a peer that placed it here)."""
    return system._user.spawn_child(cls, args, kwargs, name, mailbox, restart, uid=uid)


def class_info(system: Any, cls: type) -> Any:
    """What the runtime knows of an actor class (checks that it is one: a clear ``TypeError`` if not)."""
    return system._class_info(cls)


def make_cell(system: Any, parent: Any, name: str, info: Any, args: tuple, kwargs: dict | None, mailbox: Any,
              restart: Any, uid: int | None) -> Any:
    """A new cell under ``parent`` (the caller registers it as a child and starts it)."""
    return system._make_cell(parent, name, info, args, kwargs, mailbox, restart, uid)


def stop_failed(ref: Any, error: BaseException) -> None:
    """Stop the local actor ``ref`` because of ``error``, without asking its supervisor.

    Its parent gets :class:`ChildFailed` with ``error``; asks left in its
    mailbox fail with :class:`~rayka.ActorStopped` whose ``__cause__`` is
    ``error``. What an actor that cannot recover (Akka's persistent actors)
    does to itself.
    """
    cell_of(ref).post_system(_lc.STOP_FAILED, error)


def stop_top_level(system: Any) -> list[Any]:
    """Ask every actor under ``/user`` to stop (children first, as ``ref.stop()``); their termination futures.

    Call it on the system's loop; a node runtime leaving the cluster awaits the futures.
    """
    futures = []
    for child in list((system._user._children or {}).values()):
        child.request_stop()
        futures.append(child.termination_future())
    return futures


def tree_of(system: Any) -> list[str]:
    """The supervision tree under ``/user``, one line per actor (state, queued messages)."""
    from ._display import tree_lines

    return tree_lines(system._user)


def add_child(parent: Any, name: str, child: Any) -> None:
    """Put a backend's stand-in child under a local parent (raises ``InvalidActorName`` if taken)."""
    from .._errors import InvalidActorName

    system = parent._system
    with system.lock:
        children = parent._children
        if children is None:
            children = parent._children = {}
        if name in children:
            raise InvalidActorName(f"an actor named {name!r} already exists under {parent.path}; pick another name")
        children[name] = child


def reply_outcome(reply: Reply) -> tuple[bool, Any]:
    """``(True, value)`` or ``(False, error)`` of a resolved reply."""
    state = reply._state
    if state == _VALUE:
        return True, reply._value
    if state == _ERROR:
        return False, reply._value
    raise RuntimeError("reply_outcome() needs a resolved reply")


def set_assist(reply: Reply, assist: Any) -> None:
    """Let a thread that blocks in ``reply.result(timeout)`` fetch the reply itself with ``assist.wait(timeout)``.

    Any other use of the reply (``await``, ``add_done_callback``, ``done``) calls ``assist.detach()`` first:
    the backend must then resolve the reply by itself.
    """
    reply._assist = assist


def pause_current_actor(system: Any) -> tuple[Any, asyncio.Future] | None:
    """Keep the actor whose turn it is from getting another until :func:`resume_actor`."""
    cell = system._dispatcher.current
    if cell is None or cell._busy is not None:
        return None
    future = system._loop.create_future()
    cell._busy = future
    return cell, future


def resume_actor(cell: Any, future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
    if cell._busy is future:
        cell._busy = None
        cell.wake()
