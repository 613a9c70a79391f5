"""Priority mailboxes, the stash, and mailbox statistics."""

from __future__ import annotations

from typing import Any

import pytest

from rayka import Actor, ActorRef, ActorStopped, ActorSystem, RaykaError
from rayka.mailbox import MailboxStatistics, Priority
from rayka.testing import TestProbe

from .mailkit import WAIT, Gate, Gated, statistics

pytestmark = pytest.mark.timeout(30)


def urgency(message: Any) -> Any:
    """Tuples sort by their first item; anything else (the gate) goes first."""
    return message[0] if isinstance(message, tuple) else -1


@pytest.fixture
def probe(system: ActorSystem) -> TestProbe:
    return TestProbe(system)


def held(system: ActorSystem, probe: TestProbe, mailbox: Priority) -> tuple[ActorRef, Gate]:
    gate = Gate()
    ref = system.spawn(Gated, gate, probe.ref, mailbox=mailbox)
    ref.tell("gate")
    gate.wait_entered()
    return ref, gate


# -- priority -----------------------------------------------------------------------

def test_a_priority_mailbox_hands_out_the_lowest_key_first_and_keeps_arrival_order_among_equals(
        system: ActorSystem, probe: TestProbe) -> None:
    ref, gate = held(system, probe, Priority(key=urgency))
    for message in [(2, "a"), (1, "b"), (2, "c"), (0, "d"), (1, "e"), (0, "f")]:
        ref.tell(message)
    gate.release.set()
    assert [m[1] for m in probe.expect_n(6)] == ["d", "f", "b", "e", "a", "c"]


def test_a_priority_mailbox_with_one_key_is_fifo(system: ActorSystem, probe: TestProbe) -> None:
    ref, gate = held(system, probe, Priority(key=lambda message: 0))
    for i in range(500):
        ref.tell(i)
    gate.release.set()
    assert probe.expect_n(500) == list(range(500))


def test_a_bounded_priority_mailbox_dropping_oldest_evicts_the_least_urgent(
        system: ActorSystem, probe: TestProbe) -> None:
    ref, gate = held(system, probe, Priority(key=urgency, capacity=3, overflow="drop_oldest"))
    for message in [(1, "a"), (5, "b"), (5, "c"), (0, "d")]:
        ref.tell(message)
    assert [letter.message for letter in system.dead_letters.recent()] == [(5, "c")]
    gate.release.set()
    assert [m[1] for m in probe.expect_n(3)] == ["d", "a", "b"]


def test_a_bounded_priority_mailbox_dropping_new_refuses_the_newcomer(system: ActorSystem, probe: TestProbe) -> None:
    ref, gate = held(system, probe, Priority(key=urgency, capacity=2, overflow="drop_new"))
    for message in [(3, "a"), (2, "b"), (0, "urgent but late")]:
        ref.tell(message)
    assert [letter.reason for letter in system.dead_letters.recent()] == ["overflow"]
    gate.release.set()
    assert [m[1] for m in probe.expect_n(2)] == ["b", "a"]


# -- stash ----------------------------------------------------------------------------

class Doorman(Actor):
    """Stashes everything until ``"open"``; then replays the stash and forwards messages to ``out``."""

    stash_capacity = 100

    def __init__(self, out: ActorRef, open_after_restart: bool = False) -> None:
        self.out = out
        self.open = False
        self.open_after_restart = open_after_restart

    def on_start(self) -> None:
        try:
            self.context.stash()
        except RaykaError as error:
            self.out.tell(("no stash in on_start", str(error)))

    def on_restart(self, error: BaseException) -> None:
        self.open = self.open_after_restart

    def receive(self, message: Any) -> Any:
        if message == "open":
            self.open = True
            return self.context.unstash_all()
        if message == "fail":
            raise RuntimeError("restart")
        if not self.open:
            self.context.stash()
            return None
        self.out.tell(message)
        return f"handled {message}"


def doorman(system: ActorSystem, probe: TestProbe, **kwargs: Any) -> ActorRef:
    ref = system.spawn(Doorman, probe.ref, **kwargs)
    kind, text = probe.expect(lambda m: m[0] == "no stash in on_start")
    assert "only while handling a message" in text
    return ref


def test_stashed_messages_are_replayed_in_order_before_later_ones(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe)
    for message in ("a", "b", "c"):
        ref.tell(message)
    assert ref.ask("open").result(WAIT) == 3
    ref.tell("d")
    assert probe.expect_n(4) == ["a", "b", "c", "d"]


def test_a_stashed_ask_is_answered_after_unstash(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe)
    reply = ref.ask("x", timeout=WAIT)
    assert ref.ask("open").result(WAIT) == 1
    assert reply.result(WAIT) == "handled x"


def test_unstash_all_with_nothing_stashed_returns_zero(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe)
    assert ref.ask("open").result(WAIT) == 0


def test_stashing_beyond_stash_capacity_fails_the_handler(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe)
    for i in range(100):
        ref.tell(i)
    with pytest.raises(RaykaError, match="stash is full"):
        ref.ask(100).result(WAIT)


def test_stashed_messages_survive_a_restart(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe, open_after_restart=True)
    ref.tell("a")
    ref.tell("b")
    ref.tell("fail")
    ref.tell("c")
    assert probe.expect_n(3) == ["a", "b", "c"]


def test_stashed_messages_go_to_dead_letters_when_the_actor_stops(system: ActorSystem, probe: TestProbe) -> None:
    ref = doorman(system, probe)
    ref.tell("a")
    ref.tell("b")
    stashed_ask = ref.ask("ping-is-stashed-too", timeout=WAIT)
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    with pytest.raises(ActorStopped):
        stashed_ask.result(WAIT)
    letters = [(d.message, d.reason) for d in system.dead_letters.recent()]
    assert letters == [("a", "left in mailbox"), ("b", "left in mailbox"), ("ping-is-stashed-too", "left in mailbox")]


# -- statistics -------------------------------------------------------------------------

def test_mailbox_statistics_count_queued_peak_and_processed(system: ActorSystem, probe: TestProbe) -> None:
    gate = Gate()
    ref = system.spawn(Gated, gate, probe.ref)
    assert statistics(ref) == MailboxStatistics(queued=0, peak=0, dropped=0, processed=0, capacity=None)
    ref.tell("gate")
    gate.wait_entered()
    for i in range(5):
        ref.tell(i)
    stats = statistics(ref)
    assert (stats.queued, stats.peak, stats.processed) == (5, 5, 1)
    gate.release.set()
    probe.expect_n(5)
    ref.ask("sync").result(WAIT)
    stats = statistics(ref)
    assert (stats.queued, stats.peak, stats.processed, stats.dropped) == (0, 5, 7, 0)
