"""``system.metrics()``: a frozen snapshot of every node's counters, per actor class, per node, busiest actors.

Each node (the driver, each node runtime, or the one embedded system)
collects its own part with ``collect_node`` (in the core, reached through
its SPI: a dict of plain values, so it travels over Ray and JSON as is);
:func:`build` merges the parts into a :class:`Metrics`. Reading walks the live actors of a node once (queued and
peak mailbox sizes); the counters themselves are kept as the loop runs
(``actors/_stats.py``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ..actors.spi import BOUNDS

__all__ = ["ActorMetrics", "ClassMetrics", "Histogram", "Metrics", "NodeMetrics", "StreamMetrics", "build"]


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
    """One node: ``loop_lag`` is the longest wait of the loop watchdog's pings since the last read (seconds);
    ``tree``, its supervision tree under ``/user`` as text lines (at most 200 actors)."""

    node: str
    pid: int
    actors: int
    tree: tuple[str, ...]
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
            tuple(NodeMetrics(**{**n, "tree": tuple(n.get("tree", ())),
                                 "streams": tuple(StreamMetrics(**s) for s in n["streams"])}) for n in data["nodes"]),
            tuple(ClassMetrics(**{**c, "handling": histogram(c["handling"])}) for c in data["classes"]),
            tuple(ActorMetrics(**a) for a in data["busiest"]),
            dict(data["dead_letters"]),
        )


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
