"""The messages, errors and statistics of the work queue.

Producer side: :class:`Put` and :class:`PutMany`, asked; the reply (the new
ids) comes once the queue has accepted the work, which is what holds a fast
producer back. Consumer side: :class:`Pull` states how many unacknowledged
deliveries a consumer can hold; the queue sends :class:`Deliveries` (batches
of :class:`Delivery`) within that window; the consumer answers with
:class:`Ack`, or :class:`Release` to hand work back.

Example:
    >>> Delivery(7, "resize img-7.png", 1)
    Delivery(id=7, work='resize img-7.png', attempt=1)
    >>> Ack((7, 8)).ids
    (7, 8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .._errors import RaykaError
from ..actors import ActorRef

__all__ = [
    "Ack",
    "AckError",
    "AckRejected",
    "Deliveries",
    "Delivery",
    "GetQueueStatistics",
    "GivenUp",
    "Pull",
    "Put",
    "PutMany",
    "PutRejected",
    "QueueStatistics",
    "Release",
]


class AckError(RaykaError, LookupError):
    """An acknowledgement named ids that the queue is not waiting for.

    The ids it does wait for in the same :class:`Ack` were acknowledged.

    Attributes:
        unknown: ids the queue never issued.
        already_acknowledged: ids issued and acknowledged before.
    """

    def __init__(self, message: str, unknown: tuple[int, ...] = (), already_acknowledged: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.unknown = unknown
        self.already_acknowledged = already_acknowledged


class Delivery(NamedTuple):
    """One piece of work handed to a consumer.

    Attributes:
        id: the work's id, given when it was put; acknowledge it with ``Ack``.
        work: what the producer put.
        attempt: 1 for the first delivery; more means it may have been
            handled before (its consumer died, missed the deadline, or the
            process restarted): check ``id`` to stay effectively-once.
    """

    id: int
    work: Any
    attempt: int


@dataclass(frozen=True, slots=True)
class Put:
    """Add one piece of work; an ask is answered with its id once the queue accepted it."""

    work: Any


@dataclass(frozen=True, slots=True)
class PutMany:
    """Add several pieces of work at once (all or none); an ask is answered with their ids, in order."""

    works: tuple


@dataclass(frozen=True, slots=True)
class Pull:
    """Say that ``consumer`` can hold ``window`` unacknowledged deliveries; send it again to change it.

    ``consumer`` defaults to the message's sender. ``Pull(0)`` pauses a consumer.
    """

    window: int
    consumer: ActorRef | None = None


@dataclass(frozen=True, slots=True)
class Deliveries:
    """A batch of deliveries for one consumer (sent by the queue, with the queue as sender)."""

    batch: tuple[Delivery, ...]


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledge deliveries by id: the work is done and will not be delivered again.

    Asked, the reply is how many were acknowledged (persisted first, on a
    durable queue) or an :class:`AckError`; told with a sender, bad ids come
    back to the sender as :class:`AckRejected`.
    """

    ids: tuple[int, ...] | int


@dataclass(frozen=True, slots=True)
class Release:
    """Hand deliveries back unfinished; they go to another consumer when one is free.

    ``tried=False`` says the consumer never started on them (the rest of a
    batch after a failure): the delivery then does not count, neither in the
    next :attr:`Delivery.attempt` nor toward the queue's ``max_deliveries``.
    """

    ids: tuple[int, ...] | int
    tried: bool = True


@dataclass(frozen=True, slots=True)
class PutRejected:
    """Told to the sender of a told (not asked) put that the queue refused, with the works and why.

    A told put has no reply to hold a producer back, so a full queue keeps at
    most ``capacity`` told works waiting and refuses more; the refused put
    also goes to dead letters. Ask puts (or use :class:`PutMany`) to be
    held back instead.
    """

    works: tuple
    reason: str


@dataclass(frozen=True, slots=True)
class AckRejected:
    """Told to the sender of an ``Ack`` that named ids the queue was not waiting for."""

    error: AckError


@dataclass(frozen=True, slots=True)
class GivenUp:
    """Work a queue gave up on: it came back ``deliveries`` times without an ack.

    A queue with ``max_deliveries`` tells it to its ``dead_letter`` actor (or,
    without one, to the system's dead letters, reason ``"delivery limit"``)
    and forgets the work, also in its journal, as RabbitMQ's delivery limit
    and SQS's redrive policy do with a poison message.
    """

    id: int
    work: Any
    deliveries: int
    queue: ActorRef


@dataclass(frozen=True, slots=True)
class GetQueueStatistics:
    """Ask a work queue for its :class:`QueueStatistics`."""


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    """Counters of a work queue.

    Attributes:
        accepted: pieces of work accepted since the queue started (or recovered).
        acknowledged: acknowledged since then.
        pending: accepted, waiting for a consumer.
        in_flight: delivered, not yet acknowledged.
        redelivered: deliveries after the first, for any reason.
        waiting_puts: puts waiting for room.
        consumers: consumers registered with ``Pull``.
        rejected_acks: ids in acks that the queue was not waiting for.
        capacity: the most work it holds (pending + in flight + being persisted).
        peak: the most work it has held at once.
        given_up: work removed after ``max_deliveries`` deliveries (see :class:`GivenUp`).
        refused_puts: told puts refused because too many waited (see :class:`PutRejected`).
    """

    accepted: int
    acknowledged: int
    pending: int
    in_flight: int
    redelivered: int
    waiting_puts: int
    consumers: int
    rejected_acks: int
    capacity: int
    peak: int
    given_up: int = 0
    refused_puts: int = 0
