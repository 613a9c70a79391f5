"""RayCluster: cluster mode for an ActorSystem, on a local Ray instance or an existing cluster.

The driver is a client node: it spawns actors on node runtimes (async Ray
actors, each hosting many rayka actors and its own router), sends to them over
ordered batched streams, and pulls what they send back. It also watches the
node runtimes: when one dies, its actors' watchers get ``Terminated``, asks
pending on it fail with ``ActorStopped``, and the top-level actors that lived
there (unless spawned ``TEMPORARY``) are started again on live nodes.
"""

from __future__ import annotations

import logging
import os
import time
import threading
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from .._errors import ActorNotFound, InvalidActorName, RaykaError
from ..actors._supervision import Restart
from ._remote import rebuild_ref, set_current_router
from ._router import Router

__all__ = ["ClusterRuntime", "RayCluster"]

log = logging.getLogger("rayka.cluster")


def _loopback_env() -> None:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@dataclass(frozen=True)
class RayCluster:
    """Cluster mode settings: ``ActorSystem(name, cluster=RayCluster(...))``.

    Args:
        address: ``None`` starts a local Ray instance bound to 127.0.0.1 (shut
            down with the system); ``"auto"`` or ``"ray://host:10001"`` joins
            an existing cluster (``ray start``, the cluster launcher, KubeRay).
        nodes: how many node runtimes to run, or a list of Ray actor options
            per node runtime (e.g. ``[{}, {"num_gpus": 1}]``).
        num_cpus: CPUs for a local Ray instance (default: Ray's choice).
        batch_size, max_in_flight: router stream settings.
        init: extra keyword arguments for ``ray.init``.
        rejoin: a node runtime that died joins again as a new incarnation (its
            actors are restarted elsewhere at once, meanwhile): rayka starts a
            replacement right away, or, when the node's Ray options set
            ``max_restarts``, waits for Ray to restart it. Detection is fastest
            without Ray restarts (milliseconds; about 1.5 s with them).
        pickle_by_value: modules (or their names) whose classes and functions are
            sent by value, for modules the node processes cannot import (a
            script's helpers, test modules); ``__main__`` always is.

    Example:
        >>> RayCluster(nodes=3).node_count
        3
    """

    address: str | None = None
    nodes: int | list = 2
    num_cpus: int | None = None
    batch_size: int = 1000
    max_in_flight: int = 4
    throughput: int = 100
    shutdown_timeout: float = 5.0
    init: dict = field(default_factory=dict)
    pickle_by_value: tuple = ()
    rejoin: bool = True

    @property
    def node_count(self) -> int:
        return self.nodes if isinstance(self.nodes, int) else len(self.nodes)

    def start(self, system: Any) -> ClusterRuntime:
        return ClusterRuntime(self, system)


def _offers(options: dict, resource: str, amount: float) -> bool:
    """Whether a node runtime's Ray actor options hold ``amount`` of ``resource``."""
    if resource in ("num_cpus", "num_gpus", "memory"):
        return options.get(resource, 0) >= amount
    return options.get("resources", {}).get(resource, 0) >= amount


class _Registry:
    """The cluster-wide names: a small Ray actor every node can ask (not a node runtime: no cycles)."""

    def __init__(self) -> None:
        self.names: dict[str, list] = {}

    def register(self, name: str, key: list) -> None:
        self.names[name] = key

    def unregister(self, name: str) -> None:
        self.names.pop(name, None)

    def lookup(self, name: str) -> list | None:
        return self.names.get(name)


@dataclass
class _Spawned:
    name: str
    blob: bytes
    restart: Restart
    node: str
    key: tuple


