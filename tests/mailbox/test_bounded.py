"""Bounded mailboxes: each overflow policy, backpressure with send, and what bypasses the bound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from .mailkit import WAIT, Gate, Gated, statistics

from rayka import Actor, ActorRef, ActorStopped, ActorSystem, MailboxFull, Terminated
from rayka.mailbox import OVERFLOW_POLICIES, Bounded, Priority, Unbounded
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release.set()  # never leave a handler waiting into the system's shutdown


@pytest.fixture
def probe(system: ActorSystem) -> TestProbe:
    return TestProbe(system)


def gated(system: ActorSystem, gate: Gate, probe: TestProbe, capacity: int, overflow: str) -> ActorRef:
    """A gated actor with a bounded mailbox, held inside its first handler: the mailbox is empty and waiting."""
    ref = system.spawn(Gated, gate, probe.ref, name="bounded", mailbox=Bounded(capacity, overflow))
    ref.tell("gate")
    gate.wait_entered()
    return ref


def test_drop_new_keeps_the_first_messages_and_dead_letters_the_rest(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 3, "drop_new")
    for i in range(1, 6):
        ref.tell(i)
    assert [(d.message, d.reason, d.recipient) for d in system.dead_letters.recent()] == [
        (4, "overflow", "/user/bounded"), (5, "overflow", "/user/bounded")]
    assert statistics(ref).dropped == 2
    gate.release.set()
    assert probe.expect_n(3) == [1, 2, 3]
    probe.expect_no_message(0.05)


def test_drop_oldest_keeps_the_latest_messages_and_dead_letters_the_oldest(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 3, "drop_oldest")
    for i in range(1, 6):
        ref.tell(i)
    assert [d.message for d in system.dead_letters.recent()] == [1, 2]
    assert system.dead_letters.by_reason() == {"overflow": 2}
    gate.release.set()
    assert probe.expect_n(3) == [3, 4, 5]


def test_fail_raises_MailboxFull_at_tell_and_at_ask(system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 2, "fail")
    ref.tell(1)
    ref.tell(2)
    with pytest.raises(MailboxFull, match=r"/user/bounded.*full \(2 messages\)"):
        ref.tell(3)
    with pytest.raises(MailboxFull):
        ref.ask(4)
    assert system.dead_letters.count == 0
    gate.release.set()
    assert probe.expect_n(2) == [1, 2]
    ref.tell(5)  # room again
    probe.expect(5)


def test_an_ask_dropped_by_overflow_fails_at_once_instead_of_waiting_for_its_timeout(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 1, "drop_new")
    ref.tell(1)
    reply = ref.ask(2, timeout=60)
    assert reply.done()
    with pytest.raises(MailboxFull, match="overflow"):
        reply.result(0)


def test_backpressure_tell_raises_while_full_and_send_waits_for_room_keeping_order(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 2, "backpressure")
    for i in (1, 2):
        assert ref.send(i).result(WAIT) is None  # room: accepted at once
    with pytest.raises(MailboxFull, match="send"):
        ref.tell(99)
    waiting = [ref.send(i) for i in (3, 4)]
    assert not any(reply.done() for reply in waiting)
    assert statistics(ref).waiting == 2
    with pytest.raises(MailboxFull):
        ref.tell(100)  # waiting senders keep their place in line
    gate.release.set()
    for reply in waiting:
        assert reply.result(WAIT) is None
    assert probe.expect_n(4) == [1, 2, 3, 4]
    assert system.dead_letters.count == 0


def test_backpressure_send_is_awaitable_from_asyncio_code(system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    import asyncio

    ref = gated(system, gate, probe, 1, "backpressure")

    async def producer() -> None:
        for i in range(5):
            await ref.send(i)

    async def main() -> None:
        task = asyncio.ensure_future(producer())
        await asyncio.sleep(0)
        gate.release.set()
        await asyncio.wait_for(task, WAIT)

    asyncio.run(main())
    assert probe.expect_n(5) == [0, 1, 2, 3, 4]


def test_a_send_waiting_for_room_fails_with_ActorStopped_when_the_actor_stops(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    ref = gated(system, gate, probe, 1, "backpressure")
    ref.tell(1)
    waiting = ref.send(2)
    ref.stop()
    gate.release.set()
    assert system.wait_terminated(ref, WAIT)
    with pytest.raises(ActorStopped):
        waiting.result(1)


def test_send_to_an_unbounded_mailbox_resolves_at_once(system: ActorSystem, probe: TestProbe) -> None:
    assert probe.ref.send("x").result(WAIT) is None
    probe.expect("x")


def test_lifecycle_signals_bypass_a_full_bound(system: ActorSystem, gate: Gate) -> None:
    out = TestProbe(system)

    class GatedWatcher(Gated):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, tuple) and message[0] == "watch":
                self.context.watch(message[1])
                return "watching"
            return await super().receive(message)

    target = system.spawn(Gated, Gate())
    watcher = system.spawn(GatedWatcher, gate, out.ref, mailbox=Bounded(1, "drop_new"))
    assert watcher.ask(("watch", target)).result(WAIT) == "watching"
    watcher.tell("gate")
    gate.wait_entered()
    watcher.tell("queued")
    target.stop()
    assert system.wait_terminated(target, WAIT)
    gate.release.set()
    assert out.expect("queued") == "queued"
    assert out.expect(Terminated) == Terminated(target)


def test_an_actor_class_can_declare_its_mailbox_and_spawn_can_override_it(system: ActorSystem) -> None:
    class Small(Actor):
        mailbox = Bounded(7, "fail")

        def receive(self, message: Any) -> Any:
            return message

    assert statistics(system.spawn(Small)).capacity == 7
    assert statistics(system.spawn(Small, mailbox=Unbounded())).capacity is None


@pytest.mark.parametrize("capacity", [0, -1, None, 2.5])
def test_a_bounded_mailbox_needs_a_positive_int_capacity(capacity: Any) -> None:
    with pytest.raises(ValueError, match="capacity"):
        Bounded(capacity)


def test_overflow_policies_are_validated_and_listed() -> None:
    assert set(OVERFLOW_POLICIES) == {"drop_new", "drop_oldest", "fail", "backpressure"}
    with pytest.raises(ValueError, match="drop_new"):
        Bounded(3, "explode")
    with pytest.raises(ValueError, match="backpressure"):
        Priority(key=len, capacity=3, overflow="backpressure")


def test_a_forwarded_ask_waiting_for_room_is_dead_lettered_once_when_the_actor_stops(
        system: ActorSystem, gate: Gate, probe: TestProbe) -> None:
    from rayka.actors import Reply

    ref = gated(system, gate, probe, 1, "backpressure")
    ref.tell(1)  # the mailbox is full now
    reply: Reply = Reply()
    waiting = ref._cell.put_envelope(("late", None, reply))
    assert waiting is not None and not waiting.done()
    before = system.dead_letters.count
    ref.stop()
    gate.release.set()
    assert system.wait_terminated(ref, timeout=WAIT)
    waiting.result(timeout=WAIT)
    with pytest.raises(ActorStopped):
        reply.result(timeout=WAIT)
    assert [letter.message for letter in system.dead_letters.recent()[-(system.dead_letters.count - before):]
            ].count("late") == 1
