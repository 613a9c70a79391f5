"""OpenTelemetry for the tracing tests: one in-memory exporter per process, kept where any code can find it."""

from __future__ import annotations

import sys
import types
from typing import Any

import rayka

KEY = "rayka_test_spans"


def configure() -> Any:
    """Install a tracer provider that keeps finished spans in memory (once per process); return the exporter."""
    holder = sys.modules.get(KEY)
    if holder is not None:
        return holder.exporter
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    sys.modules[KEY] = types.SimpleNamespace(exporter=exporter)  # type: ignore[assignment]
    return exporter


def finished() -> list[dict]:
    """This process's finished spans, as plain values."""
    holder = sys.modules.get(KEY)
    if holder is None:
        return []
    return [{"name": s.name, "trace": s.context.trace_id, "span": s.context.span_id,
             "parent": s.parent.span_id if s.parent else None, "actor": (s.attributes or {}).get("rayka.actor"),
             "status": s.status.status_code.name} for s in holder.exporter.get_finished_spans()]


class Hop(rayka.Actor):
    """Asks the next hop (async) or tells it with itself as sender (sync), then answers."""

    def __init__(self, next_hop: rayka.ActorRef | None, kind: str = "ask") -> None:
        self.next_hop, self.kind = next_hop, kind

    async def receive(self, message: Any) -> Any:
        if message == "fail":
            raise ValueError("hop failed")
        if self.next_hop is None:
            return message + 1
        if self.kind == "tell":
            self.next_hop.tell(message + 1, self.context.self)
            return message + 1
        return await self.next_hop.ask(message + 1, timeout=10)

    async def call_on(self, n: int) -> int:
        """A method: calls the next hop's ``call_on`` through a proxy, or answers ``n + 1`` at the end."""
        if self.next_hop is None:
            return n + 1
        return await self.next_hop.proxy(timeout=10).call_on(n + 1)


class SpanDump(rayka.Actor):
    """Answers the finished spans of the process it runs in (a node runtime's)."""

    def receive(self, message: Any) -> Any:
        return finished()
