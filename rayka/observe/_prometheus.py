"""The Prometheus view of ``system.metrics()``: a ``prometheus_client`` collector, read at each scrape.

Names and labels follow Prometheus' conventions: counters end in
``_total``, times are in seconds, and actors are labelled by class and node,
not by path (paths would make one series per actor); only the ``top``
busiest actors get a series of their own, labelled by path.
"""

from __future__ import annotations

from typing import Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

__all__ = ["RaykaCollector"]

_CLASS = ["actor_class", "node"]


class RaykaCollector(Collector):
    """Yields rayka's metric families from a fresh snapshot of ``system`` at every scrape."""

    def __init__(self, system: Any, top: int = 10) -> None:
        self.system = system
        self.top = top

    def collect(self) -> Iterator[Any]:
        snapshot = self.system.metrics(self.top)
        counters = {
            "processed": CounterMetricFamily("rayka_messages_processed", "Messages handled by actors", labels=_CLASS),
            "failures": CounterMetricFamily("rayka_actor_failures", "Handler failures (each one went to the "
                                            "supervisor)", labels=_CLASS),
            "restarts": CounterMetricFamily("rayka_actor_restarts", "Actor restarts", labels=_CLASS),
            "dead_letters": CounterMetricFamily("rayka_actor_dead_letters", "Messages to actors of the class "
                                                "that became dead letters", labels=_CLASS),
        }
        gauges = {
            "actors": GaugeMetricFamily("rayka_actors", "Live actors", labels=_CLASS),
            "queued": GaugeMetricFamily("rayka_mailbox_depth", "Messages waiting in the mailboxes", labels=_CLASS),
            "peak": GaugeMetricFamily("rayka_mailbox_peak", "The deepest one mailbox of the class has been",
                                      labels=_CLASS),
        }
        handling = HistogramMetricFamily("rayka_handling_seconds", "Time to handle one message (per turn, "
                                         "spread over its messages)", labels=_CLASS)
        for row in snapshot.classes:
            labels = [row.actor_class, row.node]
            for field, family in counters.items():
                family.add_metric(labels, getattr(row, field))
            for field, gauge in gauges.items():
                gauge.add_metric(labels, getattr(row, field))
            cumulative, buckets = 0, []
            for bound, count in zip((*row.handling.bounds, float("inf")), row.handling.counts):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            handling.add_metric(labels, buckets, sum_value=row.handling.sum)
        yield from counters.values()
        yield from gauges.values()
        yield handling
        yield from _busiest(snapshot)
        yield from _nodes(snapshot)
        letters = CounterMetricFamily("rayka_dead_letters", "Dead letters by reason", labels=["reason"])
        for reason, count in sorted(snapshot.dead_letters.items()):
            letters.add_metric([reason], count)
        yield letters


def _busiest(snapshot: Any) -> Iterator[Any]:
    labels = ["path", "actor_class", "node"]
    processed = CounterMetricFamily("rayka_busiest_actor_messages_processed", "Messages handled by one of the "
                                    "busiest actors", labels=labels)
    depth = GaugeMetricFamily("rayka_busiest_actor_mailbox_depth", "Mailbox depth of one of the busiest actors",
                              labels=labels)
    for actor in snapshot.busiest:
        processed.add_metric([actor.path, actor.actor_class, actor.node], actor.processed)
        depth.add_metric([actor.path, actor.actor_class, actor.node], actor.queued)
    yield processed
    yield depth


def _nodes(snapshot: Any) -> Iterator[Any]:
    actors = GaugeMetricFamily("rayka_node_actors", "Live actors on the node", labels=["node"])
    turns = CounterMetricFamily("rayka_node_turns", "Dispatcher turns on the node", labels=["node"])
    lag = GaugeMetricFamily("rayka_node_loop_lag_seconds", "Longest wait of the loop watchdog's pings since "
                            "the last read", labels=["node"])
    malformed = CounterMetricFamily("rayka_node_malformed_batches", "Batches the node rejected", labels=["node"])
    stream = ["node", "peer"]
    in_flight = GaugeMetricFamily("rayka_stream_in_flight_batches", "Unacknowledged batches to the peer",
                                  labels=stream)
    pending = GaugeMetricFamily("rayka_stream_pending_records", "Records waiting for a batch", labels=stream)
    backlog = GaugeMetricFamily("rayka_stream_backlog_records", "Records waiting for room in the stream",
                                labels=stream)
    for node in snapshot.nodes:
        actors.add_metric([node.node], node.actors)
        turns.add_metric([node.node], node.turns)
        if node.loop_lag is not None:
            lag.add_metric([node.node], node.loop_lag)
        malformed.add_metric([node.node], node.malformed_batches)
        for s in node.streams:
            in_flight.add_metric([node.node, s.peer], s.in_flight)
            pending.add_metric([node.node, s.peer], s.pending)
            backlog.add_metric([node.node, s.peer], s.backlog)
    yield from (actors, turns, lag, malformed, in_flight, pending, backlog)
