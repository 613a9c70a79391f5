"""ActorPool: map items over actors with a bound on what is in flight per actor (Ray's ActorPool)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import rayka
from rayka.patterns import ActorPool, Pool

pytestmark = pytest.mark.timeout(30)


class Square(rayka.Actor):
    def receive(self, n: Any) -> Any:
        if n == "boom":
            raise ValueError("boom")
        return n * n

    def cube(self, n: int) -> int:
        return n ** 3


class Slow(rayka.Actor):
    """Holds each item until ``release`` is set; counts what waits in its mailbox meanwhile."""

    blocking = True

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def receive(self, n: Any) -> Any:
        self.release.wait(10)
        return n


def test_map_keeps_item_order_and_map_unordered_gives_every_result(system: rayka.ActorSystem) -> None:
    squares = [system.spawn(Square) for _ in range(3)]
    pool = ActorPool(squares)
    assert list(pool.map(None, range(50))) == [n * n for n in range(50)]
    assert sorted(pool.map_unordered(None, range(50))) == [n * n for n in range(50)]
    cubes = pool.map(lambda ref, n: ref.proxy().cube(n), range(5))
    assert list(cubes) == [0, 1, 8, 27, 64]


def test_a_pools_ref_gives_its_routees(system: rayka.ActorSystem) -> None:
    pool = ActorPool(system.spawn(Pool, Square, 4, placement="spread"))  # "spread" over one node: here
    assert len(pool.actors) == 4
    assert list(pool.map(None, [2, 3])) == [4, 9]


def test_no_actor_gets_more_than_in_flight_asks_at_once(system: rayka.ActorSystem) -> None:
    release = threading.Event()
    slow = [system.spawn(Slow, release) for _ in range(2)]
    lock, outstanding, most = threading.Lock(), {ref: 0 for ref in slow}, {ref: 0 for ref in slow}
    six_sent = threading.Event()

    def submit(ref: rayka.ActorRef, n: Any) -> rayka.Reply:
        with lock:  # counted before the ask is made, so an answer cannot be counted first
            outstanding[ref] += 1
            most[ref] = max(most[ref], outstanding[ref])
            if sum(outstanding.values()) == 6:
                six_sent.set()
        reply = ref.ask(n, timeout=None)
        reply.add_done_callback(lambda _: answered(ref))
        return reply

    def answered(ref: rayka.ActorRef) -> None:
        with lock:
            outstanding[ref] -= 1

    results = ActorPool(slow, in_flight=3).map(submit, range(20))
    first = threading.Thread(target=lambda: next(results))
    first.start()
    try:
        assert six_sent.wait(10)  # the pool sent what it may: 2 actors x 3, while none has answered
        assert list(most.values()) == [3, 3]
    finally:
        release.set()
    first.join(10)
    assert list(results) == list(range(1, 20))
    assert list(most.values()) == [3, 3]  # never more than in_flight outstanding, over the whole map
    assert max(ref.statistics().peak for ref in slow) <= 3


def test_an_items_error_is_raised_in_its_place(system: rayka.ActorSystem) -> None:
    results = ActorPool([system.spawn(Square)]).map(None, [1, 2, "boom", 4])
    assert next(results) == 1 and next(results) == 4
    with pytest.raises(ValueError, match="boom"):
        next(results)


def test_bad_arguments_are_refused_with_a_clear_error(system: rayka.ActorSystem) -> None:
    with pytest.raises(ValueError, match="in_flight must be an int >= 1"):
        ActorPool([system.spawn(Square)], in_flight=0)
    with pytest.raises(ValueError, match="needs at least one ActorRef"):
        ActorPool([])
    with pytest.raises(TypeError, match="fn must return a Reply"):
        list(ActorPool([system.spawn(Square)]).map(lambda ref, n: n, [1]))
