"""Delivery: order per sender, the control lane, dead letters, and telling from many threads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from .actorkit import WAIT, Gate, Gated

from rayka import Actor, ActorNotFound, ActorRef, ActorSystem, DeadLetter, SystemClosed
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


class Log(Actor):
    """Appends every message to a list; ``"get"`` answers with a copy."""

    def __init__(self) -> None:
        self.seen: list = []

    def receive(self, message: Any) -> Any:
        if message == "get":
            return list(self.seen)
        self.seen.append(message)
        return None


class Sender(Actor):
    """On ``(target, n)`` tells ``target`` the numbers 0..n-1, each with itself as sender."""

    def receive(self, message: Any) -> str:
        target, n = message
        for i in range(n):
            target.tell(i, self.context.self)
        return "sent"


class PerThreadOrder(Actor):
    """Counts ``(thread, seq)`` messages and notes any that arrive out of order per thread."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}
        self.count = 0
        self.out_of_order = 0

    def receive(self, message: Any) -> Any:
        if message == "get":
            return self.count, self.out_of_order, dict(self.last)
        thread, seq = message
        if seq != self.last.get(thread, -1) + 1:
            self.out_of_order += 1
        self.last[thread] = seq
        self.count += 1
        return None


def test_messages_from_one_actor_arrive_in_the_order_sent(system: ActorSystem) -> None:
    log = system.spawn(Log)
    sender = system.spawn(Sender)
    assert sender.ask((log, 5000)).result(WAIT) == "sent"
    assert log.ask("get").result(WAIT) == list(range(5000))


def test_messages_from_the_test_thread_arrive_in_the_order_sent(system: ActorSystem) -> None:
    log = system.spawn(Log)
    for i in range(2000):
        log.tell(i)
    assert log.ask("get").result(WAIT) == list(range(2000))


def test_eight_threads_telling_ten_thousand_messages_each_are_all_counted_in_per_thread_order(
        system: ActorSystem) -> None:
    target = system.spawn(PerThreadOrder)
    start = threading.Barrier(8)

    def tell_all(thread: int) -> None:
        start.wait(WAIT)
        for seq in range(10_000):
            target.tell((thread, seq))

    threads = [threading.Thread(target=tell_all, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    count, out_of_order, last = target.ask("get").result(10)
    assert (count, out_of_order) == (80_000, 0)
    assert last == {t: 9_999 for t in range(8)}


def test_a_stop_overtakes_ten_thousand_queued_messages_which_go_to_dead_letters(system: ActorSystem) -> None:
    gate = Gate()
    probe = TestProbe(system)
    ref = system.spawn(Gated, gate, probe.ref)
    ref.tell("gate")
    gate.wait_entered()
    for i in range(10_000):
        ref.tell(i)
    ref.stop()
    gate.release.set()
    assert system.wait_terminated(ref, WAIT)
    probe.expect_no_message(0.05)
    reasons = system.dead_letters.by_reason()
    assert reasons.get("left in mailbox") == 10_000
    assert system.statistics()["dead_letters"] == 10_000


def test_the_dead_letter_of_a_message_left_in_the_mailbox_names_message_sender_and_recipient(
        system: ActorSystem) -> None:
    gate = Gate()
    sender = TestProbe(system)
    ref = system.spawn(Gated, gate, name="gated")
    ref.tell("gate")
    gate.wait_entered()
    ref.tell("orphan", sender.ref)
    ref.stop()
    gate.release.set()
    assert system.wait_terminated(ref, WAIT)
    assert system.dead_letters.recent(1) == [DeadLetter("orphan", sender.ref, "/user/gated", "left in mailbox")]


def test_a_stop_sent_right_after_user_messages_overtakes_all_of_them(system: ActorSystem) -> None:
    # Messages and stop are sent from one handler on the loop thread, so the target has run none of
    # them when the stop arrives: every message must go to dead letters, none may be handled.
    class TellThenStop(Actor):
        def receive(self, message: Any) -> None:
            target = message
            for i in range(100):
                target.tell(i)
            target.stop()

    target = system.spawn(Log)
    system.spawn(TellThenStop).tell(target)
    assert system.wait_terminated(target, WAIT)
    assert system.dead_letters.by_reason().get("left in mailbox") == 100


def test_telling_a_stopped_actor_never_raises_and_counts_a_dead_letter(system: ActorSystem) -> None:
    ref = system.spawn(Log, name="gone")
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    before = system.dead_letters.count
    ref.tell("hello?")
    assert system.dead_letters.count == before + 1
    letter = system.dead_letters.recent(1)[0]
    assert (letter.message, letter.recipient, letter.reason) == ("hello?", "/user/gone", "stopped")
    assert not ref.is_alive


def test_looking_up_an_unknown_or_stopped_actor_raises_ActorNotFound(system: ActorSystem) -> None:
    with pytest.raises(ActorNotFound, match="nobody"):
        system.lookup("nobody")
    ref = system.spawn(Log, name="brief")
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    with pytest.raises(ActorNotFound):
        system.lookup("/user/brief")


def test_a_dead_letter_subscriber_function_sees_every_new_letter_until_it_unsubscribes(system: ActorSystem) -> None:
    seen: list[DeadLetter] = []
    unsubscribe = system.dead_letters.subscribe(seen.append)
    ref = system.spawn(Log)
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    ref.tell(1)
    ref.tell(2)
    unsubscribe()
    ref.tell(3)
    assert [letter.message for letter in seen] == [1, 2]
    assert system.dead_letters.count == 3


def test_a_dead_letter_subscriber_actor_receives_DeadLetter_messages(system: ActorSystem) -> None:
    probe = TestProbe(system)
    system.dead_letters.subscribe(probe.ref)
    ref = system.spawn(Log)
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    ref.tell("late", probe.ref)
    letter = probe.expect(DeadLetter)
    assert (letter.message, letter.sender, letter.reason) == ("late", probe.ref, "stopped")


def test_a_failing_dead_letter_subscriber_does_not_hide_letters_from_the_others(system: ActorSystem) -> None:
    seen: list[DeadLetter] = []

    def broken(letter: DeadLetter) -> None:
        raise RuntimeError("subscriber bug")

    system.dead_letters.subscribe(broken)
    system.dead_letters.subscribe(seen.append)
    ref = system.spawn(Log)
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    ref.tell("x")
    assert [letter.message for letter in seen] == ["x"]


def test_telling_an_actor_of_a_closed_system_raises_SystemClosed() -> None:
    system = ActorSystem("closing")
    ref: ActorRef = system.spawn(Log)
    assert system.shutdown(timeout=10)
    with pytest.raises(SystemClosed):
        ref.tell("too late")
