"""``system.metrics()``: a frozen snapshot of every node's counters, per actor class, per node, busiest actors.

Each node (the driver, each node runtime, or the one embedded system)
collects its own part with :func:`collect_node` (a dict of plain values, so
it travels over Ray and JSON as is); :func:`build` merges the parts into a
:class:`Metrics`. Reading walks the live actors of a node once (queued and
peak mailbox sizes); the counters themselves are kept as the loop runs
(``actors/_stats.py``).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterator

from ..actors._stats import BOUNDS

__all__ = ["ActorMetrics", "ClassMetrics", "Histogram", "Metrics", "NodeMetrics", "StreamMetrics", "build",
           "collect_node"]


@dataclass(frozen=True, slots=True)
class Histogram:
    """Handling time: ``counts[i]`` messages took at most ``bounds[i]`` seconds (the last count: more)."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float
    count: int


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """One actor class on one node. ``processed``, ``failures``, ``restarts``, ``dead_letters``: since start."""

    node: str
    actor_class: str
    actors: int
    processed: int
    failures: int
    restarts: int
    dead_letters: int
    queued: int
    peak: int
    handling: Histogram


@dataclass(frozen=True, slots=True)
class ActorMetrics:
    """One of the busiest actors (most messages processed)."""

    node: str
    path: str
    actor_class: str
    state: str
    processed: int
    queued: int
    peak: int
    restarts: int


@dataclass(frozen=True, slots=True)
class StreamMetrics:
    """A node's ordered stream to one peer: batches in flight, records pending and in the backlog."""

    peer: str
    in_flight: int
    pending: int
    backlog: int
    suspect: bool


@dataclass(frozen=True, slots=True)
class NodeMetrics:
    """One node: ``loop_lag`` is the longest wait of the loop watchdog's pings since the last read (seconds)."""

    node: str
    pid: int
    actors: int
    turns: int
    loop_lag: float | None
    malformed_batches: int
    streams: tuple[StreamMetrics, ...]


@dataclass(frozen=True, slots=True)
class Metrics:
    """A snapshot of a whole system: every node, every actor class, the busiest actors, dead letters."""

    taken_at: float
    nodes: tuple[NodeMetrics, ...]
    classes: tuple[ClassMetrics, ...]
    busiest: tuple[ActorMetrics, ...]
    dead_letters: dict[str, int]

    @property
    def processed(self) -> int:
        """Messages processed by every actor of every node."""
        return sum(c.processed for c in self.classes)

    def by_class(self, actor_class: str) -> ClassMetrics | None:
        """The figures of ``actor_class`` summed over the nodes (``None`` if no node has it)."""
        rows = [c for c in self.classes if c.actor_class == actor_class]
        if not rows:
            return None
        counts = tuple(sum(col) for col in zip(*(r.handling.counts for r in rows)))
        total = {f: sum(getattr(r, f) for r in rows)
                 for f in ("actors", "processed", "failures", "restarts", "dead_letters", "queued")}
        return ClassMetrics(node="*", actor_class=actor_class, peak=max(r.peak for r in rows), handling=Histogram(
            BOUNDS, counts, sum(r.handling.sum for r in rows), sum(r.handling.count for r in rows)), **total)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        """Rebuild a snapshot from :meth:`as_dict` (``rayka top`` reads it over HTTP)."""
        def histogram(h: dict) -> Histogram:
            return Histogram(tuple(h["bounds"]), tuple(h["counts"]), h["sum"], h["count"])

        return cls(
            data["taken_at"],
            tuple(NodeMetrics(**{**n, "streams": tuple(StreamMetrics(**s) for s in n["streams"])})
                  for n in data["nodes"]),
            tuple(ClassMetrics(**{**c, "handling": histogram(c["handling"])}) for c in data["classes"]),
            tuple(ActorMetrics(**a) for a in data["busiest"]),
            dict(data["dead_letters"]),
        )


_STATES = ("running", "suspended", "stopping", "terminated")


def _cells(root: Any) -> Iterator[Any]:
    """Every local cell under ``root`` (remote stand-ins skipped), read without stopping the loop."""
    stack = [root]
    while stack:
        cell = stack.pop()
        children = cell._children
        if children:
            stack.extend(child for child in list(children.values()) if hasattr(child, "mailbox"))
        yield cell


def collect_node(system: Any, node: str, top: int = 10, streams: dict[str, dict] | None = None,
                 malformed_batches: int = 0) -> dict[str, Any]:
    """This node's part of the metrics, as plain values; starts handler timing if it was off."""
    system._timing = True
    per_class: dict[str, dict[str, int]] = {}
    actors: list[tuple[int, Any]] = []
    root = system._root
    for cell in _cells(root):
        if cell is root or cell.parent_cell is root:  # the guardians: the runtime's own, not the user's
            continue
        mailbox = cell.mailbox
        name = cell.info.cls.__qualname__
        row = per_class.setdefault(name, {"actors": 0, "queued": 0, "peak": 0})
        queued = len(mailbox)
        row["actors"] += 1
        row["queued"] += queued
        row["peak"] = max(row["peak"], mailbox.peak, queued)
        actors.append((mailbox.processed, cell))
    classes = []
    for info in list(system._class_infos.values()):
        stats = info.stats
        name = info.cls.__qualname__
        live = per_class.get(name, {"actors": 0, "queued": 0, "peak": 0})
        if not (live["actors"] or stats.processed or stats.failures or stats.dead_letters):
            continue
        classes.append({
            "node": node, "actor_class": name, "actors": live["actors"], "processed": stats.processed,
            "failures": stats.failures, "restarts": stats.restarts, "dead_letters": stats.dead_letters,
            "queued": live["queued"], "peak": live["peak"],
            "handling": {"bounds": list(BOUNDS), "counts": list(stats.buckets), "sum": stats.seconds,
                         "count": stats.timed}})
    actors.sort(key=lambda pair: pair[0], reverse=True)
    busiest = []
    for processed, cell in actors[:top]:
        record = cell._record
        busiest.append({"node": node, "path": cell.path, "actor_class": cell.info.cls.__qualname__,
                        "state": _STATES[cell.state], "processed": processed, "queued": len(cell.mailbox),
                        "peak": max(cell.mailbox.peak, len(cell.mailbox)),
                        "restarts": record.total if record is not None else 0})
    watchdog = system.watchdog
    return {
        "node": {"node": node, "pid": os.getpid(), "actors": system.started - system.stopped,
                 "turns": system._dispatcher.turns,
                 "loop_lag": watchdog.take_max_lag() if watchdog is not None else None,
                 "malformed_batches": malformed_batches,
                 "streams": [{"peer": peer, "in_flight": s["in_flight"], "pending": s["pending"],
                              "backlog": s["backlog"], "suspect": s["suspect"]}
                             for peer, s in sorted((streams or {}).items())]},
        "classes": classes,
        "busiest": busiest,
    }


def build(parts: list[dict[str, Any]], dead_letters: dict[str, int], top: int = 10) -> Metrics:
    """Merge the nodes' parts into one snapshot (the busiest ``top`` actors over all nodes)."""
    data = {
        "taken_at": time.time(),
        "nodes": [part["node"] for part in parts],
        "classes": [row for part in parts for row in part["classes"]],
        "busiest": sorted((row for part in parts for row in part["busiest"]),
                          key=lambda row: row["processed"], reverse=True)[:top],
        "dead_letters": dead_letters,
    }
    return Metrics.from_dict(data)
