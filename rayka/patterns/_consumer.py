"""Consumers of a work queue: subclass, write ``handle(work)``; pulling and acknowledging are done for you.

A :class:`Consumer` registers with its queue on start (``Pull(window)``),
handles each delivery in order, and acknowledges a batch once it is handled.
If ``handle`` raises, the deliveries handled so far are acknowledged, the
failed one and the rest of the batch are released (the queue gives them to
another consumer; only the failed one counts as tried), and
the error goes to the supervisor as usual; a restarted consumer registers
again. :class:`SeenIds` makes a consumer effectively-once: deliveries whose
id it has handled before are acknowledged without being handled again.

Example:
    >>> import rayka
    >>> from rayka.patterns import WorkQueue, Consumer, PutMany, Drain, SeenIds
    >>> totals = []
    >>> class Adder(Consumer):
    ...     window = 8
    ...     def handle(self, work):
    ...         totals.append(work + self.delivery.id)
    >>> with rayka.ActorSystem("doc") as system:
    ...     queue = system.spawn(WorkQueue, 16)
    ...     adder = system.spawn(Adder, queue, seen=SeenIds(limit=1000))
    ...     queue.ask(PutMany((10, 20, 30))).result(timeout=1)
    ...     queue.ask(Drain()).result(timeout=1)
    ...     totals
    [1, 2, 3]
    3
    [11, 22, 33]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from .._errors import RaykaError
from ..actors import Actor, ActorRef, Reply, Terminated
from ._queue_messages import Ack, AckError, AckRejected, Deliveries, Delivery, Pull, Release

__all__ = ["AsyncConsumer", "Consumer", "SeenIds"]

log = logging.getLogger("rayka.patterns")


class SeenIds:
    """The ids of work already handled, to recognise a redelivery.

    Args:
        limit: remember at most this many ids (the oldest are forgotten
            first); ``None`` remembers all. Redeliveries come within an ack
            timeout or after a restart, so a limit of a few windows' worth of
            ids per consumer is usually plenty.

    Share one ``SeenIds`` between the consumers of one process to recognise a
    redelivery that went to a sibling. Across processes, keep the ids where
    the work's effect is stored (the same transaction), which is what makes
    the effect itself exactly-once.

    Example:
        >>> seen = SeenIds(limit=2)
        >>> seen.add(1), seen.add(1), seen.add(2), seen.add(3), 1 in seen
        (True, False, True, True, False)
    """

    __slots__ = ("limit", "_ids")

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"SeenIds limit must be >= 1 or None, got {limit!r}")
        self.limit = limit
        self._ids: dict[int, None] = {}

    def add(self, i: int) -> bool:
        """Remember ``i``; True if it is new."""
        ids = self._ids
        if i in ids:
            return False
        ids[i] = None
        if self.limit is not None and len(ids) > self.limit:
            del ids[next(iter(ids))]
        return True

    def __contains__(self, i: object) -> bool:
        return i in self._ids

    def __len__(self) -> int:
        return len(self._ids)


@dataclass(frozen=True, slots=True)
class _AckOutcome:
    ids: tuple[int, ...]
    reply: Reply[Any]


@dataclass(frozen=True, slots=True)
class _Repull:
    """A consumer's own reminder to tell its queue its window again."""


_REPULL = _Repull()


@dataclass(frozen=True, slots=True)
class _Relookup:
    """A consumer's own reminder to look its queue up by name again."""


_RELOOKUP = _Relookup()


