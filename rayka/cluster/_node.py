"""The node runtime: one Ray actor process hosting a partition of the actor system.

Its event loop never waits on another member: spawns on other nodes are
records on ordered streams, names are read from a replica that the registry
keeps up to date, and everything a node asks of the registry is sent
without waiting for the answer.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from .._errors import InvalidActorName, RaykaError
from ..actors import ActorRef, ActorSystem, DeadLetter, Restart
from ..actors import spi
from ..actors.spi import check_name, loop_of, spawn_top_level, tree_of
from ._kinds import Kind
from ._member import Member, class_name, new_uid
from ._remote import set_current_transport
from ._transport import Transport

log = logging.getLogger("rayka.cluster")

__all__ = ["NodeBackend", "NodeRuntime"]


class _NodeCluster:
    """The backend factory a node runtime passes to its ``ActorSystem``."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self.runtime = runtime

    def start(self, system: Any) -> NodeBackend:
        return NodeBackend(self.runtime, system)


class NodeBackend(Member):
    """What a node's embedded system asks of the cluster (the backend contract, node side)."""

    def __init__(self, runtime: NodeRuntime, system: Any) -> None:
        import ray

        self.runtime = runtime
        self.system = system
        self.node_id = runtime.node_id
        self.registry = runtime.registry
        self.node_options = runtime.node_options
        self.load: dict[str, int] = {}
        self.leaving: set[str] = set()
        self.names: dict[str, tuple] = {}
        self.names_version: dict[str, int] = {}
        settings = runtime.settings
        self.transport = Transport(system, self.node_id, runtime.incarnation, batch_size=settings.get("batch_size", 1000),
                             max_in_flight=settings.get("max_in_flight", 4),
                             large_payload=settings.get("large_payload", 1 << 20), put=ray.put,
                             max_backlog=settings.get("max_backlog", 100_000),
                             strict=settings.get("wire") == "msgpack")
        self.transport.member = self
        self.transport.respawn = self.respawn
        system.dead_letters.subscribe(self._forward_dead_letter)

    # -- the backend contract ----------------------------------------------------
    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any, restart: Any,
              node: Any) -> ActorRef:
        """A top-level actor spawned from inside this node: here by default, or placed like the driver does
        (``node="driver"``: in the driver's process, as sharded entities start their coordinator)."""
        system = self.system
        spi.class_info(system, cls)
        check_name(name, cls, "/user")
        if name is not None and self.lookup(name) is not None:
            raise InvalidActorName(f"an actor named {name!r} already exists in the cluster; pick another name "
                                   f"or lookup({name!r})")
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        target = "driver" if node == "driver" else self.place(node, default=self.node_id)  # driver: the authority's
        uid = new_uid()
        if target == self.node_id:
            ref = spawn_top_level(system, cls, args, kwargs, name, mailbox, restart_type, uid=uid)
            blob = self.try_dump_spawn(cls, (cls, args, kwargs, ref.name, mailbox, restart_type))
            self._recorded((self.node_id, ref.path, uid), name, blob, restart_type, ref)
            return ref
        name = name if name is not None else f"${uid:x}"
        blob = self.dump_spawn(cls, (cls, args, kwargs, name, mailbox, restart_type))
        key = (target, "/user/" + name, uid)
        self.counted(target)
        self.transport.send_record(target, (key[1], self.node_id, Kind.SPAWN, [blob, None, 0, uid, class_name(cls)],
                                            None))
        self._recorded(key, name, blob, restart_type, None)
        return self.transport.ref_for(key)

    def _recorded(self, key: tuple, name: str | None, blob: bytes | None, restart: Restart, ref: Any) -> None:
        """Register a top-level actor; if the registry says its name was taken meanwhile, stop it."""
        if name is not None:
            self.names[name] = key
        call = self.record(key, name, blob, restart)
        loop, _ = loop_of(self.system)

        def checked(future: Any) -> None:
            try:
                held = future.result()
            except Exception:  # noqa: BLE001 - the registry is gone: the cluster is shutting down
                return
            if held is not None:
                self.system.dead_letters.publish(DeadLetter(None, None, key[1], "name taken"))
                target = ref if ref is not None else self.transport.ref_for(key)
                loop.call_soon_threadsafe(target.stop)

        call.future().add_done_callback(checked)

    def lookup(self, name: str) -> ActorRef | None:
        key = self.names.get(name)
        if key is None:
            return None
        if key[0] == self.node_id:
            return None  # the system finds it in its own tree (or finds it gone)
        return self.ref_for_name(key)

    def names_changed(self, version: int, name: str, key: list | None) -> None:
        if version < self.names_version.get(name, 0):
            return
        self.names_version[name] = version
        if key is None:
            self.names.pop(name, None)
        else:
            self.names[name] = tuple(key)

    def actor_terminated(self, cell: Any) -> None:
        key = (self.node_id, cell.path, cell.uid)
        if self.names.get(cell.name) == key:
            del self.names[cell.name]
        super().actor_terminated(cell)

    def statistics(self) -> dict[str, int]:
        return {}

    def statistics_of(self, cell: Any) -> Any:
        raise RuntimeError(f"{cell.path} lives on node {cell.node}: read its statistics from the driver, or ask it")

    def shutdown(self) -> None:
        self.stopping = True

    def _forward_dead_letter(self, letter: DeadLetter) -> None:
        """Every dead letter of this node also goes to the driver, which sees the whole cluster."""
        transport = self.transport
        if transport.closed or transport.peers.get("driver") is None:
            return
        sender = list(transport.key_of(letter.sender)) if letter.sender is not None else None
        try:
            data = transport.encoder.encode_record(letter.recipient, sender, Kind.DEAD_LETTER,
                                                [letter.reason, letter.message], None)
        except Exception:  # noqa: BLE001 - the message cannot travel: its repr can
            data = transport.encoder.encode_record(letter.recipient, sender, Kind.DEAD_LETTER,
                                                [letter.reason, repr(letter.message)[:500]], None)
        transport.push("driver", data)


