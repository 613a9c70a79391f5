"""Timers on a manual clock: once, repeatedly, cancel, and cancellation on stop and restart."""

from __future__ import annotations

from typing import Any

import pytest
from .actorkit import WAIT

from rayka import Actor, ActorRef, ActorSystem
from rayka.actors import Timer
from rayka.testing import ManualClock, TestProbe

pytestmark = pytest.mark.timeout(30)


class Ticker(Actor):
    """Arms timers on request and forwards every tick to ``out``."""

    def __init__(self, out: ActorRef) -> None:
        self.out = out
        self.timer: Timer | None = None

    def receive(self, message: Any) -> Any:
        match message:
            case ("once", delay):
                self.timer = self.context.schedule_once(delay, "tick")
                return "armed"
            case ("every", interval):
                self.timer = self.context.schedule_repeatedly(interval, "tick")
                return "armed"
            case ("every", interval, first):
                self.timer = self.context.schedule_repeatedly(interval, "tick", initial_delay=first)
                return "armed"
            case "cancel":
                assert self.timer is not None
                self.timer.cancel()
                return "cancelled"
            case "fail":
                raise RuntimeError("restart me")
            case "ping":
                return "pong"
        self.out.tell(message)
        return None


@pytest.fixture
def ticks(clocked: ActorSystem) -> TestProbe:
    return TestProbe(clocked)


@pytest.fixture
def ticker(clocked: ActorSystem, ticks: TestProbe) -> ActorRef:
    return clocked.spawn(Ticker, ticks.ref)


def test_schedule_once_sends_its_message_when_the_clock_reaches_the_delay(
        clock: ManualClock, ticker: ActorRef, ticks: TestProbe) -> None:
    assert ticker.ask(("once", 1.0)).result(WAIT) == "armed"
    assert clock.pending() == [1.0]
    assert clock.advance(0.99) == 0
    assert clock.advance(0.01) == 1
    ticks.expect("tick")
    assert clock.advance(10) == 0
    assert clock.pending() == []


def test_schedule_repeatedly_sends_once_per_interval(clock: ManualClock, ticker: ActorRef, ticks: TestProbe) -> None:
    ticker.ask(("every", 1.0)).result(WAIT)
    assert clock.advance(0.5) == 0
    assert clock.advance(0.5) == 1
    assert clock.advance(2.0) == 2
    assert ticks.expect_n(3) == ["tick"] * 3
    assert clock.pending() == [4.0]


def test_schedule_repeatedly_honours_the_initial_delay(clock: ManualClock, ticker: ActorRef, ticks: TestProbe) -> None:
    ticker.ask(("every", 2.0, 0.5)).result(WAIT)
    assert clock.pending() == [0.5]
    assert clock.advance(0.5) == 1
    assert clock.pending() == [2.5]
    ticks.expect("tick")


def test_a_cancelled_timer_never_sends(clock: ManualClock, ticker: ActorRef, ticks: TestProbe) -> None:
    ticker.ask(("every", 1.0)).result(WAIT)
    clock.advance(1.0)
    ticks.expect("tick")
    assert ticker.ask("cancel").result(WAIT) == "cancelled"
    assert clock.pending() == []
    assert clock.advance(5.0) == 0
    ticks.expect_no_message(0.05)


def test_timers_are_cancelled_when_the_actor_stops(clocked: ActorSystem, clock: ManualClock, ticker: ActorRef) -> None:
    ticker.ask(("once", 1.0)).result(WAIT)
    ticker.ask(("every", 0.5)).result(WAIT)
    ticker.stop()
    assert clocked.wait_terminated(ticker, WAIT)
    assert clock.pending() == []
    assert clock.advance(5.0) == 0
    assert clocked.dead_letters.count == 0


def test_timers_are_cancelled_when_the_actor_restarts(
        clock: ManualClock, ticker: ActorRef, ticks: TestProbe) -> None:
    ticker.ask(("every", 1.0)).result(WAIT)
    with pytest.raises(RuntimeError):
        ticker.ask("fail").result(WAIT)
    assert ticker.ask("ping").result(WAIT) == "pong"  # answered by the new instance
    assert clock.pending() == []
    assert clock.advance(3.0) == 0
    ticks.expect_no_message(0.05)


def test_a_negative_timer_delay_raises_ValueError(ticker: ActorRef) -> None:
    with pytest.raises(ValueError, match="delay"):
        ticker.ask(("once", -1.0)).result(WAIT)


def test_a_repeating_timer_needs_a_positive_interval(ticker: ActorRef) -> None:
    with pytest.raises(ValueError, match="interval"):
        ticker.ask(("every", 0)).result(WAIT)


def test_the_manual_clock_only_moves_forward() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.time() == 0.0
