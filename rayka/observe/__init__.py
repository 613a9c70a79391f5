"""Observing a running system: ``system.metrics()`` snapshots, the Prometheus endpoint, ``rayka top``.

``system.metrics()`` returns a :class:`Metrics` (every node, per actor class,
the busiest actors); ``system.serve_metrics(port)`` serves it to Prometheus
(``/metrics``, needs ``rayka[metrics]``) and to ``rayka top`` (``/rayka.json``).
"""

from __future__ import annotations

from ._live import LiveView
from ._server import MetricsServer
from ._snapshot import ActorMetrics, ClassMetrics, Histogram, Metrics, NodeMetrics, StreamMetrics

__all__ = ["ActorMetrics", "ClassMetrics", "Histogram", "LiveView", "Metrics", "MetricsServer", "NodeMetrics",
           "StreamMetrics"]
