"""Mailbox specs: frozen values that say which mailbox an actor gets.

Pass one to ``spawn(..., mailbox=...)`` or set it as the class attribute
``mailbox`` of an actor class. A spec is shared; each actor gets its own
queue from ``create()``, kept across restarts.

Example:
    >>> from rayka.mailbox import Bounded
    >>> Bounded(100, overflow="drop_oldest").capacity
    100
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._queues import BoundedQueue, PriorityQueue, UnboundedQueue

__all__ = ["OVERFLOW_POLICIES", "Bounded", "Mailbox", "Priority", "Unbounded"]

OVERFLOW_POLICIES = ("drop_new", "drop_oldest", "fail", "backpressure")


def _check_capacity(capacity: int | None, overflow: str) -> None:
    if capacity is not None and (not isinstance(capacity, int) or capacity < 1):
        raise ValueError(f"mailbox capacity must be a positive int or None, got {capacity!r}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"unknown overflow policy {overflow!r}: use one of {', '.join(OVERFLOW_POLICIES)}")


class Mailbox:
    """Base of the mailbox specs."""

    __slots__ = ()

    def create(self) -> UnboundedQueue:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Unbounded(Mailbox):
    """FIFO without a bound (the default)."""

    def create(self) -> UnboundedQueue:
        return UnboundedQueue()


@dataclass(frozen=True, slots=True)
class Bounded(Mailbox):
    """FIFO holding at most ``capacity`` messages.

    Overflow policies: ``drop_new`` (the new message goes to dead letters),
    ``drop_oldest`` (the oldest queued one does), ``fail`` (``tell`` raises
    :class:`~rayka.MailboxFull`), ``backpressure`` (``tell`` raises
    ``MailboxFull`` while full; ``ref.send(message)`` waits for room).
    """

    capacity: int
    overflow: str = "drop_new"

    def __post_init__(self) -> None:
        if self.capacity is None:
            raise ValueError("Bounded mailbox needs a capacity; use Unbounded() for no bound")
        _check_capacity(self.capacity, self.overflow)

    def create(self) -> BoundedQueue:
        return BoundedQueue(self.capacity, self.overflow)


@dataclass(frozen=True, slots=True)
class Priority(Mailbox):
    """Lowest ``key(message)`` first, arrival order among equals; optionally bounded.

    ``backpressure`` is not offered here: a waiting sender could be overtaken
    by more urgent messages forever.
    """

    key: Callable[[Any], Any]
    capacity: int | None = None
    overflow: str = "drop_new"

    def __post_init__(self) -> None:
        _check_capacity(self.capacity, self.overflow)
        if self.overflow == "backpressure":
            raise ValueError("Priority mailbox does not support overflow='backpressure'; use Bounded")

    def create(self) -> PriorityQueue:
        return PriorityQueue(self.key, self.capacity, self.overflow)
