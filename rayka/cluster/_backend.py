"""RayCluster: cluster mode for an ActorSystem, on a local Ray instance or an existing cluster.

The driver is a client node: it spawns actors on node runtimes (async Ray
actors, each hosting many rayka actors and its own transport), sends to them over
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

from .._errors import ClassNotImportable, InvalidActorName, TransportError
from ..actors import Restart
from ..actors import spi
from ..actors.spi import check_name, loop_of, spawn_top_level
from ._elastic import Elastic, pinned_to
from ._member import Member, class_name, new_uid
from ._registry import Registry
from ._wire import MalformedBatch
from ._remote import set_current_transport
from ._tls import TLS
from ._transport import Transport

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
            per node runtime (e.g. ``[{}, {"num_gpus": 1}]``), or ``"auto"``:
            one per alive Ray node, pinned to it, following the Ray cluster
            (a Ray node that joins gets one within a second). More can be
            added and removed while the system runs:
            ``system.cluster.add_node()``, ``remove_node(node)``.
        num_cpus: CPUs for a local Ray instance (default: Ray's choice).
        batch_size, max_in_flight: transport stream settings.
        init: extra keyword arguments for ``ray.init``.
        rejoin: a node runtime that died joins again as a new incarnation (its
            actors are restarted elsewhere at once, meanwhile): rayka starts a
            replacement right away, or, when the node's Ray options set
            ``max_restarts``, waits for Ray to restart it. Detection is fastest
            without Ray restarts (milliseconds; about 1.5 s with them).
        pickle_by_value: modules (or their names) whose classes and functions are
            sent by value, for modules the node processes cannot import (a
            script's helpers, test modules); ``__main__`` always is.
        down_after: seconds a node runtime may go without answering the
            driver before it is downed, fenced (killed) and its actors started
            elsewhere. Shorter outages (a reset connection, a pause) only make
            it *suspect*: nothing is lost, nothing restarted.
        max_backlog: records a member holds for one peer once the stream to it
            is full (a slow or hung node). ``tell`` never waits: past this bound
            its message goes to dead letters (reason ``"peer-backlog"``);
            ``ref.send`` waits for room instead.
        tls: a :class:`~rayka.cluster.TLS` (certificate, key, CA): Ray's
            channels are encrypted and a process without a certificate from
            that CA cannot connect. Set before Ray starts (a Ray this process
            already joined keeps its settings).
        tracing_setup: a function each node runtime calls before its system
            starts, to set up OpenTelemetry there (a tracer provider and its
            exporter: each node runtime is its own process). Used with
            ``ActorSystem(..., tracing=True)``, which node runtimes follow.
        ray_metrics: seconds between reports of each node runtime's metrics
            through Ray's metrics API (``ray.util.metrics``: Ray's Prometheus
            endpoint and dashboard, ``ray_rayka_...``); ``None``: off. Needs
            ``rayka[ray-metrics]`` (``ray[default]``, Ray's metrics agent).
        log_to_driver: forward the node runtimes' (and Ray's workers') log
            lines to this process, as Ray does by default; ``rayka``'s own
            command turns it off so its output stays readable.
        wire: ``"pickle"`` (the default): a message msgpack cannot carry
            travels as a cloudpickle, and so do spawned classes and errors.
            ``"msgpack"``: nothing on rayka's wire is a pickle. Messages are
            plain data, rayka refs, or types registered with
            :func:`rayka.cluster.register` (anything else is refused at
            ``tell`` with ``SerializationError``); classes and functions travel
            by name (the nodes must be able to import them); errors by name
            (rebuilt as :class:`~rayka.RemoteError` where their class is not
            imported); a pickle that arrives anyway is refused unread.

    Example:
        >>> RayCluster(nodes=3).node_count
        3
    """

    address: str | None = None
    nodes: int | list | str = 2
    num_cpus: int | None = None
    batch_size: int = 1000
    max_in_flight: int = 4
    throughput: int = 100
    shutdown_timeout: float = 5.0
    init: dict = field(default_factory=dict)
    pickle_by_value: tuple = ()
    rejoin: bool = True
    down_after: float = 5.0
    max_backlog: int = 100_000
    log_to_driver: bool = True
    tls: TLS | None = None
    tracing_setup: Any = None
    ray_metrics: float | None = None
    wire: str = "pickle"

    def __post_init__(self) -> None:
        if not (self.nodes == "auto" or isinstance(self.nodes, (int, list))) or isinstance(self.nodes, bool):
            raise ValueError(f"RayCluster(nodes=...) must be a count, a list of Ray actor options or 'auto', "
                             f"got {self.nodes!r}")
        if self.wire not in ("pickle", "msgpack"):
            raise ValueError(f"RayCluster(wire=...) must be 'pickle' (the default) or 'msgpack', got {self.wire!r}")
        if not (isinstance(self.down_after, (int, float)) and self.down_after > 0.5):
            raise ValueError(f"RayCluster(down_after=...) must be more than 0.5 s (a node is asked every 0.5 s), "
                             f"got {self.down_after!r}")

    @property
    def node_count(self) -> int:
        if self.nodes == "auto":
            raise ValueError("RayCluster(nodes='auto') has one node runtime per alive Ray node: count them after start")
        return self.nodes if isinstance(self.nodes, int) else len(self.nodes)

    def start(self, system: Any) -> ClusterRuntime:
        return ClusterRuntime(self, system)


