"""Open, lock and check the SQLite file behind a :class:`SqliteJournal`.

Everything here runs once, when a journal opens: the advisory lock that keeps
a second process out, the SQLite header check, the WAL and ``synchronous``
pragmas, and the schema (created on a new file, checked on an old one).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3

from rayka._errors import JournalError

__all__ = ["FORMAT_VERSION", "SqliteStore", "acquire_lock", "connect", "release_lock"]

#: Version of the on-disk layout; a file of a later version is refused, version 1 is upgraded.
FORMAT_VERSION = 2

_PAGE_SIZE = 16384
_HEADER = b"SQLite format 3\x00"
_SYNCHRONOUS = {"group": "FULL", "always": "FULL", "off": "OFF"}
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE events(
    persistence_id TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY(persistence_id, seq)) WITHOUT ROWID;
CREATE TABLE snapshots(
    persistence_id TEXT NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY(persistence_id, seq)) WITHOUT ROWID;
CREATE TABLE deletions(
    persistence_id TEXT PRIMARY KEY, up_to INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE heads(
    persistence_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
"""
# Version 2 added `heads`: the highest number assigned per id, kept apart from the events
# so that recovery notices lost events at the end of a log, not only in the middle.
_UPGRADE_1 = """
CREATE TABLE heads(persistence_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO heads SELECT persistence_id, max(seq) FROM (
    SELECT persistence_id, max(seq) AS seq FROM events GROUP BY persistence_id
    UNION ALL SELECT persistence_id, up_to FROM deletions) GROUP BY persistence_id;
UPDATE meta SET value = 2 WHERE key = 'version'
"""
_TABLES = {
    "meta": ["key", "value"],
    "events": ["persistence_id", "seq", "payload"],
    "snapshots": ["persistence_id", "seq", "payload"],
    "deletions": ["persistence_id", "up_to"],
    "heads": ["persistence_id", "seq"],
}


