"""A reliable work queue: bounded, work-pulling, acknowledged, redelivered, optionally durable.

Producers ``ask`` it :class:`Put` / :class:`PutMany`; the reply (the ids)
comes when the work is accepted, so a producer that waits on its puts is
held back while the queue is full. Puts that are told (no reply to hold
back) may wait too, up to ``capacity`` works; more are refused: the sender
gets :class:`PutRejected` and the put goes to dead letters. Consumers send
:class:`Pull` with a window; the queue never has more than that many
unacknowledged deliveries on one consumer. Each delivery carries the work's id and must be
acknowledged with :class:`Ack`. Work not acknowledged goes to another
consumer when its consumer dies (death watch), hands it back
(:class:`Release`) or misses the ``ack_timeout`` deadline. With
``max_deliveries``, work that keeps coming back (a poison message) is given
up after that many deliveries: :class:`GivenUp` goes to ``dead_letter``.

With a ``journal`` the queue is durable: accepted work is written (group
commit) before the put is answered, acknowledgements are written before an
asked ``Ack`` is answered, and a queue started on the same journal and
persistence id delivers again every piece of work that was accepted and not
acknowledged, and none that was.

Example:
    >>> import rayka
    >>> from rayka.patterns import WorkQueue, Consumer, Put
    >>> done = []
    >>> class Worker(Consumer):
    ...     def handle(self, work):
    ...         done.append(work)
    >>> with rayka.ActorSystem("doc") as system:
    ...     queue = system.spawn(WorkQueue, 100)
    ...     worker = system.spawn(Worker, queue)
    ...     [queue.ask(Put(f"job-{n}")).result(timeout=1) for n in range(3)]
    ...     queue.ask(rayka.patterns.Drain()).result(timeout=1)
    ...     done
    [1, 2, 3]
    3
    ['job-0', 'job-1', 'job-2']
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from .._errors import ActorStopped, JournalError
from ..actors import Actor, ActorRef, DeadLetter, Terminated
from ..persistence._open import open_journal
from ._queue_journal import QueueJournal
from ._queue_writes import FLUSH, Flush, Writes
from ._queue_messages import (
    Ack,
    AckError,
    AckRejected,
    Deliveries,
    GetQueueStatistics,
    GivenUp,
    Pull,
    Put,
    PutMany,
    PutRejected,
    QueueStatistics,
    Release,
)
from ._ledger import Ledger
from ._reply import answer, refuse, take_reply

__all__ = ["Drain", "WorkQueue"]

log = logging.getLogger("rayka.patterns")


@dataclass(frozen=True, slots=True)
class Drain:
    """Ask for an answer once no work is pending, in flight or being persisted; it is the number acknowledged."""


@dataclass(frozen=True, slots=True)
class _Tick:
    """The queue's own reminder to look for missed deadlines."""


@dataclass(frozen=True, slots=True)
class _Stored:
    """Accepted work is on disk: make it deliverable (sent once its append is committed)."""

    owner: Any
    puts: tuple  # (first, works) pairs
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class _Broken:
    """A journal write failed: the queue fails, and its supervisor restarts it."""

    error: BaseException


_TICK = _Tick()