class Consumer(Actor):
    """A work-queue consumer: subclass it and write ``handle(self, work)``.

    Args:
        queue: the :class:`~rayka.patterns.WorkQueue` to pull from, or its
            registered name: then the consumer looks it up when it starts, and
            again when the queue dies (a queue restarted on another node is
            found again; it gives up after ``relookup_for`` seconds).
        window: unacknowledged deliveries it may hold (class attribute ``window`` by default).
        seen: a :class:`SeenIds` to skip work handled before (effectively-once).

    Class attributes: ``window`` (default 256); ``confirm_acks``: when
    true, acks are asked, and :meth:`on_acked` runs once the queue has taken
    them (after they are on disk, for a durable queue); ``repull_every``:
    seconds between reminders of the window to the queue (``Pull`` is
    idempotent), so a queue restarted by its supervisor finds its consumers
    again (``None``: never). ``self.delivery`` is the
    :class:`~rayka.patterns.Delivery` being handled. A subclass that
    overrides ``on_start`` calls ``super().on_start()``, which registers with
    the queue and watches it: when the queue stops, :meth:`on_queue_stopped`
    runs (it stops the consumer).

    A subclass's own names: anything but ``handle``, ``on_message``,
    ``on_acked``, ``on_ack_failed``, ``on_queue_stopped``, ``queue``,
    ``window``, ``seen``, ``delivery``, the class attributes above, and
    names that start with ``_`` (the machinery's).
    """

    window: ClassVar[int] = 256
    confirm_acks: ClassVar[bool] = False
    repull_every: ClassVar[float | None] = 5.0
    relookup_for: ClassVar[float] = 30.0

    def __init__(self, queue: ActorRef | str, *, window: int | None = None, seen: SeenIds | None = None) -> None:
        self._queue_name = queue if isinstance(queue, str) else None
        self.queue: Any = None if self._queue_name is not None else queue
        self._lookups = 0
        if window is not None:
            if not isinstance(window, int) or window < 1:
                raise ValueError(f"consumer window must be an int >= 1, got {window!r}")
            self.window = window  # type: ignore[misc]
        self.seen = seen
        self.delivery: Delivery | None = None

    # -- to override -------------------------------------------------------------
    def handle(self, work: Any) -> Any:
        """Do the work; raise to have it delivered again (to another consumer when there is one)."""
        raise NotImplementedError(f"{type(self).__name__} must define handle(self, work)")

    def on_message(self, message: Any) -> Any:
        """Handle a message that is not from the queue; by default it is logged and dropped."""
        log.warning("rayka: consumer %s ignored %r", self.context.self.path, message)

    def on_acked(self, ids: tuple[int, ...]) -> None:
        """Called with ids the queue confirmed (only when ``confirm_acks`` is true)."""

    def on_ack_failed(self, error: BaseException) -> None:
        """Called when the queue refused an ack (an :class:`~rayka.patterns.AckError`) or could not persist it.

        An ``AckError`` for ids ``already_acknowledged`` is expected after a
        deadline passed: another consumer handled the work again and acked first.
        """
        log.warning("rayka: consumer %s: %s", self.context.self.path, error)

    def on_queue_stopped(self) -> None:
        """Called when the queue has stopped: a queue named by name is looked up again, else the consumer stops."""
        if self._queue_name is not None:
            self.queue = None
            self._relookup()
        else:
            self.context.stop()

    # -- machinery ---------------------------------------------------------------
    def on_start(self) -> Any:
        if self.repull_every is not None:
            self.context.schedule_repeatedly(self.repull_every, _REPULL)
        if self.queue is None:
            self._relookup()
        else:
            self._attach()

    def _attach(self) -> None:
        self.context.watch(self.queue)
        self._pull()

    def _relookup(self) -> None:
        """Find the queue by its name; try again shortly while it is not (yet) there."""
        try:
            found = self.context.system.lookup(self._queue_name)
        except RaykaError:
            found = None
        if found is not None and found.is_alive:
            self.queue, self._lookups = found, 0
            self._attach()
            return
        self._lookups += 1
        if self._lookups * 0.1 > self.relookup_for:
            log.error("rayka: consumer %s found no queue %r for %s s; stopping", self.context.self.path,
                      self._queue_name, self.relookup_for)
            self.context.stop()
            return
        self.context.schedule_once(0.1, _RELOOKUP)

    def _pull(self) -> None:
        """Tell the queue this consumer's window (idempotent: it sets the window, it adds nothing)."""
        if self.queue is not None:
            self.queue.tell(Pull(self.window, self.context.self), self.context.self)

    def receive(self, message: Any) -> Any:
        if type(message) is Deliveries:
            self._consume(message.batch)
            return None
        return self._other(message)

    def _other(self, message: Any) -> Any:
        kind = type(message)
        if kind is _AckOutcome:
            error = message.reply.exception(0)
            if error is None:
                self.on_acked(message.ids)
            else:
                self._ack_failed(error)
            return None
        if kind is AckRejected:
            self._ack_failed(message.error)
            return None
        if kind is _Repull:
            self._pull()
            return None
        if kind is _Relookup:
            if self.queue is None:
                self._relookup()
            return None
        if isinstance(message, Terminated) and message.ref == self.queue:
            self.on_queue_stopped()
            return None
        return self.on_message(message)

    def _ack_failed(self, error: BaseException) -> None:
        if isinstance(error, AckError) and error.unknown:
            self._pull()  # ids it never issued: the queue may have restarted and forgotten this consumer
        self.on_ack_failed(error)

    def _consume(self, batch: tuple[Delivery, ...]) -> None:
        done: list[int] = []
        seen = self.seen
        handle = self.handle
        try:
            for delivery in batch:
                if seen is not None and delivery.id in seen:
                    done.append(delivery.id)
                    continue
                self.delivery = delivery
                handle(delivery.work)
                if seen is not None:
                    seen.add(delivery.id)
                done.append(delivery.id)
        except BaseException:
            self._give_back(done, batch)
            raise
        finally:
            self.delivery = None
        self._ack(done)

    def _give_back(self, done: list[int], batch: tuple[Delivery, ...]) -> None:
        """After a failure: ack what was handled, release the failed one and, untried, the rest."""
        self._ack(done)
        if len(done) == len(batch) or self.queue is None:
            return
        me = self.context.self
        self.queue.tell(Release(batch[len(done)].id), me)
        rest = tuple(d.id for d in batch[len(done) + 1:])
        if rest:
            self.queue.tell(Release(rest, tried=False), me)

    def _ack(self, ids: Iterable[int]) -> None:
        ids = tuple(ids)
        if not ids or self.queue is None:  # the queue died: a recovered one delivers these again
            return
        me = self.context.self
        if self.confirm_acks:
            reply = self.queue.ask(Ack(ids), timeout=None)
            reply.add_done_callback(lambda r: me.tell(_AckOutcome(ids, r)))
        else:
            self.queue.tell(Ack(ids), me)


