"""A work queue's delivery limit: work that keeps coming back is given up, once, and never lost silently."""

from __future__ import annotations

from typing import Any

import pytest

import rayka
from rayka.patterns import (
    Consumer,
    Delivery,
    Drain,
    GetQueueStatistics,
    GivenUp,
    Put,
    PutMany,
    Release,
    WorkQueue,
)
from rayka.testing import ManualClock, TestProbe

from .test_workqueue import Hoarder, Recording, started

pytestmark = pytest.mark.timeout(30)


class AlwaysFails(Consumer):
    """Handles everything except ``"poison"``, on which it crashes every time."""

    window = 64

    def __init__(self, queue: rayka.ActorRef, handled: list) -> None:
        super().__init__(queue)
        self.handled = handled

    def handle(self, work: Any) -> None:
        if work == "poison":
            raise RuntimeError("cannot handle poison")
        self.handled.append(work)


def test_work_that_keeps_crashing_its_consumers_is_given_up_after_max_deliveries(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    queue = system.spawn(WorkQueue, 100, max_deliveries=3, dead_letter=probe.ref)
    handled: list = []
    works = tuple(f"w{n}" for n in range(10)) + ("poison",) + tuple(f"w{n}" for n in range(10, 20))
    queue.ask(PutMany(works)).result(timeout=5)
    system.spawn(AlwaysFails, queue, handled)
    system.spawn(AlwaysFails, queue, handled)
    assert queue.ask(Drain()).result(timeout=10) == 20  # the queue is empty: the poison left it
    given = probe.expect(GivenUp)
    assert (given.id, given.work, given.deliveries, given.queue) == (11, "poison", 3, queue)
    probe.expect_no_message(0.05)
    assert sorted(handled) == sorted(w for w in works if w != "poison")
    statistics = queue.ask(GetQueueStatistics()).result(timeout=5)
    assert (statistics.given_up, statistics.acknowledged, statistics.pending) == (1, 20, 0)


def test_without_a_dead_letter_actor_given_up_work_goes_to_the_system_dead_letters(system: rayka.ActorSystem) -> None:
    letters = TestProbe(system)
    system.dead_letters.subscribe(letters.ref)
    queue = system.spawn(WorkQueue, 10, max_deliveries=2)
    probe = TestProbe(system)
    hoarder = system.spawn(Hoarder, queue, 1, probe.ref)
    queue.ask(Put("job")).result(timeout=5)
    assert probe.expect(Delivery) == Delivery(1, "job", 1)
    queue.tell(Release(1), hoarder)
    assert probe.expect(Delivery) == Delivery(1, "job", 2)  # the only consumer gets it again
    queue.tell(Release(1), hoarder)
    letter = letters.expect(rayka.DeadLetter)
    assert letter.reason == "delivery limit" and letter.message == GivenUp(1, "job", 2, queue)
    probe.expect_no_message(0.05)
    assert queue.ask(Drain()).result(timeout=5) == 0


def test_work_that_misses_its_deadline_too_often_is_given_up(clocked: rayka.ActorSystem,
                                                            clock: ManualClock) -> None:
    dead = TestProbe(clocked)
    queue = clocked.spawn(WorkQueue, 10, ack_timeout=1.0, max_deliveries=1, dead_letter=dead.ref)
    probe = TestProbe(clocked)
    clocked.spawn(Hoarder, queue, 5, probe.ref)
    queue.ask(PutMany(("a", "b"))).result(timeout=5)
    assert [d.work for d in probe.expect_n(2)] == ["a", "b"]
    clock.advance(1.5)
    assert [(g.id, g.work) for g in dead.expect_n(2)] == [(1, "a"), (2, "b")]
    probe.expect_no_message(0.05)  # never delivered again


def test_a_durable_queue_does_not_recover_work_it_gave_up(system: rayka.ActorSystem, tmp_path: Any) -> None:
    path = str(tmp_path / "poison.db")
    dead = TestProbe(system)
    first = system.spawn(WorkQueue, 10, journal=path, max_deliveries=1, dead_letter=dead.ref)
    probe = TestProbe(system)
    hoarder = system.spawn(Hoarder, first, 1, probe.ref)
    first.ask(PutMany(("poison", "kept"))).result(timeout=5)
    assert probe.expect(Delivery).work == "poison"
    first.tell(Release(1), hoarder)
    assert dead.expect(GivenUp).work == "poison"
    assert probe.expect(Delivery).work == "kept"  # held, never acknowledged, while the queue stops
    first.stop()
    assert system.wait_terminated(first, timeout=10)
    second = system.spawn(WorkQueue, 10, journal=path, max_deliveries=1, dead_letter=dead.ref)
    log: list = []
    started(system.spawn(Recording, second, log))
    assert second.ask(Drain()).result(timeout=5) == 1
    assert [d.work for _, d in log] == ["kept"]


def test_a_bad_delivery_limit_or_dead_letter_actor_is_refused_at_spawn(system: rayka.ActorSystem) -> None:
    with pytest.raises(ValueError, match="max_deliveries must be an int >= 1"):
        system.spawn(WorkQueue, 10, max_deliveries=0)
    with pytest.raises(TypeError, match="dead_letter must be an ActorRef"):
        system.spawn(WorkQueue, 10, max_deliveries=2, dead_letter="dead")