def acquire_lock(path: str) -> int:
    """Take the exclusive advisory lock on ``path + ".lock"`` without waiting.

    Args:
        path: The journal's database path.

    Returns:
        The open descriptor of the lock file; closing it releases the lock.

    Raises:
        JournalError: Another process (or another journal in this process)
            holds the lock, or the lock file cannot be created.
    """
    lock_path = path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise JournalError(
            f"cannot create the lock file {lock_path!r} of journal {path!r}: {exc.strerror}; "
            "check that its directory exists and is writable"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise JournalError(
            f"journal {path!r} is in use by another writer (pid {holder} holds {lock_path!r}); "
            "stop that process or close its journal, or open a different path"
        ) from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def release_lock(fd: int) -> None:
    """Release the lock taken by :func:`acquire_lock`."""
    try:
        os.close(fd)
    except OSError:  # pragma: no cover - already closed
        pass


def _check_header(path: str) -> None:
    try:
        with open(path, "rb") as file:
            header = file.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JournalError(f"cannot read journal {path!r}: {exc.strerror}") from exc
    if header and header != _HEADER:
        raise JournalError(
            f"{path!r} is not an SQLite database, so it cannot be a rayka journal; "
            "move the file aside or open the journal at another path"
        )


def _check_schema(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('format', 'rayka-journal'), ('version', ?)", (FORMAT_VERSION,))
            conn.execute("COMMIT")
            return
        if "meta" not in tables:
            raise JournalError(
                f"{path!r} is an SQLite database but not a rayka journal (tables: {', '.join(sorted(tables))}); "
                "open the journal at another path"
            )
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if meta.get("format") == "rayka-journal" and meta.get("version") == 1 and "heads" not in tables:
            for statement in _UPGRADE_1.split(";"):
                conn.execute(statement)
            meta["version"] = FORMAT_VERSION
        if meta.get("format") != "rayka-journal" or meta.get("version") != FORMAT_VERSION:
            raise JournalError(
                f"journal {path!r} has format {meta.get('format')!r} version {meta.get('version')!r}, "
                f"this rayka reads 'rayka-journal' version {FORMAT_VERSION}; "
                "open it with the rayka version that wrote it, or start a new journal at another path"
            )
        for table, columns in _TABLES.items():
            found = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            if found != columns:
                raise JournalError(
                    f"journal {path!r} has a damaged schema (table {table!r} has columns {found}, "
                    f"expected {columns}); restore it from a backup or start a new journal at another path"
                )
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.rollback()


def connect(path: str, sync: str) -> tuple[sqlite3.Connection, sqlite3.Connection]:
    """Open the writer and reader connections of a journal, creating the schema if new.

    The caller must hold the lock from :func:`acquire_lock`.

    Args:
        path: The journal's database path.
        sync: ``"group"``, ``"always"`` or ``"off"``.

    Returns:
        ``(writer, reader)``: two autocommit connections usable from any thread
        (the journal gives the writer to one thread and guards the reader).

    Raises:
        JournalError: The file is not an SQLite database, is damaged, or holds
            another schema or format version.
    """
    _check_header(path)
    writer = reader = None
    try:
        writer = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
        # Only takes effect on a new file. WITHOUT ROWID tables slow down a lot
        # once rows pass ~1/20 of a page: 16 KiB pages keep ~1 KB events fast.
        writer.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {path!r} could not switch to WAL mode (got {mode!r})")
        writer.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[sync]}")
        _check_schema(writer, path)
        reader = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA query_only = 1")
        return writer, reader
    except BaseException as exc:
        for conn in (reader, writer):
            if conn is not None:
                conn.close()
        if isinstance(exc, (sqlite3.Error, UnicodeDecodeError)):  # text that is not UTF-8: damage
            raise JournalError(f"cannot open journal {path!r}: {exc}; {_open_hint(path)}") from exc
        raise


def _open_hint(path: str) -> str:
    directory = os.path.dirname(os.path.abspath(path))
    unwritable = [name for name in (directory, path, path + "-wal", path + "-shm")
                  if os.path.exists(name) and not os.access(name, os.W_OK)]
    if unwritable:
        return (f"{unwritable[0]!r} is read-only: the journal writes the file and its -wal and -shm files in "
                "that directory, so give this process write access there or open a journal at another path")
    return ("if the file is damaged, move it aside (with its -wal and -shm files) or restore it from a backup")


class SqliteStore:
    """The statements of a :class:`~rayka.persistence._writer.GroupWriter` on SQLite.

    It remembers which file it opened (device and inode) and, before every
    commit, checks that the path still names that file: a journal whose file
    was deleted or replaced while open fails that commit and every later
    write, instead of acknowledging writes that no reopening would find.
    """

    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    request_errors: tuple[type[BaseException], ...] = (
        sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError)

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self._path = path
        self._conn = conn
        self._identity = _identity(path)
        self._broken: JournalError | None = None

    def begin(self) -> None:
        if self._broken is not None:
            raise self._broken
        self._conn.execute("BEGIN IMMEDIATE")

    def head(self, persistence_id: str) -> int:
        return int(self._conn.execute(_HEAD_SQL, (persistence_id,)).fetchone()[0])

    def insert_events(self, rows: list[tuple[str, int, bytes]]) -> None:
        self._conn.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)

    def set_heads(self, heads: list[tuple[str, int]]) -> None:
        self._conn.executemany("INSERT OR REPLACE INTO heads VALUES (?, ?)", heads)

    def put_snapshot(self, persistence_id: str, seq: int, payload: bytes) -> None:
        conn = self._conn
        conn.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (persistence_id, seq, payload))
        conn.execute("DELETE FROM snapshots WHERE persistence_id = ? AND seq < ?", (persistence_id, seq))

    def delete_events(self, persistence_id: str, up_to: int) -> int:
        conn = self._conn
        cursor = conn.execute("DELETE FROM events WHERE persistence_id = ? AND seq <= ?", (persistence_id, up_to))
        conn.execute(
            "INSERT INTO deletions VALUES (?1, ?2) ON CONFLICT(persistence_id) DO UPDATE SET up_to = max(up_to, ?2)",
            (persistence_id, up_to),
        )
        return cursor.rowcount

    def commit(self) -> None:
        if _identity(self._path) != self._identity:
            self._broken = JournalError(
                f"the file of journal {self._path!r} was deleted or replaced while the journal had it open; "
                "writes to it would be lost, so this journal takes no more: nothing of this request was "
                "written. Restore the file (or move the new one aside) and open a new SqliteJournal"
            )
            raise self._broken
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        self._conn.close()


_HEAD_SQL = "SELECT coalesce((SELECT seq FROM heads WHERE persistence_id = ?1), 0)"


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
