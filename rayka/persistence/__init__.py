"""Durable storage for event-sourced actors and durable queues.

Two journals implement one contract (:class:`Journal`):
:class:`SqliteJournal`, the embedded default (one SQLite file in WAL mode),
and :class:`PostgresJournal` (``pip install "rayka[postgres]"``), a
PostgreSQL database every node of a cluster reaches. Both write through one
thread with group commit. :func:`encode` and :func:`decode` turn events and
snapshots into the bytes they store.
"""

from __future__ import annotations

import typing
from typing import Any

from rayka.persistence._codec import decode, encode
from rayka.persistence._journal import JournalStatistics, SqliteJournal, SyncMode
from rayka.persistence._protocol import Journal, Recovery
from rayka.persistence._sqlite import FORMAT_VERSION

if typing.TYPE_CHECKING:
    from rayka.persistence._postgres import PostgresJournal

__all__ = [
    "FORMAT_VERSION", "Journal", "JournalStatistics", "PostgresJournal", "Recovery", "SqliteJournal", "SyncMode",
    "decode", "encode",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresJournal":  # imported on first use: the embedded default needs no database driver
        from rayka.persistence._postgres import PostgresJournal

        return PostgresJournal
    raise AttributeError(f"module 'rayka.persistence' has no attribute {name!r}")
