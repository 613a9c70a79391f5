"""An event journal in PostgreSQL: the journal every node of a cluster reaches.

The same contract as :class:`~rayka.persistence.SqliteJournal` (group commit
by one writer thread, contiguous numbers per persistence id, checked
recovery), on tables in one schema of a PostgreSQL database. Driver:
psycopg 3 (``pip install "rayka[postgres]"``).

One writer per persistence id, enforced by the database: each journal holds
one session advisory lock on an owner number of its own, and claims a
persistence id (a row of ``writers``) the first time it writes it. A claim
held by an owner whose lock is still held elsewhere is refused at once with
:class:`JournalError`; a claim whose owner's session is gone (its process
died, its connection dropped) is taken over.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from typing import Any

from rayka._errors import JournalError
from rayka.persistence._base import MAX_SEQ, QueuedJournal, SyncMode, check_options

try:
    import psycopg
    from psycopg import conninfo, sql
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        'PostgresJournal needs psycopg 3: pip install "rayka[postgres]" (or pip install "psycopg[binary]")'
    ) from exc

__all__ = ["PostgresJournal"]

#: Version of the table layout; a schema with another version is refused.
FORMAT_VERSION = 1
#: Groups of at least this many events are written with COPY.
_COPY_FROM = 32

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.events(
    persistence_id text NOT NULL, seq bigint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (persistence_id, seq));
CREATE TABLE IF NOT EXISTS {s}.snapshots(
    persistence_id text NOT NULL, seq bigint NOT NULL, payload bytea NOT NULL, PRIMARY KEY (persistence_id, seq));
CREATE TABLE IF NOT EXISTS {s}.deletions(persistence_id text PRIMARY KEY, up_to bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.heads(persistence_id text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.writers(persistence_id text PRIMARY KEY, owner bigint NOT NULL);
INSERT INTO {s}.meta VALUES ('format', 'rayka-journal'), ('version', '{version}') ON CONFLICT DO NOTHING
"""
_HEAD = "SELECT coalesce((SELECT seq FROM {s}.heads WHERE persistence_id = %(p)s), 0)"
# Claim a persistence id for this owner, unless another owner still holds its advisory lock.
_CLAIM = """
INSERT INTO {s}.writers AS w VALUES (%(p)s, %(me)s)
ON CONFLICT (persistence_id) DO UPDATE SET owner = excluded.owner
WHERE w.owner = excluded.owner OR NOT EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::bigint = (w.owner >> 32) AND l.objid::bigint = (w.owner & 4294967295))
RETURNING owner
"""


