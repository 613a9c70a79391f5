"""What every cluster member does the same way, the driver and each node runtime.

Placement, spawning children on other nodes, names, death watch from a
thread, ref pickling. Spawning on another node never waits: the spawning
member picks the new actor's uid, sends a ``SPAWN`` record on its ordered
stream to the target and returns the ref at once; messages sent to the ref
afterwards travel behind that record, so they find the actor. A node's loop
therefore never waits on another node, and two nodes spawning on each other
at the same moment both make progress.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import cloudpickle

from .._errors import ClassNotImportable, RaykaError, SerializationError
from ..actors import ActorRef, Restart
from ..actors import spi
from ..actors.spi import CellState, add_child, cell_of, check_name, is_local_cell, loop_of, spawn_top_level
from ._kinds import Kind
from ._remote import rebuild_ref
from ._supervise import RemoteChild, RemoteParent

__all__ = ["Member", "class_name", "new_uid", "not_importable", "offers"]

log = logging.getLogger("rayka.cluster")
_random = random.SystemRandom()


def offers(options: dict, resource: str, amount: float) -> bool:
    """Whether a node runtime's Ray actor options hold ``amount`` of ``resource``."""
    if resource in ("num_cpus", "num_gpus", "memory"):
        return options.get(resource, 0) >= amount
    return options.get("resources", {}).get(resource, 0) >= amount


def new_uid() -> int:
    """A uid no other member will pick (refs compare by node, path and uid)."""
    return _random.getrandbits(62) | 1 << 62


