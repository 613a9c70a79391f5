"""The node runtime: one Ray actor process hosting a partition of the actor system."""

from __future__ import annotations

import os
import time
from typing import Any

import cloudpickle

from .._errors import RaykaError
from ..actors import ActorSystem
from ..actors._lifecycle import check_name
from ..actors._supervision import Restart
from ._remote import rebuild_ref, set_current_router
from ._router import Router
from ._supervise import RemoteChild, RemoteParent

__all__ = ["NodeRuntime", "NodeSide"]


class NodeSide:
    """What a node's embedded system asks of the cluster: ref pickling, lookups, placement."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime

    def reduce_ref(self, cell: Any) -> tuple:
        return (rebuild_ref, (self.runtime.node_id, cell.path, cell.uid))

    def lookup(self, name: str) -> Any:
        """A name from the cluster-wide registry (asked after this node's own tree; one Ray call)."""
        import ray

        registry = self.runtime.registry
        if registry is None:
            return None
        try:
            self.runtime.system.lookup("/user/" + name)
            return None  # lives here: the system's own lookup finds it
        except Exception:  # noqa: BLE001,S110 - not local: ask the registry
            pass
        key = ray.get(registry.lookup.remote(name))
        return self.runtime.router.ref_for(tuple(key)) if key is not None else None

    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: Any, mailbox: Any, restart: Any, node: Any) -> Any:
        if node is not None:
            raise ValueError(
                f"spawn({cls.__name__}, node={node!r}) from inside node {self.runtime.node_id}: placing an actor on "
                "another node from inside an actor is not built yet; spawn it from the driver, or leave node unset "
                "to start it here"
            )
        return self.runtime.system._user.spawn_child(cls, args, kwargs, name, mailbox, restart)

    def shutdown(self) -> None:
        return None

    def _target(self, node: Any) -> str:
        router = self.runtime.router
        live = [self.runtime.node_id] + [n for n, p in router.peers.items() if p.alive and p.handle is not None]
        if isinstance(node, int):
            node = f"n{node}"
        if node == "spread":
            return min(live, key=lambda n: self.runtime.spawned.get(n, 0))
        if node not in live:
            raise ValueError(f"no live node runtime {node!r} to spawn on; live: {sorted(live)}")
        return node

    def spawn_child(self, parent: Any, cls: Any, args: tuple, kwargs: dict, *, name: Any, mailbox: Any,
                    restart: Any, node: Any) -> Any:
        """Spawn a child of ``parent`` (a local cell) on ``node``; the parent supervises it from here."""

        runtime = self.runtime
        target = self._target(node)
        if target == runtime.node_id:
            return parent.spawn_child(cls, args, kwargs, name, mailbox, restart)
        system = runtime.system
        system.class_info(cls)
        check_name(name, cls, parent.path)
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        with system.lock:
            if name is None:
                name = system.auto_name()
            children = parent._children
            if children is None:
                children = parent._children = {}
            if name in children:
                raise RaykaError(f"an actor named {name!r} already exists under {parent.path}; pick another name")
            blob = cloudpickle.dumps((cls, args, kwargs, name, mailbox, restart_type))
            path = parent.path.rstrip("/") + "/" + name
            child = RemoteChild(runtime.router, target, path, parent, restart_type, blob,
                                getattr(cls, "shutdown_timeout", None))
            children[name] = child
        try:
            child.uid = self._spawn_there(target, child, parent)
        except BaseException:
            with system.lock:
                children.pop(name, None)
            raise
        return child.ref

    def _spawn_there(self, target: str, child: RemoteChild, parent: Any) -> int:
        import ray

        handle = self.runtime.router.peers[target].handle
        try:
            path, uid = ray.get(handle.spawn_child.remote(child.blob, [self.runtime.node_id, parent.path, parent.uid]))
        except ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        child.node = target
        self.runtime.router.remote_children[(target, path)] = child
        self.runtime.spawned[target] = self.runtime.spawned.get(target, 0) + 1
        return uid

    def respawn(self, child: RemoteChild, error: BaseException) -> None:
        """Restart a child whose node died on a live node (off the loop: it waits on Ray)."""
        import threading

        def run() -> None:
            try:
                target = self._target("spread")
                if target == self.runtime.node_id:
                    others = [n for n, p in self.runtime.router.peers.items() if p.alive and p.handle is not None]
                    if not others:
                        raise RaykaError("no other live node runtime")
                    target = others[0]
                old = child.node
                uid = self._spawn_there(target, child, child.parent_cell)
            except BaseException as failure:  # noqa: BLE001
                self.runtime.system._loop.call_soon_threadsafe(child.gone, failure)
                return
            self.runtime.router.remote_children.pop((old, child.path), None)
            child.uid = uid
            child.dead = False
            self.runtime.system.count("restarts")
            self.runtime.system._loop.call_soon_threadsafe(_restarted, child)

        threading.Thread(target=run, name=f"rayka-respawn-{child.name}", daemon=True).start()


