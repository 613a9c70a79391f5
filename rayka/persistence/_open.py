"""Open a journal from what a user passed: a journal, a PostgreSQL DSN or a SQLite path."""

from __future__ import annotations

import os
from typing import Any

from rayka.persistence._journal import SqliteJournal
from rayka.persistence._protocol import Journal

__all__ = ["open_journal"]


def open_journal(target: Any) -> tuple[Journal, bool]:
    """Return ``(journal, owned)``: ``owned`` when this call opened it (the caller closes it then).

    A :class:`Journal` is used as is; a ``postgresql://`` or ``postgres://``
    DSN opens a :class:`~rayka.persistence.PostgresJournal`; another str or
    path opens a :class:`SqliteJournal`. A str travels to any node, so an
    actor restarted elsewhere opens the journal again there.

    Raises:
        TypeError: ``target`` is none of these.
    """
    if isinstance(target, (str, os.PathLike)):
        text = os.fspath(target)
        if text.startswith(("postgresql://", "postgres://")):
            from rayka.persistence._postgres import PostgresJournal

            return PostgresJournal(text), True
        return SqliteJournal(text), True
    if isinstance(target, Journal):
        return target, False
    raise TypeError(
        f"a journal must be a Journal (SqliteJournal, PostgresJournal), a postgresql:// DSN or a file path, "
        f"not {type(target).__name__}"
    )
