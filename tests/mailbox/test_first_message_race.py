"""Two threads racing to send the first message to new actors lose nothing."""

from __future__ import annotations

import sys
import threading

import pytest

import rayka

pytestmark = pytest.mark.timeout(60)


class Count(rayka.Actor):
    def __init__(self) -> None:
        self.n = 0

    def receive(self, message):
        if message == "n":
            return self.n
        self.n += 1
        return None


def test_two_threads_sending_the_first_messages_to_fresh_actors_lose_none():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke the race
    try:
        with rayka.ActorSystem("race") as system:
            refs = [system.spawn(Count) for _ in range(5_000)]
            barrier = threading.Barrier(2)

            def send() -> None:
                barrier.wait()
                for ref in refs:
                    ref.tell(1)

            threads = [threading.Thread(target=send) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            handled = sum(ref.ask("n").result(timeout=10) for ref in refs)
    finally:
        sys.setswitchinterval(previous)
    assert handled == 10_000
    assert system.dead_letters.count == 0
