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
from collections.abc import Callable
from typing import Any

from rayka._errors import JournalError
from rayka.persistence._base import MAX_SEQ, QueuedJournal, SyncMode, check_options
from rayka.persistence._protocol import JournalStatistics
from rayka.persistence._sqlite import _HEAD_SQL, SqliteStore, acquire_lock, connect, release_lock

__all__ = ["JournalStatistics", "SqliteJournal", "SyncMode"]

class SqliteJournal(QueuedJournal):
    """A durable, thread-safe event journal in one SQLite file (WAL mode, group commit).

    The embedded default; it implements :class:`~rayka.persistence.Journal`.

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
        check_options(sync, group_window, max_group)
        self._path = os.fspath(path)
        self._sync = sync
        lock = self._path + ".lock"
        if not os.path.exists(self._path) and os.path.exists(lock) and os.path.getsize(lock) > 0:
            raise JournalError(
                f"journal {self._path!r} is missing but its lock file {lock!r} is there: the journal existed "
                "and its file was deleted or moved, and a new empty one would silently lose its events; "
                "restore the file, or delete the lock file to start a new, empty journal"
            )
        self._lock_fd = acquire_lock(self._path)
        try:
            writer, reader = connect(self._path, sync)
        except BaseException:
            release_lock(self._lock_fd)
            raise
        self._name = self._path
        self._reader: sqlite3.Connection | None = reader
        self._reader_lock = threading.Lock()
        self._start_writer(SqliteStore(self._path, writer), sync, group_window, max_group)

    @property
    def path(self) -> str:
        """The database file of this journal."""
        return self._path

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
        params: tuple[Any, ...] = (persistence_id, from_seq, MAX_SEQ if to_seq is None else to_seq)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, limit)
        return self._query(lambda conn: conn.execute(sql, params).fetchall())

    def highest_seq(self, persistence_id: str) -> int:
        """Return the highest sequence number ever assigned to ``persistence_id`` (0 if none)."""
        return self._query(lambda conn: int(conn.execute(_HEAD_SQL, (persistence_id,)).fetchone()[0]))

    def load_snapshot(self, persistence_id: str) -> tuple[int, bytes] | None:
        """Return the latest committed snapshot of ``persistence_id`` as ``(seq, payload)``, or ``None``."""
        rows = self._query(lambda conn: conn.execute(
            "SELECT seq, payload FROM snapshots WHERE persistence_id = ? ORDER BY seq DESC LIMIT 1",
            (persistence_id,)).fetchall())
        return (rows[0][0], rows[0][1]) if rows else None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SqliteJournal {self._path!r} sync={self._sync!r} {state}>"

    def _recovery_rows(
        self, persistence_id: str
    ) -> tuple[tuple[int, bytes] | None, int, list[tuple[int, bytes]], int]:
        def read(conn: sqlite3.Connection) -> Any:
            conn.execute("BEGIN")  # one snapshot of the database for all four reads
            try:
                rows = conn.execute(
                    "SELECT seq, payload FROM snapshots WHERE persistence_id = ? ORDER BY seq DESC LIMIT 1",
                    (persistence_id,)).fetchall()
                snapshot = (rows[0][0], rows[0][1]) if rows else None
                deleted = conn.execute(
                    "SELECT coalesce(max(up_to), 0) FROM deletions WHERE persistence_id = ?",
                    (persistence_id,)).fetchone()[0]
                after = max(snapshot[0] if snapshot else 0, int(deleted))
                events = conn.execute(
                    "SELECT seq, payload FROM events WHERE persistence_id = ? AND seq > ? ORDER BY seq",
                    (persistence_id, after)).fetchall()
                highest = int(conn.execute(_HEAD_SQL, (persistence_id,)).fetchone()[0])
                return snapshot, int(deleted), events, highest
            finally:
                conn.execute("COMMIT")
        return self._query(read)

    def _release(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None
        release_lock(self._lock_fd)

    def _query(self, run: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._reader_lock:
            if self._reader is None:
                raise JournalError(f"journal {self._path!r} is closed; open a new SqliteJournal to read it")
            try:
                return run(self._reader)
            except (sqlite3.Error, UnicodeDecodeError) as exc:  # text that is not UTF-8: damage
                raise JournalError(f"cannot read journal {self._path!r}: {exc}") from exc
