"""What the examples share: the figures a queue is judged by, scaled delays, and cluster mode.

Every example prints the same block of figures at the end::

    figures (one consumer):
      throughput   96.2 msgs/s (10 messages in 0.104 s)
      latency      median send 0.004 ms, queue 41.3 ms, receive 20.2 ms
      queue length peak 5, now 0 (mailbox of /user/consumer)
      resources    RSS 38.4 MiB, CPU 0.21 s

- throughput: messages handled per second of wall time;
- latency, three medians: *send* (how long the sender was held by ``tell``,
  ``send`` or ``ask``), *queue* (from sending to the handler starting: time
  spent waiting in the mailbox or queue) and *receive* (the handler's own time);
- queue length: the mailbox (or work queue) depth, its peak and now;
- resources: resident memory and CPU time of this process (and, in cluster
  mode, of the node runtimes too).

Timestamps come from :func:`now` (the wall clock), so a message stamped on one
node runtime and handled on another of the same machine is still measured right.
"""

from __future__ import annotations

import copy
import logging
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = [
    "Figures",
    "QueueSampler",
    "Timings",
    "add_common_arguments",
    "cluster_for",
    "mailbox_statistics",
    "median_ms",
    "now",
    "resources",
    "say",
    "short_supervision_logs",
    "wait_until",
]


def say(line: str) -> None:
    """Print one line in a single write, so that lines printed by actors and by the main thread never interleave."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def now() -> float:
    """Seconds on the wall clock: comparable between processes of one machine."""
    return time.time()


def median_ms(samples: Iterable[float]) -> float | None:
    """The median of ``samples`` (seconds) in milliseconds, or ``None`` when there are none."""
    values = list(samples)
    return statistics.median(values) * 1000 if values else None


@dataclass
class Timings:
    """Latency samples in seconds: ``send``, ``queue`` and ``receive`` (see the module docstring)."""

    send: list[float] = field(default_factory=list)
    queue: list[float] = field(default_factory=list)
    receive: list[float] = field(default_factory=list)

    def handled(self, sent_at: float, started: float, finished: float) -> None:
        """Record one message handled: sent at ``sent_at``, handler ran from ``started`` to ``finished``."""
        self.queue.append(max(0.0, started - sent_at))
        self.receive.append(max(0.0, finished - started))

    def merge(self, other: Timings | dict) -> Timings:
        """Add another set of samples (a ``Timings`` or its ``as_dict()``, as it comes back from a node)."""
        other = other if isinstance(other, Timings) else Timings(**other)
        self.send.extend(other.send)
        self.queue.extend(other.queue)
        self.receive.extend(other.receive)
        return self

    def as_dict(self) -> dict[str, list[float]]:
        return {"send": list(self.send), "queue": list(self.queue), "receive": list(self.receive)}


def mailbox_statistics(ref: Any) -> Any:
    """The :class:`rayka.mailbox.MailboxStatistics` of an actor (read on its node when it lives on another
    one: a round trip), or ``None`` once it has stopped."""
    import rayka

    try:
        return ref.statistics()
    except rayka.RaykaError:
        return None


def _rss_and_cpu(pids: Iterable[int] = ()) -> tuple[float, float]:
    try:
        import psutil
    except ImportError:  # the standard library's view: peak RSS of this process only
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        scale = 1 if sys.platform == "darwin" else 1024
        return usage.ru_maxrss * scale / 2**20, usage.ru_utime + usage.ru_stime
    rss = cpu = 0.0
    for pid in [os.getpid(), *pids]:
        try:
            process = psutil.Process(pid)
            rss += process.memory_info().rss
            times = process.cpu_times()
            cpu += times.user + times.system
        except psutil.Error:  # a node runtime that was killed
            continue
    return rss / 2**20, cpu


def resources(system: Any = None) -> tuple[float, float, int]:
    """``(RSS MiB, CPU seconds, processes)`` of this process plus the system's live node runtimes."""
    pids: list[int] = []
    cluster = system.cluster
    if cluster is not None and not system.closed:
        pids = [cluster.infos[node]["pid"] for node in cluster.live_nodes()]
    rss, cpu = _rss_and_cpu(pids)
    return rss, cpu, 1 + len(pids)


