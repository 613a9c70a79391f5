"""A persistent counter that increments for ever, printing ``ACK seq`` for each acknowledged increment.

Usage: ``python counter_script.py JOURNAL`` (``sqlite:<path>`` or ``postgres:<dsn>#<schema>``).
Meant to be killed with SIGKILL; the crash trials then recover it and compare.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import rayka  # noqa: E402
from rayka.patterns import PersistentActor  # noqa: E402
from tests.persistence.journals import open_spec  # noqa: E402


class Counter(PersistentActor):
    snapshot_every = 50

    def __init__(self, journal: Any) -> None:
        super().__init__(journal, "counter")
        self.total = 0

    def apply(self, event: Any) -> None:
        self.total += event

    def snapshot(self) -> Any:
        return self.total

    def restore(self, state: Any) -> None:
        self.total = state

    async def receive(self, message: Any) -> Any:
        if message == "total":
            return self.total, self.seq
        await self.persist(message)
        return self.total


def main(spec: str) -> None:
    with open_spec(spec) as journal, rayka.ActorSystem("counter") as system:
        counter = system.spawn(Counter, journal)
        pending: deque = deque()
        while True:
            pending.append(counter.ask(1, timeout=30))
            if len(pending) >= 16:
                sys.stdout.write(f"ACK {pending.popleft().result()}\n")
                sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
