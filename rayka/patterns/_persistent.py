"""Event-sourced actors: persist an event, then change state; replay events on recovery.

A :class:`PersistentActor` keeps its state as the fold of its events. In an
``async receive`` it calls ``await self.persist(event)``: the event is
written to the journal (group commit with every other writer), and only once
it is on disk does :meth:`~PersistentActor.apply` change the state. On start
(and on a restart by its supervisor) the actor loads its latest snapshot
and applies the events after it. Every ``snapshot_every`` events it saves
``snapshot()``, so recovery stays short.

Example:
    >>> import os, tempfile, rayka
    >>> from rayka.persistence import SqliteJournal
    >>> from rayka.patterns import PersistentActor
    >>> class Counter(PersistentActor):
    ...     snapshot_every = 100
    ...     def __init__(self, journal):
    ...         super().__init__(journal, "counter-1")
    ...         self.total = 0
    ...     def apply(self, event):
    ...         self.total += event
    ...     def snapshot(self):
    ...         return self.total
    ...     def restore(self, state):
    ...         self.total = state
    ...     async def receive(self, message):
    ...         if message == "total":
    ...             return self.total
    ...         await self.persist(message)
    >>> path = os.path.join(tempfile.mkdtemp(), "events.db")
    >>> for run in range(2):
    ...     with SqliteJournal(path) as journal, rayka.ActorSystem("doc") as system:
    ...         counter = system.spawn(Counter, journal)
    ...         counter.tell(5)
    ...         print(counter.ask("total").result(timeout=5))
    5
    10
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, ClassVar

from .._errors import JournalError, SerializationError
from ..actors import Actor
from ..actors.spi import stop_failed
from ..persistence import Journal, encode
from ..persistence._open import open_journal

__all__ = ["PersistentActor"]

log = logging.getLogger("rayka.patterns")


def _entity_persistence_id(actor: Actor) -> str:
    """The persistence id of a sharded entity, derived from its type and id (none given)."""
    from ..sharding._refs import entity_of, persistence_id

    entity = entity_of(actor)
    if entity is None:
        raise ValueError(f"{type(actor).__name__}: give a persistence_id (only a sharded entity, started by "
                         f"system.entities(...), gets one derived from its type and id)")
    return persistence_id(*entity)


class PersistentActor(Actor):
    """An actor whose state is rebuilt from its events in a journal.

    Args:
        journal: an open :class:`~rayka.persistence.Journal` (the caller closes it), or
            where to open one for each incarnation (closed when it stops): a
            ``postgresql://`` DSN opens a :class:`~rayka.persistence.PostgresJournal`
            (what an actor that may restart on another node needs), a path an
            :class:`~rayka.persistence.SqliteJournal`.
        persistence_id: this actor's log in the journal (unique per actor). A sharded entity
            (``system.entities``) may leave it out: it gets ``"<entities name>|<entity id>"``
            (:func:`rayka.sharding.persistence_id`), the same wherever its shard runs.

    If recovery fails (the journal is unreachable, or damaged: a gap in the
    numbers, an event that cannot be decoded) the actor stops with that
    :class:`JournalError`, as Akka's persistent actors do, rather than
    restart into the same failure; its parent gets ``ChildFailed`` and the
    asks waiting in its mailbox fail with :class:`~rayka.ActorStopped`
    whose ``__cause__`` is the error.

    Override :meth:`apply` (and :meth:`snapshot` / :meth:`restore` to use
    snapshots, with the class attribute ``snapshot_every``). Call
    ``super().__init__(journal, persistence_id)`` from ``__init__``; a
    subclass that overrides ``on_start`` calls ``super().on_start()``, which
    recovers. ``self.seq`` is the sequence number of the last event applied.
    """

    snapshot_every: ClassVar[int | None] = None

    def __init__(self, journal: Journal | str | os.PathLike[str], persistence_id: str | None = None) -> None:
        if persistence_id is None:
            persistence_id = _entity_persistence_id(self)
        if not isinstance(persistence_id, str) or not persistence_id:
            raise ValueError(f"{type(self).__name__}: persistence_id must be a non-empty str, got {persistence_id!r}")
        self.journal, self.owns_journal = open_journal(journal)
        self.persistence_id = persistence_id
        self.seq = 0
        self.since_snapshot = 0

    # -- to override -------------------------------------------------------------
    def apply(self, event: Any) -> None:
        """Change the state by one event (during recovery, and after each ``persist``)."""
        raise NotImplementedError(f"{type(self).__name__} must define apply(self, event)")

    def snapshot(self) -> Any:
        """The state to save as a snapshot (with ``snapshot_every`` set)."""
        raise NotImplementedError(f"{type(self).__name__} sets snapshot_every, so it must define snapshot(self)")

    def restore(self, state: Any) -> None:
        """Set the state from a snapshot that :meth:`snapshot` returned."""
        raise NotImplementedError(f"{type(self).__name__} sets snapshot_every, so it must define restore(self, state)")

    # -- machinery ---------------------------------------------------------------
    def on_start(self) -> Any:
        try:
            self.recover()
        except JournalError as error:
            log.error("rayka: %s: recovery of %r failed, so it stops: %s", self.context.self.path,
                      self.persistence_id, error)
            stop_failed(self.context.self, error)

    def on_stop(self) -> Any:
        if self.owns_journal:
            self.journal.close()  # commits what was queued, and frees it for the next incarnation

    def recover(self) -> int:
        """Load the latest snapshot and apply the events after it; returns how many events were applied.

        Raises:
            JournalError: the journal cannot be read, or its log of this actor is damaged.
        """
        found = self.journal.recover(self.persistence_id)
        self.seq = 0
        state = found.state()
        if state is not None:
            self.seq, snapshot = state
            self.restore(snapshot)
        applied = 0
        for seq, event in found.replay():
            self.apply(event)
            self.seq = seq
            applied += 1
        self.seq = max(self.seq, found.highest_seq)
        self.since_snapshot = applied
        return applied

    def persist(self, *events: Any) -> Awaitable[int]:
        """Write ``events`` (all or none), then apply them; await it for the last one's sequence number.

        Raises:
            JournalError: they could not be written; the state is unchanged.
            TypeError: called outside a coroutine (a plain ``receive``), where
                nothing would await it and the events would never be written.
        """
        try:
            in_task = asyncio.current_task() is not None
        except RuntimeError:  # no loop in this thread: a blocking actor
            in_task = False
        if not in_task:
            raise TypeError(
                f"{type(self).__name__} at {self.context.self.path}: persist() must be awaited from an async "
                "handler; declare `async def receive(self, message)` and write `await self.persist(event)` "
                "(the events were not written)"
            )
        return self._persist(events)

    async def _persist(self, events: tuple) -> int:
        if not events:
            return self.seq
        try:
            payloads = [encode(event) for event in events]
        except SerializationError as error:
            raise SerializationError(f"{type(self).__name__} at {self.context.self.path} cannot persist "
                                     f"{self.persistence_id!r}'s event (nothing was written): {error}") from error
        seq = await asyncio.wrap_future(self.journal.append(self.persistence_id, payloads))
        for event in events:
            self.apply(event)
        self.seq = seq
        self.since_snapshot += len(events)
        every = self.snapshot_every
        if every is not None and self.since_snapshot >= every:
            self.since_snapshot = 0
            self.save_snapshot()
        return seq

    def save_snapshot(self) -> None:
        """Save ``snapshot()`` as of ``self.seq`` now (also done every ``snapshot_every`` events)."""
        path, pid = self.context.self.path, self.persistence_id

        def saved(future: Any) -> None:
            error = future.exception()
            if error is not None:  # recovery still works from the events, only slower
                log.error("rayka: %s: snapshot of %r failed: %r", path, pid, error)

        self.journal.save_snapshot(pid, self.seq, encode(self.snapshot())).add_done_callback(saved)
