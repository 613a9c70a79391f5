"""OpenTelemetry tracing, opt-in: one request through five actors is one trace; nothing of it when off."""

from __future__ import annotations

from typing import Any

import pytest

import rayka
from tests.observe.otel_setup import Hop, configure, finished

pytestmark = pytest.mark.timeout(60)


def chain(system: rayka.ActorSystem, n: int, **placement: Any) -> list[rayka.ActorRef]:
    refs: list[rayka.ActorRef] = []
    for i in range(n):
        refs.insert(0, system.spawn(Hop, refs[0] if refs else None, name=f"hop{n - 1 - i}", **placement))
    return refs


def assert_chain(spans: list[dict], root: Any, hops: int, name: str) -> None:
    """The spans of ``root``'s trace: one per hop, each the child of the one before (the context travelled)."""
    trace_id = root.get_span_context().trace_id
    by_actor = {s["actor"]: s for s in spans if s["trace"] == trace_id and s["actor"]}
    assert sorted(by_actor) == [f"/user/hop{i}" for i in range(hops)]
    parent = root.get_span_context().span_id
    for i in range(hops):
        span = by_actor[f"/user/hop{i}"]
        assert span["parent"] == parent and span["name"] == name
        parent = span["span"]


def test_a_request_through_five_actors_is_one_trace_of_nested_spans() -> None:
    exporter = configure()
    exporter.clear()
    from opentelemetry import trace

    with rayka.ActorSystem("traced", tracing=True) as system:
        hops = chain(system, 5)
        with trace.get_tracer("test").start_as_current_span("request") as root:
            assert hops[0].ask(0, timeout=10).result() == 5
        with pytest.raises(ValueError):
            hops[2].ask("fail", timeout=10).result()
    spans = finished()
    assert_chain(spans, root, 5, "Hop receive int")
    failed = [s for s in spans if s["actor"] == "/user/hop2" and s["status"] == "ERROR"]
    assert len(failed) == 1 and failed[0]["trace"] != root.get_span_context().trace_id  # a trace of its own


def test_off_nothing_is_wrapped_and_no_span_is_made() -> None:
    exporter = configure()
    exporter.clear()
    with rayka.ActorSystem("untraced") as system:
        hops = chain(system, 2)
        assert hops[0].ask(0, timeout=10).result() == 2
        cell = hops[0]._cell
        assert cell._put == cell.mailbox.put and cell._receive == cell.instance.receive  # the plain ones
    assert finished() == []


def test_tracing_needs_opentelemetry_and_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "opentelemetry" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'rayka\[otel\]'"):
        rayka.ActorSystem("no-otel", tracing=True)


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_a_request_through_five_actors_on_three_nodes_is_one_trace(ray_cluster) -> None:
    import cloudpickle
    from opentelemetry import trace

    from tests.observe import otel_setup

    cloudpickle.register_pickle_by_value(otel_setup)
    exporter = configure()
    exporter.clear()
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=3, tracing_setup=otel_setup.configure)
    with rayka.ActorSystem("traced-cluster", tracing=True, cluster=cluster) as system:
        nodes = [0, 1, 2, 0, 1]
        hops: list[rayka.ActorRef] = []
        for i in reversed(range(5)):
            hops.insert(0, system.spawn(Hop, hops[0] if hops else None, "ask" if i % 2 else "tell",
                                        name=f"hop{i}", node=nodes[i]))
        with trace.get_tracer("test").start_as_current_span("request") as root:
            assert hops[0].ask(0, timeout=30).result() == 1  # hop0 tells hop1 on: it answers at once
        assert hops[4].ask(100, timeout=30).result() == 101  # hop4 is the last: the chain has run through it
        with trace.get_tracer("test").start_as_current_span("calls") as calls:
            assert hops[0].proxy(timeout=30).call_on(0).result(timeout=30) == 5  # method calls, node to node
        dumps = [system.spawn(otel_setup.SpanDump, node=i) for i in range(3)]
        spans: dict[tuple, dict] = {}
        for _ in range(100):  # the tells down the chain finish after the first answer
            for dump in dumps:
                for span in dump.ask("spans", timeout=30).result():
                    if span["actor"]:
                        spans[(span["trace"], span["actor"])] = span
            if sum(1 for trace_id, _ in spans if trace_id == root.get_span_context().trace_id) == 5:
                break
    for top, name in ((root, "Hop receive int"), (calls, "Hop call call_on")):  # across three processes
        assert_chain(list(spans.values()), top, 5, name)


def test_method_calls_through_proxies_are_traced_as_one_chain_too() -> None:
    exporter = configure()
    exporter.clear()
    from opentelemetry import trace

    with rayka.ActorSystem("traced-calls", tracing=True) as system:
        hops = chain(system, 4)
        with trace.get_tracer("test").start_as_current_span("request") as root:
            assert hops[0].proxy(timeout=10).call_on(0).result(timeout=10) == 4
        with pytest.raises(TypeError, match=r"call_on\(\)"):  # arguments that do not bind: still refused
            hops[0].proxy(timeout=10).call_on(1, 2).result(timeout=10)
    assert_chain(finished(), root, 4, "Hop call call_on")
