"""What both journals share: checking requests, queueing them to the writer, closing, recovering.

A journal subclass opens its :class:`~rayka.persistence._writer.Store`, hands it to
:meth:`QueuedJournal._start_writer`, and implements the reads
(``read``, ``highest_seq``, ``load_snapshot`` and ``_recovery_rows``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Literal

from rayka._errors import JournalError
from rayka.persistence._protocol import JournalStatistics, Recovery, checked_recovery
from rayka.persistence._writer import APPEND, DELETE, SNAPSHOT, STOP, GroupWriter, Store

__all__ = ["MAX_SEQ", "QueuedJournal", "SyncMode", "check_options"]

MAX_SEQ = 2**63 - 1

SyncMode = Literal["group", "always", "off"]


def check_options(sync: object, group_window: object, max_group: object) -> None:
    """Refuse a journal's options before it opens anything (both journals take the same three)."""
    if sync not in ("group", "always", "off"):
        raise ValueError(f"sync must be 'group', 'always' or 'off', not {sync!r}")
    if not isinstance(group_window, (int, float)) or not group_window >= 0:
        raise ValueError(f"group_window must be >= 0 seconds, not {group_window!r}")
    if not isinstance(max_group, int) or max_group < 1:
        raise ValueError(f"max_group must be an int >= 1, not {max_group!r}")


class QueuedJournal:
    """The write side of a journal: requests go to one :class:`GroupWriter` thread."""

    _name: str
    _writer: GroupWriter

    def _start_writer(self, store: Store, sync: SyncMode, group_window: float, max_group: int) -> None:
        """Hand ``store`` to the writer thread: ``sync="always"`` commits every request on its own."""
        self._state_lock = threading.Lock()
        self._closed = False
        self._crash: BaseException | None = None
        always = sync == "always"
        self._writer = GroupWriter(
            repr(self._name), store, per_request=always, window=0.0 if always else group_window,
            max_group=max_group, on_exit=self._on_writer_exit,
        )
        self._queue = self._writer.queue

    # ------------------------------------------------------------------ public

    @property
    def name(self) -> str:
        """The journal's path or DSN (without a password), for messages."""
        return self._name

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the writer died)."""
        return self._closed

    def append(self, persistence_id: str, payloads: Sequence[bytes]) -> Future[int]:
        """Queue events for ``persistence_id``; the future resolves once they are committed.

        The events get the next sequence numbers of that id, contiguous and in
        the order given; appends from one thread keep their order.

        Args:
            persistence_id: Whose log to append to (non-empty string).
            payloads: The serialized events (bytes-like), possibly empty.

        Returns:
            A future of the sequence number of the last event (the current
            highest one if ``payloads`` is empty). It fails with
            :class:`JournalError` if the transaction could not be committed,
            in which case none of these events were written.

        Raises:
            JournalError: The journal is closed.
            TypeError: A payload is not bytes-like.
        """
        _check_id(persistence_id)
        events = tuple(payloads)
        for payload in events:
            if type(payload) is not bytes:
                events = tuple(map(_as_bytes, events))
                break
        return self._submit(APPEND, persistence_id, events, 0)

    def save_snapshot(self, persistence_id: str, seq: int, payload: bytes) -> Future[None]:
        """Queue a snapshot of the state of ``persistence_id`` after event ``seq``.

        Older snapshots of that id are dropped when it commits.

        Args:
            persistence_id: Whose state this is.
            seq: The last event folded into the snapshot (>= 0).
            payload: The serialized state.

        Returns:
            A future that resolves to ``None`` once the snapshot is committed.

        Raises:
            JournalError: The journal is closed.
        """
        _check_id(persistence_id)
        _check_seq(seq)
        return self._submit(SNAPSHOT, persistence_id, _as_bytes(payload), seq)

    def delete_up_to(self, persistence_id: str, seq: int) -> Future[int]:
        """Queue the deletion of the events of ``persistence_id`` numbered ``seq`` and below.

        Sequence numbers are never reused: after the deletion, new events
        still continue from the highest number ever assigned.

        Args:
            persistence_id: Whose events to delete.
            seq: The last event to delete (clamped to the highest assigned).

        Returns:
            A future of how many events were deleted.

        Raises:
            JournalError: The journal is closed.
        """
        _check_id(persistence_id)
        _check_seq(seq)
        return self._submit(DELETE, persistence_id, None, seq)

    def recover(self, persistence_id: str) -> Recovery:
        """Wait for the writes queued so far, then read and check what ``persistence_id`` needs to recover.

        Returns:
            The latest snapshot and the events after it, numbered without a gap.

        Raises:
            JournalError: The journal is closed or unreachable, or the log is
                damaged (a gap in the numbers, named in the message).
        """
        _check_id(persistence_id)
        self._submit(APPEND, persistence_id, (), 0).result()  # what a previous incarnation queued is committed
        snapshot, deleted_up_to, events, highest = self._recovery_rows(persistence_id)
        return checked_recovery(self._name, persistence_id, snapshot, deleted_up_to, events, highest)

    def statistics(self) -> JournalStatistics:
        """Return the counters of what this journal has committed so far."""
        return JournalStatistics(*self._writer.stats)

    def close(self) -> None:
        """Commit what is queued, stop the writer thread and release the journal.

        Idempotent. Appends after this raise :class:`JournalError`.
        """
        with self._state_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(STOP)
        if threading.current_thread() is not self._writer.thread:
            self._writer.thread.join()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --------------------------------------------------------------- subclasses

    def _recovery_rows(
        self, persistence_id: str
    ) -> tuple[tuple[int, bytes] | None, int, list[tuple[int, bytes]], int]:
        """``(snapshot, deleted_up_to, events after both, highest_seq)``, read in one transaction."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the readers and free what the journal holds (called once the writer has stopped)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- callers

    def _submit(self, kind: int, persistence_id: str, data: Any, seq: int) -> Future[Any]:
        future: Future[Any] = Future()
        with self._state_lock:
            if self._closed:
                why = f"its writer thread died ({self._crash!r})" if self._crash else "it is closed"
                raise JournalError(
                    f"journal {self._name!r} cannot take writes: {why}; open a new {type(self).__name__}")
            self._queue.put((kind, persistence_id, data, seq, future))
        return future

    def _on_writer_exit(self, crash: BaseException | None) -> None:
        with self._state_lock:
            self._closed = True
            self._crash = crash
        self._release()


def _as_bytes(payload: object) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"journal payloads must be bytes, not {type(payload).__name__}; serialize them with encode()")
    return bytes(payload)


def _check_id(persistence_id: object) -> None:
    if not isinstance(persistence_id, str) or not persistence_id:
        raise TypeError(f"a persistence_id must be a non-empty str, not {persistence_id!r}")


def _check_seq(seq: object) -> None:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError(f"a sequence number must be an int >= 0, not {seq!r}")
