"""The reliable work queue: pulling within a window, acks, redelivery on death and deadline, backpressure."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from .patterns_support import Tally

import rayka
from rayka.patterns import (
    Ack,
    AckError,
    AckRejected,
    Consumer,
    Deliveries,
    Delivery,
    Drain,
    GetQueueStatistics,
    Pull,
    Put,
    PutMany,
    QueueStatistics,
    Release,
    SeenIds,
    WorkQueue,
)
from rayka.testing import ManualClock, TestProbe

pytestmark = pytest.mark.timeout(30)


def stats(queue: rayka.ActorRef) -> QueueStatistics:
    return queue.ask(GetQueueStatistics()).result(timeout=5)


class Recording(Consumer):
    """Records (consumer name, delivery) for every piece of work it handles."""

    def __init__(self, queue: rayka.ActorRef, log: list, **options: Any) -> None:
        super().__init__(queue, **options)
        self.log = log

    def handle(self, work: Any) -> None:
        self.log.append((self.context.self.name, self.delivery))

    def on_message(self, message: Any) -> str:
        return "pong"


def started(consumer: rayka.ActorRef) -> rayka.ActorRef:
    """Return once ``consumer`` has run ``on_start`` (which sends its Pull): its first ask comes after it."""
    consumer.ask("ping").result(timeout=5)
    return consumer


class Hoarder(rayka.Actor):
    """A consumer that pulls and never acknowledges: it forwards each delivery to a probe."""

    def __init__(self, queue: rayka.ActorRef, window: int, probe: rayka.ActorRef) -> None:
        self.queue, self.window, self.probe = queue, window, probe

    def on_start(self) -> None:
        self.queue.tell(Pull(self.window), self.context.self)

    def receive(self, message: Any) -> None:
        if isinstance(message, Deliveries):
            for delivery in message.batch:
                self.probe.tell(delivery)
        else:
            self.probe.tell(message)


def test_put_answers_ids_in_order_and_a_consumer_gets_each_work_once(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    assert queue.ask(Put("a")).result(timeout=5) == 1
    assert queue.ask(PutMany(("b", "c"))).result(timeout=5) == [2, 3]
    log: list = []
    system.spawn(Recording, queue, log)
    assert queue.ask(Drain()).result(timeout=5) == 3
    assert [d for _, d in log] == [Delivery(1, "a", 1), Delivery(2, "b", 1), Delivery(3, "c", 1)]
    s = stats(queue)
    assert (s.accepted, s.acknowledged, s.pending, s.in_flight, s.redelivered) == (3, 3, 0, 0, 0)


def test_work_is_spread_over_consumers_and_none_is_lost_or_doubled(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 1000, max_batch=8)
    log: list = []
    for _ in range(4):
        system.spawn(Recording, queue, log, window=16)
    for start in range(0, 2000, 100):
        queue.ask(PutMany(tuple(range(start, start + 100))), timeout=10).result()
    assert queue.ask(Drain()).result(timeout=10) == 2000
    assert sorted(d.work for _, d in log) == list(range(2000))
    assert len({name for name, _ in log}) == 4


def test_a_consumer_never_holds_more_than_its_window(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    probe = TestProbe(system)
    system.spawn(Hoarder, queue, 3, probe.ref)
    queue.ask(PutMany(tuple(range(10)))).result(timeout=5)
    assert [d.id for d in probe.expect_n(3)] == [1, 2, 3]
    probe.expect_no_message(0.05)
    s = stats(queue)
    assert (s.in_flight, s.pending) == (3, 7)


class CrashOnce(Recording):
    """Fails on the work ``"poison"`` the first time it meets it (any instance), handles everything else."""

    def __init__(self, queue: rayka.ActorRef, log: list, crashed: list, **options: Any) -> None:
        super().__init__(queue, log, **options)
        self.crashed = crashed

    def handle(self, work: Any) -> None:
        if work == "poison" and not self.crashed:
            self.crashed.append(self.context.self)
            raise RuntimeError("consumer crashed mid-message")
        super().handle(work)


def test_work_of_a_consumer_that_crashes_mid_message_is_redelivered_and_none_lost(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    log: list = []
    crashed: list = []
    works = tuple(f"w{n}" for n in range(10)) + ("poison",) + tuple(f"w{n}" for n in range(10, 20))
    queue.ask(PutMany(works)).result(timeout=5)
    first = system.spawn(CrashOnce, queue, log, crashed, name="first", window=64)  # takes the whole batch
    assert queue.ask(Drain()).result(timeout=10) == 21  # the restarted consumer takes it back
    assert crashed == [first]
    assert sorted(d.work for _, d in log) == sorted(works)
    assert [d.attempt for _, d in log if d.work == "poison"] == [2]
    assert sum(d.attempt > 1 for _, d in log) == 1  # the 10 after it in its batch were released untried
    assert stats(queue).redelivered == 11


def test_a_redelivery_goes_to_another_consumer_when_there_is_one(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    log: list = []
    crashed: list = []
    a = system.spawn(CrashOnce, queue, log, crashed, name="a", window=1)
    started(system.spawn(Recording, queue, log, name="b", window=1))
    queue.ask(Put("poison")).result(timeout=5)
    assert queue.ask(Drain()).result(timeout=10) == 1
    assert crashed == [a]
    assert log == [("b", Delivery(1, "poison", 2))]


def test_a_consumer_that_dies_has_its_unacknowledged_work_redelivered(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    probe = TestProbe(system)
    hoarder = system.spawn(Hoarder, queue, 5, probe.ref)
    queue.ask(PutMany(tuple(range(5)))).result(timeout=5)
    assert [d.id for d in probe.expect_n(5)] == [1, 2, 3, 4, 5]
    log: list = []
    system.spawn(Recording, queue, log)
    hoarder.stop()
    assert queue.ask(Drain()).result(timeout=10) == 5
    assert [(d.id, d.attempt) for _, d in log] == [(i, 2) for i in range(1, 6)]


def test_work_never_acknowledged_is_redelivered_after_the_deadline(clocked: rayka.ActorSystem,
                                                                     clock: ManualClock) -> None:
    queue = clocked.spawn(WorkQueue, 100, ack_timeout=10.0)
    probe = TestProbe(clocked)
    clocked.spawn(Hoarder, queue, 3, probe.ref)
    queue.ask(PutMany(("a", "b", "c"))).result(timeout=5)
    assert [d.id for d in probe.expect_n(3)] == [1, 2, 3]
    log: list = []
    started(clocked.spawn(Recording, queue, log, name="good"))
    assert stats(queue).consumers == 2
    clock.advance(9.0)
    assert stats(queue).in_flight == 3  # not yet
    clock.advance(1.0)
    assert queue.ask(Drain()).result(timeout=10) == 3
    assert [d for _, d in log] == [Delivery(1, "a", 2), Delivery(2, "b", 2), Delivery(3, "c", 2)]
    # the hoarder's late ack is refused: the work was done again and acknowledged
    with pytest.raises(AckError, match=r"\[1, 2, 3\] that were already acknowledged") as caught:
        queue.ask(Ack((1, 2, 3))).result(timeout=5)
    assert caught.value.already_acknowledged == (1, 2, 3)


def test_a_released_delivery_goes_to_another_consumer(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 100)
    probe = TestProbe(system)
    hoarder = system.spawn(Hoarder, queue, 1, probe.ref)
    queue.ask(Put("job")).result(timeout=5)
    assert probe.expect(Delivery).id == 1
    log: list = []
    started(system.spawn(Recording, queue, log, name="other"))
    queue.tell(Release(1), hoarder)
    assert queue.ask(Drain()).result(timeout=5) == 1
    assert log == [("other", Delivery(1, "job", 2))]


def test_a_producer_faster_than_the_consumers_waits_and_the_queue_stays_bounded(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 10)
    puts = [queue.ask(Put(n), timeout=10) for n in range(30)]
    assert [p.result(timeout=5) for p in puts[:10]] == list(range(1, 11))
    s = stats(queue)
    assert (s.pending, s.waiting_puts) == (10, 20)
    assert not any(p.done() for p in puts[10:])  # the producer is held back
    log: list = []
    system.spawn(Recording, queue, log, window=4)
    assert [p.result(timeout=10) for p in puts[10:]] == list(range(11, 31))
    assert queue.ask(Drain()).result(timeout=10) == 30
    assert sorted(d.work for _, d in log) == list(range(30))
    assert stats(queue).peak == 10


class Producer(rayka.Actor):
    """Puts ``total`` works one at a time, waiting for each put to be accepted."""

    def __init__(self, queue: rayka.ActorRef, total: int) -> None:
        self.queue, self.total = queue, total

    async def receive(self, message: Any) -> int:
        for n in range(self.total):
            await self.queue.ask(Put(n), timeout=10)
        return self.total


class Slow(Consumer):
    window = 2

    def __init__(self, queue: rayka.ActorRef, tally: Tally) -> None:
        super().__init__(queue)
        self.tally = tally

    def handle(self, work: Any) -> None:
        self.tally.add()


def test_a_fast_producer_actor_never_makes_the_queue_hold_more_than_its_capacity(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 8, max_batch=1)
    tally = Tally(2000)
    system.spawn(Slow, queue, tally)
    producer = system.spawn(Producer, queue, 2000)
    assert producer.ask("go", timeout=20).result() == 2000
    assert tally.wait(10)
    s = stats(queue)
    assert s.peak <= 8 and s.acknowledged == 2000


def test_an_ack_for_an_unknown_id_fails_the_ask_with_a_clear_error(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 10)
    queue.ask(Put("x")).result(timeout=5)
    with pytest.raises(AckError, match=r"ids \[99\] that it never delivered") as caught:
        queue.ask(Ack(99)).result(timeout=5)
    assert caught.value.unknown == (99,)
    assert stats(queue).pending == 1  # nothing lost


def test_an_ack_for_an_already_acknowledged_id_fails_the_ask(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 10)
    probe = TestProbe(system)
    system.spawn(Hoarder, queue, 5, probe.ref)
    queue.ask(PutMany(("x", "y"))).result(timeout=5)
    probe.expect_n(2)
    assert queue.ask(Ack(1)).result(timeout=5) == 1
    with pytest.raises(AckError, match=r"\[1\] that were already acknowledged"):
        queue.ask(Ack(1)).result(timeout=5)
    with pytest.raises(AckError) as caught:  # a mixed ack: the good id counts, the bad ones are named
        queue.ask(Ack((2, 1, 7))).result(timeout=5)
    assert (caught.value.already_acknowledged, caught.value.unknown) == ((1,), (7,))
    s = stats(queue)
    assert (s.acknowledged, s.pending, s.in_flight, s.rejected_acks) == (2, 0, 0, 3)


def test_a_told_bad_ack_comes_back_to_its_sender_as_ack_rejected(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 10)
    probe = TestProbe(system)
    queue.tell(Ack((5, 6)), probe.ref)
    rejected = probe.expect(AckRejected)
    assert rejected.error.unknown == (5, 6)


def test_a_consumer_is_told_when_its_ack_is_refused(system: rayka.ActorSystem) -> None:
    errors: list = []
    done = threading.Event()

    class Reporting(Consumer):
        def handle(self, work: Any) -> None:
            pass

        def on_ack_failed(self, error: BaseException) -> None:
            errors.append(error)
            done.set()

    queue = system.spawn(WorkQueue, 10)
    consumer = system.spawn(Reporting, queue)
    queue.tell(Ack(42), consumer)
    assert done.wait(5)
    assert isinstance(errors[0], AckError) and errors[0].unknown == (42,)


def test_bad_puts_and_pulls_and_messages_are_refused_without_harming_the_queue(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 3)
    queue.ask(Put("kept")).result(timeout=5)
    with pytest.raises(ValueError, match="cannot fit"):
        queue.ask(PutMany(("a", "b", "c", "d"))).result(timeout=5)
    with pytest.raises(ValueError, match="needs a window >= 0 and a consumer"):
        queue.ask(Pull(4)).result(timeout=5)
    with pytest.raises(TypeError, match="does not handle str"):
        queue.ask("hello").result(timeout=5)
    assert stats(queue).pending == 1


def test_an_effectively_once_consumer_skips_work_it_has_handled_before(clocked: rayka.ActorSystem,
                                                                       clock: ManualClock) -> None:
    seen = SeenIds()
    handled: list = []

    class Remembering(Hoarder):  # handles and remembers, but its acks never arrive
        def receive(self, message: Any) -> None:
            if isinstance(message, Deliveries):
                for delivery in message.batch:
                    handled.append(delivery.work)
                    seen.add(delivery.id)
                self.probe.tell("handled")

    queue = clocked.spawn(WorkQueue, 10, ack_timeout=5.0)
    probe = TestProbe(clocked)
    clocked.spawn(Remembering, queue, 5, probe.ref)
    queue.ask(PutMany(("a", "b"))).result(timeout=5)
    probe.expect("handled")
    log: list = []
    started(clocked.spawn(Recording, queue, log, seen=seen))
    clock.advance(5.0)
    assert queue.ask(Drain()).result(timeout=5) == 2
    assert handled == ["a", "b"] and log == []  # redelivered, recognised, acknowledged, not redone
    assert stats(queue).redelivered == 2


class Crashable(WorkQueue):
    def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("queue crashed")
        return super().receive(message)


def test_consumers_find_a_restarted_durable_queue_again(clocked: rayka.ActorSystem, clock: ManualClock,
                                                       tmp_path: Any) -> None:
    from rayka.persistence import SqliteJournal

    with SqliteJournal(str(tmp_path / "queue.db")) as journal:
        queue = clocked.spawn(Crashable, 10, journal=journal)
        log: list = []
        started(clocked.spawn(Recording, queue, log))
        queue.ask(Put("before")).result(timeout=5)
        assert queue.ask(Drain()).result(timeout=5) == 1
        with pytest.raises(RuntimeError):
            queue.ask("crash").result(timeout=5)
        queue.ask(Put("after")).result(timeout=5)  # the new instance does not know the consumer yet
        assert stats(queue).consumers == 0
        clock.advance(Consumer.repull_every)
        assert queue.ask(Drain()).result(timeout=5) == 1
        assert [d.work for _, d in log] == ["before", "after"]
        clocked.shutdown()


def test_a_consumer_stops_when_its_queue_stops(system: rayka.ActorSystem) -> None:
    queue = system.spawn(WorkQueue, 10)
    consumer = started(system.spawn(Recording, queue, []))
    queue.stop()
    assert system.wait_terminated(consumer, 5)


def test_told_puts_wait_up_to_the_capacity_and_more_are_refused_to_their_sender(system: rayka.ActorSystem) -> None:
    from rayka.patterns import PutRejected

    letters = TestProbe(system)
    system.dead_letters.subscribe(letters.ref)
    queue = system.spawn(WorkQueue, 3)
    producer = TestProbe(system)
    for n in range(10):
        queue.tell(Put(n), producer.ref)
    refused = producer.expect_n(4)
    assert [r.works for r in refused] == [(6,), (7,), (8,), (9,)]
    assert all(isinstance(r, PutRejected) and "is full" in r.reason for r in refused)
    assert [(d.message, d.reason) for d in letters.expect_n(4)] == [(Put(n), "queue full") for n in range(6, 10)]
    s = stats(queue)
    assert (s.pending, s.waiting_puts, s.refused_puts) == (3, 3, 4)
    log: list = []
    system.spawn(Recording, queue, log, window=2)
    assert queue.ask(Drain()).result(timeout=10) == 6
    assert [d.work for _, d in log] == list(range(6))
    queue.tell(Put("room again"), producer.ref)
    producer.expect_no_message(0.05)


def test_told_puts_still_waiting_when_the_queue_stops_go_back_to_their_sender(system: rayka.ActorSystem) -> None:
    from rayka.patterns import PutRejected

    queue = system.spawn(WorkQueue, 2)
    producer = TestProbe(system)
    queue.tell(Put("in"), producer.ref)
    queue.tell(PutMany(("waits", "too")), producer.ref)  # 3 > 2: it waits
    assert stats(queue).waiting_puts == 1
    queue.stop()
    refused = producer.expect(PutRejected)
    assert refused.works == ("waits", "too") and "stopped" in refused.reason
    assert system.wait_terminated(queue, timeout=5)
    assert [d.reason for d in system.dead_letters.recent() if d.message == PutMany(("waits", "too"))] == ["stopped"]
