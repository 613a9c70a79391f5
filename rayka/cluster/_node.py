"""The node runtime: one Ray actor process hosting a partition of the actor system."""

from __future__ import annotations

import os
import random
from typing import Any

import cloudpickle

from ..actors import ActorSystem
from ._remote import rebuild_ref, set_current_router
from ._router import Router

__all__ = ["NodeRuntime", "NodeSide"]


class NodeSide:
    """What a node's embedded system asks of the cluster: ref pickling, lookups, placement."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime

    def reduce_ref(self, cell: Any) -> tuple:
        return (rebuild_ref, (self.runtime.node_id, cell.path, cell.uid))

    def lookup(self, name: str) -> Any:
        return None  # local names first; the driver holds the cluster-wide registry

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


class NodeRuntime:
    """A Ray actor that runs an embedded rayka node and its router.

    Created by :class:`rayka.cluster.RayCluster`; users never call it directly.
    """

    def __init__(self, system_name: str, node_id: str, settings: dict) -> None:
        import ray

        self.node_id = node_id
        self.incarnation = random.getrandbits(48)
        self.system = ActorSystem(system_name, throughput=settings.get("throughput", 100),
                                  shutdown_timeout=settings.get("shutdown_timeout", 5.0))
        self.system._cluster = NodeSide(self)
        self.router = Router(self.system, node_id, self.incarnation, batch_size=settings.get("batch_size", 1000),
                             max_in_flight=settings.get("max_in_flight", 4),
                             large_payload=settings.get("large_payload", 1 << 20), put=ray.put)
        set_current_router(self.router)

    def connect(self, peers: dict[str, Any]) -> dict:
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

    async def deliver(self, data: bytes) -> int:
        return self.router.receive(data)

    async def pull(self, ack: int | None, wait: float) -> Any:
        return await self.router.pull("driver", ack, wait)

    def spawn(self, blob: bytes) -> tuple[str, int]:
        cls, args, kwargs, name, mailbox, restart = cloudpickle.loads(blob)
        ref = self.system._user.spawn_child(cls, args, kwargs, name, mailbox, restart)
        return ref.path, ref._cell.uid

    def node_down(self, node: str) -> None:
        self.system._loop.call_soon_threadsafe(self.router.node_down, node, None)

    def shutdown(self) -> bool:
        return self.system.shutdown(timeout=10)