class WorkQueue(Actor):
    """Hold work until a consumer acknowledges it.

    Args:
        capacity: the most work held at once (pending, in flight, being
            persisted); puts beyond it wait.
        ack_timeout: seconds a delivery may stay unacknowledged before it
            goes to another consumer; ``None`` waits for the consumer's death.
        max_batch: the most deliveries in one :class:`Deliveries` message.
        journal: a :class:`~rayka.persistence.Journal` to make the queue
            durable, or where to open one: a ``postgresql://`` DSN (a
            :class:`~rayka.persistence.PostgresJournal`) or the path of a
            :class:`~rayka.persistence.SqliteJournal`. Given a str, the queue
            opens the journal where it runs (on its own node in cluster mode)
            and closes it when it stops, so a queue restarted on another node
            recovers from the same database. If a journal write fails, the
            queue fails with :class:`~rayka.JournalError` and its supervisor
            restarts it (give the parent a backoff to ride out a database
            restart); the new incarnation recovers from the journal.
        persistence_id: the queue's log in the journal.
        snapshot_every: journal events between snapshots (which compact the log).
        max_deliveries: deliver one piece of work at most this many times;
            when it comes back after the last (released, consumer died,
            deadline missed) the queue gives it up: it is forgotten (also in
            the journal) and :class:`GivenUp` is told to ``dead_letter``.
            ``None`` (the default) redelivers forever.
        dead_letter: the actor that gets :class:`GivenUp` work (one that
            parks it for a person to look at, say); without one it goes to
            the system's dead letters with reason ``"delivery limit"``.

    Work items are kept as given (in memory) or encoded with
    :func:`rayka.persistence.encode` (durable). An in-memory queue that is
    restarted by its supervisor starts empty; a durable one recovers.
    """

    def __init__(self, capacity: int = 10_000, *, ack_timeout: float | None = 30.0, max_batch: int = 128,
                 journal: Any = None, persistence_id: str = "work-queue", snapshot_every: int | None = 10_000,
                 max_deliveries: int | None = None, dead_letter: ActorRef | None = None) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"WorkQueue capacity must be an int >= 1, got {capacity!r}")
        if ack_timeout is not None and not ack_timeout > 0:
            raise ValueError(f"ack_timeout must be > 0 seconds or None, got {ack_timeout!r}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be an int >= 1, got {max_batch!r}")
        if max_deliveries is not None and (not isinstance(max_deliveries, int) or max_deliveries < 1):
            raise ValueError(f"max_deliveries must be an int >= 1 or None, got {max_deliveries!r}")
        if dead_letter is not None and not isinstance(dead_letter, ActorRef):
            raise TypeError(f"dead_letter must be an ActorRef (the actor to tell GivenUp work), "
                            f"got {type(dead_letter).__name__}")
        self.dead_letter = dead_letter
        self.capacity = capacity
        self.ack_timeout = ack_timeout
        self.owns_journal = False
        if journal is not None:
            journal, self.owns_journal = open_journal(journal)
        self.log = QueueJournal(journal, persistence_id, snapshot_every) if journal is not None else None
        self.writes = Writes(self.log) if self.log is not None else None
        self.ledger = Ledger(max_batch, max_deliveries)
        self.waiting: deque[tuple[tuple, Any, bool, Any]] = deque()  # (works, reply, single, sender) for room
        self.persisting: dict[int, tuple] = {}  # first id -> works being written
        self.reserved = 0
        self.next_id = 1
        self.timer: Any = None
        self.drains: list[Any] = []
        self.accepted = self.acknowledged = self.rejected = self.peak = self.given_up = 0
        self.told_waiting = self.refused = 0  # works of told puts waiting; told puts refused
        self.send = self._send

    # -- lifecycle ---------------------------------------------------------------
    def on_start(self) -> None:
        if self.log is None:
            return
        self.next_id, outstanding = self.log.recover()
        for i in sorted(outstanding):  # attempts=1: it may have been delivered before the restart
            self.ledger.add(i, (outstanding[i],), attempts=1)
        if outstanding:
            log.info("rayka: work queue %s recovered %d unacknowledged items", self.context.self.path,
                     len(outstanding))

    def on_stop(self) -> None:
        stopped = ActorStopped(f"work queue {self.context.self.path} stopped before it accepted the work")
        while self.waiting:
            self._refuse_put(*self.waiting.popleft(), stopped, "stopped")
        if self.writes is not None:
            self._flush()  # what was accepted is written (and answered) even though the queue stops
        if self.owns_journal and self.log is not None:
            self.log.journal.close()  # commits what was queued, and frees the file for the next incarnation

    # -- messages ----------------------------------------------------------------
    def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Ack:
            return self._on_ack(message.ids)
        if kind is PutMany:
            return self._on_put(tuple(message.works), False)
        if kind is Put:
            return self._on_put((message.work,), True)
        if kind is Flush:
            return self._flush()
        if kind is _Stored:
            return self._on_stored(message)
        if kind is Pull:
            return self._on_pull(message)
        if kind is Release:
            self.ledger.release(_ids(message.ids), message.tried is not False)
            self._give_up()
            return self._dispatch()
        if kind is _Tick:
            return self._on_tick()
        if isinstance(message, Terminated):
            if self.ledger.unregister(message.ref):
                self._give_up()
                self._dispatch()
            return None
        if kind is GetQueueStatistics:
            return self._statistics()
        if kind is Drain:
            reply = take_reply(self.context)
            if reply is not None:
                self.drains.append(reply)
                self._check_drained()
            return None
        if kind is _Broken:
            self._break_down(message.error)
            return None
        return refuse(self.context, message, TypeError(
            f"work queue {self.context.self.path} does not handle {type(message).__name__} messages; "
            "send Put, PutMany, Pull, Ack, Release, Drain or GetQueueStatistics"))

    # -- producers ---------------------------------------------------------------
    def _on_put(self, works: tuple, single: bool) -> None:
        reply = take_reply(self.context)
        path = self.context.self.path
        sender = self.context.sender if reply is None else None
        if len(works) > self.capacity:
            self._refuse_put(works, reply, single, sender, ValueError(
                f"PutMany of {len(works)} items cannot fit in work queue {path} of capacity "
                f"{self.capacity}; split it"), "too large")
            return
        if self.waiting or len(self.ledger.items) + self.reserved + len(works) > self.capacity:
            if reply is None:
                if self.told_waiting + len(works) > self.capacity:
                    self.refused += 1
                    self._refuse_put(works, None, single, sender, OverflowError(
                        f"work queue {path} is full and {self.told_waiting} told works already wait; "
                        "ask puts to be held back until there is room, or add consumers"), "queue full")
                    return
                self.told_waiting += len(works)
            self.waiting.append((works, reply, single, sender))
            return
        self._accept(works, reply, single)

    def _refuse_put(self, works: tuple, reply: Any, single: bool, sender: Any, error: BaseException,
                   reason: str) -> None:
        """Fail an asked put; a told one goes back to its sender as PutRejected, and to dead letters."""
        if reply is not None:
            reply.set_exception(error)
            return
        me = self.context.self
        if sender is not None:
            sender.tell(PutRejected(works, str(error)), me)
        if reason == "too large" or reason == "queue full" and self.refused == 1:
            log.warning("rayka: %s (a told put refused; the sender is told, later ones are counted)", error)
        put = Put(works[0]) if single else PutMany(works)
        self.context.system.dead_letters.publish(DeadLetter(put, sender, me.path, reason))

    def _accept(self, works: tuple, reply: Any, single: bool) -> None:
        first = self.next_id
        n = len(works)
        self.next_id = first + n
        ids = first if single else list(range(first, first + n))
        held = len(self.ledger.items) + self.reserved + n
        if held > self.peak:
            self.peak = held
        if self.log is None:
            self._store(((first, works),))
            answer(reply, None, ids)
            return
        self.reserved += n
        self.persisting[first] = works
        if self._durable().put(first, works, reply, ids):
            self.context.self.tell(FLUSH)

    def _flush(self) -> None:
        me, owner = self.context.self, self

        def stored(puts: tuple, error: BaseException | None) -> None:  # on the loop, once committed
            if puts and me.is_alive:
                me.tell(_Stored(owner, puts, error))

        self._durable().flush(stored)
        self._maybe_snapshot()

    def _on_stored(self, message: _Stored) -> None:
        if message.owner is not self:
            # Written by this queue's previous incarnation: the recovery of this
            # one read the journal and may hold it already; if not, the next does.
            return
        for first, works in message.puts:
            self.reserved -= len(works)
            del self.persisting[first]
        if message.error is not None:
            self._break_down(message.error)
            return
        self._store(message.puts)

    def _store(self, puts: tuple) -> None:
        """Make accepted ``(first, works)`` deliverable."""
        for first, works in puts:
            self.ledger.add(first, works)
            self.accepted += len(works)
        self._dispatch()

    def _admit(self) -> None:
        waiting = self.waiting
        while waiting and len(self.ledger.items) + self.reserved + len(waiting[0][0]) <= self.capacity:
            works, reply, single, _ = waiting.popleft()
            if reply is None:
                self.told_waiting -= len(works)
            self._accept(works, reply, single)

    # -- consumers ---------------------------------------------------------------
    def _on_pull(self, message: Pull) -> None:
        ref = message.consumer if message.consumer is not None else self.context.sender
        if ref is None or not isinstance(message.window, int) or message.window < 0:
            refuse(self.context, message, ValueError(
                f"work queue {self.context.self.path}: {message!r} needs a window >= 0 and a consumer: "
                "tell it with sender=consumer_ref, or send Pull(window, consumer_ref)"))
            return
        if self.ledger.register(ref, message.window):
            self.context.watch(ref)
        self._dispatch()

    def _send(self, consumer: ActorRef, batch: tuple) -> None:
        consumer.tell(Deliveries(batch), self.context.self)

    def _dispatch(self) -> None:
        ledger = self.ledger
        if not ledger.has_pending() or not ledger.order:
            return
        if self.ack_timeout is None:
            ledger.dispatch(self.send)
            return
        now = self.context.system.clock.time()
        ledger.dispatch(self.send, now + self.ack_timeout)
        if self.timer is None and ledger.deadlines:
            self.timer = self.context.schedule_once(max(0.0, ledger.deadlines[0][0] - now), _TICK)

    def _on_tick(self) -> None:
        self.timer = None
        ledger = self.ledger
        ledger.expire(self.context.system.clock.time())
        self._give_up()
        self._dispatch()
        if self.timer is None and ledger.deadlines:
            delay = ledger.deadlines[0][0] - self.context.system.clock.time()
            self.timer = self.context.schedule_once(max(0.0, delay), _TICK)

    # -- acknowledgements --------------------------------------------------------
    def _on_ack(self, ids: Any) -> None:
        ids = _ids(ids)
        done, bad = self.ledger.ack(ids)
        self.acknowledged += done
        reply = take_reply(self.context)
        error = self._ack_error(bad) if bad else None
        if error is not None and reply is None:
            sender = self.context.sender
            if sender is not None:
                sender.tell(AckRejected(error))
            else:
                log.error("rayka: %s", error)
        if self.log is not None and done:
            if bad:
                rejected = set(bad)
                ids = [i for i in ids if i not in rejected]
            if self._durable().ack(tuple(ids), reply, done, error):
                self.context.self.tell(FLUSH)
        elif reply is not None:
            answer(reply, error, done)
        if self.waiting:
            self._admit()
        self._dispatch()
        if self.drains:
            self._check_drained()

    def _ack_error(self, bad: list) -> AckError:
        self.rejected += len(bad)
        issued = range(1, self.next_id)
        unknown = tuple(i for i in bad if type(i) is not int or i not in issued)
        again = tuple(i for i in bad if type(i) is int and i in issued)
        parts = []
        if again:
            parts.append(f"{list(again)} that were already acknowledged")
        if unknown:
            parts.append(f"{list(unknown)} that it never delivered")
        return AckError(f"work queue {self.context.self.path} got an ack for ids {' and '.join(parts)}; "
                        "acknowledge each Delivery once, by its id", unknown, again)

    def _give_up(self) -> None:
        """Forget work past ``max_deliveries`` and hand it to the dead letter actor."""
        given_up = self.ledger.take_given_up()
        if not given_up:
            return
        self.given_up += len(given_up)
        me = self.context.self
        if self.writes is not None and self.writes.ack(tuple(i for i, _, _ in given_up), None, 0, None):
            me.tell(FLUSH)  # forgotten for good: a recovery does not bring it back
        for i, work, deliveries in given_up:
            log.warning("rayka: work queue %s gave up work id %d after %d deliveries without an ack; sent to %s",
                        me.path, i, deliveries, self.dead_letter.path if self.dead_letter else "dead letters")
            given = GivenUp(i, work, deliveries, me)
            if self.dead_letter is not None:
                self.dead_letter.tell(given, me)
            else:
                self.context.system.dead_letters.publish(DeadLetter(given, me, me.path, "delivery limit"))
        if self.waiting:
            self._admit()
        if self.drains:
            self._check_drained()

    # -- journal -----------------------------------------------------------------
    def _durable(self) -> Writes:
        """The journal's write side (called only on the durable paths)."""
        assert self.writes is not None
        return self.writes

    def _maybe_snapshot(self) -> None:
        log_ = self.log
        if log_ is None or not log_.snapshot_due():
            return
        outstanding = [(i, item[0]) for i, item in self.ledger.items.items()]
        for first, works in self.persisting.items():
            outstanding.extend(zip(range(first, first + len(works)), works))
        me = self.context.self
        log_.snapshot(self.next_id, outstanding, lambda error: me.tell(_Broken(error)))

    def _break_down(self, error: BaseException) -> None:
        """A journal write failed: refuse what waits, then fail, so the supervisor restarts the queue.

        The new incarnation recovers from the journal (which reconnects to a
        database that came back): what was acknowledged is there, and a write
        that failed may or may not be (its put was never answered).
        """
        stopped = JournalError(f"work queue {self.context.self.path} cannot accept work: its journal failed")
        stopped.__cause__ = error
        self.told_waiting = 0
        while self.waiting:
            self._refuse_put(*self.waiting.popleft(), stopped, "journal failed")
        raise stopped

    # -- observing ---------------------------------------------------------------
    def _statistics(self) -> QueueStatistics:
        ledger = self.ledger
        in_flight = ledger.in_flight
        return QueueStatistics(
            accepted=self.accepted, acknowledged=self.acknowledged, pending=len(ledger.items) - in_flight,
            in_flight=in_flight, redelivered=ledger.redelivered, waiting_puts=len(self.waiting),
            consumers=len(ledger.order), rejected_acks=self.rejected, capacity=self.capacity, peak=self.peak,
            given_up=self.given_up, refused_puts=self.refused,
        )

    def _check_drained(self) -> None:
        if not self.ledger.items and not self.reserved:
            drains, self.drains = self.drains, []
            for reply in drains:
                reply.set_result(self.acknowledged)


def _ids(ids: Any) -> Any:
    return (ids,) if type(ids) is int else ids

