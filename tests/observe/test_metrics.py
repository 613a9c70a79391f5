"""system.metrics() and the Prometheus endpoint, scraped over real HTTP on 127.0.0.1 and parsed by prometheus_client."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import rayka
from tests.observe.observe_actors import Echo, Held
from rayka.mailbox import Bounded

pytestmark = pytest.mark.timeout(60)


def scrape(url: str) -> dict[str, Any]:
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, **labels: str) -> float:
    family = families[name.removesuffix("_total").removesuffix("_count").removesuffix("_sum")]
    values = [s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(values) == 1, (name, labels, family.samples)
    return values[0]


def test_the_snapshot_counts_per_class_and_names_the_busiest_actors() -> None:
    with rayka.ActorSystem("metrics", metrics=True) as system:
        busy, quiet = system.spawn(Echo, name="busy"), system.spawn(Echo, name="quiet")
        assert rayka.gather([busy.ask(n) for n in range(20)] + [quiet.ask(1)]).result(timeout=5)[-1] == 1
        with pytest.raises(ValueError):
            busy.ask("boom").result(timeout=5)
        assert busy.ask("again").result(timeout=5) == "again"  # restarted
        busy.stop()
        assert system.wait_terminated(busy, timeout=5)
        busy.tell("too late")  # a dead letter the class caused
        snapshot = system.metrics(top=2)
        echo = snapshot.by_class("Echo")
        assert echo is not None
        assert (echo.actors, echo.processed, echo.failures, echo.restarts, echo.dead_letters) == (1, 23, 1, 1, 1)
        assert echo.handling.count == 23 and sum(echo.handling.counts) == 23 and echo.handling.sum > 0
        assert [a.path for a in snapshot.busiest] == ["/user/quiet"]  # the busy one has stopped
        assert snapshot.dead_letters.get("stopped") == 1
        (node,) = snapshot.nodes
        assert node.node == "local" and node.actors >= 1 and node.turns > 0 and node.loop_lag is not None
        again = rayka.observe.Metrics.from_dict(snapshot.as_dict())
        assert again == snapshot


def test_queued_and_peak_show_a_backed_up_mailbox(system: rayka.ActorSystem) -> None:
    release = threading.Event()
    held = system.spawn(Held, name="held", mailbox=Bounded(100))
    held.tell(release)
    for n in range(5):
        held.tell(n)
    try:
        row = system.metrics().by_class("Held")
        assert row is not None and row.queued >= 4 and row.peak >= row.queued
    finally:
        release.set()


def test_timing_starts_when_metrics_are_first_read(system: rayka.ActorSystem) -> None:
    echo = system.spawn(Echo)
    echo.ask(1).result(timeout=5)
    first = system.metrics().by_class("Echo")
    assert first is not None and first.processed == 1 and first.handling.count == 0  # not timed yet
    echo.ask(2).result(timeout=5)
    second = system.metrics().by_class("Echo")
    assert second is not None and second.handling.count == 1


def test_prometheus_scrape_over_http_follows_the_conventions(system: rayka.ActorSystem) -> None:
    echo = system.spawn(Echo, name="echo")
    rayka.gather([echo.ask(n) for n in range(7)]).result(timeout=5)
    server = system.serve_metrics(port=0)
    assert server.host == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")
    families = scrape(server.url)
    assert sample(families, "rayka_messages_processed_total", actor_class="Echo", node="local") == 7
    assert sample(families, "rayka_actors", actor_class="Echo", node="local") == 1
    assert families["rayka_messages_processed"].type == "counter"
    assert families["rayka_handling_seconds"].type == "histogram"
    echo.ask(8).result(timeout=5)  # timed: the first scrape turned timing on
    families = scrape(server.url)
    assert sample(families, "rayka_handling_seconds_count", actor_class="Echo", node="local") == 1
    buckets = [s for s in families["rayka_handling_seconds"].samples if s.name.endswith("_bucket")
               and s.labels["actor_class"] == "Echo"]
    assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 1
    assert [b.value for b in buckets] == sorted(b.value for b in buckets)  # cumulative
    assert sample(families, "rayka_busiest_actor_messages_processed_total", path="/user/echo") == 8
    assert "path" not in {k for s in families["rayka_messages_processed"].samples for k in s.labels}
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(server.url + "/nothing", timeout=10)
    server.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/metrics", timeout=10)


def test_the_endpoint_stops_with_the_system() -> None:
    system = rayka.ActorSystem("metrics-stop")
    server = system.serve_metrics()
    assert urllib.request.urlopen(server.url + "/rayka.json", timeout=10).status == 200
    system.shutdown()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/rayka.json", timeout=10)