def _restarted(child: RemoteChild) -> None:
    if child.state != 3:  # not given up meanwhile
        child.state = 0


class NodeRuntime:
    """A Ray actor that runs an embedded rayka node and its router.

    Created by :class:`rayka.cluster.RayCluster`; users never call it directly.
    """

    def __init__(self, system_name: str, node_id: str, settings: dict) -> None:
        self.node_id = node_id
        self.incarnation = time.time_ns()  # a restarted node must outrank its old streams
        self.system_name = system_name
        self.settings = settings
        self.spawned: dict[str, int] = {}
        self.registry: Any = None

    async def connect(self, peers: dict[str, Any], registry: Any = None) -> dict:
        """Start the node's actor system on this actor's event loop (one thread: no hops) and meet the peers.

        Called once per incarnation: after Ray restarts this actor, the driver calls it again.
        """
        import asyncio

        import ray

        self.registry = registry
        settings = self.settings
        self.system = ActorSystem(self.system_name, throughput=settings.get("throughput", 100),
                                  shutdown_timeout=settings.get("shutdown_timeout", 5.0),
                                  loop=asyncio.get_running_loop())
        self.system._cluster = NodeSide(self)
        self.router = Router(self.system, self.node_id, self.incarnation, batch_size=settings.get("batch_size", 1000),
                             max_in_flight=settings.get("max_in_flight", 4),
                             large_payload=settings.get("large_payload", 1 << 20), put=ray.put)
        self.router.respawn = self.system._cluster.respawn
        set_current_router(self.router)
        for node, handle in peers.items():
            self.router.add_peer(node, handle)
        self.router.add_peer("driver", None)
        return self.info()

    def info(self) -> dict:
        import ray

        return {"node": self.node_id, "incarnation": self.incarnation, "pid": os.getpid(),
                "ray_node": ray.get_runtime_context().get_node_id(),
                "actors": self.system.statistics()["actors"], "malformed_batches": self.router.malformed_batches,
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}

    async def deliver(self, data: bytes, wait: float = 0.0) -> bytes | None:
        return await self.router.receive_and_reply(data, wait)

    async def pull(self, ack: int | None, wait: float) -> Any:
        return await self.router.pull("driver", ack, wait)

    def spawn(self, blob: bytes) -> tuple[str, int]:
        cls, args, kwargs, name, mailbox, restart = cloudpickle.loads(blob)
        ref = self.system._user.spawn_child(cls, args, kwargs, name, mailbox, restart)
        return ref.path, ref._cell.uid

    def spawn_child(self, blob: bytes, parent_key: list) -> tuple[str, int]:
        """Host a child whose parent lives on another node."""
        cls, args, kwargs, name, mailbox, restart = cloudpickle.loads(blob)
        parent = RemoteParent(self.router, *parent_key)
        system = self.system
        cell = system.make_cell(parent, name, system.class_info(cls), args, kwargs, mailbox, restart)
        self.router.hosted[cell.path] = cell
        try:
            cell.start()
        except BaseException:
            self.router.hosted.pop(cell.path, None)
            raise
        with system.lock:
            system.started += 1
        return cell.path, cell.uid

    def node_up(self, node: str, handle: Any) -> None:
        """A node runtime that Ray restarted joined again: open fresh streams to its new incarnation."""
        self.system._loop.call_soon_threadsafe(self.router.rejoin, node, handle)

    def node_down(self, node: str) -> None:
        self.system._loop.call_soon_threadsafe(self.router.node_down, node, None)

    async def shutdown(self) -> bool:
        for cell in list(self.router.hosted.values()):
            cell.request_stop()
        return await self.system.shutdown_async(timeout=10)
