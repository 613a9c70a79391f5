"""Small actors shared by the mailbox tests (not a test module)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from rayka import Actor, ActorRef
from rayka.mailbox import MailboxStatistics

WAIT = 5.0


class Gate:
    """The handler sets ``entered`` and waits until the test sets ``release``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wait_entered(self) -> None:
        assert self.entered.wait(WAIT), "the gated handler never started"


class Gated(Actor):
    """Holds its (async) handler on ``"gate"`` so the mailbox fills up; forwards the rest to ``out``."""

    def __init__(self, gate: Gate, out: ActorRef | None = None) -> None:
        self.gate = gate
        self.out = out

    async def receive(self, message: Any) -> Any:
        if message == "gate":
            self.gate.entered.set()
            await asyncio.to_thread(self.gate.release.wait, WAIT)
            return "opened"
        if self.out is not None:
            self.out.tell(message)
        return message


def statistics(ref: ActorRef) -> MailboxStatistics:
    """The mailbox statistics of ``ref`` (there is no public accessor on ActorRef yet)."""
    return ref._cell.mailbox.statistics()
