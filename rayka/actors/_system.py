"""ActorSystem: the event loop thread, the guardians, spawn, lookup and shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import importlib.util
import inspect
import itertools
import logging
import threading
import uuid
import weakref
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .._errors import ActorNotFound, InvalidActorName
from ..mailbox import Mailbox, UnboundedQueue
from ._actor import Actor
from ._backend import Backend, BackendFactory, Embedded
from ._calls import public_methods
from ._cell import ActorCell
from ._deadletters import DeadLetters
from ._dispatcher import Dispatcher
from ._state import CellState
from ._stats import ClassStats
from ._watchdog import LoopWatchdog
from ._ref import ActorRef
from ._signals import ChildFailed
from ._supervision import DEFAULT_STRATEGY, Directive, OneForOne, Restart, Strategy
from ._timers import Clock, LoopClock

__all__ = ["ActorSystem", "ClassInfo"]

M = TypeVar("M")
R = TypeVar("R")

if TYPE_CHECKING:
    from ..observe import LiveView, Metrics, MetricsServer

log = logging.getLogger("rayka")
_DEFAULT_THROUGHPUT = 100


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """What the runtime caches about an actor class."""

    cls: type
    is_async: bool
    blocking: bool
    throughput: int | None
    mailbox: Mailbox | None
    has_on_start: bool
    has_on_stop: bool
    has_on_pre_restart: bool
    async_on_stop: bool
    stash_capacity: int | None
    shutdown_timeout: float | None
    max_concurrency: int = 1
    stats: ClassStats = dataclasses.field(default_factory=ClassStats, compare=False)  # counters, per system


class _UserGuardian(Actor):
    def __init__(self, strategy: Strategy) -> None:
        self.supervisor_strategy = strategy

    def receive(self, message: Any) -> None:
        return None


class _RootGuardian(Actor):
    supervisor_strategy = OneForOne(max_restarts=0, decider=lambda error: Directive.STOP)

    def receive(self, message: Any) -> None:
        if isinstance(message, ChildFailed):
            system = self.context.system
            log.critical("rayka: system %r: a failure escalated to the root guardian (%r); all user actors "
                         "under %s were stopped and the system accepts no new actors", system.name,
                         message.error, message.ref.path)
            system.failure = message.error


_RUNNING: dict[str, weakref.ref] = {}  # the last system made under each name in this process
_RUNNING_LOCK = threading.Lock()


def _register(system: ActorSystem) -> None:
    """Remember ``system`` by name; warn when a running one of that name is left behind (a notebook cell
    run again)."""
    with _RUNNING_LOCK:
        running = _RUNNING.get(system.name)
        old = running() if running is not None else None
        _RUNNING[system.name] = weakref.ref(system)
    if old is not None and not old.closed:
        warnings.warn(
            f"an ActorSystem named {system.name!r} is already running in this process ({old!r}); this makes a "
            f"second one and leaves the first running (its loop thread and actors). Reuse it with "
            f"rayka.ActorSystem.get_or_create({system.name!r}), or call .shutdown() on it first",
            RuntimeWarning, stacklevel=3)


class ActorSystem:
    """A tree of actors on one event loop (embedded), or spread over a Ray cluster.

    Args:
        name: the system's name (shown in logs and paths of remote refs).
        cluster: ``None`` for the embedded runtime (no Ray), or a cluster
            backend such as ``rayka.RayCluster(...)``.
        throughput: messages an actor handles per turn before others run.
        shutdown_timeout: seconds each actor's stop (children, ``on_stop``) may take.
        clock: the clock for timers and backoff (``rayka.testing.ManualClock`` in tests).
        guardian_strategy: how top-level actors are supervised.
        loop_watchdog: seconds one actor may hold the event loop before a
            warning names it, its message and the fixes (``None`` or ``0``
            turns the watchdog off). A daemon thread pings the loop; nothing
            runs on the message path. Its pings also measure the loop's lag.
        tracing: OpenTelemetry spans for every ask and every tell with a
            sender, the trace context carried with the message across actors
            and nodes (needs ``rayka[otel]`` and a tracer provider you set
            up). Off: nothing of it on the message path.
        metrics: time handlers from the start (two clock reads per turn);
            otherwise timing starts when metrics are first read
            (:meth:`metrics`, :meth:`serve_metrics`). Counters are always kept.

    Example:
        >>> import rayka
        >>> class Counter(rayka.Actor):
        ...     def __init__(self, start=0):
        ...         self.count = start
        ...     def receive(self, message):
        ...         if message == "get":
        ...             return self.count
        ...         self.count += message
        >>> with rayka.ActorSystem("demo") as system:
        ...     counter = system.spawn(Counter, 10, name="counter")
        ...     counter.tell(5)
        ...     counter.ask("get").result(timeout=1)
        15
    """

    def __init__(self, name: str = "rayka", *, cluster: BackendFactory | None = None, throughput: int = _DEFAULT_THROUGHPUT,
                 shutdown_timeout: float = 5.0, clock: Clock | None = None,
                 guardian_strategy: Strategy = DEFAULT_STRATEGY, blocking_workers: int | None = None,
                 loop: asyncio.AbstractEventLoop | None = None, loop_watchdog: float | None = 1.0,
                 metrics: bool = False, tracing: bool = False) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"system name must be a non-empty string without '/', got {name!r}")
        if not isinstance(throughput, int) or throughput < 1:
            raise ValueError(f"throughput must be a positive int, got {throughput!r}")
        if shutdown_timeout is not None and shutdown_timeout < 0:
            raise ValueError(f"shutdown_timeout must be >= 0 seconds, got {shutdown_timeout!r}")
        if loop_watchdog is not None and not (isinstance(loop_watchdog, (int, float)) and loop_watchdog >= 0):
            raise ValueError(f"loop_watchdog must be seconds >= 0 or None, got {loop_watchdog!r}")
        self.name = name
        self.uid = uuid.uuid4().hex[:12]
        _register(self)
        self.throughput = throughput
        self.shutdown_timeout = shutdown_timeout
        self._timing = bool(metrics)  # handling-time histograms (the message loop reads it once a turn)
        if tracing and importlib.util.find_spec("opentelemetry") is None:
            raise ImportError("ActorSystem(tracing=True) needs OpenTelemetry: pip install 'rayka[otel]'")
        self._tracing = bool(tracing)  # read when a cell is made: traced cells wrap their put and receive
        self._servers: list[Any] = []  # metrics servers, closed at shutdown
        self.lock = threading.RLock()
        self.closed = False
        self.failure: BaseException | None = None
        self.dead_letters = DeadLetters()
        self._stats: Counter[str] = Counter(failures=0, restarts=0, escalations=0)
        self.started = 0
        self.stopped = 0
        self.forced = 0  # actors terminated without waiting for them (stuck past their timeout)
        self._uids = itertools.count(1)
        self._names = itertools.count(1)
        self._class_infos: dict[type, ClassInfo] = {}
        self._executor = concurrent.futures.ThreadPoolExecutor(blocking_workers, thread_name_prefix=f"rayka-{name}-blocking")
        if loop is None:
            self._loop = asyncio.new_event_loop()
            started = threading.Event()
            self._thread: threading.Thread | None = threading.Thread(
                target=self._run_loop, args=(started,), name=f"rayka-{name}", daemon=True)
            self._thread.start()
            started.wait()
            self._loop_thread = self._thread.ident
        else:  # run on the caller's loop (a node runtime inside Ray): construct on that loop's thread
            self._loop = loop
            self._thread = None
            self._loop_thread = threading.get_ident()
        assert self._loop_thread is not None  # the loop thread runs by now
        self._dispatcher = Dispatcher(self._loop, self._loop_thread)
        self.clock = clock if clock is not None else LoopClock()
        self.clock.attach(self._loop, self._loop_thread)
        self._terminated = threading.Event()
        root_info = self._class_info(_RootGuardian)
        self._root = ActorCell(self, None, "", self._next_uid(), root_info, (), None, UnboundedQueue(), None)
        self._root.create_instance()
        self._user = self._root_spawn(_UserGuardian, "user", guardian_strategy)
        self._system_guardian = self._root_spawn(_UserGuardian, "system", DEFAULT_STRATEGY)
        self._topics: ActorRef | None = None
        self.watchdog = LoopWatchdog(self, float(loop_watchdog)) if loop_watchdog else None
        self._backend: Backend = Embedded(self) if cluster is None else cluster.start(self)

    def _run_loop(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(started.set)
        self._loop.run_forever()

    def _root_spawn(self, cls: type, name: str, strategy: Strategy) -> ActorCell:
        ref = self._root.spawn_child(cls, (strategy,), {}, None, None, None)
        cell = ref._cell
        children = self._root._children
        assert children is not None  # it just spawned one
        with self.lock:  # guardians carry fixed names outside the user namespace, and are not counted
            del children[cell.name]
            cell.name = name
            children[name] = cell
            self.started -= 1
        return cell

    # -- public API ----------------------------------------------------------
    def spawn(self, cls: type[Actor[M, R]], *args: Any, name: str | None = None, mailbox: Mailbox | None = None,
              restart: Any = None, node: Any = None, **kwargs: Any) -> ActorRef[M, R]:
        """Start a top-level actor ``cls(*args, **kwargs)`` under ``/user`` and return its ref.

        Args:
            name: unique among its siblings; generated when omitted.
            mailbox: a mailbox spec (``rayka.mailbox.Bounded(...)``, ...); the class's ``mailbox`` otherwise.
            restart: the child restart type (``rayka.Restart`` or its value); transient by default.
            node: where to place it in cluster mode (a node index or id, ``"spread"``, ...).

        Raises:
            TypeError: ``cls`` is not an ``Actor`` subclass.
            InvalidActorName: the name is taken or malformed.
            SystemClosed: the system is shut down.
        """
        return self._backend.spawn(cls, args, kwargs, name=name, mailbox=mailbox, restart=restart, node=node)

    def get_or_spawn(self, cls: type[Actor[M, R]], *args: Any, name: str, replace: bool = False,
                     **kwargs: Any) -> ActorRef[M, R]:
        """Return the live top-level actor called ``name``, or spawn ``cls(*args, **kwargs)`` under it.

        Made for notebooks: running a cell again gives the same actor back
        instead of failing on the taken name or leaking a second actor. A
        class defined again in a later cell (same name, new object) counts as
        the same class, with a warning that the running actor uses the earlier
        definition; ``replace=True`` stops it and spawns afresh.

        Raises:
            InvalidActorName: ``name`` belongs to an actor of an unrelated class.
        """
        try:
            ref = self.lookup(name)
        except ActorNotFound:
            return self.spawn(cls, *args, name=name, **kwargs)
        info = getattr(ref._cell, "info", None)
        running = info.cls if info is not None else None
        if running is not None and running is not cls:
            if (running.__module__, running.__qualname__) != (cls.__module__, cls.__qualname__):
                raise InvalidActorName(f"{ref.path} is a {running.__name__}, not a {cls.__name__}; stop it "
                                       "first or pick another name")
            if not replace:
                warnings.warn(f"{ref.path} runs an earlier definition of {cls.__qualname__}; pass replace=True "
                              "to restart it with the new one", stacklevel=2)
        if not replace:
            return ref
        ref.stop()
        self.wait_terminated(ref, timeout=self.shutdown_timeout * 2 + 1)
        return self.spawn(cls, *args, name=name, **kwargs)

    def entities(self, cls: type, *args: Any, name: str, shards: int = 64, passivate_after: float | None = None,
                 remember: bool = False, **kwargs: Any) -> Any:
        """Start sharded entities of ``cls`` (virtual actors), or return them if they run already.

        ``entities.ref(entity_id)`` reaches the one live incarnation of that
        entity, started as ``cls(entity_id, *args, **kwargs)`` on its first
        message. Entity ids map to ``shards`` shards, which the cluster spreads
        over its node runtimes and moves as nodes join and leave (embedded:
        all run here). An entity idle for ``passivate_after`` seconds stops
        (its next message starts it again); with ``remember``, the entities of
        a shard that moves, or whose node is lost, start again at once. See
        :mod:`rayka.sharding`.
        """
        from ..sharding import start_entities

        return start_entities(self, cls, args, kwargs, name=name, shards=shards, passivate_after=passivate_after,
                              remember=remember)

    @property
    def cluster(self) -> Any:
        """The running cluster (``rayka.RayCluster(...)`` started), or ``None`` for an embedded system."""
        backend = self._backend
        return None if isinstance(backend, Embedded) else backend

    @property
    def topics(self) -> ActorRef:
        """This node's ``rayka.patterns.Topics`` actor (``/system/topics``), started on first use.

        The same expression works on the driver, inside any actor
        (``self.context.system.topics``) and embedded. In cluster mode the
        topics actors of all nodes and the driver are peers: a publish
        anywhere reaches subscribers everywhere, one relay per interested node.
        """
        ref = self._topics
        if ref is None:
            from ..patterns import Topics

            with self.lock:
                ref = self._topics
                if ref is None:
                    ref = self._topics = self._system_guardian.spawn_child(Topics, (), {}, "topics", None, None)
        return ref

    @property
    def terminated(self) -> bool:
        """True once ``shutdown`` has stopped every actor."""
        return self._terminated.is_set()

    def lookup(self, name_or_path: str) -> ActorRef:
        """Find an actor by top-level name (``"counter"``) or path (``"/user/a/b"``).

        Raises:
            ActorNotFound: nothing lives there.
        """
        if not isinstance(name_or_path, str) or not name_or_path:
            raise ActorNotFound(f"lookup needs a name or a path like '/user/a/b', got {name_or_path!r}")
        if not name_or_path.startswith("/") and not isinstance(self._backend, Embedded):
            found = self._backend.lookup(name_or_path)
            if found is not None:
                return found
        parts = name_or_path.strip("/").split("/") if name_or_path.startswith("/") else ["user", name_or_path]
        cell: Any = self._root
        for part in parts:
            children = cell._children
            cell = children.get(part) if children else None
            if cell is None or cell.terminated:
                raise ActorNotFound(
                    f"no actor at {name_or_path!r} in system {self.name!r}; top-level actors live under "
                    "'/user/<name>': check the name, or spawn it first"
                )
        return cell.ref

    @property
    def root(self) -> ActorRef:
        """The user guardian's ref (``/user``): the parent of top-level actors."""
        return self._user.ref

    def statistics(self) -> dict[str, int]:
        """Counters: failures, restarts, escalations, actors started and stopped, dead letters."""
        with self.lock:
            stats = dict(self._stats)
        stats["dead_letters"] = self.dead_letters.count
        stats["started"] = self.started
        stats["stopped"] = self.stopped
        stats["actors"] = self.started - self.stopped
        for key, value in self._backend.statistics().items():
            stats[key] = stats.get(key, 0) + value
        return stats

    def metrics(self, top: int = 10) -> Metrics:
        """A frozen snapshot of the metrics of every node (from the driver; a node runtime sees its own).

        Per actor class and node: actors, messages processed, failures,
        restarts, dead letters caused, mailbox depth and peak, handling time
        (a histogram); per node: pid, actors, turns, loop lag, streams to its
        peers; the ``top`` busiest actors; dead letters by reason. The first
        read starts handler timing (see ``ActorSystem(metrics=...)``).

        Example:
            >>> import rayka
            >>> class Echo(rayka.Actor):
            ...     def receive(self, message):
            ...         return message
            >>> with rayka.ActorSystem("doc", metrics=True) as system:
            ...     echo = system.spawn(Echo, name="echo")
            ...     _ = [echo.ask(n).result(timeout=1) for n in range(3)]
            ...     snapshot = system.metrics()
            ...     snapshot.by_class("Echo").processed, snapshot.busiest[0].path
            (3, '/user/echo')
        """
        from ..observe._snapshot import build

        if not isinstance(top, int) or top < 0:
            raise ValueError(f"metrics(top=...) must be an int >= 0, got {top!r}")
        return build(self._backend.metrics_parts(top), self.dead_letters.by_reason(), top)

    def serve_metrics(self, port: int = 0, host: str = "127.0.0.1") -> MetricsServer:
        """Serve ``/metrics`` (Prometheus text, via ``prometheus_client``) and ``/rayka.json`` over HTTP.

        ``port=0`` picks a free port (``server.port``, ``server.url``). Bound
        to the loopback interface unless ``host`` says otherwise. Stopped by
        ``server.close()`` or when the system shuts down. Needs the
        ``rayka[metrics]`` extra. ``rayka top --url <server.url>`` attaches to it.
        """
        from ..observe._server import MetricsServer

        server = MetricsServer(self, host, port)
        self._servers.append(server)
        return server

    def live(self, interval: float = 1.0, top: int = 10) -> LiveView:
        """In Jupyter: show the metrics (nodes, classes with rates, busiest actors) and refresh them in place.

        Every ``interval`` seconds until ``view.stop()`` or shutdown;
        ``view.rates()`` gives each class's messages per second over time, to plot.
        """
        from ..observe._live import LiveView

        return LiveView(self, interval, top)

    def wait_terminated(self, ref: ActorRef, timeout: float | None = None) -> bool:
        """Block until ``ref`` has terminated; False if ``timeout`` passed first."""
        cell = ref._cell
        if cell.terminated:
            return True
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(f"wait_terminated({ref.path}) would block the actors' own event loop; "
                               "inside an actor, watch the ref instead (self.context.watch(ref))")
        if type(cell) is not ActorCell:  # an actor this process does not host
            return self._backend.wait_terminated(ref, timeout)
        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: cell.termination_future().add_done_callback(lambda _: done.set()))
        return done.wait(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop every actor, children before parents, and the event loop.

        Never hangs: after ``timeout`` seconds (default: twice the shutdown
        timeout plus one) it gives up on stuck actors, logs them and returns
        False. Safe to call twice and from any thread; from inside an actor
        it starts the shutdown and returns at once.
        """
        with self.lock:
            if self.closed:
                return self._terminated.is_set()
            self.closed = True
        if self.watchdog is not None:
            self.watchdog.stop()
        for server in self._servers:
            server.close()
        self._backend.shutdown()
        self._root.request_stop()
        if threading.get_ident() == self._loop_thread:  # from inside an actor: finish once the tree is down
            if self._thread is not None:
                self._root.termination_future().add_done_callback(lambda _: self._stop_loop())
            return False
        limit = timeout if timeout is not None else 2 * (self.shutdown_timeout or 0) + 1.0
        clean = self._terminated.wait(limit) and not self.forced
        if not clean:
            log.error("rayka: system %r: actors still stopping after %s s; abandoning them", self.name, limit)
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=1.0)
            if not self._thread.is_alive():
                self._loop.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        return clean

    def _stop_loop(self) -> None:
        """End the loop thread after a shutdown started from inside an actor (runs on the loop)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._loop.stop()

    async def shutdown_async(self, timeout: float | None = None) -> bool:
        """Like :meth:`shutdown`, awaited on the system's own loop (for systems built with ``loop=``)."""
        with self.lock:
            if self.closed and self._terminated.is_set():
                return True
            self.closed = True
        if self.watchdog is not None:
            self.watchdog.stop()
        self._root.request_stop()
        limit = timeout if timeout is not None else 2 * (self.shutdown_timeout or 0) + 1.0
        try:
            await asyncio.wait_for(asyncio.shield(self._root.termination_future()), limit)
        except asyncio.TimeoutError:
            log.error("rayka: system %r: actors still stopping after %s s; abandoning them", self.name, limit)
            return False
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)
        return True

    def __enter__(self) -> ActorSystem:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "running"
        return f"<ActorSystem {self.name!r} {state} actors={self.statistics()['actors']}>"

    def _repr_html_(self) -> str:
        from ._display import system_html

        return system_html(self)

    def tree(self) -> str:
        """The supervision tree under ``/user`` as text (name, class, state, queued messages, restarts).

        Example:
            >>> import rayka
            >>> from rayka.testing import Probe
            >>> with rayka.ActorSystem("doc") as system:
            ...     _ = system.spawn(Probe, name="worker")
            ...     print(system.tree())
            /user of system 'doc'
            └── worker (Probe) [running, 0 queued]
        """
        from ._display import tree_text

        return tree_text(self)

    @classmethod
    def get_or_create(cls, name: str = "rayka", **options: Any) -> ActorSystem:
        """The running system called ``name`` in this process, or a new one made with ``options``.

        For notebooks, where a cell runs again: ``system = ActorSystem.get_or_create("nb")``
        reuses the system instead of starting a second one (``options`` apply
        only when a new one is made).

        Example:
            >>> import rayka
            >>> first = rayka.ActorSystem.get_or_create("notebook")
            >>> rayka.ActorSystem.get_or_create("notebook") is first
            True
            >>> first.shutdown()
            True
            >>> rayka.ActorSystem.get_or_create("notebook") is first
            False
            >>> rayka.ActorSystem.get_or_create("notebook").shutdown()
            True
        """
        with _RUNNING_LOCK:
            running = _RUNNING.get(name)
            system = running() if running is not None else None
            if system is not None and not system.closed:
                return system
        return cls(name, **options)

    def _html_for(self, ref: ActorRef) -> str:
        from ._display import ref_html

        return ref_html(ref)

    # -- runtime internals (used by cells) -----------------------------------
    def _class_info(self, cls: Any) -> ClassInfo:
        info = self._class_infos.get(cls)
        if info is not None:
            return info
        if isinstance(cls, Actor):
            raise TypeError(f"spawn() needs a rayka.Actor class, got an instance {cls!r}; pass "
                            f"{type(cls).__name__} and its constructor arguments instead")
        if not (isinstance(cls, type) and issubclass(cls, Actor)):
            raise TypeError(
                f"spawn() needs a subclass of rayka.Actor, got {cls!r}; define "
                "`class MyActor(rayka.Actor)` with a `receive(self, message)` method"
            )
        if cls.receive is Actor.receive and not public_methods(cls):
            raise TypeError(f"{cls.__name__} has no receive() and no public methods; define "
                            "`def receive(self, message)`, or methods to call through `ref.proxy()`")
        throughput = cls.throughput
        if throughput is not None and (not isinstance(throughput, int) or throughput < 1):
            raise ValueError(f"{cls.__name__}.throughput must be a positive int, got {throughput!r}")
        if not isinstance(cls.supervisor_strategy, Strategy):
            raise TypeError(f"{cls.__name__}.supervisor_strategy must be a rayka strategy such as rayka.OneForOne()")
        info = ClassInfo(
            cls=cls,
            is_async=inspect.iscoroutinefunction(cls.receive),
            blocking=bool(cls.blocking),
            throughput=throughput,
            mailbox=cls.mailbox,
            has_on_start=cls.on_start is not Actor.on_start,
            has_on_stop=cls.on_stop is not Actor.on_stop,
            has_on_pre_restart=cls.on_pre_restart is not Actor.on_pre_restart,
            async_on_stop=inspect.iscoroutinefunction(cls.on_stop),
            stash_capacity=getattr(cls, "stash_capacity", None),
            shutdown_timeout=getattr(cls, "shutdown_timeout", None),
        )
        if info.is_async and info.blocking:
            raise TypeError(f"{cls.__name__}: an async receive cannot also be blocking; pick one")
        concurrency = cls.max_concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"{cls.__name__}.max_concurrency must be an int >= 1, got {concurrency!r}")
        if concurrency > 1:
            if not (info.is_async or info.blocking or any(
                    inspect.iscoroutinefunction(getattr(cls, name)) for name in public_methods(cls))):
                raise TypeError(f"{cls.__name__}.max_concurrency = {concurrency} needs handlers that can overlap: "
                                "`async def receive`, async methods, or `blocking = True` (threads)")
            info = dataclasses.replace(info, max_concurrency=concurrency)
        self._class_infos[cls] = info
        return info

    def _make_cell(self, parent: Any, name: str, info: ClassInfo, args: tuple, kwargs: dict | None,
                  mailbox: Mailbox | None, restart: Any, uid: int | None = None) -> ActorCell:
        """A new, not yet started cell for a child of ``parent``."""
        spec = mailbox if mailbox is not None else info.mailbox
        queue = spec.create() if spec is not None else UnboundedQueue()
        restart_type = Restart(restart) if restart is not None else Restart.TRANSIENT
        return ActorCell(self, parent, name, uid if uid is not None else self._next_uid(), info, args, kwargs or None,
                         queue, restart_type)

    def _next_uid(self) -> int:
        return next(self._uids)

    def auto_name(self) -> str:
        return f"${next(self._names):x}"

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self._stats[what] += n

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        return self._loop.run_in_executor(self._executor, fn, *args)

    def remove_child(self, parent: CellState, child: CellState) -> None:
        with self.lock:
            children = parent._children
            if children is not None and children.get(child.name) is child:
                del children[child.name]

    def on_terminated(self, cell: CellState) -> None:
        if cell.parent_cell is not self._root and cell is not self._root:
            self.stopped += 1
            if cell.parent_cell is self._user:
                self._backend.actor_terminated(cell)
        if cell is self._root:
            self._terminated.set()

    def root_failed(self, error: BaseException) -> None:
        log.critical("rayka: system %r: the root guardian failed with %r; stopping everything", self.name, error)
        self.failure = error
        self._root.state = 0
        self._root.request_stop()

    def _reduce_ref(self, cell: ActorCell) -> tuple:
        return self._backend.reduce_ref(cell)

