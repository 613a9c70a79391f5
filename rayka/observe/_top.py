"""``rayka top``: a live view of a running system, read from its metrics endpoint (``/rayka.json``).

The tables are built by plain functions from two snapshots (rates are the
difference between them), so the same rows feed the Textual app (keys:
``s`` sort, ``f`` filter, ``q`` quit) and ``--once``, which prints one frame
with Rich and exits (for scripts, tests and terminals without a TTY).
Textual was picked over Rich's ``Live`` because a live view needs keys
(sorting, a filter box) and Textual has them, plus a headless test pilot.
"""

from __future__ import annotations

import io
import json
import urllib.request
from typing import Any, Callable

from ._snapshot import Metrics

__all__ = ["SORTS", "Frame", "fetch", "render_text"]

#: what ``s`` cycles through: the actors and classes tables are sorted by it, highest first
SORTS = ("rate", "processed", "queued", "restarts")


def fetch(url: str, timeout: float = 10.0, top: int = 50) -> Metrics:
    """One snapshot (the ``top`` busiest actors) from a system's endpoint (``system.serve_metrics()``'s ``url``)."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/rayka.json?top={top}", timeout=timeout) as answer:
        return Metrics.from_dict(json.loads(answer.read()))


def _rate(now: Metrics, before: Metrics | None, key: tuple, processed: int, rows: dict[tuple, int]) -> float:
    if before is None:
        return 0.0
    elapsed = now.taken_at - before.taken_at
    previous = rows.get(key)
    return max(0.0, (processed - previous) / elapsed) if previous is not None and elapsed > 0 else 0.0


class Frame:
    """The rows of every table for one refresh: ``nodes``, ``classes``, ``actors``, ``dead_letters``, and
    ``tree``: each node's supervision tree as text."""

    def __init__(self, now: Metrics, before: Metrics | None = None, sort: str = "rate", query: str = "") -> None:
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {SORTS}, got {sort!r}")
        self.metrics, self.sort, self.query = now, sort, query.lower()
        old_classes = {(c.node, c.actor_class): c.processed for c in before.classes} if before else {}
        old_actors = {(a.node, a.path): a.processed for a in before.busiest} if before else {}
        self.nodes = [(n.node, str(n.pid), str(n.actors), f"{n.turns:,}",
                       "-" if n.loop_lag is None else f"{n.loop_lag * 1000:.1f} ms",
                       str(sum(s.backlog + s.pending for s in n.streams)), str(n.malformed_batches))
                      for n in now.nodes]
        classes = [(c, _rate(now, before, (c.node, c.actor_class), c.processed, old_classes)) for c in now.classes]
        classes = [(c, rate) for c, rate in classes if self._shown(c.actor_class, c.node)]
        classes.sort(key=lambda pair: self._key(pair[0], pair[1]), reverse=True)
        self.classes = [(c.actor_class, c.node, str(c.actors), f"{c.processed:,}", f"{rate:,.0f}/s", str(c.queued),
                         str(c.failures), str(c.restarts), _median_ms(c)) for c, rate in classes]
        actors = [(a, _rate(now, before, (a.node, a.path), a.processed, old_actors)) for a in now.busiest]
        actors = [(a, rate) for a, rate in actors if self._shown(a.path, a.actor_class, a.node)]
        actors.sort(key=lambda pair: self._key(pair[0], pair[1]), reverse=True)
        self.actors = [(a.path, a.node, a.actor_class, a.state, str(a.queued), f"{rate:,.0f}/s", f"{a.processed:,}",
                        str(a.restarts)) for a, rate in actors]
        self.dead_letters = [(reason, f"{count:,}") for reason, count in
                             sorted(now.dead_letters.items(), key=lambda item: item[1], reverse=True)]
        self.tree = "\n".join(f"node {n.node}:\n" + "\n".join("  " + line for line in n.tree)
                              for n in now.nodes if n.tree)

    def _shown(self, *texts: str) -> bool:
        return not self.query or any(self.query in text.lower() for text in texts)

    def _key(self, row: Any, rate: float) -> float:
        return rate if self.sort == "rate" else float(getattr(row, self.sort))


NODE_COLUMNS = ("node", "pid", "actors", "turns", "loop lag", "stream backlog", "malformed")
CLASS_COLUMNS = ("class", "node", "actors", "processed", "rate", "queued", "failures", "restarts", "median")
ACTOR_COLUMNS = ("actor", "node", "class", "state", "queued", "rate", "processed", "restarts")
LETTER_COLUMNS = ("dead letters: reason", "count")


def _median_ms(row: Any) -> str:
    """The bucket bound under which half the timed messages fall (``-`` before any is timed)."""
    h = row.handling
    if not h.count:
        return "-"
    seen = 0
    for bound, count in zip((*h.bounds, float("inf")), h.counts):
        seen += count
        if seen * 2 >= h.count:
            return "> 10 s" if bound == float("inf") else f"<= {bound * 1000:g} ms"
    return "-"


def render_text(frame: Frame, width: int = 140) -> str:
    """One frame as text, drawn with Rich (``rayka top --once``)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    if frame.tree:
        console.print("supervision tree", style="bold", markup=False)
        console.print(frame.tree, markup=False, highlight=False)
    for title, columns, rows in (("nodes", NODE_COLUMNS, frame.nodes), ("actor classes", CLASS_COLUMNS, frame.classes),
                                 (f"busiest actors (by {frame.sort})", ACTOR_COLUMNS, frame.actors),
                                 ("dead letters", LETTER_COLUMNS, frame.dead_letters)):
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return console.export_text()


def app(source: Callable[[], Metrics], interval: float = 1.0) -> Any:
    """The Textual app over ``source`` (a function returning a fresh snapshot)."""
    from ._top_app import TopApp

    return TopApp(source, interval)
