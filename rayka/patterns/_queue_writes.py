"""A durable work queue's writes, gathered: one journal append for what one pass over the mailbox accepted.

Puts and acks that a durable queue handles are not written one by one. The
first one of a pass tells the queue a ``Flush`` (it lands behind every
message already in the mailbox); the flush writes all of them as one append
(one future, one wake-up of the loop) with the events in the order handled.
When the append is committed, the replies are answered on the queue's loop
(not on the writer thread, which would wake the loop once per reply), and
the queue is told which puts it may now deliver. Replies are answered even
if the queue stopped meanwhile: the work is on disk, so the put succeeded.

Example:
    >>> import asyncio, os, tempfile
    >>> from rayka.persistence import SqliteJournal
    >>> from rayka.patterns._queue_journal import QueueJournal
    >>> path = os.path.join(tempfile.mkdtemp(), "writes.db")
    >>> stored = []
    >>> async def main():
    ...     with SqliteJournal(path) as journal:
    ...         writes = Writes(QueueJournal(journal, "q"))
    ...         assert writes.put(1, ("a", "b"), None, [1, 2])  # the first of a pass: flush after it
    ...         assert not writes.ack((1,), None, 1, None)
    ...         done = asyncio.get_running_loop().create_future()
    ...         writes.flush(lambda puts, error: (stored.append(puts), done.set_result(error)))
    ...         return await done
    >>> asyncio.run(main()), stored
    (None, [((1, ('a', 'b')),)])
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable

from .._errors import JournalError
from ._queue_journal import QueueJournal
from ._reply import answer

__all__ = ["Flush", "FLUSH", "Writes"]

_PUT, _ACK = "put", "ack"


@dataclass(frozen=True, slots=True)
class Flush:
    """A durable queue's own reminder to write what it gathered."""


FLUSH = Flush()


class Writes:
    """The puts and acks a durable queue handled since its last flush.

    Args:
        log: the queue's journal.
    """

    __slots__ = ("log", "entries")

    def __init__(self, log: QueueJournal) -> None:
        self.log = log
        self.entries: list[tuple] = []

    def put(self, first: int, works: tuple, reply: Any, ids: Any) -> bool:
        """Gather accepted work (``reply`` answered ``ids`` once written); True when it is the first
        since the last flush (so send a ``Flush``)."""
        self.entries.append((_PUT, first, works, reply, ids))
        return len(self.entries) == 1

    def ack(self, ids: tuple, reply: Any, done: int, error: BaseException | None) -> bool:
        """Gather acknowledged ids (``reply`` answered ``done``, or ``error``, once written)."""
        self.entries.append((_ACK, ids, reply, done, error))
        return len(self.entries) == 1

    def flush(self, stored: Callable[[tuple, BaseException | None], None]) -> None:
        """Write what was gathered as one append; then, on this loop, answer and call ``stored(puts, error)``.

        ``puts`` are the ``(first, works)`` written. Must run on the queue's loop.
        """
        entries, self.entries = self.entries, []
        if not entries:
            return
        loop = asyncio.get_running_loop()
        events = [(_PUT, e[1], e[2]) if e[0] is _PUT else (_ACK, e[1]) for e in entries]
        try:
            future = self.log.write(events)
        except JournalError as closed:
            _settle(entries, closed, stored)
            return

        def written(future: Any) -> None:  # on the journal's writer thread
            error = future.exception()
            try:
                loop.call_soon_threadsafe(_settle, entries, error, stored)
            except RuntimeError:  # the loop is closed: nobody awaits on it any more
                _settle(entries, error, stored)

        future.add_done_callback(written)


def _settle(entries: list[tuple], error: BaseException | None, stored: Callable[[tuple, Any], None]) -> None:
    puts = []
    for entry in entries:
        if entry[0] is _PUT:
            puts.append((entry[1], entry[2]))
            answer(entry[3], error, entry[4])
        else:
            answer(entry[2], error or entry[4], entry[3])
    stored(tuple(puts), error)
