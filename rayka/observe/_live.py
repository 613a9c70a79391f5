"""``system.live()``: a view of the metrics that refreshes in place in a Jupyter cell, and keeps their history.

It uses IPython's display handles (``display(..., display_id=True)`` and
``handle.update``), which every Jupyter front end applies to the cell that
showed the view: no widget library to install. A daemon thread reads
``system.metrics()`` every ``interval`` seconds until :meth:`LiveView.stop`
(or the system's shutdown); ``history`` keeps ``(time, {class: processed})``
so a later cell can plot rates over time.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

from ._snapshot import Metrics
from ._top import ACTOR_COLUMNS, CLASS_COLUMNS, NODE_COLUMNS, Frame

__all__ = ["LiveView"]


class LiveView:
    """A live table of a system's nodes, classes and busiest actors in a notebook cell."""

    def __init__(self, system: Any, interval: float = 1.0, top: int = 10) -> None:
        try:
            from IPython.display import HTML, display
        except ImportError:
            raise ImportError("system.live() draws in Jupyter and needs IPython; outside a notebook use "
                              "system.metrics() or `rayka top`") from None
        if not interval > 0:
            raise ValueError(f"live(interval=...) must be seconds > 0, got {interval!r}")
        self._system, self._interval, self._top, self._html = system, interval, top, HTML
        self.history: list[tuple[float, dict[str, int]]] = []
        self.updates = 0
        self._before: Metrics | None = None
        self._stop = threading.Event()
        # None outside a Jupyter kernel: then the view only keeps its history (for rates)
        self._handle = display(HTML(self._render()), display_id=True)
        self._thread = threading.Thread(target=self._run, name=f"rayka-{system.name}-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._system.closed:
                break
            self._update()

    def _update(self) -> None:
        try:
            page = self._render()
            if self._handle is not None:
                self._handle.update(self._html(page))
        except Exception:  # noqa: BLE001 - a view that cannot draw must not take the system down
            self._stop.set()

    def _render(self) -> str:
        now = self._system.metrics(self._top)
        frame = Frame(now, self._before)
        self._before = now
        self.updates += 1
        per_class: dict[str, int] = {}
        for row in now.classes:
            per_class[row.actor_class] = per_class.get(row.actor_class, 0) + row.processed
        self.history.append((now.taken_at, per_class))
        stamp = time.strftime("%H:%M:%S", time.localtime(now.taken_at))
        parts = [f"<b>rayka live: {html.escape(self._system.name)}</b> updated {stamp} "
                 f"({self.updates} updates{', stopped' if self._stop.is_set() else ''})"]
        for title, columns, rows in (("nodes", NODE_COLUMNS, frame.nodes), ("actor classes", CLASS_COLUMNS,
                                     frame.classes), ("busiest actors", ACTOR_COLUMNS, frame.actors)):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows)
            parts.append(f"<table><caption>{title}</caption><tr>{head}</tr>{body}</table>")
        return "\n".join(parts)

    def rates(self) -> dict[str, list[tuple[float, float]]]:
        """Messages per second of each actor class between successive updates: ``{class: [(t, rate), ...]}``."""
        out: dict[str, list[tuple[float, float]]] = {}
        start = self.history[0][0] if self.history else 0.0
        for (t0, before), (t1, after) in zip(self.history, self.history[1:]):
            for name, processed in after.items():
                rate = (processed - before.get(name, 0)) / (t1 - t0) if t1 > t0 else 0.0
                out.setdefault(name, []).append((t1 - start, max(0.0, rate)))
        return out

    def stop(self) -> None:
        """Stop refreshing (one last update first)."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(self._interval + 5)
            if not self._system.closed:
                self._update()

    def __repr__(self) -> str:
        return f"<LiveView of {self._system.name!r}, {self.updates} updates>"