def _join_failed(address: str, error: BaseException) -> TransportError:
    """The clear error for a cluster that would not let this process join (most often: no token)."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
        hint = ("this process has Ray's token authentication off (RAY_AUTH_MODE is not 'token'), and Ray 2.60 "
                "clusters require a token by default: before starting, set RAY_AUTH_MODE=token and the cluster's "
                "token (`ray get-auth-token` on the head prints it) in RAY_AUTH_TOKEN or ~/.ray/auth_token")
    else:
        hint = ("this process sends a token: check that it is this cluster's (`ray get-auth-token` on the head), "
                "in RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token")
    return TransportError(f"could not join the Ray cluster at {address}: {error}. If the head is up at that "
                          f"address, {hint}. With TLS, RAY_USE_TLS and the RAY_TLS_* files must be set too.")


class ClusterRuntime(Elastic, Member):
    """The driver's side of cluster mode (made by ``RayCluster.start``): the backend contract, driver side."""

    node_id = "driver"

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
            if config.tls is not None:
                config.tls.apply()
            if config.address is None:
                ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=config.num_cpus, include_dashboard=False,
                         log_to_driver=config.log_to_driver, configure_logging=False, **config.init)
            else:
                try:
                    ray.init(address=config.address, **config.init)
                except ConnectionError as error:
                    raise _join_failed(config.address, error) from error
            self.owns_ray = True
        self.transport = Transport(system, "driver", time.time_ns(), batch_size=config.batch_size,
                             max_in_flight=config.max_in_flight, put=ray.put, get=ray.get,
                             max_backlog=config.max_backlog, strict=config.wire == "msgpack")
        self.transport.member = self
        self.transport.respawn = self.respawn
        set_current_transport(self.transport)
        self.closing = False
        self.final_statistics: dict[str, int] | None = None  # the nodes' counters when the system shut down
        self.down: set[str] = set()  # node runtimes this driver declared gone, until they rejoin
        self.fenced: set[str] = set()  # downed by suspicion and killed: they come back as replacements
        self.lock = threading.Lock()
        self.recovered: dict[str, threading.Event] = {}
        self.rejoined: dict[str, threading.Event] = {}
        # the registry lives on the driver's own Ray node: it must outlive any node runtime's machine
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
        self.registry = ray.remote(Registry).options(num_cpus=0, max_concurrency=1000,
                                                     scheduling_strategy=here).remote()
        self.load: dict[str, int] = {}
        self.leaving: set[str] = set()
        self.removed: set[str] = set()  # taken out with remove_node (or their Ray node died): never started again
        self.announced: set[str] = set()  # nodes="auto": drained because their Ray node announced it leaves
        self.on_node_added: list = []  # hooks: a node runtime joined (sharded entities start a region there)
        self.on_node_leaving: list = []  # hooks: a node runtime is being drained (entities hand its shards off)
        if config.nodes == "auto":
            options = [pinned_to(entry["NodeID"]) for entry in ray.nodes() if entry.get("Alive")]
        else:
            options = config.nodes if isinstance(config.nodes, list) else [{} for _ in range(int(config.nodes))]
        if not options:
            raise ValueError("RayCluster needs at least one node runtime")
        self._remote = ray.remote(NodeRuntime)
        self._settings = {"batch_size": config.batch_size, "max_in_flight": config.max_in_flight,
                          "throughput": config.throughput, "shutdown_timeout": config.shutdown_timeout,
                          "max_backlog": config.max_backlog, "tracing": spi.traced(system),
                          "tracing_setup": config.tracing_setup, "ray_metrics": config.ray_metrics,
                          "wire": config.wire}
        self.handles: dict[str, Any] = {}
        self.node_options: dict[str, dict] = {f"n{index}": opts for index, opts in enumerate(options)}
        for node, opts in self.node_options.items():
            self.handles[node] = self._start_node(node, opts)
            self.load[node] = 0
        self.infos = dict(zip(self.handles, ray.get([h.connect.remote(self.handles, self.registry, self.node_options)
                                                     for h in self.handles.values()])))
        for node, handle in self.handles.items():
            self.transport.add_peer(node, handle)
        self._peer_topics(list(self.handles))
        self.threads = [threading.Thread(target=self._pull_loop, args=(node, handle), daemon=True,
                                         name=f"rayka-pull-{node}") for node, handle in self.handles.items()]
        for thread in self.threads:
            thread.start()
        if config.nodes == "auto":
            self.follow_ray()

    def _peer_topics(self, joined: list[str]) -> None:
        """Make the topics actors of ``joined`` peers of the driver's and of every other live node's."""
        from ..patterns import AddPeer

        refs = {node: self.transport.ref_for(tuple(self.infos[node]["topics"])) for node in self.live_nodes()}
        driver = self.system.topics
        for node in joined:
            driver.tell(AddPeer(refs[node]))
            for other, ref in refs.items():
                if other != node and (other not in joined or other > node):
                    refs[node].tell(AddPeer(ref))

    def _start_node(self, node: str, opts: dict) -> Any:
        """Create the Ray actor of one node runtime (not yet connected)."""
        actor_opts = {"num_cpus": 0, "scheduling_strategy": "SPREAD", "max_concurrency": 1000, **opts}
        return self._remote.options(**actor_opts).remote(self.system.name, node, self._settings)

    # -- placement and spawn ---------------------------------------------------
    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: Any, mailbox: Any, restart: Any, node: Any) -> Any:
        """A top-level actor on a node runtime (``node="driver"``: in this process, e.g. a test probe)."""
        system = self.system
        spi.class_info(system, cls)  # the clear TypeError for non-actors, here rather than on the node
        check_name(name, cls, "/user")
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        uid = new_uid()
        if node == "driver":
            if name is not None:
                self._claim(("driver", "/user/" + name, uid), name, None, Restart.TEMPORARY)
            ref = spawn_top_level(system, cls, args, kwargs, name, mailbox, restart_type, uid=uid)
            if name is None:
                self.record(("driver", ref.path, uid), None, None, Restart.TEMPORARY)
            return ref
        target = self.place(node)
        blob = self.dump_spawn(cls, (cls, args, kwargs, name, mailbox, restart_type))
        if name is not None:
            self._claim((target, "/user/" + name, uid), name, blob, restart_type)
        try:
            key = self._spawn_on(target, blob, uid, class_name(cls))
        except BaseException:
            if name is not None:
                self.registry.remove.remote([target, "/user/" + name, uid])
            raise
        if name is None:
            self.record(key, None, blob, restart_type)
        return self.transport.ref_for(key)

    def _claim(self, key: tuple, name: str, blob: bytes | None, restart: Restart) -> None:
        held = self.ray.get(self.record(key, name, blob, restart))
        if held is not None and self.known_dead(tuple(held)):  # its end was seen here; the registry may lag
            held = self.ray.get(self.record(key, name, blob, restart, replacing=tuple(held)))
        if held is not None:
            raise InvalidActorName(f"an actor named {name!r} already exists in the cluster at {held[1]} on node "
                                   f"{held[0]}; pick another name or lookup({name!r})")

    def _spawn_on(self, node: str, blob: bytes, uid: int, class_name: str) -> tuple:
        try:
            path, uid = self.ray.get(self.handles[node].spawn.remote(blob, uid, class_name))
        except self.ray.exceptions.RayTaskError as error:
            cause = error.as_instanceof_cause()
            if isinstance(cause, ClassNotImportable):
                raise ClassNotImportable(str(cause).split("\n")[-1] or str(cause)) from error
            raise cause from None
        self.counted(node)
        return (node, path, uid)

    def lookup(self, name: str) -> Any:
        key = self.ray.get(self.registry.lookup.remote(name))
        if key is None:  # a name just given inside a node may not have reached the registry yet: ask the nodes
            nodes = self.reachable_nodes()
            answers = self.ray.get([self.handles[n].local_name.remote(name) for n in nodes], timeout=30)
            key = next((answer for answer in answers if answer is not None), None)
        if key is None or key[0] == "driver":
            return None  # not registered, or hosted here: the system's own tree answers
        return self.ref_for_name(key)

    def statistics(self) -> dict[str, int]:
        """The node runtimes' counters, summed (their dead letters already reach the driver's office)."""
        if self.final_statistics is not None:
            return self.final_statistics
        total: dict[str, int] = {}
        for info in self.node_info().values():
            for key, value in info.get("statistics", {}).items():
                if key != "dead_letters":
                    total[key] = total.get(key, 0) + value
        return total

    def statistics_of(self, cell: Any) -> Any:
        from .._errors import ActorStopped

        if cell.node not in self.handles or cell.node not in self.live_nodes():
            raise ActorStopped(f"{cell.path} lived on node {cell.node}, which is gone")
        try:
            return self.ray.get(self.handles[cell.node].statistics_of.remote(cell.path, cell.uid), timeout=30)
        except self.ray.exceptions.RayTaskError as error:
            raise ActorStopped(str(error.as_instanceof_cause()).splitlines()[-1]) from error

    def metrics_parts(self, top: int) -> list[dict]:
        """The driver's part, then each live node runtime's (a node that fails to answer is left out)."""
        parts = super().metrics_parts(top)
        for node in self.reachable_nodes():
            try:
                parts.append(self.ray.get(self.handles[node].metrics.remote(top), timeout=30))
            except Exception as error:  # noqa: BLE001 - it died meanwhile: membership handles it
                log.warning("rayka: no metrics from node runtime %s: %r", node, error)
        return parts

    def node_trees(self) -> dict[str, list[str]]:
        """Each live node runtime's supervision tree, as text lines."""
        nodes = self.reachable_nodes()
        return dict(zip(nodes, self.ray.get([self.handles[n].tree.remote() for n in nodes], timeout=30)))

    def node_info(self) -> dict[str, dict]:
        """Facts about each live node runtime: pid, Ray node, actors, malformed batches, counters."""
        infos = {}
        for node in self.reachable_nodes():
            try:
                infos[node] = self.ray.get(self.handles[node].info.remote(), timeout=30)
            except Exception as error:  # noqa: BLE001 - it died meanwhile: membership handles it
                infos[node] = {"node": node, "error": repr(error)}
        return infos

    def kill_node(self, node: str | int) -> None:
        """Kill a node runtime's process with SIGKILL (for failure drills)."""
        import signal

        node = self.place(node) if isinstance(node, int) else node
        os.kill(self.infos[node]["pid"], signal.SIGKILL)

    # -- membership ------------------------------------------------------------
    def _pull_loop(self, node: str, handle: Any) -> None:
        """Pull what a node runtime sends the driver; this loop is also the membership's evidence.

        Ray reporting the node runtime dead downs it at once. Any other failed
        pull makes it *suspect* and is retried with the same acknowledgement
        (the node hands the unacknowledged batch out again); a node that has not
        answered for ``down_after`` seconds (hung, cut off) is downed and fenced.
        """
        ray = self.ray
        down_after = self.config.down_after
        while not self.closing:
            ack = None
            answered = time.monotonic()
            failures = 0
            while not self.closing:
                try:
                    result = ray.get(handle.pull.remote(ack, 0.5), timeout=down_after)
                except ray.exceptions.ActorDiedError as error:
                    if not self.closing:
                        self._node_lost(node, error, fence=False)
                    break
                except Exception as error:  # noqa: BLE001 - unavailable, reset, timed out: evidence, not a verdict
                    if self.closing:
                        break
                    silent = time.monotonic() - answered
                    if silent >= down_after:  # a timed-out poll always is: it waited down_after
                        self._node_lost(node, TransportError(
                            f"node runtime {node} did not answer for {silent:.1f} s (down_after={down_after} s): "
                            f"{type(error).__name__}"), fence=True)
                        break
                    if failures == 0:
                        log.warning("rayka: node runtime %s is suspect (%s); asking again", node,
                                    type(error).__name__)
                    failures += 1
                    time.sleep(min(0.5, 0.02 * 2 ** min(failures, 5)))
                    continue
                if failures:
                    log.warning("rayka: node runtime %s answers again after %.1f s", node,
                                time.monotonic() - answered)
                answered, failures, ack = time.monotonic(), 0, None
                if result is not None:
                    first_seq, data = result
                    try:
                        self.transport.receive(data, resend=True)
                    except MalformedBatch:
                        continue  # damaged on the way: not acknowledged, so the node hands it out again
                    self.transport.wait_admitted()
                    ack = first_seq
            if self.closing or not self.config.rejoin or node in self.removed:
                return
            handle = self._rejoin(node, handle)
            if handle is None:
                return

    def _rejoin(self, node: str, handle: Any, patience: float = 60.0) -> Any:
        """Bring a dead node runtime back as a new incarnation; returns its handle, or None."""
        if not self.node_options[node].get("max_restarts") or node in self.fenced:
            handle = self._start_node(node, self.node_options[node])  # a replacement, under the same id
        deadline = time.monotonic() + patience
        while not self.closing and time.monotonic() < deadline:
            try:
                info = self.ray.get(handle.connect.remote(self.handles, self.registry, self.node_options), timeout=10)
            except Exception as error:  # noqa: BLE001 - still restarting, or gone for good
                if "permanently" in str(error) or "max_restarts" in str(error):
                    return None
                time.sleep(0.2)  # Ray is restarting the actor; ask again shortly
                continue
            self.handles[node] = handle
            self.transport.rejoin(node, handle, info["incarnation"])
            for other in self.reachable_nodes():
                self.handles[other].node_up.remote(node, handle, info["incarnation"])
            with self.lock:
                self.infos[node] = info
                self.load[node] = 0
                self.down.discard(node)
                self.fenced.discard(node)
                event = self.rejoined.setdefault(node, threading.Event())
            self._peer_topics([node])
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

    def _node_lost(self, node: str, error: BaseException, fence: bool = False) -> None:
        """Down ``node``: the one place that does. Fence it, tell every member, then restart its actors."""
        with self.lock:
            if node in self.down:
                return
            self.down.add(node)
            done = self.recovered.setdefault(node, threading.Event())
            done.clear()  # a new loss: wait_recovered waits for this one
            self.rejoined.setdefault(node, threading.Event()).clear()
        incarnation = self.infos[node]["incarnation"]
        if fence:
            self.handles[node].node_down.remote(node, incarnation)  # should it run again: quarantine yourself
            self._fence(node)
        loop, _ = loop_of(self.system)
        down = threading.Event()

        def mark_down() -> None:
            self.transport.node_down(node, error, incarnation)
            down.set()

        loop.call_soon_threadsafe(mark_down)
        down.wait(5)
        for other in self.reachable_nodes():
            self.handles[other].node_down.remote(node, incarnation)
        try:
            lost = self.ray.get(self.registry.take_node.remote(node), timeout=30)
        except Exception as registry_error:  # noqa: BLE001 - the registry is gone: the cluster is going down
            log.error("rayka: could not learn what ran on node %s: %r", node, registry_error)
            lost = []
        restartable = [entry for entry in lost if entry[2] is not None and entry[3] != Restart.TEMPORARY.value]
        log.warning("rayka: node runtime %s is gone (%s); restarting %d top-level actors elsewhere", node,
                    type(error).__name__, len(restartable))
        for key, name, blob, restart in restartable:
            if self.closing:
                break
            try:
                target = self.place(None)
                uid = new_uid()
                if name is not None:
                    self._claim((target, key[1], uid), name, blob, Restart(restart))
                new_key = self._spawn_on(target, blob, uid, f"the class of {key[1]}")
                if name is None:
                    self.record(new_key, None, blob, Restart(restart))
            except Exception as spawn_error:  # noqa: BLE001
                log.error("rayka: could not restart %s after node %s died: %r", key[1], node, spawn_error)
                continue
            self.system.count("restarts")
        done.set()

    def _fence(self, node: str, patience: float = 10.0) -> None:
        """Make a downed node runtime unable to act before its actors start elsewhere: kill it, wait for Ray."""
        ray = self.ray
        handle = self.handles[node]
        self.fenced.add(node)
        log.warning("rayka: fencing node runtime %s (pid %s): killing it before its actors start elsewhere", node,
                    self.infos[node].get("pid"))
        try:
            ray.kill(handle, no_restart=True)
        except Exception as error:  # noqa: BLE001 - already gone
            log.info("rayka: ray.kill(%s): %r", node, error)
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                ray.get(handle.pull.remote(None, 0.0), timeout=1.0)
            except ray.exceptions.ActorDiedError:
                return  # Ray confirms: the old incarnation is gone
            except Exception:  # noqa: BLE001,S112 - not confirmed yet
                continue
        log.error("rayka: Ray did not confirm the end of node runtime %s within %s s", node, patience)

    def wait_recovered(self, node: str, timeout: float | None = None) -> bool:
        """Block until the loss of ``node`` was handled (its actors restarted elsewhere)."""
        with self.lock:
            event = self.recovered.setdefault(node, threading.Event())
        return event.wait(timeout)

    def shutdown(self) -> None:
        try:
            self.final_statistics = self.statistics()
        except Exception:  # noqa: BLE001 - Ray is gone already
            self.final_statistics = {}
        self.closing = True
        self.stopping = True
        ray = self.ray
        live = self.reachable_nodes()
        try:
            ray.get([self.handles[n].shutdown.remote() for n in live], timeout=30)
        except Exception as error:  # noqa: BLE001 - we are tearing down anyway
            log.warning("rayka: node runtimes did not all stop cleanly: %r", error)
        for handle in [*self.handles.values(), self.registry]:
            try:
                ray.kill(handle)
            except Exception:  # noqa: BLE001,S110 - already dead
                pass
        for thread in self.threads:
            thread.join(timeout=2)
        self.transport.close()
        set_current_transport(None)
        if self.owns_ray:
            ray.shutdown()
