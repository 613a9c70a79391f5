"""Mailbox queues: the per-actor storage behind a mailbox spec.

A queue holds *envelopes* ``(message, sender, reply)``. ``put`` is safe from
any thread; ``pop`` is called only by the actor's message loop on the system's
loop thread, raises ``IndexError`` when the queue is empty (as
``deque.popleft`` does, so the default queue's loop pops its deque directly)
and leaves ``processed`` to the loop. The default unbounded queue is the hot path and keeps no lock: a
``collections.deque`` appends and pops atomically under the GIL.
"""

from __future__ import annotations

import heapq
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = [
    "BoundedQueue", "MailboxStatistics", "PriorityQueue", "SignalMark", "UnboundedQueue", "new_deque", "rescue",
    "trim_deque",
]

#: ``(message, sender, reply)``: a plain tuple, unpacked by name where it is read.
#: A NamedTuple would cost 0.1-0.2 µs to build on every tell (see docs/design.md).
Envelope = tuple[Any, Any, Any]
_create_lock = threading.Lock()


def _remove_from(q: deque, matches: Callable[[Envelope], bool]) -> int:
    removed = 0
    for i in range(len(q) - 1, -1, -1):
        if matches(q[i]):
            del q[i]
            removed += 1
    return removed


def _drain_left(q: deque) -> list[Any]:
    """Take everything out of ``q`` from the left, each item by exactly one taker."""
    out = []
    while True:
        try:
            out.append(q.popleft())
        except IndexError:
            return out


def rescue(owner: object, attr: str, old: deque) -> None:
    """A sender appended to a deque that the loop already gave back (:func:`trim_deque`): move it on, in order."""
    with _create_lock:
        moved = _drain_left(old)
        if moved:
            q = getattr(owner, attr)
            if q is None:
                q = deque()
                setattr(owner, attr, q)
            q.extend(moved)


def trim_deque(owner: object, attr: str = "_q") -> None:
    """Give back ``owner.<attr>`` if it is empty (the loop thread only, when the actor goes idle).

    An empty deque still holds a 64-slot block: ~0.6 KiB for each actor that
    ever got a message. Senders append without a lock, so one may still hold
    the deque given back: under the creation lock the loop moves anything
    already in it into a new one (before any sender can make one), and a
    sender that appended to it later sees it is no longer the owner's and
    moves it itself (:func:`rescue`). Each item is moved once (``popleft``),
    and a sender returns only once its item is in the live deque, so each
    sender's order holds.
    """
    q = getattr(owner, attr)
    if q is None or q:
        return
    with _create_lock:
        setattr(owner, attr, None)
        if q:
            setattr(owner, attr, deque(_drain_left(q)))


class SignalMark:
    """Stands in the reply slot of an envelope that carries a death-watch signal.

    It marks the envelope as a signal about ``cell`` (so ``unwatch`` can take
    it back out of the mailbox, and a priority mailbox does not pass it to the
    user's key), and it answers the reply calls of the message loop with nothing.
    """

    __slots__ = ("cell",)

    def __init__(self, cell: Any) -> None:
        self.cell = cell

    def set_result(self, result: Any) -> None:
        pass

    def set_exception(self, error: BaseException) -> None:
        pass


def _is_signal(envelope: Envelope) -> bool:
    """A death-watch signal (its reply slot holds a ``SignalMark``), which no user key may see."""
    return type(envelope[2]) is SignalMark


def new_deque(owner: object, attr: str = "_q") -> deque:
    """Create a lazily made deque once, even when two threads race to make it."""
    with _create_lock:
        q = getattr(owner, attr)
        if q is None:
            q = deque()
            setattr(owner, attr, q)
        return q


@dataclass(frozen=True, slots=True)
class MailboxStatistics:
    """A snapshot of one mailbox's counters.

    Attributes:
        queued: envelopes waiting now.
        peak: the most envelopes ever waiting at once.
        dropped: envelopes refused or evicted by an overflow policy.
        processed: envelopes taken out and handled.
        capacity: the bound, or ``None`` for unbounded.
        waiting: senders waiting for space (``backpressure`` policy).
    """

    queued: int
    peak: int
    dropped: int
    processed: int
    capacity: int | None
    waiting: int = 0


