"""max_concurrency: up to N handlers of one actor at once (async and blocking), opt-in; 1 stays the default."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import rayka

pytestmark = pytest.mark.timeout(30)


class Gate(rayka.Actor):
    """Each ``("wait", i)`` records its start and waits for gate ``i``; ``("open", i)`` opens it."""

    max_concurrency = 8

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.started: list[int] = []
        self.finished: list[int] = []

    def gate(self, i: int) -> asyncio.Event:
        return self.gates.setdefault(i, asyncio.Event())

    async def receive(self, message: Any) -> Any:
        match message:
            case ("wait", i):
                self.started.append(i)
                await asyncio.wait_for(self.gate(i).wait(), 10)
                self.finished.append(i)
                return i
            case ("open", i):
                self.gate(i).set()
            case "log":
                return list(self.started), list(self.finished)
            case "fail":
                raise ValueError("one handler failed")


class Serial(rayka.Actor):
    """An async actor with the default concurrency: logs when each handler starts and ends around an await."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def receive(self, message: Any) -> Any:
        if message == "log":
            return list(self.events)
        self.events.append(f"start {message}")
        await asyncio.sleep(0.001)  # another handler would start here if they could overlap
        self.events.append(f"end {message}")
        return message


class Replier(rayka.Actor):
    """``(n, "ask")`` answers ``n`` through a deferred reply, ``(n, "tell")`` tells ``n`` to its sender; both
    after an await that makes later handlers finish first."""

    max_concurrency = 8

    async def receive(self, message: Any) -> Any:
        n, kind = message
        reply = self.context.defer_reply()
        await asyncio.sleep(0.01 * (8 - n))
        if kind == "ask":
            assert reply is not None
            reply.set_result(n)
        else:
            assert reply is None
            self.context.sender.tell(n)


class Threads(rayka.Actor):
    blocking = True
    max_concurrency = 3

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier

    def receive(self, message: Any) -> Any:
        self.barrier.wait(10)  # passes only with three handlers on three threads at once
        return threading.get_ident()


class Downloads(rayka.Actor):
    max_concurrency = 4

    def __init__(self) -> None:
        self.active = self.peak = 0

    async def fetch(self, n: int) -> int:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.05)
        self.active -= 1
        return n


def test_handlers_start_in_mailbox_order_and_may_finish_in_any_order(system: rayka.ActorSystem) -> None:
    gate = system.spawn(Gate)
    replies = [gate.ask(("wait", i), timeout=10) for i in range(5)]
    for i in reversed(range(5)):
        gate.tell(("open", i))
        assert replies[i].result(timeout=5) == i  # all five are in flight, or the gate could not open
    started, finished = gate.ask("log").result(timeout=5)
    assert started == [0, 1, 2, 3, 4] and finished == [4, 3, 2, 1, 0]


def test_one_at_a_time_stays_the_default(system: rayka.ActorSystem) -> None:
    serial = system.spawn(Serial)
    assert rayka.gather([serial.ask(i) for i in range(5)]).result(timeout=5) == [0, 1, 2, 3, 4]
    assert serial.ask("log").result(timeout=5) == [f"{edge} {i}" for i in range(5) for edge in ("start", "end")]


def test_each_handler_keeps_its_own_sender_and_reply(system: rayka.ActorSystem) -> None:
    replier = system.spawn(Replier)
    probes = [rayka.testing.TestProbe(system) for _ in range(4)]
    replies = [replier.ask((n, "ask"), timeout=5) for n in range(4)]
    for n, probe in enumerate(probes, start=4):
        replier.tell((n, "tell"), probe.ref)
    assert [probe.expect(timeout=5) for probe in probes] == [4, 5, 6, 7]
    assert [reply.result(timeout=5) for reply in replies] == [0, 1, 2, 3]
    assert system.statistics()["failures"] == 0


def test_a_failure_while_others_run_lets_them_finish_then_restarts(system: rayka.ActorSystem) -> None:
    gate = system.spawn(Gate)
    running = [gate.ask(("wait", i), timeout=10) for i in range(2)]
    failed = gate.ask("fail", timeout=10)
    with pytest.raises(ValueError, match="one handler failed"):
        failed.result(timeout=5)
    for i in range(2):  # the actor is suspended: the gates are opened from here, on its loop
        system._loop.call_soon_threadsafe(gate._cell.instance.gate(i).set)
    assert [reply.result(timeout=5) for reply in running] == [0, 1]  # finished, not cancelled
    assert gate.ask("log").result(timeout=5) == ([], [])  # then restarted: a new instance
    assert system.statistics()["restarts"] == 1


def test_stop_waits_for_running_handlers_up_to_the_shutdown_timeout() -> None:
    with rayka.ActorSystem("concurrent-stop", shutdown_timeout=0.3) as system:
        gate = system.spawn(Gate)
        replies = [gate.ask(("wait", i), timeout=None) for i in range(3)]
        assert gate.ask("log").result(timeout=5) == ([0, 1, 2], [])  # all three in flight
        gate.stop()
        assert system.wait_terminated(gate, timeout=5)
        for reply in replies:
            with pytest.raises(rayka.ActorStopped, match="stopped while handling"):
                reply.result(timeout=5)


def test_blocking_handlers_run_on_as_many_threads_at_once(system: rayka.ActorSystem) -> None:
    threads = system.spawn(Threads, threading.Barrier(3))
    idents = rayka.gather([threads.ask(i, timeout=10) for i in range(3)]).result(timeout=15)
    assert len(set(idents)) == 3


def test_async_methods_called_through_a_proxy_overlap(system: rayka.ActorSystem) -> None:
    downloads = system.spawn(Downloads).proxy()
    assert rayka.gather([downloads.fetch(n) for n in range(8)]).result(timeout=5) == list(range(8))
    assert downloads.peak.result(timeout=5) == 4


@pytest.mark.parametrize(("value", "error", "text"), [
    (0, ValueError, "max_concurrency must be an int >= 1"),
    (2.5, ValueError, "max_concurrency must be an int >= 1"),
    (4, TypeError, "needs handlers that can overlap"),
])
def test_max_concurrency_is_checked_at_spawn(system: rayka.ActorSystem, value: Any, error: type, text: str) -> None:
    class Plain(rayka.Actor):
        max_concurrency = value

        def receive(self, message: Any) -> Any:
            return message

    with pytest.raises(error, match=text):
        system.spawn(Plain)
