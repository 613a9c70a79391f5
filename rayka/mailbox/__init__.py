"""Mailboxes: what each actor's queue is and how it overflows.

Specs (``Unbounded``, ``Bounded``, ``Priority``) are frozen values; an actor
gets its own queue from one. System messages never enter these queues: each
actor has a separate control lane that is always served first.
"""

from __future__ import annotations

from ._queues import BoundedQueue, MailboxStatistics, PriorityQueue, UnboundedQueue
from ._spec import OVERFLOW_POLICIES, Bounded, Mailbox, Priority, Unbounded

__all__ = [
    "OVERFLOW_POLICIES",
    "Bounded",
    "BoundedQueue",
    "Mailbox",
    "MailboxStatistics",
    "Priority",
    "PriorityQueue",
    "Unbounded",
    "UnboundedQueue",
]
