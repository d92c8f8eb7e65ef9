"""Incremental crawl state and output: one SQLite file plus one JSON Lines file per run.

Crash safety comes from one ordering rule: a record is committed to SQLite first (with its run and
sequence number), and only then appended to the run's JSONL file as one complete line. If the
process dies in between, the next run finds the run unfinished, cuts any half-written last line and
appends the committed records the file is missing, in sequence order. So a killed crawl loses no
record (SQLite has it) and duplicates none (a URL marked done in the same transaction is skipped).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirinuki.scraper.discovery import is_newer

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,             -- feed | sitemap | listing | article | page
    status TEXT NOT NULL,           -- pending | done | failed | rejected | seen
    parent TEXT,                    -- the feed/sitemap/listing it was found on
    discovered_at TEXT,
    fetched_at TEXT,
    etag TEXT,
    last_modified TEXT,
    content_hash TEXT,              -- of the record made from this URL
    lastmod TEXT,                   -- what discovery said (sitemap lastmod, atom:updated)
    title TEXT,                     -- discovery hints (news sitemap / feed), record fallbacks
    published TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    seen_run TEXT                   -- last run whose discovery listed this URL (counts once)
);
CREATE INDEX IF NOT EXISTS urls_source_status ON urls (source, status);
CREATE TABLE IF NOT EXISTS articles (
    key TEXT PRIMARY KEY,           -- canonical_url, else url
    source TEXT,
    url TEXT,
    content_hash TEXT NOT NULL,
    version INTEGER NOT NULL,
    first_seen TEXT,
    last_seen TEXT
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT,
    url TEXT,
    content_hash TEXT,
    fetched_at TEXT,
    record TEXT NOT NULL            -- the JSON line, byte for byte
);
CREATE INDEX IF NOT EXISTS records_run ON records (run_id, seq);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT,
    finished_at TEXT,
    output TEXT,
    summary TEXT
);
"""


