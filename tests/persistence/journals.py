"""Open either journal from one string, so a test (or a child process) can name the journal it wants.

``sqlite:<path>`` opens a :class:`SqliteJournal`; ``postgres:<dsn>#<schema>``
opens a :class:`PostgresJournal` on that schema. ``damage(spec, sql)`` runs
raw SQL on the journal's tables behind its back, as a damaged disk would.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from rayka.persistence import Journal, PostgresJournal, SqliteJournal

__all__ = ["damage", "open_spec"]


def open_spec(spec: str, **options: Any) -> Journal:
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        return SqliteJournal(where, **options)
    dsn, _, schema = where.rpartition("#")
    return PostgresJournal(dsn, schema=schema, **options)


def damage(spec: str, statement: str, params: tuple = ()) -> None:
    """Run ``statement`` (``{t}`` stands for the table prefix) on the journal's database."""
    kind, _, where = spec.partition(":")
    if kind == "sqlite":
        with sqlite3.connect(where) as conn:
            conn.execute(statement.replace("{t}", ""), params)
        conn.close()
        return
    import psycopg

    dsn, _, schema = where.rpartition("#")
    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(statement.replace("{t}", f'"{schema}".').replace("?", "%s"), params)  # type: ignore[arg-type]
