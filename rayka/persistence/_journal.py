"""An append-only event journal on SQLite, written by one thread with group commit.

Every write (append, snapshot, deletion) is queued to a single writer thread.
The writer takes what is queued, lingers up to ``group_window`` seconds for
more (at most ``max_group`` requests, and no longer than requests keep
coming), writes them in one transaction and
commits it: one fsync for the whole group. Only then does each request's
future resolve, so a resolved future means the write is on disk (with
``sync="group"`` or ``"always"``) and will be read back after a crash.
Reads run on their own connection and see every committed write.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from rayka._errors import JournalError
from rayka.persistence._sqlite import acquire_lock, connect, release_lock
from rayka.persistence._writer import APPEND, DELETE, SNAPSHOT, STOP, GroupWriter

__all__ = ["JournalStatistics", "SqliteJournal"]

SyncMode = Literal["group", "always", "off"]

_MAX_SEQ = 2**63 - 1


@dataclass(frozen=True, slots=True)
class JournalStatistics:
    """Counters of what a journal has committed since it opened.

    Attributes:
        appends: Append requests committed.
        commits: Transactions committed (with ``sync="group"``, one fsync each).
        events: Events committed.
        bytes: Payload bytes of those events.
        failed: Requests whose future failed with :class:`JournalError`.
    """

    appends: int = 0
    commits: int = 0
    events: int = 0
    bytes: int = 0
    failed: int = 0


class SqliteJournal:
    """A durable, thread-safe event journal in one SQLite file (WAL mode, group commit).

    Each ``persistence_id`` (an actor, a queue) has its own log of events
    numbered 1, 2, 3, ... by the journal, plus at most one current snapshot.
    Only one journal, in one process, may have a file open: a second one
    fails at once with :class:`JournalError`.

    Args:
        path: The database file; created if missing. A sidecar ``path +
            ".lock"`` holds the advisory lock.
        sync: ``"group"`` commits each group with ``synchronous=FULL`` (one
            fsync per group: durable and fast); ``"always"`` commits every
            request on its own (one fsync per request); ``"off"`` groups but
            never fsyncs (survives a crash of the process, not of the machine).
        group_window: Longest the writer waits for more requests after the
            first one of a group (it stops early once none has come for
            0.2 ms); ``0`` groups only what is already queued.
        max_group: Most requests in one transaction.

    Raises:
        JournalError: The file is corrupt, not a journal, of another format
            version, or in use by another process.

    Example:
        >>> import os, tempfile
        >>> directory = tempfile.TemporaryDirectory()
        >>> with SqliteJournal(os.path.join(directory.name, "journal.db")) as journal:
        ...     journal.append("counter-1", [b"add 5", b"add 7"]).result(timeout=5)
        ...     journal.read("counter-1")
        2
        [(1, b'add 5'), (2, b'add 7')]
        >>> directory.cleanup()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sync: SyncMode = "group",
        group_window: float = 0.002,
        max_group: int = 1000,
    ) -> None:
        if sync not in ("group", "always", "off"):
            raise ValueError(f"sync must be 'group', 'always' or 'off', not {sync!r}")
        if not group_window >= 0:
            raise ValueError(f"group_window must be >= 0 seconds, not {group_window!r}")
        if not isinstance(max_group, int) or max_group < 1:
            raise ValueError(f"max_group must be an int >= 1, not {max_group!r}")
        self._path = os.fspath(path)
        self._sync = sync
        self._lock_fd = acquire_lock(self._path)
        try:
            writer, reader = connect(self._path, sync)
        except BaseException:
            release_lock(self._lock_fd)
            raise
        self._reader: sqlite3.Connection | None = reader
        self._reader_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._crash: BaseException | None = None
        self._writer = GroupWriter(
            self._path,
            writer,
            per_request=sync == "always",
            window=0.0 if sync == "always" else group_window,
            max_group=max_group,
            on_exit=self._on_writer_exit,
        )
        self._queue = self._writer.queue

    # ------------------------------------------------------------------ public

    @property
    def path(self) -> str:
        """The database file of this journal."""
        return self._path

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

    def read(
        self, persistence_id: str, from_seq: int = 1, to_seq: int | None = None, *, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """Return the committed events of ``persistence_id`` from ``from_seq`` on, in order.

        Args:
            persistence_id: Whose events to read.
            from_seq: The first sequence number wanted.
            to_seq: The last one wanted; ``None`` reads to the end.
            limit: Most events to return; ``None`` for all.

        Returns:
            ``(seq, payload)`` pairs in increasing ``seq`` order.
        """
        sql = "SELECT seq, payload FROM events WHERE persistence_id = ? AND seq >= ? AND seq <= ? ORDER BY seq"
        params: tuple[Any, ...] = (persistence_id, from_seq, _MAX_SEQ if to_seq is None else to_seq)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, limit)
        return self._query(sql, params)

    def highest_seq(self, persistence_id: str) -> int:
        """Return the highest committed sequence number of ``persistence_id`` (0 if none)."""
        rows = self._query(
            "SELECT max(coalesce((SELECT max(seq) FROM events WHERE persistence_id = ?1), 0),"
            " coalesce((SELECT up_to FROM deletions WHERE persistence_id = ?1), 0))",
            (persistence_id,),
        )
        return int(rows[0][0])

    def load_snapshot(self, persistence_id: str) -> tuple[int, bytes] | None:
        """Return the latest committed snapshot of ``persistence_id`` as ``(seq, payload)``, or ``None``."""
        rows = self._query(
            "SELECT seq, payload FROM snapshots WHERE persistence_id = ? ORDER BY seq DESC LIMIT 1", (persistence_id,)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def statistics(self) -> JournalStatistics:
        """Return the counters of what this journal has committed so far."""
        return JournalStatistics(*self._writer.stats)

    def close(self) -> None:
        """Commit what is queued, stop the writer thread and release the file.

        Idempotent. Appends after this raise :class:`JournalError`.
        """
        with self._state_lock:
            if not self._closed:
                self._closed = True
                self._queue.put(STOP)
        if threading.current_thread() is not self._writer.thread:
            self._writer.thread.join()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SqliteJournal {self._path!r} sync={self._sync!r} {state}>"

    # ----------------------------------------------------------------- callers

    def _submit(self, kind: int, persistence_id: str, data: Any, seq: int) -> Future[Any]:
        future: Future[Any] = Future()
        with self._state_lock:
            if self._closed:
                why = f"its writer thread died ({self._crash!r})" if self._crash else "it is closed"
                raise JournalError(f"journal {self._path!r} cannot take writes: {why}; open a new SqliteJournal")
            self._queue.put((kind, persistence_id, data, seq, future))
        return future

    def _on_writer_exit(self, crash: BaseException | None) -> None:
        with self._state_lock:
            self._closed = True
            self._crash = crash
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None
        release_lock(self._lock_fd)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._reader_lock:
            if self._reader is None:
                raise JournalError(f"journal {self._path!r} is closed; open a new SqliteJournal to read it")
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"cannot read journal {self._path!r}: {exc}") from exc


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