class UnboundedQueue:
    """FIFO with no bound; the deque is created on the first message (idle actors stay small)."""

    __slots__ = ("_q", "peak", "dropped", "processed")
    capacity: int | None = None

    def __init__(self) -> None:
        self._q: deque | None = None
        self.peak = 0
        self.dropped = 0
        self.processed = 0

    def put(self, envelope: Envelope) -> None:
        q = self._q
        if q is None:
            q = new_deque(self)
        q.append(envelope)  # peak is sampled when a turn starts and when read: the longest a queue gets
        if self._q is not q:  # the loop gave that deque back meanwhile (trim_deque): move what is left in it
            rescue(self, "_q", q)

    force = put  # signals bypass any bound

    def pop(self) -> Envelope:
        q = self._q
        if q is None:
            raise IndexError("pop from an empty mailbox")
        return q.popleft()

    def prepend(self, envelopes: Iterable[Envelope]) -> None:
        """Put envelopes back at the front, in their order (unstash)."""
        q = self._q
        if q is None:
            q = new_deque(self)
        q.extendleft(reversed(list(envelopes)))
        self.peak = max(self.peak, len(q))

    def drain(self) -> list[Envelope]:
        q = self._q
        if not q:
            return []
        out = list(q)
        q.clear()
        return out

    def remove(self, matches: Callable[[Envelope], bool]) -> int:
        """Take the envelopes that ``matches`` out (on the loop thread); returns how many.

        Senders may append meanwhile: indices are walked from the end, so an
        append never shifts one not yet looked at, and nothing is compared by ``==``.
        """
        q = self._q
        return _remove_from(q, matches) if q else 0

    def __len__(self) -> int:
        q = self._q
        return len(q) if q is not None else 0

    def statistics(self) -> MailboxStatistics:
        queued = len(self)
        self.peak = max(self.peak, queued)
        return MailboxStatistics(queued, self.peak, self.dropped, self.processed, self.capacity)


class BoundedQueue(UnboundedQueue):
    """FIFO with a bound and an overflow policy; guarded by a lock for exact counts.

    ``put`` returns the envelope that was dropped (the new one or the oldest),
    or ``None`` when nothing was; with policy ``fail`` or a full
    ``backpressure`` queue it raises ``OverflowError`` for the caller to turn
    into :class:`~rayka.MailboxFull`.
    """

    __slots__ = ("capacity", "_bound", "overflow", "_lock", "_waiters")

    def __init__(self, capacity: int, overflow: str) -> None:
        super().__init__()
        self.capacity = capacity
        self._bound = capacity
        self.overflow = overflow
        self._lock = threading.Lock()
        self._waiters: deque | None = None

    def put(self, envelope: Envelope) -> Envelope | None:  # type: ignore[override]
        with self._lock:
            q = self._q
            if q is None:
                q = self._q = deque()
            if len(q) < self._bound and not self._waiters:
                q.append(envelope)
                if len(q) > self.peak:
                    self.peak = len(q)
                return None
            policy = self.overflow
            if policy == "drop_new":
                self.dropped += 1
                return envelope
            if policy == "drop_oldest":
                oldest = q.popleft()
                q.append(envelope)
                self.dropped += 1
                return oldest
            self.dropped += 1  # refused ("fail", or "backpressure" without a wait): counted as well
            raise OverflowError(self.capacity)

    def remove(self, matches: Callable[[Envelope], bool]) -> int:
        with self._lock:
            return _remove_from(self._q, matches) if self._q else 0

    def force(self, envelope: Envelope) -> None:
        """Append even when full (lifecycle signals are not subject to the bound)."""
        with self._lock:
            if self._q is None:
                self._q = deque()
            self._q.append(envelope)

    def offer(self, envelope: Envelope, on_admit: Callable[[bool], None]) -> bool:
        """Put now if there is room, else wait in line.

        ``on_admit(True)`` runs when the envelope enters the queue, ``on_admit(False)``
        when the queue is drained (the actor stopped) while it waited.
        """
        with self._lock:
            q = self._q
            if q is None:
                q = self._q = deque()
            if len(q) < self._bound and not self._waiters:
                q.append(envelope)
                self.peak = max(self.peak, len(q))
                return True
            if self._waiters is None:
                self._waiters = deque()
            self._waiters.append((envelope, on_admit))
            return False

    def pop(self) -> Envelope:
        admitted = None
        with self._lock:
            q = self._q
            if not q:
                raise IndexError("pop from an empty mailbox")
            envelope = q.popleft()
            waiters = self._waiters
            if waiters:
                waiting, admitted = waiters.popleft()
                q.append(waiting)
        if admitted is not None:
            admitted(True)
        return envelope

    def drain(self) -> list[Envelope]:
        with self._lock:
            out = super().drain()
            waiters, self._waiters = self._waiters, None
        for envelope, on_admit in waiters or ():
            on_admit(False)  # the sender's wait ends: the actor is gone
            out.append(envelope)
        return out

    def statistics(self) -> MailboxStatistics:
        with self._lock:
            return MailboxStatistics(
                len(self), self.peak, self.dropped, self.processed, self.capacity,
                len(self._waiters) if self._waiters else 0,
            )