@dataclass
class Figures:
    """The figures one run is judged by; :meth:`print` writes them as a block."""

    title: str
    messages: int
    seconds: float
    timings: Timings = field(default_factory=Timings)
    queue_peak: int | None = None
    queue_now: int | None = None
    queue_what: str = "mailbox"
    rss_mib: float = 0.0
    cpu_s: float = 0.0
    processes: int = 1

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def measure_resources(self, system: Any = None) -> Figures:
        """Fill in RSS and CPU now (call it while the system is still running)."""
        self.rss_mib, self.cpu_s, self.processes = resources(system)
        return self

    def lines(self) -> list[str]:
        def ms(samples: list[float]) -> str:
            value = median_ms(samples)
            if value is None:
                return "n/a"
            return f"{value:.1f} ms" if value >= 10 else f"{value:.3f} ms" if value >= 0.01 else f"{value:.2g} ms"

        t = self.timings
        queue = "n/a" if self.queue_peak is None else f"peak {self.queue_peak}, now {self.queue_now}"
        procs = "" if self.processes == 1 else f" over {self.processes} processes"
        return [
            f"figures ({self.title}):",
            f"  throughput   {self.throughput:,.1f} msgs/s ({self.messages} messages in {self.seconds:.3f} s)",
            f"  latency      median send {ms(t.send)}, queue {ms(t.queue)}, receive {ms(t.receive)}",
            f"  queue length {queue} ({self.queue_what})",
            f"  resources    RSS {self.rss_mib:.1f} MiB, CPU {self.cpu_s:.2f} s{procs}",
        ]

    def print(self) -> None:
        say("\n".join(self.lines()))

    def as_dict(self) -> dict[str, Any]:
        t = self.timings
        return {"title": self.title, "messages": self.messages, "seconds": self.seconds,
                "throughput": self.throughput, "send_ms": median_ms(t.send), "queue_ms": median_ms(t.queue),
                "receive_ms": median_ms(t.receive), "queue_peak": self.queue_peak, "queue_now": self.queue_now,
                "rss_mib": self.rss_mib, "cpu_s": self.cpu_s}


class QueueSampler:
    """Sample the total mailbox depth of some local actors every ``interval`` seconds, on a thread.

    Use as a context manager; ``samples`` holds ``(seconds since start, depth)``.
    It reads ``ref.statistics()``: for an actor on another node that is a round
    trip, so sampling there is slower; a stopped actor counts as 0.
    """

    def __init__(self, refs: Iterable[Any] | Callable[[], Iterable[Any]], interval: float = 0.005) -> None:
        self.refs = refs if callable(refs) else (lambda fixed=list(refs): fixed)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-sampler", daemon=True)
        self._began = 0.0

    def depth(self) -> int:
        total = 0
        for ref in self.refs():
            stats = mailbox_statistics(ref)
            if stats is not None:
                total += stats.queued
        return total

    def _run(self) -> None:
        while True:
            self.samples.append((time.perf_counter() - self._began, self.depth()))
            if self._stop.wait(self.interval):
                self.samples.append((time.perf_counter() - self._began, self.depth()))
                return

    @property
    def peak(self) -> int:
        return max((depth for _, depth in self.samples), default=0)

    def __enter__(self) -> QueueSampler:
        self._began = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def cluster_for(enabled: bool, *modules: Any, nodes: int = 2) -> Any:
    """``rayka.RayCluster(nodes=...)`` when ``enabled`` (else ``None``), ready to run ``modules``' actors.

    Ray stays on the loopback interface. The node runtimes cannot import an
    example module that is not installed, so its classes travel by value
    (cloudpickle), as they do anyway for a script run as ``__main__``.
    """
    if not enabled:
        return None
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import cloudpickle

    import rayka

    for module in (sys.modules[__name__], *modules):
        if isinstance(module, str):
            module = sys.modules[module]
        if module.__name__ != "__main__":
            cloudpickle.register_pickle_by_value(module)
    return rayka.RayCluster(nodes=nodes)


def add_common_arguments(parser: Any, *, speed: float | None = None) -> None:
    """Add ``--cluster`` (and ``--speed`` when ``speed`` is given, its default) to an argparse parser."""
    parser.add_argument("--cluster", action="store_true", help="run on a local Ray cluster (2 node runtimes, loopback)")
    if speed is not None:
        parser.add_argument("--speed", type=float, default=speed,
                            help=f"divide every delay by this (default {speed:g}; 1 = real time)")


class _OneLine(logging.Formatter):
    """Log records on one line each: the supervisor's decision, without the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)
        record.exc_info = None
        record.exc_text = None
        return super().format(record)


class _OneLineToStderr(logging.Handler):
    """Write each record as one line to whatever ``sys.stderr`` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the example
            self.handleError(record)


def short_supervision_logs() -> None:
    """Show rayka's warnings (a child failed, what its supervisor decided) as one line each on stderr.

    Without a handler, Python would print them with their tracebacks (the
    failures here are injected on purpose). Records still propagate to the
    root logger, so a configured application (or pytest) sees them too.
    """
    logger = logging.getLogger("rayka")
    if not any(isinstance(handler, _OneLineToStderr) for handler in logger.handlers):
        handler = _OneLineToStderr(logging.WARNING)
        handler.setFormatter(_OneLine("  [log] %(message)s"))
        logger.addHandler(handler)