class ClusterRuntime:
    """The driver's side of cluster mode (made by ``RayCluster.start``)."""

    def __init__(self, config: RayCluster, system: Any) -> None:
        _loopback_env()
        import importlib

        import ray

        for module in config.pickle_by_value:
            cloudpickle.register_pickle_by_value(importlib.import_module(module) if isinstance(module, str) else module)

        from ._node import NodeRuntime

        self.ray = ray
        self.config = config
        self.system = system
        self.owns_ray = False
        if not ray.is_initialized():
            if config.address is None:
                ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=config.num_cpus, include_dashboard=False,
                         log_to_driver=True, configure_logging=False, **config.init)
            else:
                ray.init(address=config.address, **config.init)
            self.owns_ray = True
        self.router = Router(system, "driver", time.time_ns(), batch_size=config.batch_size,
                             max_in_flight=config.max_in_flight, put=ray.put)
        set_current_router(self.router)
        self.closing = False
        self.lock = threading.Lock()
        self.registry: dict[str, _Spawned] = {}
        self.recovered: dict[str, threading.Event] = {}
        self.rejoined: dict[str, threading.Event] = {}
        self.names = ray.remote(_Registry).options(num_cpus=0).remote()
        self.load: dict[str, int] = {}
        options = config.nodes if isinstance(config.nodes, list) else [{} for _ in range(config.nodes)]
        if not options:
            raise ValueError("RayCluster needs at least one node runtime")
        self._remote = ray.remote(NodeRuntime)
        self._settings = {"batch_size": config.batch_size, "max_in_flight": config.max_in_flight,
                    "throughput": config.throughput, "shutdown_timeout": config.shutdown_timeout}
        self.handles: dict[str, Any] = {}
        self.node_options: dict[str, dict] = {}
        self.node_options: dict[str, dict] = {}
        for index, opts in enumerate(options):
            node = f"n{index}"
            self.handles[node] = self._start_node(node, opts)
            self.load[node] = 0
        self.infos = dict(zip(self.handles, ray.get([h.connect.remote(self.handles, self.names)
                                                     for h in self.handles.values()])))
        for node, handle in self.handles.items():
            self.router.add_peer(node, handle)
        self.live = set(self.handles)
        self.threads = [threading.Thread(target=self._pull_loop, args=(node, handle), daemon=True,
                                         name=f"rayka-pull-{node}") for node, handle in self.handles.items()]
        for thread in self.threads:
            thread.start()

    def _start_node(self, node: str, opts: dict) -> Any:
        """Create the Ray actor of one node runtime (not yet connected)."""
        self.node_options[node] = opts
        actor_opts = {"num_cpus": 0, "scheduling_strategy": "SPREAD", "max_concurrency": 1000, **opts}
        return self._remote.options(**actor_opts).remote(self.system.name, node, self._settings)

    # -- placement and spawn ---------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        """Ids of the live node runtimes, in start order."""
        return [node for node in self.handles if node in self.live]

    def _place(self, node: Any) -> str:
        live = self.nodes
        if not live:
            raise RaykaError("no live node runtime is left in the cluster")
        if node is None or node == "spread":
            return min(live, key=lambda n: self.load[n])
        if isinstance(node, int):
            ids = list(self.handles)
            if not 0 <= node < len(ids) or ids[node] not in self.live:
                raise ValueError(f"no live node runtime #{node}; live: {live}")
            return ids[node]
        if isinstance(node, str):
            if node not in self.live:
                raise ValueError(f"no live node runtime {node!r}; live: {live}")
            return node
        if isinstance(node, dict):  # Ray resources, e.g. {"num_gpus": 1}
            fits = [n for n in live if all(_offers(self.node_options[n], k, v) for k, v in node.items())]
            if not fits:
                raise ValueError(f"no live node runtime offers {node}; give RayCluster(nodes=[...]) such options")
            return min(fits, key=lambda n: self.load[n])
        cell = getattr(node, "_cell", None)  # next to another ref
        if cell is not None:
            return getattr(cell, "node", "driver") if getattr(cell, "node", None) in self.live else live[0]
        raise TypeError(f"node must be an index, a node id, 'spread', a dict of Ray resources or an ActorRef, got {node!r}")

    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: Any, mailbox: Any, restart: Any, node: Any) -> Any:
        self.system.class_info(cls)  # the clear TypeError for non-actors, here rather than on the node
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        with self.lock:
            if name is not None and name in self.registry and self.registry[name].key[0] in self.live:
                raise InvalidActorName(f"an actor named {name!r} already exists in the cluster at "
                                       f"{self.registry[name].key[1]}; pick another name or lookup({name!r})")
        target = self._place(node)
        blob = cloudpickle.dumps((cls, args, kwargs, name, mailbox, restart_type))
        key = self._spawn_on(target, blob)
        if name is not None:
            with self.lock:
                self.registry[name] = _Spawned(name, blob, restart_type, target, key)
            self.ray.get(self.names.register.remote(name, list(key)))
        return self.router.ref_for(key)

    def _spawn_on(self, node: str, blob: bytes) -> tuple:
        try:
            path, uid = self.ray.get(self.handles[node].spawn.remote(blob))
        except self.ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        self.load[node] += 1
        return (node, path, uid)

    def lookup(self, name: str) -> Any:
        with self.lock:
            entry = self.registry.get(name)
        if entry is None:
            return None
        if entry.key[0] not in self.live:
            raise ActorNotFound(f"{name!r} lived on node {entry.key[0]}, which is gone, and was not restarted")
        return self.router.ref_for(entry.key)

    def reduce_ref(self, cell: Any) -> tuple:
        return (rebuild_ref, (self.router.node_id, cell.path, cell.uid))

    def node_info(self) -> dict[str, dict]:
        """Facts about each live node runtime: pid, Ray node, actors, malformed batches."""
        nodes = self.nodes
        return dict(zip(nodes, self.ray.get([self.handles[n].info.remote() for n in nodes])))

    def kill_node(self, node: str | int) -> None:
        """Kill a node runtime's process with SIGKILL (for failure drills)."""
        import signal

        node = self._place(node) if isinstance(node, int) else node
        os.kill(self.infos[node]["pid"], signal.SIGKILL)

    # -- membership ------------------------------------------------------------
    def _pull_loop(self, node: str, handle: Any) -> None:
        while not self.closing:
            ack = None
            while not self.closing:
                try:
                    result = self.ray.get(handle.pull.remote(ack, 0.5))
                except Exception as error:  # noqa: BLE001 - the node died or Ray went away
                    if not self.closing:
                        self._node_lost(node, error)
                    break
                ack = None
                if result is not None:
                    first_seq, data = result
                    self.router.receive(data)
                    self.router.wait_admitted()
                    ack = first_seq
            if self.closing or not self.config.rejoin:
                return
            handle = self._rejoin(node, handle)
            if handle is None:
                return

    def _rejoin(self, node: str, handle: Any, patience: float = 60.0) -> Any:
        """Bring a dead node runtime back as a new incarnation; returns its handle, or None."""
        if not self.node_options[node].get("max_restarts"):
            handle = self._start_node(node, self.node_options[node])  # a replacement, under the same id
        deadline = time.monotonic() + patience
        while not self.closing and time.monotonic() < deadline:
            try:
                info = self.ray.get(handle.connect.remote(self.handles, self.names), timeout=10)
            except Exception as error:  # noqa: BLE001 - still restarting, or gone for good
                if "permanently" in str(error) or "max_restarts" in str(error):
                    return None
                time.sleep(0.2)  # Ray is restarting the actor; ask again shortly
                continue
            self.handles[node] = handle
            self.router.rejoin(node, handle)
            for other in self.nodes:
                self.handles[other].node_up.remote(node, handle)
            with self.lock:
                self.infos[node] = info
                self.load[node] = 0
                self.live.add(node)
                event = self.rejoined.setdefault(node, threading.Event())
            log.warning("rayka: node runtime %s joined again as incarnation %s (pid %s)", node,
                        info["incarnation"], info["pid"])
            event.set()
            return handle
        return None

    def wait_rejoined(self, node: str, timeout: float | None = None) -> bool:
        """Block until a node runtime that died has joined again as a new incarnation."""
        with self.lock:
            event = self.rejoined.setdefault(node, threading.Event())
        return event.wait(timeout)

    def _node_lost(self, node: str, error: BaseException) -> None:
        with self.lock:
            if node not in self.live:
                return
            self.live.discard(node)
            done = self.recovered.setdefault(node, threading.Event())
            lost = [entry for entry in self.registry.values() if entry.key[0] == node]
            self.rejoined.setdefault(node, threading.Event()).clear()
        log.warning("rayka: node runtime %s is gone (%s); restarting %d actors elsewhere", node,
                    type(error).__name__, sum(e.restart is not Restart.TEMPORARY for e in lost))
        self.system._loop.call_soon_threadsafe(self.router.node_down, node, error)
        for other in self.nodes:
            self.handles[other].node_down.remote(node)
        for entry in lost:
            if entry.restart is Restart.TEMPORARY or self.closing:
                self.names.unregister.remote(entry.name)
                continue
            try:
                target = self._place(None)
                key = self._spawn_on(target, entry.blob)
            except Exception as spawn_error:  # noqa: BLE001
                log.error("rayka: could not restart %s after node %s died: %r", entry.name, node, spawn_error)
                continue
            with self.lock:
                self.registry[entry.name] = _Spawned(entry.name, entry.blob, entry.restart, target, key)
            self.names.register.remote(entry.name, list(key))
            self.system.count("restarts")
        done.set()

    def wait_recovered(self, node: str, timeout: float | None = None) -> bool:
        """Block until the loss of ``node`` was handled (its actors restarted elsewhere)."""
        with self.lock:
            event = self.recovered.setdefault(node, threading.Event())
        return event.wait(timeout)

    def shutdown(self) -> None:
        self.closing = True
        ray = self.ray
        live = self.nodes
        try:
            ray.get([self.handles[n].shutdown.remote() for n in live], timeout=30)
        except Exception as error:  # noqa: BLE001 - we are tearing down anyway
            log.warning("rayka: node runtimes did not all stop cleanly: %r", error)
        for handle in [*self.handles.values(), self.names]:
            try:
                ray.kill(handle)
            except Exception:  # noqa: BLE001,S110 - already dead
                pass
        for thread in self.threads:
            thread.join(timeout=2)
        set_current_router(None)
        if self.owns_ray:
            ray.shutdown()
