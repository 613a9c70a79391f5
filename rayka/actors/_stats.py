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

from bisect import bisect_left

__all__ = ["BOUNDS", "ClassStats"]

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