class NodeRuntime:
    """A Ray actor that runs an embedded rayka node and its transport.

    Created by :class:`rayka.cluster.RayCluster`; users never call it directly.
    """

    def __init__(self, system_name: str, node_id: str, settings: dict) -> None:
        self.node_id = node_id
        self.incarnation = time.time_ns()  # a restarted node must outrank its old streams
        self.system_name = system_name
        self.settings = settings
        self.reporter: Any = None  # RayMetricsReporter, with RayCluster(ray_metrics=...)
        self.registry: Any = None
        self.node_options: dict[str, dict] = {}
        self.backend: NodeBackend | None = None
        self.quarantined = False

    async def connect(self, peers: dict[str, Any], registry: Any, node_options: dict[str, dict]) -> dict:
        """Start the node's actor system on this actor's event loop (one thread: no hops) and meet the peers.

        Called once per incarnation: after Ray restarts this actor, the driver calls it again.
        """
        import asyncio

        import ray

        self.registry = registry
        self.node_options = node_options
        settings = self.settings
        setup = settings.get("tracing_setup")
        if setup is not None:
            setup()  # OpenTelemetry for this process (its own tracer provider and exporter)
        self.system = ActorSystem(self.system_name, throughput=settings.get("throughput", 100),
                                  shutdown_timeout=settings.get("shutdown_timeout", 5.0),
                                  loop=asyncio.get_running_loop(), cluster=_NodeCluster(self),
                                  tracing=settings.get("tracing", False))
        backend = self.backend = self.system.cluster
        self.transport = backend.transport
        set_current_transport(self.transport)
        for node, handle in peers.items():
            self.transport.add_peer(node, handle)
        self.transport.add_peer("driver", None)
        self.topics = self.system.topics
        version, names = await registry.join.remote(self.node_id, ray.get_runtime_context().current_actor)
        for name, key in names.items():
            backend.names_changed(version, name, key)
        interval = settings.get("ray_metrics")
        if interval:
            from ._ray_metrics import RayMetricsReporter

            self.reporter = RayMetricsReporter(self.system, self.node_id, float(interval))
        return self.info()

    def info(self) -> dict:
        import ray

        stats = self.system.statistics()
        return {"node": self.node_id, "incarnation": self.incarnation, "pid": os.getpid(),
                "ray_node": ray.get_runtime_context().get_node_id(), "actors": stats["actors"], "statistics": stats,
                "malformed_batches": self.transport.malformed_batches,
                "malformed_records": self.transport.malformed_records, "streams": self.transport.streams(),
                "inbound": self.transport.inbound.statistics(), "pending_asks": self.transport.pending_asks,
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "topics": list(self.transport.key_of(self.topics))}

    async def deliver(self, data: bytes, wait: float = 0.0) -> bytes | None:
        if self.quarantined:
            return None  # downed: what is sent to this incarnation is not taken (its senders dead-letter it)
        return await self.transport.receive_and_reply(data, wait)

    async def pull(self, ack: int | None, wait: float) -> Any:
        if self.quarantined:
            return None
        return await self.transport.pull("driver", ack, wait)

    def spawn(self, blob: bytes, uid: int, class_name: str) -> tuple[str, int]:
        """Host a top-level actor placed here by the driver (errors raise back to the driver's spawn)."""
        if self.backend is None:
            raise RaykaError(f"node runtime {self.node_id} is not connected yet")
        cls, args, kwargs, name, mailbox, restart = self.backend.load_spawn(blob, class_name)
        ref = spawn_top_level(self.system, cls, args, kwargs, name, mailbox, restart, uid=uid)
        return ref.path, uid

    def local_name(self, name: str) -> list | None:
        """The key this node holds for ``name``: its registry replica, or a name it just gave itself."""
        backend = self.backend
        if backend is None:
            return None
        key = backend.names.get(name)
        return list(key) if key is not None and not backend.known_dead(key) else None

    def metrics(self, top: int) -> dict:
        """This node runtime's part of the driver's ``system.metrics()``."""
        backend = self.backend
        if backend is None:
            raise RaykaError(f"node runtime {self.node_id} is not connected yet")
        return backend.metrics_parts(top)[0]

    def statistics_of(self, path: str, uid: int) -> Any:
        cell = self.transport._local(path)
        if cell is None or cell.uid != uid:
            raise RaykaError(f"no actor at {path} on node {self.node_id}: it has stopped")
        return cell.mailbox.statistics()

    def tree(self) -> list[str]:
        return tree_of(self.system)

    def names_changed(self, version: int, name: str, key: list | None) -> None:
        if self.backend is not None:
            self.backend.names_changed(version, name, key)

    def node_up(self, node: str, handle: Any, incarnation: int | None = None, options: dict | None = None) -> None:
        """A node runtime joined (again, as a new incarnation, or for the first time): open fresh streams to it."""
        if options is not None:
            self.node_options[node] = options  # a node added while the system runs: placement sees it now
        loop_of(self.system)[0].call_soon_threadsafe(self.transport.rejoin, node, handle, incarnation)

    def node_leaving(self, node: str) -> None:
        """``node`` is being drained: place nothing new there (it still delivers what is sent to it)."""
        if self.backend is not None:
            self.backend.leaving.add(node)

    async def drain(self, timeout: float) -> int:
        """Stop this node's actors before it leaves (children first, ``on_stop`` run), then let its streams drain.

        Returns how many actors were still stopping at ``timeout``.

        Their ends are not registry news (the driver restarts the restartable ones elsewhere next), and
        children whose parents live on other nodes are started again by those parents' nodes.
        """
        import asyncio

        backend = self.backend
        if backend is None:
            return 0
        backend.stopping = True
        self.transport.draining = True
        futures = spi.stop_top_level(self.system)
        for cell in list(self.transport.hosted.values()):
            cell.request_stop()
            futures.append(cell.termination_future())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending: set = set()
        if futures:
            _, pending = await asyncio.wait(futures, timeout=timeout)
        while loop.time() < deadline and any(  # what they sent last (an on_stop's report) reaches its peers
                stream["alive"] and (stream["in_flight"] or stream["pending"] or stream["backlog"])
                for stream in self.transport.streams().values()):
            await asyncio.sleep(0.01)
        return len(pending)

    def node_down(self, node: str, incarnation: int | None = None) -> None:
        """Membership (the driver) downed ``node`` at ``incarnation``: forget it and refuse its batches.

        If that is this very incarnation (it was hung or cut off, and is still alive), it quarantines
        itself: it stops its actors (they run elsewhere now) and takes no more batches.
        """
        if node == self.node_id and incarnation == self.incarnation:
            self.quarantine()
            return
        loop_of(self.system)[0].call_soon_threadsafe(self.transport.node_down, node, None, incarnation)

    def quarantine(self) -> None:
        if self.quarantined:
            return
        self.quarantined = True
        log.error("rayka: node runtime %s (incarnation %s) was downed by the cluster; stopping its actors",
                  self.node_id, self.incarnation)
        if self.backend is not None:
            self.backend.stopping = True
        for cell in list(self.transport.hosted.values()):
            cell.request_stop()
        self.system.root.stop()

    async def shutdown(self) -> bool:
        if self.reporter is not None:
            self.reporter.stop()
        if self.backend is not None:
            self.backend.stopping = True
        for cell in list(self.transport.hosted.values()):
            cell.request_stop()
        return await self.system.shutdown_async(timeout=10)
