"""The crawl state's database connection: one small API over SQLite and PostgreSQL.

`scraper.state`, `scraper.history` and `scraper.retention` write their SQL once, in the dialect
both engines agree on (`?` placeholders, `ON CONFLICT ... DO UPDATE` with table-qualified column
references, a `rowid` to order by). `SqliteDb` runs it as is; `scraper.pgstate.PgDb` translates
the few differences (placeholders, `rowid` as a real column, bigger integer types) and adds what
many workers sharing one database need: row locks (`FOR UPDATE [SKIP LOCKED]`, which SQLite's
single writer does not need and does not parse, so they are dropped here), per-key advisory
locks, and transactions that are run again as a whole when the server goes away.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(target: str | Path) -> bool:
    """A PostgreSQL URL (cluster mode) rather than a SQLite file path."""
    return isinstance(target, str) and target.startswith(DATABASE_URL_SCHEMES)


class StateUnreachable(RuntimeError):
    """The state database cannot be reached and this connection does not wait for it."""


def state_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a state database can raise (psycopg's only once it has been loaded)."""
    errors: list[type[BaseException]] = [sqlite3.Error, StateUnreachable]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


class StateDb:
    """A SQLite connection in autocommit mode; `transaction(fn)` runs `fn` in BEGIN IMMEDIATE.

    The file lock of `scraper.state.Store` makes one process the only writer, so SQLite needs no
    row locks: `FOR UPDATE` clauses are removed and `lock_key` does nothing.
    """

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, readonly: bool = False) -> None:
        self.conn = conn
        self.readonly = readonly
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(_sqlite_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        return self.conn.executemany(_sqlite_sql(sql), rows)

    def executescript(self, script: str) -> None:
        self.conn.executescript(script)

    def transaction(self, fn: Callable[[], T]) -> T:
        """Run `fn` in one transaction (nested calls join the outer one)."""
        if self._depth:
            return fn()
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            out = fn()
        except BaseException:
            self._depth -= 1
            self.conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        self.conn.execute("COMMIT")
        return out

    def lock_key(self, key: str) -> None:
        """Serialize writers of one article key until the transaction ends (PostgreSQL only)."""

    def has_table(self, name: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone() is not None

    def columns(self, table: str) -> set[str]:
        return {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        self.conn.close()


def as_statedb(db: StateDb | sqlite3.Connection) -> StateDb:
    """Accept a bare sqlite3 connection where a `StateDb` is expected (older callers)."""
    if isinstance(db, sqlite3.Connection):
        readonly = bool(db.execute("PRAGMA query_only").fetchone()[0])
        return StateDb(db, readonly=readonly)
    return db


@lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    for clause in (" FOR UPDATE SKIP LOCKED", " FOR UPDATE"):
        sql = sql.replace(clause, "")
    return sql


def open_readonly(target: str | Path) -> StateDb | None:
    """A read-only connection to a state (no lock taken), or None when there is none.

    A path opens the SQLite file (None when it does not exist); a `postgresql://` URL opens
    that database read-only, failing at once when it is unreachable (a command run by hand
    should say so rather than wait).
    """
    if is_database_url(target):
        from kirinuki.scraper.pgstate import PgDb

        return PgDb(str(target), readonly=True, wait=False)
    p = Path(target)
    if not p.exists():
        return None
    conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30)
    conn.execute("PRAGMA query_only=1")
    return StateDb(conn, readonly=True)
