"""Elastic membership, driver side: list, add and drain node runtimes while the system runs.

``system.cluster.nodes()`` lists the node runtimes; ``add_node(options)``
starts one and introduces it to every member; ``remove_node(node,
drain=True)`` takes one out: nothing new is placed there, the hooks run
(sharded entities hand their shards off), its actors stop in order, and then
it is handled as gone, without fencing: its restartable top-level actors
start on live nodes and the parents of its children start them again
elsewhere. ``RayCluster(nodes="auto")`` follows the Ray cluster: one node
runtime per alive Ray node, pinned to it; a Ray node that joins gets one.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .._errors import RaykaError, TransportError

__all__ = ["Elastic", "NodeInfo"]

log = logging.getLogger("rayka.cluster")


@dataclass(frozen=True)
class NodeInfo:
    """One node runtime, as ``system.cluster.nodes()`` lists it.

    Attributes:
        node: its id (``"n0"``, ``"n1"``, ...).
        ray_node: the id of the Ray node its process runs on.
        resources: the Ray actor options it was started with.
        actors: actors running there (as last counted, for a node that is down).
        state: ``"up"``, ``"suspect"`` (a call to it failed and none has
            succeeded since), ``"leaving"`` (being drained) or ``"down"``.
        pid: its process id; incarnation: tells its restarts apart.
    """

    node: str
    ray_node: str | None
    resources: dict
    actors: int
    state: str
    pid: int | None
    incarnation: int | None


class Elastic:
    """The driver's membership changes (a mixin of ``ClusterRuntime``)."""

    ray: Any
    lock: threading.Lock
    handles: dict[str, Any]
    infos: dict[str, dict]
    node_options: dict[str, dict]
    load: dict[str, int]
    down: set[str]
    leaving: set[str]
    removed: set[str]
    announced: set[str]
    threads: list[threading.Thread]
    transport: Any
    registry: Any
    closing: bool
    on_node_added: list[Callable[[str], Any]]
    on_node_leaving: list[Callable[[str, float], Any]]

    if TYPE_CHECKING:  # what ClusterRuntime provides
        def _start_node(self, node: str, opts: dict) -> Any: ...
        def _peer_topics(self, joined: list[str]) -> None: ...
        def _pull_loop(self, node: str, handle: Any) -> None: ...
        def _node_lost(self, node: str, error: BaseException, fence: bool = False) -> None: ...
        def reachable_nodes(self) -> list[str]: ...
        def live_nodes(self) -> list[str]: ...

    def nodes(self) -> list[NodeInfo]:
        """The node runtimes of this cluster, in start order (removed ones are not listed)."""
        from ._member import _start_order

        listed = [node for node in sorted(self.node_options, key=_start_order) if node not in self.removed]
        reachable = set(self.reachable_nodes())
        asked = {node: self.handles[node].info.remote() for node in listed if node in reachable}
        fresh: dict[str, dict] = {}
        for node, call in asked.items():
            try:
                fresh[node] = self.ray.get(call, timeout=10)
            except Exception as error:  # noqa: BLE001 - it did not answer: listed from what is known
                log.info("rayka: node runtime %s did not answer for nodes(): %r", node, error)
        result = []
        for node in listed:
            info = fresh.get(node) or self.infos.get(node, {})
            peer = self.transport.peers.get(node)
            if node in self.down or node not in reachable:
                state = "down"
            elif node in self.leaving:
                state = "leaving"
            elif peer is not None and peer.suspect_since is not None:
                state = "suspect"
            else:
                state = "up"
            result.append(NodeInfo(node, info.get("ray_node"), dict(self.node_options[node]),
                                   int(info.get("actors", 0)) if state != "down" else 0, state, info.get("pid"),
                                   info.get("incarnation")))
        return result

    def add_node(self, options: dict | None = None, *, timeout: float = 60.0) -> str:
        """Start one more node runtime while the system runs; returns its id once every member knows it.

        Args:
            options: Ray actor options for it, as in ``RayCluster(nodes=[...])``
                (e.g. ``{"resources": {"gpu_box": 1}}``).
            timeout: seconds to wait for it to start.

        Raises:
            RaykaError: it did not start in time (it is removed again).
        """
        opts = dict(options or {})
        with self.lock:
            numbers = [int(n[1:]) for n in self.node_options if n[1:].isdigit()]
            node = f"n{max(numbers) + 1 if numbers else 0}"
            self.node_options[node] = opts
        handle = self._start_node(node, opts)
        peers = {n: self.handles[n] for n in self.reachable_nodes()}
        try:
            info = self.ray.get(handle.connect.remote(peers, self.registry, self.node_options), timeout=timeout)
        except Exception as error:
            with self.lock:
                self.node_options.pop(node, None)
            try:
                self.ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001,S110 - it never started
                pass
            raise RaykaError(f"node runtime {node} did not start within {timeout} s: {error!r}") from error
        with self.lock:
            self.handles[node] = handle
            self.infos[node] = info
            self.load[node] = 0
        self.transport.add_peer(node, handle)
        self.transport.peers[node].incarnation = info["incarnation"]
        self.ray.get([self.handles[other].node_up.remote(node, handle, info["incarnation"], opts)
                      for other in peers], timeout=timeout)
        self._peer_topics([node])
        thread = threading.Thread(target=self._pull_loop, args=(node, handle), daemon=True, name=f"rayka-pull-{node}")
        self.threads.append(thread)
        thread.start()
        log.warning("rayka: node runtime %s joined the cluster (pid %s)", node, info["pid"])
        for hook in list(self.on_node_added):
            hook(node)
        return node

    def remove_node(self, node: str | int, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Take a node runtime out of the cluster.

        With ``drain`` (the default): nothing new is placed on it; sharded
        entities hand its shards to other nodes (their messages are buffered
        meanwhile, none lost); its actors stop in order (children first,
        ``on_stop`` run); then its restartable top-level actors (supervised,
        named) start on live nodes, and actors whose parents live elsewhere
        are started again by those parents, as after a loss; then its process
        ends. Messages sent meanwhile to the stopped incarnations of plain
        actors go to dead letters (reason ``"stopped"``), as after a loss;
        ``system.lookup(name)`` finds the new one.

        Without ``drain``: it is killed at once and handled as lost.

        Raises:
            ValueError: no such node runtime is live.
        """
        node = f"n{node}" if isinstance(node, int) and not isinstance(node, bool) else node
        if node not in self.reachable_nodes():
            raise ValueError(f"no live node runtime {node!r}; live: {self.reachable_nodes()}")
        if len(self.live_nodes()) <= 1:
            raise ValueError(f"{node} is the last node runtime: add one before removing it")
        with self.lock:
            self.removed.add(node)  # not started again after it goes
        if not drain:
            self._node_lost(node, TransportError(f"node runtime {node} was removed"), fence=True)
            return
        started = time.monotonic()
        self.leaving.add(node)
        others = [n for n in self.reachable_nodes() if n != node]
        self.ray.get([self.handles[n].node_leaving.remote(node) for n in [*others, node]], timeout=timeout)
        for hook in list(self.on_node_leaving):
            hook(node, timeout)
        left = self.ray.get(self.handles[node].drain.remote(max(1.0, timeout - (time.monotonic() - started))),
                            timeout=timeout + 10)
        if left:
            log.warning("rayka: %d actors of node runtime %s were still stopping when it left", left, node)
        self._node_lost(node, TransportError(f"node runtime {node} was drained and removed"), fence=False)
        self.leaving.discard(node)
        try:
            self.ray.get(self.handles[node].shutdown.remote(), timeout=timeout)
        except Exception as error:  # noqa: BLE001 - it is going anyway
            log.info("rayka: node runtime %s did not shut down cleanly: %r", node, error)
        try:
            self.ray.kill(self.handles[node], no_restart=True)
        except Exception:  # noqa: BLE001,S110 - gone already
            pass
        log.warning("rayka: node runtime %s left the cluster after %.2f s", node, time.monotonic() - started)

    # -- RayCluster(nodes="auto") ------------------------------------------------------
    def follow_ray(self, interval: float = 1.0) -> None:
        """Keep one node runtime per alive Ray node (a thread; ends with the system)."""
        thread = threading.Thread(target=self._follow, args=(interval,), daemon=True, name="rayka-follow-ray")
        self.threads.append(thread)
        thread.start()

    def _follow(self, interval: float) -> None:
        while not self.closing:
            try:
                self.follow_once()
            except Exception as error:  # noqa: BLE001 - Ray is shutting down, or one add failed: next round
                log.warning("rayka: following the Ray cluster: %r", error)
            time.sleep(interval)  # Ray announces no membership changes: it is asked

    def follow_once(self) -> list[str]:
        """Start a node runtime on each alive Ray node that has none; drain those on Ray nodes that announced
        their drain; mark those on dead Ray nodes removed."""
        alive = {entry["NodeID"] for entry in self.ray.nodes() if entry.get("Alive")}
        draining = _draining_ray_nodes()
        pinned = {pinned_ray_node(opts): node for node, opts in self.node_options.items()}
        added = []
        for ray_node in sorted(alive - set(pinned) - set(draining)):
            if self.closing:
                break
            added.append(self.add_node(pinned_to(ray_node)))
        for ray_node, node in pinned.items():
            if ray_node is not None and ray_node not in alive:
                with self.lock:
                    self.removed.add(node)  # its Ray node is gone: it cannot come back there
            elif ray_node in draining and node in self.reachable_nodes() and node not in self.announced:
                self.announced.add(node)
                deadline = draining[ray_node] / 1000 if draining[ray_node] else time.time() + 30.0
                thread = threading.Thread(target=self._drain_announced, args=(node, deadline), daemon=True,
                                          name=f"rayka-drain-{node}")
                self.threads.append(thread)
                thread.start()
        return added

    def _drain_announced(self, node: str, deadline: float) -> None:
        """Its Ray node announced it leaves (an autoscaler drain, a preemption): drain it before the deadline."""
        timeout = max(5.0, deadline - time.time() - 2.0)
        log.warning("rayka: the Ray node of node runtime %s announced its drain: draining it (%.0f s)", node, timeout)
        try:
            self.remove_node(node, drain=True, timeout=timeout)
        except Exception as error:  # noqa: BLE001 - the last node, or it died meanwhile: handled as a loss then
            log.warning("rayka: node runtime %s could not be drained before its Ray node leaves: %r", node, error)


def _draining_ray_nodes() -> dict[str, int]:
    """Ray nodes that announced their drain (hex id -> deadline in ms since the epoch, 0 for none)."""
    try:
        from ray._private.state import state

        return dict(state.get_draining_nodes())
    except Exception as error:  # noqa: BLE001 - an older or a disconnected Ray: no announcements seen
        log.debug("rayka: cannot read the draining Ray nodes: %r", error)
        return {}


def pinned_to(ray_node: str) -> dict:
    """Ray actor options that keep a node runtime on one Ray node (``nodes="auto"``)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id=ray_node, soft=False)}


def pinned_ray_node(options: dict) -> str | None:
    """The Ray node a node runtime is pinned to, if any."""
    strategy = options.get("scheduling_strategy")
    return getattr(strategy, "node_id", None) if strategy is not None and not isinstance(strategy, str) else None