class StateLocked(RuntimeError):
    """Another crawl holds this state file."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class UrlState:
    url: str
    source: str
    kind: str
    status: str
    fetched_at: str | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    lastmod: str | None
    title: str | None
    published: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Emit:
    """One record to store and write, already classified as new or updated."""

    key: str
    version: int
    source: str
    url: str
    content_hash: str
    fetched_at: str | None
    line: str


class Store:
    """SQLite state of every URL and article version; the source of truth for the JSONL files."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(str(self.path) + ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StateLocked(
                f"{self.path} is in use by another crawl; wait for it or pass another --state"
            ) from None
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a killed process (not power loss).
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(urls)")}
        if "seen_run" not in cols:  # state files from before the column existed
            self.db.execute("ALTER TABLE urls ADD COLUMN seen_run TEXT")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None  # type: ignore[assignment]
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, output: Path) -> None:
        self.db.execute(
            "INSERT INTO runs (run_id, started_at, output) VALUES (?, ?, ?)",
            (run_id, utcnow(), str(output)),
        )

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at=?, summary=? WHERE run_id=?",
            (utcnow(), json.dumps(summary, ensure_ascii=False, sort_keys=True), run_id),
        )

    def recover(self) -> list[tuple[str, int]]:
        """Complete the JSONL files of runs that died; return (file, lines appended) per run."""
        done = []
        rows = self.db.execute(
            "SELECT run_id, output FROM runs WHERE finished_at IS NULL ORDER BY started_at"
        ).fetchall()
        for run_id, output in rows:
            lines = [
                r[0] for r in self.db.execute(
                    "SELECT record FROM records WHERE run_id=? ORDER BY seq", (run_id,)
                )
            ]
            appended = repair_jsonl(Path(output), lines)
            self.finish_run(run_id, {"interrupted": True, "recovered_lines": appended})
            done.append((output, appended))
        return done

    # -- URLs ---------------------------------------------------------------------------------

    def get(self, url: str) -> UrlState | None:
        row = self.db.execute(
            "SELECT url, source, kind, status, fetched_at, etag, last_modified, content_hash, "
            "lastmod, title, published, attempts FROM urls WHERE url=?",
            (url,),
        ).fetchone()
        return UrlState(*row) if row else None

    def discovered(
        self, source: str, kind: str, parent: str | None,
        entries: Iterable[tuple[str, str | None, str | None, str | None]],
    ) -> None:
        """Remember discovered URLs as pending (the frontier), in one transaction.

        Called before a discovery document's validators are stored, so a later 304 on that
        document can never hide links that a killed run had not fetched yet.
        """
        now = utcnow()
        with self._tx():
            self.db.executemany(
                "INSERT INTO urls (url, source, kind, status, parent, discovered_at, lastmod, "
                "title, published) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET "
                "lastmod=COALESCE(excluded.lastmod, lastmod), "
                "title=COALESCE(title, excluded.title), "
                "published=COALESCE(published, excluded.published)",
                [(u, source, kind, parent, now, lastmod, title, pub)
                 for u, title, pub, lastmod in entries],
            )

    def discover_articles(
        self, source: str, parent: str, run_id: str, max_attempts: int,
        entries: Iterable[tuple[str, str | None, str | None, str | None]],
    ) -> tuple[int, int]:
        """Put discovered article URLs in the frontier; return (newly seen this run, known).

        New URLs become pending. A fetched article whose discovery date (sitemap lastmod,
        atom:updated) is later than our fetch becomes pending again -- moved to a new rowid so
        this run's frontier cursor reaches it -- and is then asked for conditionally.
        """
        seen = known = 0
        now = utcnow()
        with self._tx():
            for url, title, published, lastmod in entries:
                row = self.db.execute(
                    "SELECT status, kind, fetched_at, seen_run, attempts FROM urls WHERE url=?",
                    (url,),
                ).fetchone()
                if row is None:
                    self.db.execute(
                        "INSERT INTO urls (url, source, kind, status, parent, discovered_at, "
                        "lastmod, title, published, seen_run) "
                        "VALUES (?, ?, 'article', 'pending', ?, ?, ?, ?, ?, ?)",
                        (url, source, parent, now, lastmod, title, published, run_id),
                    )
                    seen += 1
                    continue
                status, kind, fetched_at, seen_run, attempts = row
                self.db.execute(
                    "UPDATE urls SET lastmod=COALESCE(?, lastmod), title=COALESCE(title, ?), "
                    "published=COALESCE(published, ?), seen_run=? WHERE url=?",
                    (lastmod, title, published, run_id, url),
                )
                if seen_run == run_id:
                    continue
                seen += 1
                if status == "done" and kind == "article" and is_newer(lastmod, fetched_at):
                    self._requeue(url)
                elif status in ("done", "rejected") or (status == "failed" and attempts >= max_attempts):
                    known += 1
        return seen, known

    def _requeue(self, url: str) -> None:
        cols = ("url, source, kind, status, parent, discovered_at, fetched_at, etag, "
                "last_modified, content_hash, lastmod, title, published, attempts, reason, seen_run")
        row = self.db.execute(f"SELECT {cols} FROM urls WHERE url=?", (url,)).fetchone()
        self.db.execute("DELETE FROM urls WHERE url=?", (url,))
        row = list(row)
        row[3] = "pending"
        self.db.execute(f"INSERT INTO urls ({cols}) VALUES ({', '.join('?' * len(row))})", row)

    def recheck(self, source: str, fetched_before: str, limit: int) -> int:
        """Put up to `limit` articles fetched before then back in the frontier, oldest first.

        Their stored validators make the refetch conditional, so an unchanged page costs a 304;
        an edit made without a new lastmod or feed date is seen this way (issue 8).
        """
        if limit <= 0:
            return 0
        with self._tx():
            urls = [r[0] for r in self.db.execute(
                "SELECT url FROM urls WHERE source=? AND kind='article' AND status='done' AND "
                "fetched_at<? ORDER BY fetched_at, rowid LIMIT ?", (source, fetched_before, limit))]
            for url in urls:
                self._requeue(url)
        return len(urls)

    def next_articles(self, source: str, after: int, limit: int, max_attempts: int
                      ) -> list[tuple[int, UrlState]]:
        """The next frontier rows of a source after rowid `after` (a per-run cursor), oldest first."""
        rows = self.db.execute(
            "SELECT rowid, url, source, kind, status, fetched_at, etag, last_modified, "
            "content_hash, lastmod, title, published, attempts FROM urls WHERE rowid>? AND "
            "source=? AND kind='article' AND (status='pending' OR (status='failed' AND attempts<?)) "
            "ORDER BY rowid LIMIT ?",
            (after, source, max_attempts, limit),
        ).fetchall()
        return [(r[0], UrlState(*r[1:])) for r in rows]

    def pending_listings(self, source: str, max_attempts: int) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT url FROM urls WHERE source=? AND kind='listing' AND "
            "(status='pending' OR (status='failed' AND attempts<?)) ORDER BY rowid",
            (source, max_attempts),
        )]

    def children(self, source: str, parent: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT url FROM urls WHERE source=? AND parent=? AND kind='sitemap' ORDER BY rowid",
            (source, parent),
        )]

    def fetched(
        self, url: str, source: str, kind: str, *, status: str = "done",
        etag: str | None = None, last_modified: str | None = None,
        content_hash: str | None = None, reason: str | None = None, fetched_at: str | None = None,
    ) -> None:
        """Record the outcome of fetching one URL (validators for the next conditional request)."""
        with self._tx():
            self._upsert_fetched(url, source, kind, status, etag, last_modified, content_hash,
                                 reason, fetched_at or utcnow())

    def failed(self, url: str, source: str, kind: str, reason: str) -> None:
        with self._tx():
            self.db.execute(
                "INSERT INTO urls (url, source, kind, status, attempts, reason, discovered_at) "
                "VALUES (?, ?, ?, 'failed', 1, ?, ?) ON CONFLICT(url) DO UPDATE SET "
                "status=CASE WHEN status IN ('done', 'rejected') THEN status ELSE 'failed' END, "
                "attempts=attempts+1, reason=excluded.reason",
                (url, source, kind, reason, utcnow()),
            )

    # -- articles -----------------------------------------------------------------------------

    def article(self, key: str) -> tuple[str, int] | None:
        row = self.db.execute(
            "SELECT content_hash, version FROM articles WHERE key=?", (key,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def emit(
        self, run_id: str, emits: Sequence[Emit], pages: Sequence[tuple[str, str, str]],
        *, etag: str | None, last_modified: str | None, fetched_at: str,
    ) -> None:
        """Store records and mark their page URLs done, atomically (before any JSONL write)."""
        content_hash = emits[0].content_hash if emits else None
        with self._tx():
            for e in emits:
                self.db.execute(
                    "INSERT INTO records (run_id, key, version, source, url, content_hash, "
                    "fetched_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, e.key, e.version, e.source, e.url, e.content_hash, e.fetched_at, e.line),
                )
                self.db.execute(
                    "INSERT INTO articles (key, source, url, content_hash, version, first_seen, "
                    "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "content_hash=excluded.content_hash, version=excluded.version, "
                    "last_seen=excluded.last_seen, url=excluded.url",
                    (e.key, e.source, e.url, e.content_hash, e.version, fetched_at, fetched_at),
                )
            for i, (url, source, kind) in enumerate(pages):
                self._upsert_fetched(
                    url, source, kind, "done", etag if i == 0 else None,
                    last_modified if i == 0 else None, content_hash, None, fetched_at,
                )

    def touch_articles(self, keys: Iterable[str], fetched_at: str) -> None:
        with self._tx():
            self.db.executemany(
                "UPDATE articles SET last_seen=? WHERE key=?", [(fetched_at, k) for k in keys]
            )

    # -- internals ----------------------------------------------------------------------------

    def _upsert_fetched(
        self, url: str, source: str, kind: str, status: str, etag: str | None,
        last_modified: str | None, content_hash: str | None, reason: str | None, fetched_at: str,
    ) -> None:
        self.db.execute(
            "INSERT INTO urls (url, source, kind, status, discovered_at, fetched_at, etag, "
            "last_modified, content_hash, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET status=excluded.status, "
            "fetched_at=excluded.fetched_at, "
            "etag=COALESCE(excluded.etag, etag), "
            "last_modified=COALESCE(excluded.last_modified, last_modified), "
            "content_hash=COALESCE(excluded.content_hash, content_hash), "
            "reason=excluded.reason",
            (url, source, kind, status, fetched_at, fetched_at, etag, last_modified,
             content_hash, reason),
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


class JsonlWriter:
    """Append-only JSON Lines file: each record is one `write()` of one complete line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def write(self, line: str) -> None:
        assert self.fd is not None
        _write_all(self.fd, (line + "\n").encode("utf-8"))
        self.count += 1

    def close(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None


def repair_jsonl(path: Path, lines: Sequence[str]) -> int:
    """Cut a half-written last line, then append the committed lines the file is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        data = b""
        size = os.fstat(fd).st_size
        if size:
            data = os.pread(fd, size, 0)
        end = data.rfind(b"\n") + 1  # 0 when there is no complete line
        if end != len(data):
            os.ftruncate(fd, end)
        have = data[:end].count(b"\n")
        missing = lines[have:]
        os.lseek(fd, 0, os.SEEK_END)
        for line in missing:
            _write_all(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
        return len(missing)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
