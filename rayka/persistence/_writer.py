"""The one thread that writes a journal, grouping queued requests into transactions.

A request is a tuple ``(kind, persistence_id, data, seq, future)``. The
writer takes the first queued request and everything queued behind it, then
lingers for more: until ``window`` seconds after the first, or until none has
come for 0.2 ms (so producers that wait for each write are not held up for
the whole window), or until it has ``max_group``. It stages them in one transaction, commits, and
only then resolves their futures. If staging fails, the transaction is rolled
back; if the error is one that a single request can cause (a constraint, a
payload too big), each request is retried on its own so one bad request
does not take its neighbours down. Any other error (I/O, disk full, a
damaged file), and any error of the commit itself, fails every future of
the group with :class:`JournalError`. Sequence numbers are assigned here,
inside the transaction, so a failed transaction leaves no gap.

The writer knows no SQL: a :class:`Store` (SQLite's, PostgreSQL's) runs the
statements. A store raises :class:`JournalError` itself for what it detects
(another writer holds a persistence id, the file was replaced); the writer
fails with it the requests concerned.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from rayka._errors import JournalError

__all__ = ["APPEND", "DELETE", "SNAPSHOT", "STOP", "GroupWriter", "Store"]

APPEND, SNAPSHOT, DELETE = 0, 1, 2
STOP: Any = object()
#: The writer stops lingering for more requests once none came for this long.
_IDLE_GAP = 0.0002


class Store(Protocol):
    """The statements a :class:`GroupWriter` runs, on one connection owned by its thread."""

    #: Errors of the database driver (anything else is a bug and kills the writer).
    errors: tuple[type[BaseException], ...]
    #: Those that one bad request can cause (a constraint, a payload too big).
    request_errors: tuple[type[BaseException], ...]

    def begin(self) -> None:
        """Start a write transaction (reconnecting first if the store can)."""

    def head(self, persistence_id: str) -> int:
        """The highest number assigned to ``persistence_id`` (raise JournalError if another writer holds it)."""

    def insert_events(self, rows: list[tuple[str, int, bytes]]) -> None:
        """Insert ``(persistence_id, seq, payload)`` rows."""

    def set_heads(self, heads: list[tuple[str, int]]) -> None:
        """Record the highest number assigned per id (apart from the events, so a lost tail is noticed)."""

    def put_snapshot(self, persistence_id: str, seq: int, payload: bytes) -> None:
        """Store the snapshot at ``seq`` and drop older ones."""

    def delete_events(self, persistence_id: str, up_to: int) -> int:
        """Delete events up to ``up_to``, remember the mark, return how many went."""

    def commit(self) -> None:
        """Commit the transaction (raise JournalError if the journal itself is gone)."""

    def rollback(self) -> None:
        """Roll back, swallowing errors (the connection may be gone)."""

    def close(self) -> None:
        """Close the connection."""


class GroupWriter:
    """Own the writer connection of a journal and the thread that uses it.

    Args:
        path: The journal's name, for messages and the thread's name.
        store: Runs the statements; closed when the thread ends.
        per_request: Commit every request on its own (``sync="always"``).
        window: Seconds to linger for more requests after the first of a group.
        max_group: Most requests in one transaction.
        on_exit: Called by the thread once it has closed ``conn``, before it
            fails what is left in the queue; it must stop further requests
            from being queued. ``on_exit(error)`` gets the writer's own crash, if any.
    """

    def __init__(
        self,
        path: str,
        store: Store,
        *,
        per_request: bool,
        window: float,
        max_group: int,
        on_exit: Callable[[BaseException | None], None],
    ) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: (appends, commits, events, bytes, failed), replaced whole by the thread.
        self.stats: tuple[int, ...] = (0, 0, 0, 0, 0)
        self._path = path
        self._store = store
        self._per_request = per_request
        self._window = window
        self._max_group = max_group
        self._on_exit = on_exit
        self._heads: dict[str, int] = {}
        self.thread = threading.Thread(target=self._run, name=f"rayka-journal:{path}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        group: list[Any] = []
        crash: BaseException | None = None
        get, get_nowait, empty = self.queue.get, self.queue.get_nowait, queue.Empty
        try:
            stop = False
            while not stop:
                item = get()
                if item is STOP:
                    break
                group = [item]
                deadline = time.monotonic() + self._window
                while len(group) < self._max_group:
                    try:
                        item = get_nowait()
                    except empty:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        try:
                            item = get(timeout=min(remaining, _IDLE_GAP))
                        except empty:
                            break
                    if item is STOP:
                        stop = True
                        break
                    group.append(item)
                self._write(group)
                group = []
        except BaseException as exc:  # pragma: no cover - a bug in the writer
            crash = exc
            self._fail(group, _chain(f"the writer thread of journal {self._path} died: {exc!r}", exc))
            raise
        finally:
            self._finish(crash)

    def _write(self, group: list[Any]) -> None:
        live = [request for request in group if request[4].set_running_or_notify_cancel()]
        if self._per_request:
            for request in live:
                self._transact([request])
        elif live:
            self._transact(live)

    def _transact(self, requests: list[Any]) -> None:
        store = self._store
        try:
            store.begin()
            results, events, size = self._stage(requests)
        except JournalError as exc:
            self._rollback()
            if len(requests) > 1:  # the store named one request (another writer holds its id): find it
                for request in requests:
                    self._transact([request])
            else:
                self._fail(requests, exc)
            return
        except store.errors as exc:
            self._rollback()
            if len(requests) > 1 and isinstance(exc, store.request_errors):  # retry each to find the culprit
                for request in requests:
                    self._transact([request])
            else:
                self._fail(requests, self._error("could not write to", exc))
            return
        caught: tuple[type[BaseException], ...] = (JournalError, *store.errors)
        try:
            store.commit()
        except caught as exc:
            self._rollback()
            self._fail(requests, exc if isinstance(exc, JournalError) else self._error("could not commit to", exc))
            return
        appends, commits, total, size_total, failed = self.stats
        appends += sum(1 for request in requests if request[0] == APPEND)
        self.stats = (appends, commits + 1, total + events, size_total + size, failed)
        for request, result in zip(requests, results):
            request[4].set_result(result)

    def _stage(self, requests: list[Any]) -> tuple[list[Any], int, int]:
        store, heads = self._store, self._heads
        rows: list[tuple[str, int, bytes]] = []
        results: list[Any] = []
        appended: dict[str, int] = {}
        events = size = 0
        for kind, pid, data, seq, _future in requests:
            head = heads.get(pid)
            if head is None:
                head = store.head(pid)
            if kind == APPEND:
                for payload in data:
                    head += 1
                    rows.append((pid, head, payload))
                    size += len(payload)
                heads[pid] = head
                if data:
                    appended[pid] = head
                results.append(head)
                continue
            if rows:  # a deletion must see the events appended before it
                store.insert_events(rows)
                events += len(rows)
                rows = []
            if kind == SNAPSHOT:
                if seq > head:  # a snapshot past the last event: numbers continue after it
                    head = appended[pid] = seq
                store.put_snapshot(pid, seq, data)
                results.append(None)
            else:
                results.append(store.delete_events(pid, min(seq, head)))
            heads[pid] = head
        if rows:
            store.insert_events(rows)
            events += len(rows)
        if appended:
            store.set_heads(list(appended.items()))
        return results, events, size

    def _rollback(self) -> None:
        self._heads.clear()  # numbers handed out in the failed transaction are void
        self._store.rollback()

    def _error(self, what: str, exc: BaseException) -> JournalError:
        return _chain(
            f"{what} journal {self._path}: {exc}; nothing of this request was written "
            "(check free disk space and the file's permissions, or that the database server is up)",
            exc,
        )

    def _fail(self, requests: list[Any], error: JournalError) -> None:
        for request in requests:
            future = request[4]
            if future.running() or future.set_running_or_notify_cancel():
                future.set_exception(error)
                *counts, failed = self.stats
                self.stats = (*counts, failed + 1)

    def _finish(self, crash: BaseException | None) -> None:
        try:
            self._store.close()
        finally:
            self._on_exit(crash)  # after this, nothing more is queued
        leftovers = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is not STOP:
                leftovers.append(item)
        self._fail(leftovers, JournalError(f"journal {self._path} closed before this request was written"))


def _chain(message: str, cause: BaseException) -> JournalError:
    error = JournalError(message)
    error.__cause__ = cause
    return error
