"""OpenTelemetry tracing, opt-in: ``ActorSystem(tracing=True)`` (needs ``rayka[otel]``).

Each ask and each tell that names a sender becomes a span at the receiving
actor, a child of whatever span was current where it was sent, so a request
through many actors (on many nodes) is one trace. The sender's context rides
in a :class:`Traced` wrapper around the message, added when the message is
queued and removed before the handler sees it.

Zero cost when off: nothing here is on the message path of a system without
tracing. A traced system gives each cell a wrapping ``_put`` (the mailbox
put) and a wrapping ``_receive`` instead of the plain ones; the envelope
keeps its three fields. Method calls (``Call``) and lifecycle signals are not
wrapped.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ._calls import Call

__all__ = ["Traced", "in_span", "traced_put", "traced_receive", "wrap"]


class Traced:
    """A message and the trace context of where it was sent (W3C ``traceparent``/``tracestate``)."""

    __slots__ = ("message", "carrier")

    def __init__(self, message: Any, carrier: dict[str, str]) -> None:
        self.message = message
        self.carrier = carrier

    def __reduce__(self) -> tuple:
        return (Traced, (self.message, self.carrier))

    def __repr__(self) -> str:
        return f"Traced({self.message!r})"


def wrap(message: Any) -> Any:
    """``message`` with the current trace context: a ``Traced`` wrapper, or a ``Call`` that carries it."""
    if message.__class__ is Traced or (message.__class__ is Call and message.trace is not None):
        return message
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if message.__class__ is Call:  # a call must reach dispatch as itself: it carries the context instead
        return Call(message.name, message.args, message.kwargs, carrier)
    return Traced(message, carrier)


def traced_put(put: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A mailbox put that wraps asks and tells with a sender (the mailbox's ``put`` otherwise)."""
    def put_traced(envelope: Any) -> Any:
        message, sender, reply = envelope
        if (reply is not None or sender is not None) and message.__class__ is not Traced:
            envelope = (wrap(message), sender, reply)  # a call always has a reply slot: it is traced too
        return put(envelope)

    return put_traced


def traced_receive(receive: Callable[[Any], Any], cell: Any, actor_class: str) -> Callable[[Any], Any]:
    """``receive`` that handles a traced message inside a span (the cell's path is read per span)."""
    def receive_traced(message: Any) -> Any:
        if message.__class__ is not Traced:
            return receive(message)
        inner = message.message
        return in_span(f"{actor_class} receive {type(inner).__name__}", message.carrier, cell.path, actor_class,
                       receive, inner)

    return receive_traced


def in_span(name: str, carrier: dict[str, str], path: str, actor_class: str, handler: Callable[..., Any],
            *args: Any) -> Any:
    """``handler(*args)`` inside a span, child of the context in ``carrier``; a coroutine it returns keeps the
    span until it finishes (its awaits see the span), and an error ends the span with an error status."""
    from opentelemetry import context, propagate, trace

    span = trace.get_tracer("rayka").start_span(name, context=propagate.extract(carrier),
                                                kind=trace.SpanKind.CONSUMER,
                                                attributes={"rayka.actor": path, "rayka.actor_class": actor_class})
    token = context.attach(trace.set_span_in_context(span))
    try:
        result = handler(*args)
    except BaseException as error:
        _failed(span, error)
        span.end()
        raise
    finally:
        context.detach(token)
    if inspect.iscoroutine(result):
        return _finish(result, span)
    span.end()
    return result


async def _finish(coroutine: Any, span: Any) -> Any:
    from opentelemetry import context, trace

    token = context.attach(trace.set_span_in_context(span))  # in the handler's task: its awaits see the span
    try:
        return await coroutine
    except BaseException as error:
        _failed(span, error)
        raise
    finally:
        context.detach(token)
        span.end()


def _failed(span: Any, error: BaseException) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
