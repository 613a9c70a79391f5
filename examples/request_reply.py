"""Request/reply: an ask-based service with deadlines, the way a gRPC unary call works.

A ``Calculator`` service runs as a pool of 4 actors (like a server's worker
threads). Each request type is a method; ``ref.ask(request, timeout=...)`` is
the call with its deadline. What the client sees maps onto gRPC status codes:

- the handler's return value: ``OK``;
- the handler's exception, raised in the caller: ``INVALID_ARGUMENT`` (the
  pool's supervisor *resumes* the routee, which keeps its state);
- no answer before the deadline: ``AskTimeout``, ``DEADLINE_EXCEEDED`` (the
  late answer is dropped);
- the service gone: ``ActorStopped``, ``UNAVAILABLE``.

Then a client actor makes ``--calls`` calls, one at a time and pipelined, to
measure them.

    python examples/request_reply.py
    python examples/request_reply.py --cluster   # client and service on two Ray node runtimes
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import deque
from dataclasses import dataclass
from typing import Any

import rayka
from rayka.patterns import Pool, RoundRobin, ToAll

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say, short_supervision_logs


# -- the service's methods ------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Add:
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class Divide:
    a: float
    b: float


@dataclass(frozen=True, slots=True)
class SlowSquare:
    n: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Echo:
    """A cheap call, stamped when sent, for the measurements."""

    n: int
    sent_at: float


class Calculator(rayka.Actor):
    """The service: one request at a time per routee; the pool runs several."""

    def __init__(self) -> None:
        self.served = 0

    async def receive(self, request: Any) -> Any:
        self.served += 1
        match request:
            case Echo(n, sent_at):
                return (n, sent_at, now())  # when it was handled: the queue time
            case Add(a, b):
                return a + b
            case Divide(a, b):
                return a / b  # ZeroDivisionError goes back to the caller
            case SlowSquare(n, seconds):
                await asyncio.sleep(seconds)
                return n * n
            case "stats":
                return self.served, self.context.self.statistics().peak
        raise TypeError(f"Calculator has no method for {type(request).__name__}")


def status_of(error: BaseException | None) -> str:
    """The gRPC status code for how a call ended."""
    if error is None:
        return "OK"
    if isinstance(error, rayka.AskTimeout):
        return "DEADLINE_EXCEEDED"
    if isinstance(error, rayka.ActorStopped):
        return "UNAVAILABLE"
    if isinstance(error, (ValueError, TypeError, ArithmeticError)):
        return "INVALID_ARGUMENT"
    return "INTERNAL"


@dataclass(frozen=True, slots=True)
class Call:
    request: Any
    deadline: float


@dataclass(frozen=True, slots=True)
class Measure:
    calls: int
    outstanding: int


class Client(rayka.Actor):
    """Calls the service from inside an actor with ``await ref.ask(...)``."""

    def __init__(self, service: rayka.ActorRef) -> None:
        self.service = service

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Call):
            began = now()
            try:
                value = await self.service.ask(message.request, timeout=message.deadline)
                error = None
            except Exception as failure:  # noqa: BLE001 - the status says which
                value, error = None, failure
            shown = None if error is None else type(error).__name__ if isinstance(error, rayka.AskTimeout) else (
                f"{type(error).__name__}: {error}")
            return status_of(error), value, shown, now() - began
        if isinstance(message, Measure):
            return await self.measure(message.calls, message.outstanding)
        return None

    async def measure(self, calls: int, outstanding: int) -> dict:
        """``calls`` calls one at a time, then ``calls`` more with ``outstanding`` in flight."""
        timings, round_trips = Timings(), []
        began = now()
        for n in range(calls):
            sent_at = now()
            reply = self.service.ask(Echo(n, sent_at), timeout=10)
            timings.send.append(now() - sent_at)
            _, _, handled = await reply
            finished = now()
            round_trips.append(finished - sent_at)
            timings.queue.append(handled - sent_at)
            timings.receive.append(finished - handled)  # the answer's way back
        sequential = now() - began
        began = now()
        window: deque = deque()
        for n in range(calls):
            window.append(self.service.ask(Echo(n, now()), timeout=10))
            if len(window) >= outstanding:
                await window.popleft()
        while window:
            await window.popleft()
        pipelined = now() - began
        return {"timings": timings.as_dict(), "round_trips": round_trips, "sequential": sequential,
                "pipelined": pipelined}


def run(*, calls: int = 2000, speed: float = 1.0, cluster: bool = False) -> dict:
    """Make the example calls and the measured ones; returns the statuses seen and the figures."""
    short_supervision_logs()
    slow, deadline = 0.2 / speed, 0.05 / speed
    strategy = rayka.OneForOne(decider={ArithmeticError: rayka.Directive.RESUME, Exception: rayka.Directive.RESTART})
    with rayka.ActorSystem("request-reply", cluster=cluster_for(cluster, __name__)) as system:
        service = system.spawn(Pool, Calculator, 4, RoundRobin(), strategy=strategy, name="calculator",
                               node=1 if cluster else None)
        client = system.spawn(Client, service, name="client", node=0 if cluster else None)
        examples = [
            ("Add(2, 3)", Call(Add(2, 3), 1.0)),
            ("Divide(1, 0)", Call(Divide(1, 0), 1.0)),
            (f"SlowSquare(7), deadline {deadline * 1000:g} ms", Call(SlowSquare(7, slow), deadline)),
            (f"SlowSquare(7), deadline {4 * slow * 1000:g} ms", Call(SlowSquare(7, slow), 4 * slow)),
            ("Divide(1, 4)", Call(Divide(1, 4), 1.0)),
        ]
        statuses = []
        for label, call in examples:
            status, value, error, seconds = client.ask(call, timeout=30).result()
            statuses.append(status)
            shown = repr(value) if status == "OK" else error
            say(f" [x] {label} -> {status} {shown} ({seconds * 1000:.1f} ms)")
        # A call straight from this thread: .result(timeout) blocks, ``await`` works in async code.
        say(f" [x] from the main thread: Add(40, 2) -> {service.ask(Add(40, 2), timeout=5).result()}")
        measured = client.ask(Measure(calls, 32), timeout=120).result()
        stats = service.ask(ToAll("stats"), timeout=10).result()
        served = sum(n for n, _ in stats) - len(stats)  # not counting the "stats" calls themselves
        peak = max(p for _, p in stats)
        timings = Timings().merge(measured["timings"])
        figures = Figures(f"{calls} pipelined calls, 32 in flight, to a pool of 4", calls, measured["pipelined"],
                          timings, peak, 0, "largest routee mailbox")
        figures.measure_resources(system)
    round_trip_ms = sorted(measured["round_trips"])[len(measured["round_trips"]) // 2] * 1000
    return {"statuses": statuses, "served": served, "round_trip_ms": round_trip_ms,
            "sequential_per_s": calls / measured["sequential"], "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, speed=1.0)
    parser.add_argument("--calls", type=int, default=2000, help="calls to measure (default 2000)")
    args = parser.parse_args(argv)
    result = run(calls=args.calls, speed=args.speed, cluster=args.cluster)
    print(f"one call at a time: median round trip {result['round_trip_ms']:.3f} ms, "
          f"{result['sequential_per_s']:,.0f} calls/s; the service served {result['served']} calls and kept its "
          "state through the failed ones", flush=True)
    result["figures"].print()
    expected = ["OK", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "OK", "OK"]
    return 0 if result["statuses"] == expected else 1


if __name__ == "__main__":
    sys.exit(main())
