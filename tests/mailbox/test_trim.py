"""An idle actor gives its empty mailbox deque back; senders racing that lose nothing and keep their order."""

from __future__ import annotations

import sys
import threading
import tracemalloc
from collections import deque

import pytest

import rayka
from rayka.actors import _cell, spi
from rayka.mailbox._queues import UnboundedQueue, rescue, trim_deque

pytestmark = pytest.mark.timeout(120)


class Ordered(rayka.Actor):
    """Checks that each sender's numbers arrive in order; answers how many arrived and how many were out of order."""

    def __init__(self) -> None:
        self.last: dict = {}
        self.count = self.disorder = 0

    def receive(self, message):
        if message == "stats":
            return self.count, self.disorder
        sender, n = message
        if n != self.last.get(sender, -1) + 1:
            self.disorder += 1
        self.last[sender] = n
        self.count += 1
        return None


def test_senders_racing_the_trim_lose_nothing_and_keep_their_order(monkeypatch):
    monkeypatch.setattr(_cell, "_TRIM_BELOW", 10**9)  # trim at every idle moment, not only the first 1,024
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke the race
    senders, each = 4, 20_000
    try:
        with rayka.ActorSystem("trim") as system:
            target = system.spawn(Ordered)
            barrier = threading.Barrier(senders)

            def send(me: int) -> None:
                barrier.wait()
                for n in range(each):
                    target.tell((me, n))

            threads = [threading.Thread(target=send, args=(me,)) for me in range(senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            count, disorder = target.ask("stats").result(timeout=30)
            dead = system.dead_letters.count
    finally:
        sys.setswitchinterval(previous)
    assert (count, disorder, dead) == (senders * each, 0, 0)


def test_a_sender_appending_to_a_deque_just_given_back_moves_its_message_to_the_live_one():
    queue = UnboundedQueue()

    class GivenBackFirst(deque):
        """The sender read this deque, then the loop went idle and gave it back before the append landed."""

        def append(self, envelope) -> None:
            trim_deque(queue)
            super().append(envelope)

    stale = queue._q = GivenBackFirst()
    queue.put("late")
    assert queue._q is not stale and len(stale) == 0
    assert queue.pop() == "late"


def test_rescue_puts_a_stale_message_behind_those_already_in_the_live_deque():
    queue = UnboundedQueue()
    queue.put("first")
    assert queue.pop() == "first"
    stale = queue._q
    trim_deque(queue)
    assert queue._q is None
    queue.put("a")  # another sender makes a new deque
    stale.append("late")
    rescue(queue, "_q", stale)
    assert [queue.pop(), queue.pop()] == ["a", "late"]


def test_a_trim_keeps_what_arrived_between_its_look_and_its_lock():
    queue = UnboundedQueue()
    queue.put("x")
    queue.pop()
    queue.put("y")  # not empty: nothing is given back
    trim_deque(queue)
    assert queue.pop() == "y"


def test_actors_that_handled_a_message_keep_no_deque_while_idle():
    with rayka.ActorSystem("small") as system:
        refs = [system.spawn(Ordered) for _ in range(2_000)]
        for ref in refs:
            ref.tell(("main", 0))
        assert [ref.ask("stats").result(timeout=10) for ref in refs] == [(1, 0)] * len(refs)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for ref in refs:  # one more message each, then idle again: a deque made and given back
                ref.tell(("main", 1))
            assert all(ref.ask("stats").result(timeout=10) == (2, 0) for ref in refs)
            system.spawn(Ordered).ask("stats").result(timeout=10)  # the loop is done with the last one's turn
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        kept = [cell for cell in (spi.cell_of(ref) for ref in refs) if cell.mailbox._q is not None]
    assert kept == []
    assert grown < 200 * len(refs)  # a deque kept by each would be ~600 bytes each
