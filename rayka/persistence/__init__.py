"""Durable storage for event-sourced actors and durable queues.

:class:`SqliteJournal` is the embedded journal: one SQLite file in WAL mode,
written by one thread with group commit. :func:`encode` and :func:`decode`
turn events and snapshots into the bytes it stores.
"""

from __future__ import annotations

from rayka.persistence._codec import decode, encode
from rayka.persistence._journal import JournalStatistics, SqliteJournal, SyncMode
from rayka.persistence._sqlite import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "JournalStatistics", "SqliteJournal", "SyncMode", "decode", "encode"]