class PostgresJournal(QueuedJournal):
    """A durable, thread-safe event journal in a PostgreSQL database (group commit).

    It implements :class:`~rayka.persistence.Journal`, like
    :class:`~rayka.persistence.SqliteJournal`; use it where actors may restart
    on another machine (a cluster), since every node reaches the server.
    The tables are created in ``schema`` on first use.

    Args:
        dsn: A libpq connection string or URI, e.g. ``"postgresql://rayka@db:5432/app"``.
        schema: The PostgreSQL schema holding the journal's tables.
        sync: ``"group"`` commits each group durably (one WAL flush per
            group); ``"always"`` commits every request on its own; ``"off"``
            groups with ``synchronous_commit = off`` (a server crash may lose
            the last acknowledged writes).
        group_window: Longest the writer waits for more requests after the first of a group.
        max_group: Most requests in one transaction.
        connect_timeout: Seconds to wait for the server when connecting.

    Raises:
        JournalError: The server cannot be reached, or the schema holds
            tables of another format version.

    A write that fails because the server went away fails its future with
    :class:`JournalError` (it may or may not have been committed, as with any
    database; an acknowledged write is never lost); the next write
    reconnects. A second journal that writes a persistence id this one
    writes gets :class:`JournalError` at once.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "rayka",
        sync: SyncMode = "group",
        group_window: float = 0.002,
        max_group: int = 1000,
        connect_timeout: float = 5.0,
    ) -> None:
        check_options(sync, group_window, max_group)
        if not isinstance(schema, str) or not schema:
            raise ValueError(f"schema must be a non-empty str, not {schema!r}")
        self._dsn = dsn
        self._name = _display(dsn, schema)
        self._schema = schema
        self._sync = sync
        self._timeout = connect_timeout
        self._sql = _Statements(schema)
        self._reader_lock = threading.Lock()
        self._reader: psycopg.Connection[Any] | None = self._connect()
        try:
            self._create_tables(self._reader)
        except BaseException:
            self._reader.close()
            raise
        self._start_writer(_PostgresStore(self._name, self._connect, self._sql), sync, group_window, max_group)

    # ------------------------------------------------------------------ reads

    def read(
        self, persistence_id: str, from_seq: int = 1, to_seq: int | None = None, *, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """Return the committed events of ``persistence_id`` from ``from_seq`` on, in order."""
        params = {"p": persistence_id, "a": from_seq, "b": MAX_SEQ if to_seq is None else to_seq,
                  "n": limit}
        return self._query(lambda conn: [(seq, bytes(payload)) for seq, payload in conn.execute(
            self._sql.read, params).fetchall()])

    def highest_seq(self, persistence_id: str) -> int:
        """Return the highest sequence number ever assigned to ``persistence_id`` (0 if none)."""
        return self._query(lambda conn: int(_one(conn.execute(self._sql.head, {"p": persistence_id}))))

    def load_snapshot(self, persistence_id: str) -> tuple[int, bytes] | None:
        """Return the latest committed snapshot of ``persistence_id`` as ``(seq, payload)``, or ``None``."""
        def load(conn: psycopg.Connection[Any]) -> tuple[int, bytes] | None:
            row = conn.execute(self._sql.snapshot, {"p": persistence_id}).fetchone()
            return (row[0], bytes(row[1])) if row else None
        return self._query(load)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<PostgresJournal {self._name!r} sync={self._sync!r} {state}>"

    # ------------------------------------------------------------ internals

    def _recovery_rows(
        self, persistence_id: str
    ) -> tuple[tuple[int, bytes] | None, int, list[tuple[int, bytes]], int]:
        def read(conn: psycopg.Connection[Any]) -> Any:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                p = {"p": persistence_id}
                row = conn.execute(self._sql.snapshot, p).fetchone()
                snapshot = (row[0], bytes(row[1])) if row else None
                deleted = int(_one(conn.execute(self._sql.deleted, p)))
                after = max(snapshot[0] if snapshot else 0, deleted)
                events = [(seq, bytes(payload)) for seq, payload in conn.execute(
                    self._sql.read, {"p": persistence_id, "a": after + 1, "b": MAX_SEQ, "n": None}).fetchall()]
                highest = int(_one(conn.execute(self._sql.head, p)))
            return snapshot, deleted, events, highest
        return self._query(read)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=max(1, round(self._timeout)))
        except psycopg.Error as exc:
            raise JournalError(
                f"cannot connect to journal {self._name!r}: {exc}; check that the server is up and the DSN "
                "(host, port, user, database, password) is right"
            ) from exc
        if self._sync == "off":
            conn.execute("SET synchronous_commit = off")
        return conn

    def _create_tables(self, conn: psycopg.Connection[Any]) -> None:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_key("rayka-journal-schema"),))
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self._schema)))
                for statement in _TABLES.split(";"):
                    conn.execute(self._sql.format(statement.replace("{version}", str(FORMAT_VERSION))))
                meta = dict(conn.execute(self._sql.format("SELECT key, value FROM {s}.meta")).fetchall())
        except psycopg.Error as exc:
            raise JournalError(f"cannot create the tables of journal {self._name!r}: {exc}") from exc
        if meta.get("format") != "rayka-journal" or meta.get("version") != str(FORMAT_VERSION):
            raise JournalError(
                f"journal {self._name!r} has format {meta.get('format')!r} version {meta.get('version')!r}, "
                f"this rayka reads 'rayka-journal' version {FORMAT_VERSION}; "
                "open it with the rayka version that wrote it, or use another schema"
            )

    def _release(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
            self._reader = None

    def _query(self, run: Callable[[psycopg.Connection[Any]], Any]) -> Any:
        with self._reader_lock:
            if self._closed and self._reader is None:
                raise JournalError(f"journal {self._name!r} is closed; open a new PostgresJournal to read it")
            for attempt in (1, 2):
                try:
                    if self._reader is None or self._reader.closed:
                        self._reader = self._connect()
                    return run(self._reader)
                except psycopg.OperationalError as exc:  # the server went away: reconnect once
                    if self._reader is not None:
                        self._reader.close()
                    self._reader = None
                    if attempt == 2:
                        raise JournalError(f"cannot read journal {self._name!r}: {exc}") from exc
                except psycopg.Error as exc:
                    raise JournalError(f"cannot read journal {self._name!r}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


class _Statements:
    """The SQL of one schema, composed once."""

    def __init__(self, schema: str) -> None:
        self._schema = sql.Identifier(schema)
        self.head = self.format(_HEAD)
        self.claim = self.format(_CLAIM)
        # A big group goes in by COPY (the fastest way into PostgreSQL); a small one as three
        # arrays in one INSERT (one round trip, where COPY takes more).
        self.copy = self.format("COPY {s}.events (persistence_id, seq, payload) FROM STDIN")
        self.insert = self.format(
            "INSERT INTO {s}.events SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bytea[])")
        self.set_head = self.format(
            "INSERT INTO {s}.heads VALUES (%s, %s) ON CONFLICT (persistence_id) DO UPDATE SET seq = excluded.seq")
        self.read = self.format(
            "SELECT seq, payload FROM {s}.events WHERE persistence_id = %(p)s AND seq >= %(a)s AND seq <= %(b)s"
            " ORDER BY seq LIMIT %(n)s")
        self.snapshot = self.format(
            "SELECT seq, payload FROM {s}.snapshots WHERE persistence_id = %(p)s ORDER BY seq DESC LIMIT 1")
        self.deleted = self.format("SELECT coalesce(max(up_to), 0) FROM {s}.deletions WHERE persistence_id = %(p)s")
        self.put_snapshot = self.format(
            "INSERT INTO {s}.snapshots VALUES (%(p)s, %(q)s, %(d)s) ON CONFLICT (persistence_id, seq)"
            " DO UPDATE SET payload = excluded.payload")
        self.drop_snapshots = self.format("DELETE FROM {s}.snapshots WHERE persistence_id = %(p)s AND seq < %(q)s")
        self.delete = self.format("DELETE FROM {s}.events WHERE persistence_id = %(p)s AND seq <= %(q)s")
        self.mark = self.format(
            "INSERT INTO {s}.deletions AS d VALUES (%(p)s, %(q)s) ON CONFLICT (persistence_id)"
            " DO UPDATE SET up_to = greatest(d.up_to, excluded.up_to)")

    def format(self, text: str) -> sql.Composed:
        return sql.SQL(text.strip()).format(s=self._schema)


class _PostgresStore:
    """The statements of the group writer on PostgreSQL, reconnecting after the server went away."""

    errors: tuple[type[BaseException], ...] = (psycopg.Error,)
    request_errors: tuple[type[BaseException], ...] = (psycopg.errors.IntegrityError, psycopg.errors.DataError)

    def __init__(self, name: str, connect: Callable[[], psycopg.Connection[Any]], statements: _Statements) -> None:
        self._name = name
        self._connect = connect
        self._sql = statements
        self._conn: psycopg.Connection[Any] | None = None
        self._owner = 0
        self._claimed: set[str] = set()

    def begin(self) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = self._connect()
            # a fresh owner number per session: claims of the old one lapse with its lock
            self._owner = secrets.randbits(62) + 1
            self._claimed.clear()
            conn.execute("SELECT pg_advisory_lock(%s)", (self._owner,))
        conn.execute("BEGIN")

    def head(self, persistence_id: str) -> int:
        conn = self._conn
        assert conn is not None
        if persistence_id not in self._claimed:
            claimed = conn.execute(self._sql.claim, {"p": persistence_id, "me": self._owner}).fetchone()
            if claimed is None:
                raise JournalError(
                    f"journal {self._name!r}: persistence id {persistence_id!r} is being written by another journal "
                    "(another process or node holds it); a persistence id has one writer at a time: stop the "
                    "other writer (or wait until its process is gone), then write again"
                )
            self._claimed.add(persistence_id)
        return int(_one(conn.execute(self._sql.head, {"p": persistence_id})))

    def insert_events(self, rows: list[tuple[str, int, bytes]]) -> None:
        assert self._conn is not None
        if len(rows) < _COPY_FROM:
            pids, seqs, payloads = zip(*rows)
            self._conn.execute(self._sql.insert, (list(pids), list(seqs), list(payloads)))
            return
        with self._conn.cursor() as cursor, cursor.copy(self._sql.copy) as copy:
            write = copy.write_row
            for row in rows:
                write(row)

    def set_heads(self, heads: list[tuple[str, int]]) -> None:
        assert self._conn is not None
        with self._conn.cursor() as cursor:
            cursor.executemany(self._sql.set_head, heads)

    def put_snapshot(self, persistence_id: str, seq: int, payload: bytes) -> None:
        assert self._conn is not None
        params = {"p": persistence_id, "q": seq, "d": payload}
        self._conn.execute(self._sql.put_snapshot, params)
        self._conn.execute(self._sql.drop_snapshots, params)

    def delete_events(self, persistence_id: str, up_to: int) -> int:
        assert self._conn is not None
        params = {"p": persistence_id, "q": up_to}
        count = self._conn.execute(self._sql.delete, params).rowcount
        self._conn.execute(self._sql.mark, params)
        return count

    def commit(self) -> None:
        assert self._conn is not None
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        self._claimed.clear()  # a claim made in the rolled-back transaction is void: check each again
        conn = self._conn
        if conn is None:
            return
        try:
            if conn.broken or conn.closed:
                raise psycopg.OperationalError("connection lost")
            conn.execute("ROLLBACK")
        except psycopg.Error:  # the server went away: the next write reconnects
            conn.close()
            self._conn = None

    def close(self) -> None:
        conn = self._conn
        if conn is None:
            return
        if not (conn.closed or conn.broken):
            try:  # release the claims now: the server would only notice the closed socket a moment later
                conn.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:  # noqa: S110 - gone anyway: the server drops the lock with the session
                pass
        conn.close()


def _one(cursor: Any) -> Any:
    row = cursor.fetchone()
    return row[0] if row else 0


def _key(text: str) -> int:
    """A signed 64-bit advisory lock key for ``text``."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _display(dsn: str, schema: str) -> str:
    """The DSN without its password, and the schema: what messages name."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return f"postgresql (unparsable DSN) schema {schema}"
    user = str(parts.get("user", ""))
    host = str(parts.get("host", "") or "localhost")
    port = str(parts.get("port", "") or "5432")
    database = str(parts.get("dbname", "") or user)
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{database}#{schema}"