class PriorityQueue(UnboundedQueue):
    """Lowest ``key(message)`` first; equal keys keep arrival order (a stable priority mailbox)."""

    __slots__ = ("_key", "_heap", "_seq", "_front", "_lock", "capacity", "overflow")

    def __init__(self, key: Callable[[Any], Any], capacity: int | None, overflow: str) -> None:
        super().__init__()
        self._key = key
        self._heap: list = []
        self._seq = 0
        self._front = 0
        self._lock = threading.Lock()
        self.capacity = capacity
        self.overflow = overflow

    def put(self, envelope: Envelope) -> Envelope | None:  # type: ignore[override]
        priority = self._key(envelope[0])
        with self._lock:
            heap = self._heap
            if self.capacity is not None and len(heap) >= self.capacity:
                if self.overflow == "drop_new":
                    self.dropped += 1
                    return envelope
                if self.overflow == "drop_oldest":
                    self.dropped += 1
                    # evict the least urgent: the largest key, latest arrival (never a signal)
                    victim = max(heap)
                    if victim[0] == 0:
                        return envelope
                    heap.remove(victim)
                    heapq.heapify(heap)
                    self._push(1, priority, envelope)
                    return victim[3]
                self.dropped += 1
                raise OverflowError(self.capacity)
            self._push(1, priority, envelope)
            return None

    def force(self, envelope: Envelope) -> None:
        """Queue a lifecycle signal: ahead of every message, and without calling the user's key on it."""
        with self._lock:
            self._push(0, 0, envelope)

    def _push(self, rank: int, priority: Any, envelope: Envelope) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (rank, priority, self._seq, envelope))
        if len(self._heap) > self.peak:
            self.peak = len(self._heap)

    def pop(self) -> Envelope:
        with self._lock:
            return heapq.heappop(self._heap)[3]  # IndexError when empty

    def prepend(self, envelopes: Iterable[Envelope]) -> None:
        # Unstashed envelopes re-enter by priority; among equals they go first.
        items = list(envelopes)
        with self._lock:
            self._front -= len(items)
            for i, envelope in enumerate(items):
                if _is_signal(envelope):
                    entry = (0, 0, self._front + i, envelope)
                else:
                    entry = (1, self._key(envelope[0]), self._front + i, envelope)
                heapq.heappush(self._heap, entry)

    def drain(self) -> list[Envelope]:
        with self._lock:
            out = [entry[3] for entry in sorted(self._heap)]
            self._heap.clear()
            return out

    def remove(self, matches: Callable[[Envelope], bool]) -> int:
        with self._lock:
            kept = [entry for entry in self._heap if not matches(entry[3])]
            removed = len(self._heap) - len(kept)
            if removed:
                heapq.heapify(kept)
                self._heap = kept
            return removed

    def __len__(self) -> int:
        return len(self._heap)
