"""RemoteCell: the stand-in for an actor on another node, behind an ordinary ActorRef.

``ActorRef`` calls ``tell``, ``ask``, ``send``, ``request_stop`` and
``add_watcher`` on its cell; for a remote actor those turn into records on
the transport's ordered stream to the actor's node. So a ref works the same
whether its actor is local or not.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

from .._errors import ActorStopped
from ..actors.spi import Reply

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["RemoteCell", "RefKey", "rebuild_ref"]

RefKey = tuple  # (node_id, path, uid)
_monotonic = time.monotonic


class RemoteCell:
    """Routes what its ref is asked to do to the actor's node."""

    __slots__ = ("transport", "node", "path", "uid", "name", "dead", "ref", "tell", "__weakref__")
    parent_cell: Any = None

    def __init__(self, transport: Transport, node: str, path: str, uid: int) -> None:
        from ..actors import ActorRef

        self.transport = transport
        self.node = node
        self.path = path
        self.uid = uid
        self.name = path.rsplit("/", 1)[-1]
        self.dead = False
        # tell(message, sender): straight to the transport (a partial, not a method: one Python frame less)
        self.tell = functools.partial(transport.send_tell, self)
        self.ref: Any = ActorRef(self)  # type: ignore[arg-type]

    @property
    def key(self) -> RefKey:
        return (self.node, self.path, self.uid)

    @property
    def terminated(self) -> bool:
        return self.dead

    @property
    def system(self) -> Any:
        return self.transport.system

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteCell) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def ask(self, message: Any, timeout: float | None) -> Reply:
        if timeout is not None and timeout < 0:
            raise ValueError(f"ask to {self.path}: timeout must be >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else _monotonic() + timeout
        reply: Reply = Reply(deadline, f"ask to {self.path} on {self.node}", self.transport.loop_thread)
        if self.dead and not self.transport.closed:
            reply.set_exception(ActorStopped(f"{self.path} on node {self.node} is gone; the ask was not delivered"))
            return reply
        self.transport.send_ask(self, message, reply, deadline)
        return reply

    def send(self, message: Any, sender: Any) -> Reply:
        """Tell, with a reply that resolves once the stream to the node has room (backpressure)."""
        reply: Reply = Reply(None, f"send to {self.path}", self.transport.loop_thread)
        self.transport.send_tell(self, message, sender, reply)
        return reply

    def request_stop(self) -> None:
        self.transport.send_control(self, "stop")

    def statistics(self) -> Any:
        """The mailbox counters of the actor, read on its node (a Ray call: from a thread, not an actor)."""
        return self.transport.member.statistics_of(self)

    def add_watcher(self, watcher: Any) -> None:
        self.transport.watch(self, watcher)

    def remove_watcher(self, watcher: Any) -> None:
        self.transport.unwatch(self, watcher)

    def reduce_ref(self) -> tuple:
        return (rebuild_ref, self.key)

    def __repr__(self) -> str:
        return f"<RemoteCell {self.path}#{self.uid} on {self.node}>"


_current_transport: Transport | None = None


def set_current_transport(transport: Transport | None) -> None:
    """Name the transport of this process: unpickled refs bind to it."""
    global _current_transport
    _current_transport = transport


def rebuild_ref(node: str, path: str, uid: int) -> Any:
    """Unpickle a ref in this process: local cell if it lives here, else a remote stand-in."""
    transport = _current_transport
    if transport is None:
        raise ActorStopped(
            f"a ref to {path} on node {node} arrived in a process with no rayka node; refs work inside "
            "actors and on the driver of a cluster-mode ActorSystem"
        )
    return transport.ref_for((node, path, uid))
