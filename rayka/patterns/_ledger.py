"""The bookkeeping of a work queue: which work is pending, which consumer holds what, what is overdue.

Plain Python with no actor in it: :class:`~rayka.patterns.WorkQueue` owns
one ledger and calls it from its handlers. Each item is a small list
``[work, holder, attempts, token]``: ``holder`` is the consumer that has it
(``None`` while pending) and ``token`` the delivery batch it went out in.
Each consumer keeps its unacknowledged items in delivery order, so finding
the overdue ones, and handing back a dead consumer's, costs only what that
consumer holds.

Example:
    >>> ledger = Ledger(max_batch=2)
    >>> ledger.add(1, ("a", "b", "c"))
    >>> ledger.register("worker", window=2)
    True
    >>> sent = []
    >>> ledger.dispatch(lambda consumer, batch: sent.append(batch))
    >>> [d.id for d in sent[0]]
    [1, 2]
    >>> ledger.ack((1, 2, 9))
    (2, [9])
    >>> ledger.dispatch(lambda consumer, batch: sent.append(batch))
    >>> sent[1]
    (Delivery(id=3, work='c', attempt=1),)
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable

from ._queue_messages import Delivery

__all__ = ["Ledger"]


class _Holder:
    """One consumer: its window and its unacknowledged items (oldest delivery first)."""

    __slots__ = ("ref", "window", "inflight")

    def __init__(self, ref: Any, window: int) -> None:
        self.ref = ref
        self.window = window
        self.inflight: dict[int, list] = {}


class Ledger:
    """Pending work, consumers and their deliveries, deadlines.

    Args:
        max_batch: the most deliveries sent to a consumer in one batch.
        max_deliveries: how many times one piece of work may be delivered;
            work that comes back after that many goes to ``given_up``.
    """

    def __init__(self, max_batch: int = 128, max_deliveries: int | None = None) -> None:
        self.max_batch = max_batch
        self.max_deliveries = max_deliveries
        self.given_up: list[tuple[int, Any, int]] = []  # (id, work, deliveries) past the limit
        self.items: dict[int, list] = {}
        self.ready: deque[int] = deque()  # ids not delivered yet, in order
        self.again: deque[tuple[int, _Holder]] = deque()  # (id, consumer to avoid) to redeliver, first
        self.holders: dict[Any, _Holder] = {}
        self.order: list[_Holder] = []
        self.turn = 0
        self.token = 0
        self.deadlines: deque[tuple[float, _Holder, int]] = deque()
        self.redelivered = 0

    # -- work ----------------------------------------------------------------------
    def add(self, first: int, works: Iterable[Any], attempts: int = 0) -> None:
        """Add works with ids ``first, first + 1, ...`` (``attempts``: deliveries already made)."""
        items = self.items
        i = first
        for work in works:
            items[i] = [work, None, attempts, 0]
            i += 1
        self.ready.extend(range(first, i))

    def ack(self, ids: Iterable[int]) -> tuple[int, list | None]:
        """Forget acknowledged work; return how many ids were known and the list of the others (or None)."""
        items = self.items
        bad: list | None = None
        done = 0
        for i in ids:
            item = items.pop(i, None)
            if item is None:
                if bad is None:
                    bad = []
                bad.append(i)
                continue
            done += 1
            holder = item[1]
            if holder is not None:
                del holder.inflight[i]
        return done, bad

    def release(self, ids: Iterable[int], tried: bool = True) -> None:
        """Put delivered work back for another consumer (``tried=False``: that delivery does not count)."""
        items = self.items
        for i in ids:
            item = items.get(i)
            if item is not None and item[1] is not None:
                if not tried:
                    item[2] -= 1
                self.requeue(i, item)

    def requeue(self, i: int, item: list) -> None:
        """Take delivered work back; past ``max_deliveries`` it leaves the queue for ``given_up``."""
        holder = item[1]
        del holder.inflight[i]
        item[1] = None
        limit = self.max_deliveries
        if limit is not None and item[2] >= limit:
            del self.items[i]
            self.given_up.append((i, item[0], item[2]))
            return
        self.again.append((i, holder))

    def take_given_up(self) -> list[tuple[int, Any, int]]:
        given_up, self.given_up = self.given_up, []
        return given_up

    # -- consumers -----------------------------------------------------------------
    def register(self, ref: Any, window: int) -> bool:
        """Set a consumer's window; True when the consumer is new."""
        holder = self.holders.get(ref)
        if holder is not None:
            holder.window = window
            return False
        holder = self.holders[ref] = _Holder(ref, window)
        self.order.append(holder)
        return True

    def unregister(self, ref: Any) -> int:
        """Drop a consumer (it died) and put back what it held; returns how many."""
        holder = self.holders.pop(ref, None)
        if holder is None:
            return 0
        self.order.remove(holder)
        held = list(holder.inflight.items())
        for i, item in held:
            self.requeue(i, item)
        return len(held)

    # -- delivery ------------------------------------------------------------------
    def dispatch(self, send: Callable[[Any, tuple[Delivery, ...]], None], deadline: float | None = None) -> None:
        """Deliver pending work to consumers with room in their window, in turn.

        ``send(consumer_ref, batch)`` sends one batch; with a ``deadline``, each
        batch is recorded to expire then.
        """
        order = self.order
        n = len(order)
        while n and (self.ready or self.again):
            sent = False
            start = self.turn
            self.turn = start + 1
            for k in range(n):
                holder = order[(start + k) % n]
                free = holder.window - len(holder.inflight)
                if free <= 0:
                    continue
                batch = self.take(holder, free if free < self.max_batch else self.max_batch)
                if batch:
                    sent = True
                    send(holder.ref, batch)
                    if deadline is not None:
                        self.deadlines.append((deadline, holder, self.token))
                    if not (self.ready or self.again):
                        return
            if not sent:
                return

    def take(self, holder: _Holder, limit: int) -> tuple[Delivery, ...]:
        items, inflight = self.items, holder.inflight
        token = self.token = self.token + 1
        batch: list[Delivery] = []
        again = self.again
        if again:
            others = len(self.order) > 1
            skipped = []
            while again and len(batch) < limit:
                entry = again.popleft()
                i = entry[0]
                item = items.get(i)
                if item is None or item[1] is not None:
                    continue
                if others and entry[1] is holder:  # a redelivery goes to another consumer when there is one
                    skipped.append(entry)
                    continue
                item[1], item[3] = holder, token
                item[2] += 1
                inflight[i] = item
                batch.append(Delivery(i, item[0], item[2]))
            again.extendleft(reversed(skipped))
            self.redelivered += len(batch)
        ready = self.ready
        while ready and len(batch) < limit:
            i = ready.popleft()
            item = items.get(i)
            if item is None or item[1] is not None:
                continue
            item[1], item[3] = holder, token
            item[2] += 1
            inflight[i] = item
            batch.append(Delivery(i, item[0], item[2]))
        return tuple(batch)

    def expire(self, now: float) -> int:
        """Put back every delivery whose deadline is at or before ``now``; returns how many."""
        deadlines = self.deadlines
        expired = 0
        while deadlines and deadlines[0][0] <= now:
            _, holder, token = deadlines.popleft()
            overdue = []
            for i, item in holder.inflight.items():  # oldest delivery first
                if item[3] > token:
                    break
                overdue.append((i, item))
            for i, item in overdue:
                self.requeue(i, item)
            expired += len(overdue)
        return expired

    def next_deadline(self) -> float | None:
        return self.deadlines[0][0] if self.deadlines else None

    # -- counts --------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        return sum(len(holder.inflight) for holder in self.order)

    def has_pending(self) -> bool:
        return bool(self.ready or self.again)
