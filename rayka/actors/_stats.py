"""Per-class counters the message loop keeps, and the handling-time histogram it fills when asked to.

Counters (messages processed, failures, restarts, dead letters) cost one
addition per turn or per event and are always on. Handling time costs two
clock reads per *turn* (not per message), so it is on only while someone
reads metrics (``system.metrics()``, ``serve_metrics``) or when the system
was created with ``metrics=True``: a turn of ``n`` messages that took ``t``
seconds puts ``n`` observations of ``t / n`` in the histogram. Async and
blocking handlers are timed from start to finish (awaits included).
"""

from __future__ import annotations

import heapq
import os
from bisect import bisect_left
from typing import Any, Iterator

from ._display import STATES, tree_text

__all__ = ["BOUNDS", "ClassStats", "collect_node"]

#: upper bounds (seconds) of the handling-time buckets; the last bucket is +Inf
BOUNDS = (0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
          0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ClassStats:
    """Counters shared by every actor of one class in one system (kept by the class's ``ClassInfo``)."""

    __slots__ = ("processed", "failures", "restarts", "dead_letters", "buckets", "seconds", "timed")

    def __init__(self) -> None:
        self.processed = 0
        self.failures = 0
        self.restarts = 0
        self.dead_letters = 0
        self.buckets = [0] * (len(BOUNDS) + 1)
        self.seconds = 0.0
        self.timed = 0  # messages in the histogram

    def observe(self, seconds: float, messages: int = 1) -> None:
        """``messages`` handled in ``seconds`` all together (one turn)."""
        self.seconds += seconds
        self.timed += messages
        self.buckets[bisect_left(BOUNDS, seconds / messages)] += messages


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
                 malformed_batches: int = 0, tree_limit: int = 200) -> dict[str, Any]:
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
    busiest = []
    for processed, cell in heapq.nlargest(top, actors, key=lambda pair: pair[0]):  # not a sort of every actor
        record = cell._record
        busiest.append({"node": node, "path": cell.path, "actor_class": cell.info.cls.__qualname__,
                        "state": STATES[cell.state], "processed": processed, "queued": len(cell.mailbox),
                        "peak": max(cell.mailbox.peak, len(cell.mailbox)),
                        "restarts": record.total if record is not None else 0})
    watchdog = system.watchdog
    return {
        "node": {"node": node, "pid": os.getpid(), "actors": system.started - system.stopped,
                 "tree": tree_text(system, limit=tree_limit).splitlines()[1:] if tree_limit else [],
                 "turns": system._dispatcher.turns,
                 "loop_lag": watchdog.take_max_lag() if watchdog is not None else None,
                 "malformed_batches": malformed_batches,
                 "streams": [{"peer": peer, "in_flight": s["in_flight"], "pending": s["pending"],
                              "backlog": s["backlog"], "suspect": s["suspect"]}
                             for peer, s in sorted((streams or {}).items())]},
        "classes": classes,
        "busiest": busiest,
    }
