"""Node runtimes reporting rayka's metrics through Ray's own metrics API (``RayCluster(ray_metrics=...)``).

Ray exports what processes record with ``ray.util.metrics`` on each node's
metrics endpoint (``ray_`` prefixed; the port is ``ray.init``'s
``_metrics_export_port``) and in its dashboard, where Ray users already
look. It needs ``ray[default]`` (Ray's metrics agent): ``rayka[ray-metrics]``.
Every ``interval`` seconds a node runtime takes its part of the metrics (a
walk of its actors) and records it: counters as increments since the last
report, gauges as they are.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..actors import spi

__all__ = ["RayMetricsReporter"]

log = logging.getLogger("rayka.cluster")

_COUNTERS = {"processed": ("rayka_messages_processed", "Messages handled by actors"),
             "failures": ("rayka_actor_failures", "Handler failures"),
             "restarts": ("rayka_actor_restarts", "Actor restarts"),
             "dead_letters": ("rayka_actor_dead_letters", "Messages to the class's actors that became dead letters")}
_GAUGES = {"actors": ("rayka_actors", "Live actors"), "queued": ("rayka_mailbox_depth", "Messages waiting")}


class RayMetricsReporter:
    """Records one node runtime's metrics with ``ray.util.metrics`` every ``interval`` seconds."""

    def __init__(self, system: Any, node: str, interval: float) -> None:
        from ray.util.metrics import Counter, Gauge

        tags = ("actor_class", "node")
        self.counters = {field: Counter(name, description, tag_keys=tags) for field, (name, description)
                         in _COUNTERS.items()}
        self.gauges = {field: Gauge(name, description, tag_keys=tags) for field, (name, description)
                       in _GAUGES.items()}
        self.turns = Counter("rayka_node_turns", "Dispatcher turns on the node", tag_keys=("node",))
        self.lag = Gauge("rayka_node_loop_lag_seconds", "Longest loop-watchdog ping wait since the last report",
                         tag_keys=("node",))
        self.system, self.node, self.interval = system, node, interval
        self.reported: dict[tuple, int] = {}
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.report()
            except Exception as error:  # noqa: BLE001 - a failed report must not stop the next ones
                log.warning("rayka: node %s could not report to Ray's metrics: %r", self.node, error)

    def report(self) -> None:
        part = spi.collect_node(self.system, self.node, top=0, tree_limit=0)
        for row in part["classes"]:
            tags = {"actor_class": row["actor_class"], "node": self.node}
            for field, counter in self.counters.items():
                self._increment(counter, (field, row["actor_class"]), row[field], tags)
            for field, gauge in self.gauges.items():
                gauge.set(row[field], tags=tags)
        node = part["node"]
        self._increment(self.turns, ("turns",), node["turns"], {"node": self.node})
        if node["loop_lag"] is not None:
            self.lag.set(node["loop_lag"], tags={"node": self.node})

    def _increment(self, counter: Any, key: tuple, total: int, tags: dict[str, str]) -> None:
        grown = total - self.reported.get(key, 0)
        if grown > 0:
            counter.inc(grown, tags=tags)
            self.reported[key] = total

    def stop(self) -> None:
        self.task.cancel()
