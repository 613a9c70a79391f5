"""Supervision across nodes: a parent on one node, its child on another.

On the parent's node the child is a :class:`RemoteChild` in the parent's
children: supervision directives sent to it travel to the child's node. On
the child's node the parent is a :class:`RemoteParent`: the child's failure
and termination travel back. When the child's node dies, the parent sees the
child fail with ``TransportError``; a restart directive then starts the child
again, from the same constructor arguments, on a live node, under the same
path and behind the same ref.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .._errors import RaykaError, SerializationError, TransportError
from ..actors.spi import CellState, ChildFailed, Op
from ._kinds import DIRECTIVE_CODES, Kind
from ._remote import RemoteCell

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["RemoteChild", "RemoteParent"]

log = logging.getLogger("rayka.cluster")
FAILED, RESTART, RESUME, SIGNAL, STOP, STOP_FAILED = (int(op) for op in (Op.FAILED, Op.RESTART, Op.RESUME,
                                                                    Op.SIGNAL, Op.STOP, Op.STOP_FAILED))
RUNNING, TERMINATED = int(CellState.RUNNING), int(CellState.TERMINATED)


class _Info:
    """What a parent reads of a child's class when stopping it."""

    __slots__ = ("shutdown_timeout",)
    blocking = False
    async_on_stop = False

    def __init__(self, shutdown_timeout: float | None) -> None:
        self.shutdown_timeout = shutdown_timeout


class RemoteChild(RemoteCell):
    """A child on another node, as its parent sees it."""

    __slots__ = ("parent_cell", "state", "restart_type", "_record", "info", "blob", "waiters", "_sys")

    def __init__(self, transport: Transport, node: str, path: str, parent: Any, restart_type: Any, blob: bytes,
                 shutdown_timeout: float | None) -> None:
        super().__init__(transport, node, path, 0)
        self.parent_cell = parent
        self.state = RUNNING
        self.restart_type = restart_type
        self._record: Any = None
        self.info = _Info(shutdown_timeout)
        self.blob = blob
        self.waiters: list = []
        self._sys = None

    @property
    def key(self) -> tuple:
        return (self.node, self.path, self.uid)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    # -- what the parent's supervision does to a child -------------------------
    def post_system(self, op: int, arg: Any = None) -> None:
        if self.state == TERMINATED:
            return
        if self.transport._peer(self.node) is None:  # its node is gone
            if op == RESTART:
                self.transport.respawn(self, arg)
            elif op in (STOP, STOP_FAILED):
                self.gone(arg if op == STOP_FAILED else None)
            return
        error = arg if op in (RESTART, STOP_FAILED) else None
        if op in (RESTART, RESUME):
            self.state = RUNNING
        self.transport.send_record(self.node, (self.path, self.transport.node_id, Kind.DIRECTIVE,
                                            [DIRECTIVE_CODES[Op(op)], self.uid, error], None))

    def request_stop(self) -> None:
        self.post_system(STOP)

    def can_stop_now(self) -> bool:
        return False

    def termination_future(self) -> Any:
        future = self.transport.loop.create_future()
        if self.state == TERMINATED:
            future.set_result(None)
        else:
            self.waiters.append(future)
        return future

    def force_terminate(self) -> None:
        self.gone(None)

    def gone(self, failure: BaseException | None) -> None:
        """The child terminated (or is given up): free its name, tell the parent."""
        if self.state == TERMINATED:
            return
        self.state = TERMINATED
        self.dead = True
        self.transport.remote_children.pop((self.node, self.path), None)
        parent = self.parent_cell
        parent.child_gone(self)
        if failure is not None:
            parent.post_system(SIGNAL, ChildFailed(self.ref, failure))
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.transport._terminated(self.key)

    def node_died(self, node: str) -> None:
        """Report the loss of the child's node to the parent as the child's failure."""
        if self.state != TERMINATED:
            self.parent_cell.post_system(FAILED, (self, TransportError(f"node {node} of {self.path} died")))


class RemoteParent:
    """A parent on another node, as its child sees it."""

    __slots__ = ("transport", "node", "path", "uid", "_children", "state", "instance")

    def __init__(self, transport: Transport, node: str, path: str, uid: int) -> None:
        self.transport = transport
        self.node = node
        self.path = path
        self.uid = uid
        self._children = None
        self.state = RUNNING
        self.instance = None

    def post_system(self, op: int, arg: Any = None) -> None:
        if op == FAILED:
            child, error = arg
            self._send(Kind.CHILD_FAILED, child.path, child.uid, error)

    def child_gone(self, child: Any) -> None:
        self.transport.hosted.pop(child.path, None)
        self.transport.ended_here(child.path)
        if self.transport.draining:  # stopped because this node leaves: the parent starts it again elsewhere
            return
        self._send(Kind.CHILD_GONE, child.path, child.uid, child.failure)

    def report_gone(self, path: str, uid: int, error: BaseException | None) -> None:
        """A child that could not even be started here: its parent sees it fail and go."""
        self._send(Kind.CHILD_GONE, path, uid, error)

    def _send(self, kind: int, path: str, uid: int, error: BaseException | None) -> None:
        record = (self.path, self.transport.node_id, kind, [path, uid, error], None)
        try:
            data = self.transport.encoder.encode_record(*record)
        except SerializationError:
            record = (self.path, self.transport.node_id, kind, [path, uid, RaykaError(repr(error))], None)
            data = self.transport.encoder.encode_record(*record)
        self.transport.push(self.node, data)