class AsyncConsumer(Consumer):
    """A :class:`Consumer` whose ``handle`` is ``async``: it may await (other actors keep running).

    Example:
        >>> import asyncio, rayka
        >>> from rayka.patterns import WorkQueue, AsyncConsumer, Put, Drain
        >>> class Sleeper(AsyncConsumer):
        ...     async def handle(self, work):
        ...         await asyncio.sleep(0)
        >>> with rayka.ActorSystem("doc") as system:
        ...     queue = system.spawn(WorkQueue, 4)
        ...     _ = system.spawn(Sleeper, queue)
        ...     _ = queue.ask(Put("nap")).result(timeout=1)
        ...     queue.ask(Drain()).result(timeout=1)
        1
    """

    async def handle(self, work: Any) -> Any:  # type: ignore[override]
        """Do the work; raise to have it delivered again."""
        raise NotImplementedError(f"{type(self).__name__} must define async handle(self, work)")

    async def receive(self, message: Any) -> Any:  # type: ignore[override]
        if type(message) is not Deliveries:
            return self._other(message)
        done: list[int] = []
        seen = self.seen
        batch = message.batch
        try:
            for delivery in batch:
                if seen is not None and delivery.id in seen:
                    done.append(delivery.id)
                    continue
                self.delivery = delivery
                await self.handle(delivery.work)
                if seen is not None:
                    seen.add(delivery.id)
                done.append(delivery.id)
        except BaseException:
            self._give_back(done, batch)
            raise
        finally:
            self.delivery = None
        self._ack(done)
        return None