class _ThreadWaiter:
    """Stands in for a watcher so that a thread can wait for ``Terminated``."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def post_system(self, op: int, signal: Any = None) -> None:
        self.event.set()


class Member:
    """Mixin of the driver's and the node runtimes' backends (``self.system``, ``self.transport``, ...)."""

    system: Any
    transport: Any
    node_id: str
    registry: Any
    node_options: dict[str, dict]
    load: dict[str, int]
    stopping = False  # set while the member shuts down: its actors' ends are not registry news
    leaving: set[str]  # node runtimes being drained: reachable, but nothing new is placed there

    # -- placement -------------------------------------------------------------
    def live_nodes(self) -> list[str]:
        """Node runtimes this member can reach and place actors on, in start order (not those being drained)."""
        leaving = self.leaving
        return [node for node in self.reachable_nodes() if node not in leaving]

    def reachable_nodes(self) -> list[str]:
        """Node runtimes this member can reach, those being drained included, in start order."""
        return sorted((node for node in self.node_options if self.is_live(node)), key=_start_order)

    def is_live(self, node: str) -> bool:
        if node == self.node_id:
            return True
        peer = self.transport.peers.get(node)
        return peer is not None and peer.alive and peer.handle is not None

    def place(self, node: Any, default: str | None = None) -> str:
        """The node runtime for ``node``: an index, an id, ``"spread"``, Ray resources or a ref."""
        live = self.live_nodes()
        if not live:
            raise RaykaError("no live node runtime is left in the cluster")
        least = (lambda nodes: min(nodes, key=lambda n: self.load.get(n, 0)))
        if node is None:
            return default if default is not None else least(live)
        if node == "spread":
            return least(live)
        if isinstance(node, bool):
            raise TypeError(f"node must be an index, a node id, 'spread', a dict of Ray resources or an ActorRef, "
                            f"got {node!r}")
        if isinstance(node, int):
            if f"n{node}" not in live:
                raise ValueError(f"no live node runtime #{node}; live: {live}")
            return f"n{node}"
        if isinstance(node, str):
            if node not in live:
                raise ValueError(f"no live node runtime {node!r}; live: {live}")
            return node
        if isinstance(node, dict):  # Ray resources, e.g. {"num_gpus": 1}
            fits = [n for n in live if all(offers(self.node_options[n], k, v) for k, v in node.items())]
            if not fits:
                raise ValueError(f"no live node runtime offers {node}; give RayCluster(nodes=[...]) such options")
            return least(fits)
        if isinstance(node, ActorRef):  # next to another actor
            cell = cell_of(node)
            there = getattr(cell, "node", None) if not is_local_cell(cell) else self.node_id
            return there if there in live else (default if default is not None else least(live))
        raise TypeError(f"node must be an index, a node id, 'spread', a dict of Ray resources or an ActorRef, "
                        f"got {node!r}")

    def metrics_parts(self, top: int) -> list[dict]:
        """This process's part of ``system.metrics()`` (the driver adds every node runtime's)."""
        transport = self.transport
        return [spi.collect_node(self.system, self.node_id, top, streams=transport.streams(),
                             malformed_batches=transport.malformed_batches)]

    def counted(self, node: str) -> None:
        self.load[node] = self.load.get(node, 0) + 1

    # -- children on other nodes -----------------------------------------------
    def spawn_child(self, parent: Any, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any,
                    restart: Any, node: Any) -> ActorRef:
        target = self.place(node, default=self.node_id if self.node_id in self.node_options else None)
        if target == self.node_id:
            self.counted(target)  # so that "spread" sees the ones placed here too
            return parent.spawn_child(cls, args, kwargs, name, mailbox, restart)
        system = self.system
        spi.class_info(system, cls)
        check_name(name, cls, parent.path)
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        if name is None:
            name = system.auto_name()
        blob = self.dump_spawn(cls, (cls, args, kwargs, name, mailbox, restart_type))
        path = parent.path.rstrip("/") + "/" + name
        child = RemoteChild(self.transport, target, path, parent, restart_type, blob,
                            getattr(cls, "shutdown_timeout", None))
        add_child(parent, name, child)
        self._send_spawn(child, target, class_name(cls))
        return child.ref

    def _send_spawn(self, child: RemoteChild, target: str, class_name: str) -> None:
        parent = child.parent_cell
        child.node = target
        child.uid = new_uid()
        self.transport.remote_children[(target, child.path)] = child
        self.counted(target)
        self.transport.send_record(target, (child.path, self.node_id, Kind.SPAWN,
                                         [child.blob, parent.path, parent.uid, child.uid, class_name], None))

    def respawn(self, child: RemoteChild, error: BaseException) -> None:
        """Start a child whose node died again on a live node (on the loop; nothing waits)."""
        others = [n for n in self.live_nodes() if n != child.node and n != self.node_id]
        if not others:
            child.gone(RaykaError(f"{child.path} cannot be restarted: no other node runtime is alive"))
            return
        old = child.node
        self.transport.remote_children.pop((old, child.path), None)
        self._send_spawn(child, min(others, key=lambda n: self.load.get(n, 0)), f"the class of {child.path}")
        child.dead = False
        child.state = int(CellState.RUNNING)
        self.system.count("restarts")

    def host_spawn(self, origin: str, path: str, payload: list) -> None:
        """A ``SPAWN`` record arrived: host the actor here (on the loop)."""
        blob, parent_path, parent_uid, uid, class_name = payload
        try:
            cls, args, kwargs, name, mailbox, restart = self.load_spawn(blob, class_name)
        except Exception as error:  # noqa: BLE001 - a damaged blob must not stop the node
            self._spawn_failed(origin, path, parent_path, uid, error)
            return
        if parent_path is None:  # a top-level actor placed here by another member
            try:
                spawn_top_level(self.system, cls, args, kwargs, name, mailbox, restart, uid=uid)
            except Exception as error:  # noqa: BLE001
                self._spawn_failed(origin, path, None, uid, error)
            self.transport.release_early(path)
            return
        parent = RemoteParent(self.transport, origin, parent_path, parent_uid)
        system = self.system
        try:
            cell = spi.make_cell(system, parent, name, spi.class_info(system, cls), args, kwargs, mailbox, restart, uid)
            self.transport.hosted[cell.path] = cell
            cell.start()
        except Exception as error:  # noqa: BLE001 - reported to the parent, whose strategy sees it gone
            self.transport.hosted.pop(path, None)
            self._spawn_failed(origin, path, parent_path, uid, error)
            self.transport.release_early(path)
            return
        with system.lock:
            system.started += 1
        self.transport.release_early(path)

    def _spawn_failed(self, origin: str, path: str, parent_path: str | None, uid: int, error: BaseException) -> None:
        self.transport.ended_here(path)
        log.error("rayka: node %s could not start %s: %r", self.node_id, path, error)
        if parent_path is None:
            self.registry.remove.remote([self.node_id, path, uid])
            return
        RemoteParent(self.transport, origin, parent_path, 0).report_gone(path, uid, error)

    # -- spawn specs: (cls, args, kwargs, name, mailbox, restart) ----------------------
    def dump_spawn(self, cls: Any, spec: tuple) -> bytes:
        """A spawn spec as bytes: cloudpickle, or by name on the msgpack-only wire."""
        strict = self.transport.encoder.strict
        try:
            return self.transport.encoder.encode_value(list(spec)) if strict else cloudpickle.dumps(spec)
        except Exception as error:
            what = "plain data or registered types" if strict else "picklable arguments"
            raise TypeError(f"cannot send {class_name(cls)} and its constructor arguments to another node: "
                            f"{error}; pass {what}, or spawn it without node=") from error

    def try_dump_spawn(self, cls: Any, spec: tuple) -> bytes | None:
        """The spawn spec for a restart on another node, if it can travel (else the actor is not restarted there)."""
        try:
            return self.dump_spawn(cls, spec)
        except TypeError:
            return None

    def load_spawn(self, blob: bytes, class_name: str) -> tuple:
        """Rebuild a spawn spec.

        Raises:
            ClassNotImportable: its class cannot be imported on this node.
            SerializationError: the spec cannot be rebuilt here (msgpack-only wire).
        """
        strict = self.transport.decoder.strict
        try:
            if strict:
                cls, args, kwargs, name, mailbox, restart = self.transport.decoder.decode_value(blob)
                return cls, tuple(args), kwargs, name, mailbox, restart
            return tuple(cloudpickle.loads(blob))
        except ImportError as error:
            raise not_importable(class_name, error, self.node_id) from error
        except SerializationError as error:
            if isinstance(error.__cause__, ImportError):
                raise not_importable(class_name, error.__cause__, self.node_id, by_name=True) from error
            raise

    # -- top-level actors and names ----------------------------------------------
    def record(self, key: tuple, name: str | None, blob: bytes | None, restart: Restart,
               replacing: tuple | None = None) -> Any:
        """Tell the registry about a top-level actor (returns the Ray call's ref)."""
        return self.registry.add.remote(list(key), name, blob, restart.value,
                                        list(replacing) if replacing is not None else None)

    def actor_terminated(self, cell: Any) -> None:
        self.transport.ended_here(cell.path)
        if self.registry is not None and not self.stopping:
            self.registry.remove.remote([self.node_id, cell.path, cell.uid])

    def known_dead(self, key: tuple) -> bool:
        return key in self.transport.dead_keys or key[0] in self.transport.dead_nodes

    def ref_for_name(self, key: Any) -> ActorRef | None:
        if key is None:
            return None
        key = tuple(key)
        if self.known_dead(key):
            return None
        return self.transport.ref_for(key)

    # -- refs and waiting ------------------------------------------------------------
    def reduce_ref(self, cell: Any) -> tuple:
        return (rebuild_ref, (self.node_id, cell.path, cell.uid))

    def wait_terminated(self, ref: ActorRef, timeout: float | None) -> bool:
        cell = cell_of(ref)
        loop, _ = loop_of(self.system)
        waiter = _ThreadWaiter()
        loop.call_soon_threadsafe(self.transport.watch, cell, waiter)
        if waiter.event.wait(timeout):
            return True
        loop.call_soon_threadsafe(self.transport.unwatch, cell, waiter)
        return False


def _start_order(node: str) -> tuple:
    return (0, int(node[1:]), node) if node[1:].isdigit() else (1, 0, node)


def class_name(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"


def not_importable(class_name: str, error: BaseException, where: str, by_name: bool = False) -> ClassNotImportable:
    """The clear error for an actor class whose module the node runtimes cannot import."""
    module = getattr(error, "name", None) or class_name.rsplit(".", 1)[0]
    fix = ("On the msgpack-only wire classes travel by name: ship" if by_name else
           f"Send the class by value with RayCluster(pickle_by_value=[{module!r}]), or ship")
    return ClassNotImportable(
        f"node runtime {where} cannot import {class_name}: module {module!r} is not importable there. {fix} the "
        "code with Ray's runtime_env: RayCluster(init={'runtime_env': {'working_dir': '.'}}) or install it on "
        "every node"
    )
