"""Small helpers shared by the mailbox tests (not a test module); the gate comes from the actor tests."""

from __future__ import annotations

from rayka import ActorRef
from rayka.mailbox import MailboxStatistics

from ..actors.actorkit import WAIT, Gate, Gated

__all__ = ["WAIT", "Gate", "Gated", "statistics"]


def statistics(ref: ActorRef) -> MailboxStatistics:
    """The mailbox statistics of ``ref``."""
    return ref.statistics()
