"""The crawl state on PostgreSQL (cluster mode): many workers on many machines, one database.

Same tables and the same SQL as the SQLite state (`scraper.state`, `scraper.history`), run
through `PgDb`, which translates the small dialect differences and adds what shared writers need:

- Schema creation takes a transaction-level advisory lock, so workers starting together do not
  race on `CREATE ... IF NOT EXISTS`.
- `emit` locks the article key (`pg_advisory_xact_lock`) before reading its version, so two
  workers fetching the same article never write the same version twice; a UNIQUE (key, version)
  index on `records` is the last line of defence.
- Frontier writes are upserts (`ON CONFLICT`) and row reads that lead to a write lock the row
  (`FOR UPDATE`; `SKIP LOCKED` where a worker claims work).
- The server going away: `PgDb` logs one line per outage ("state database unreachable, retrying
  in Ns ..."), reconnects with backoff, and runs a transaction cut by the outage again as a
  whole (the write paths are idempotent upserts or guarded by the key lock), never dropping it.

psycopg (3) is an optional dependency: `pip install 'kirinuki[cluster]'`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from kirinuki.scraper.state import SCHEMA, Store
from kirinuki.scraper.statedb import StateDb, StateUnreachable

logger = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_LOCK = 0x6B6972696E756B69  # advisory lock id held while creating the schema ("kirinuki")

# PostgreSQL-only additions: the last line of defence against a version written twice, and the
# work-claim columns of the shared frontier.
PG_EXTRA = """
CREATE UNIQUE INDEX IF NOT EXISTS records_key_version ON records (key, version);
CREATE INDEX IF NOT EXISTS urls_frontier ON urls (source, kind, status, rowid);
"""


def redact(url: str) -> str:
    """The URL without its password, for log lines and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{netloc[0].split(':', 1)[0]}:***@{netloc[1]}"))


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """`?` placeholders become `%s` (and a literal `%` becomes `%%`); our SQL has neither
    character inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def pg_schema(script: str) -> str:
    """The SQLite schema text in PostgreSQL: an explicit `rowid` column (BIGSERIAL, so that
    `ORDER BY rowid` means insertion order as in SQLite), identity for AUTOINCREMENT, 64-bit
    integers and double precision."""
    script = script.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)

    def add_rowid(m: re.Match[str]) -> str:
        body = m.group(0)
        return body if "BIGSERIAL" in body else body.replace("(\n", "(\n    rowid BIGSERIAL,\n", 1)

    return re.sub(r"CREATE TABLE IF NOT EXISTS \w+ \((?:.|\n)*?\n\);", add_rowid, script)


def _adapt(params: Sequence[Any]) -> Sequence[Any]:
    # SQLite stores Python bools as 0/1 in INTEGER columns; PostgreSQL wants the integer.
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class _Cut(Exception):
    """The connection broke inside a transaction: the whole transaction runs again."""


class PgDb(StateDb):
    """A psycopg 3 connection that survives the server going away (see the module doc)."""

    dialect = "postgres"

    def __init__(self, url: str, readonly: bool = False, *, wait: bool = True,
                 max_delay: float = 30.0, give_up_after: float | None = None) -> None:
        try:
            import psycopg  # noqa: F401 - fail here, with a hint, when it is missing
        except ImportError:
            raise RuntimeError("a postgresql:// state needs psycopg: "
                               "pip install 'kirinuki[cluster]'") from None

        self.url = url
        self.name = redact(url)
        self.readonly = readonly
        self.wait = wait
        self.max_delay = max_delay
        self.give_up_after = give_up_after
        self._depth = 0
        self.conn: Any = None
        self.outages = 0  # outages waited out (tests and the run summary read it)
        self._connect()

    # -- connection -------------------------------------------------------------------------------

    def _connect(self) -> None:
        import psycopg

        delay, waited, logged = 0.5, 0.0, False
        while True:
            try:
                # keepalives: a server on another machine that vanishes without a reset (a
                # power cut, a partition) is noticed in about 25 s, not after hours
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                       keepalives=1, keepalives_idle=10, keepalives_interval=5,
                                       keepalives_count=3, application_name="kirinuki")
                if self.readonly:
                    conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                self.conn = conn
                if logged:
                    logger.warning("state database %s is back after %.0fs", self.name, waited)
                return
            except psycopg.OperationalError as exc:
                if not self.wait:
                    raise StateUnreachable(
                        f"state database {self.name} is unreachable: {_first_line(exc)}"
                    ) from None
                if self.give_up_after is not None and waited >= self.give_up_after:
                    raise StateUnreachable(
                        f"state database {self.name} unreachable for {waited:.0f}s, giving up"
                    ) from exc
                if not logged:
                    self.outages += 1
                    logger.warning("state database unreachable, retrying in %gs ... (%s: %s)",
                                   delay, self.name, _first_line(exc))
                    logged = True
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, self.max_delay)

    def _reconnect(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - it is already broken
            pass
        if not self.wait:
            raise StateUnreachable(f"lost the connection to the state database {self.name}")
        self._connect()

    def _lost(self, exc: BaseException) -> bool:
        """Did this error come from the connection going away (rather than from the SQL)?"""
        import psycopg
        from psycopg import errors

        if isinstance(exc, errors.AdminShutdown | errors.CrashShutdown | errors.CannotConnectNow):
            return True
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return self.conn is None or self.conn.closed or self.conn.broken
        return False

    # -- statements -------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._run(lambda: self.conn.execute(pg_sql(sql), _adapt(params)))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        rows = [_adapt(r) for r in rows]

        def many() -> Any:
            cur = self.conn.cursor()
            if rows:
                cur.executemany(pg_sql(sql), rows)
            return cur

        return self._run(many)

    def executescript(self, script: str) -> None:
        """Run a schema script (SQLite dialect) under the schema advisory lock, unless every
        table and index it names exists already: `CREATE INDEX IF NOT EXISTS` locks its table
        against writes even when the index exists, which would stall the other workers."""
        ddl = pg_schema(script)
        names = re.findall(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)", ddl)
        if names and self.execute(
                "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname = ANY(?)",
                (names,)).fetchone()[0] == len(set(names)):
            return

        def create() -> None:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            self.conn.execute(ddl)

        self.transaction(create)

    def _run(self, fn: Callable[[], T]) -> T:
        """One statement: inside a transaction a lost connection cuts the whole transaction;
        outside one (autocommit) the statement itself is sent again after reconnecting."""
        while True:
            try:
                return fn()
            except Exception as exc:
                if not self._lost(exc):
                    raise
                if self._depth:
                    raise _Cut() from exc
                self._reconnect()

    def transaction(self, fn: Callable[[], T]) -> T:
        """Run `fn` in one transaction; run it again as a whole after an outage, a deadlock or
        a serialization failure (nested calls join the outer transaction)."""
        from psycopg import errors

        if self._depth:
            return fn()
        tries = 0
        while True:
            tries += 1
            try:
                self._depth += 1
                try:
                    with self.conn.transaction():
                        return fn()
                finally:
                    self._depth -= 1
            except errors.TransactionRollback:  # deadlock, serialization failure
                time.sleep(min(0.05 * tries, 1.0))
            except Exception as exc:
                if not (isinstance(exc, _Cut) or self._lost(exc)):
                    raise
                self._reconnect()

    def lock_key(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))

    def has_table(self, name: str) -> bool:
        return self.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0]

    def columns(self, table: str) -> set[str]:
        return {r[0] for r in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name=?", (table,))}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgStore(Store):
    """The `Store` API on a shared PostgreSQL database (no file lock: many workers share it)."""

    def __init__(self, url: str, **db_options: Any) -> None:
        self.path = redact(url)  # what messages name; a URL, not a file
        self._lock = None
        self.db = PgDb(url, **db_options)
        self.db.executescript(SCHEMA + PG_EXTRA)
