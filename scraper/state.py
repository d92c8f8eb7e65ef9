"""Incremental crawl state and output: one SQLite file plus one JSON Lines file per run.

Crash safety comes from one ordering rule: a record is committed to SQLite first (with its run and
sequence number), and only then appended to the run's JSONL file as one complete line. If the
process dies in between, the next run finds the run unfinished, cuts any half-written last line and
appends the committed records the file is missing, in sequence order. So a killed crawl loses no
record (SQLite has it) and duplicates none (a URL marked done in the same transaction is skipped).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from kirinuki.scraper.discovery import is_newer, normalize_url
from kirinuki.scraper.statedb import StateDb, is_database_url

from kirinuki.safe_output import write_all

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
    summary TEXT,
    checked_bytes INTEGER           -- size of the run's JSONL when last found complete
);
"""


class StateBusy(RuntimeError):
    """Another crawl holds this state file (`kirinuki crawl` exits 3)."""


StateLocked = StateBusy  # the earlier name


class StateCorrupt(RuntimeError):
    """The state file is not a readable SQLite database (`kirinuki crawl` exits 2)."""


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
        # filelock: flock on POSIX, msvcrt on Windows; held for the life of the Store.
        self._lock: FileLock | None = FileLock(str(self.path) + ".lock")
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            self._lock = None
            raise StateBusy(
                f"{self.path} is in use by another crawl; wait for it or pass another --state"
            ) from None
        self.db: StateDb | None = None
        try:
            self.db = StateDb(sqlite3.connect(str(self.path), isolation_level=None, timeout=30))
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (not power loss).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
            self.db.execute("SELECT COUNT(*) FROM runs").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StateCorrupt(
                f"{self.path} is not a usable state file ({exc}); move it away and rerun with "
                "--rebuild-state to rebuild it from the run files"
            ) from None

    def _create_schema(self) -> None:
        self.db.executescript(SCHEMA)
        # SQLite states from before these columns existed
        if "seen_run" not in self.db.columns("urls"):
            self.db.execute("ALTER TABLE urls ADD COLUMN seen_run TEXT")
        if "checked_bytes" not in self.db.columns("runs"):
            self.db.execute("ALTER TABLE runs ADD COLUMN checked_bytes INTEGER")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def is_empty(self) -> bool:
        """No run and no URL recorded: a new state (or one emptied by accident)."""
        return (self.db.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None
                and self.db.execute("SELECT 1 FROM urls LIMIT 1").fetchone() is None)

    def rebuild(self, files: Sequence[Path], key_of: Callable[[dict[str, Any], str], str]
                ) -> int:
        """Fill an empty state from earlier runs' JSONL files (oldest first); return records.

        Each complete line becomes that run's record, its article (a new version whenever the
        content hash changes) and its URL marked done, so the next crawl neither fetches those
        articles again nor emits them twice. Validators (ETag, Last-Modified) are not in the
        files: articles that discovery later dates as changed are fetched unconditionally.
        """
        def tx() -> int:
            count = 0
            for path in files:
                run_id = path.name.removesuffix(".jsonl")
                self.db.execute(
                    "INSERT INTO runs (run_id, started_at, finished_at, output, summary) "
                    "VALUES (?, NULL, ?, ?, ?)",
                    (run_id, utcnow(), str(path), json.dumps({"rebuilt": True})),
                )
                for line in _complete_lines(path):
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if not isinstance(rec, dict) or not isinstance(rec.get("url"), str) \
                            or not isinstance(rec.get("content_hash"), str):
                        continue
                    key, chash = key_of(rec, rec["url"]), rec["content_hash"]
                    prev = self.article(key)
                    if prev is None:
                        version = 1
                    else:
                        version = prev[1] if prev[0] == chash else prev[1] + 1
                    fetched = rec.get("fetched_at") if isinstance(rec.get("fetched_at"), str) else None
                    self.db.execute(
                        "INSERT INTO records (run_id, key, version, source, url, content_hash, "
                        "fetched_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (run_id, key, version, rec.get("source"), rec["url"], chash, fetched, line),
                    )
                    self.db.execute(
                        "INSERT INTO articles (key, source, url, content_hash, version, first_seen, "
                        "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                        "content_hash=excluded.content_hash, version=excluded.version, "
                        "last_seen=excluded.last_seen, url=excluded.url",
                        (key, rec.get("source"), rec["url"], chash, version, fetched, fetched),
                    )
                    self._upsert_fetched(normalize_url(rec["url"]), str(rec.get("source") or ""),
                                         "article", "done", None, None, chash, None,
                                         fetched or utcnow())
                    count += 1
            return count

        return self.db.transaction(tx)

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, output: Path | None) -> None:
        """A new run (`output`: its JSONL file; None for a cluster run, whose records live in
        the database and whose workers attach to it by id, see `run_info`)."""
        self.db.execute(
            "INSERT INTO runs (run_id, started_at, output) VALUES (?, ?, ?)",
            (run_id, utcnow(), str(output) if output is not None else ""),
        )

    def run_info(self, run_id: str) -> dict[str, Any] | None:
        """started_at, finished_at and output of a run, or None when there is no such run."""
        row = self.db.execute(
            "SELECT started_at, finished_at, output FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()
        return dict(zip(("started_at", "finished_at", "output"), row, strict=True)) if row else None

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at=?, summary=? WHERE run_id=?",
            (utcnow(), json.dumps(summary, ensure_ascii=False, sort_keys=True), run_id),
        )

    def recover(self) -> list[tuple[str, int]]:
        """Check every run's JSONL against its committed records and repair what is missing.

        Runs that died (or stopped on a write error) are completed and marked finished. Finished
        runs are checked too (a run can have been marked finished with records missing, by an
        older version that ignored write errors): a file whose size is the one recorded when it
        was last found complete is skipped, so this stays cheap. A finished run whose file is
        gone was moved away by the user and is left alone. Returns (file, lines written) for
        the files that were changed.
        """
        done = []
        rows = self.db.execute(
            "SELECT run_id, output, finished_at, checked_bytes FROM runs ORDER BY started_at, rowid"
        ).fetchall()
        for run_id, output, finished_at, checked in rows:
            if not output:  # a cluster run: its records live in the database only
                continue
            path = Path(output)
            if finished_at is not None:
                try:
                    size = path.stat().st_size
                except FileNotFoundError:
                    continue
                if checked is not None and size == checked:
                    continue
            written = repair_jsonl(path, self.run_records(run_id))
            self.db.execute("UPDATE runs SET checked_bytes=? WHERE run_id=?",
                            (path.stat().st_size, run_id))
            if finished_at is None:
                self.finish_run(run_id, {"interrupted": True, "recovered_lines": written})
            if written or finished_at is None:
                done.append((output, written))
        return done

    def mark_checked(self, run_id: str, path: Path, lines: int) -> None:
        """A run wrote `lines` lines to its new file: when that is every record it committed,
        remember the file's size so that recovery need not read it again."""
        (committed,) = self.db.execute(
            "SELECT COUNT(*) FROM records WHERE run_id=?", (run_id,)).fetchone()
        if committed == lines:
            self.db.execute("UPDATE runs SET checked_bytes=? WHERE run_id=?",
                            (path.stat().st_size, run_id))

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
        rows = [(u, source, kind, parent, now, lastmod, title, pub)
                for u, title, pub, lastmod in entries]
        self.db.transaction(lambda: self.db.executemany(
            "INSERT INTO urls (url, source, kind, status, parent, discovered_at, lastmod, "
            "title, published) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET "
            "lastmod=COALESCE(excluded.lastmod, urls.lastmod), "
            "title=COALESCE(urls.title, excluded.title), "
            "published=COALESCE(urls.published, excluded.published)",
            rows,
        ))

    def discover_articles(
        self, source: str, parent: str, run_id: str, max_attempts: int,
        entries: Iterable[tuple[str, str | None, str | None, str | None]],
    ) -> tuple[int, int]:
        """Put discovered article URLs in the frontier; return (newly seen this run, known).

        New URLs become pending. A fetched article whose discovery date (sitemap lastmod,
        atom:updated) is later than our fetch becomes pending again -- moved to a new rowid so
        this run's frontier cursor reaches it -- and is then asked for conditionally. Safe with
        several workers discovering the same URLs: an insert that loses the race reads (and
        locks) the winner's row instead.
        """
        entries = list(entries)
        now = utcnow()

        def tx() -> tuple[int, int]:
            seen = known = 0
            for url, title, published, lastmod in entries:
                row = self._frontier_row(url)
                if row is None:
                    inserted = self.db.execute(
                        "INSERT INTO urls (url, source, kind, status, parent, discovered_at, "
                        "lastmod, title, published, seen_run) "
                        "VALUES (?, ?, 'article', 'pending', ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT(url) DO NOTHING",
                        (url, source, parent, now, lastmod, title, published, run_id),
                    ).rowcount
                    if inserted:
                        seen += 1
                        continue
                    row = self._frontier_row(url)  # another worker inserted it just now
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

        return self.db.transaction(tx)

    def _frontier_row(self, url: str) -> tuple[Any, ...] | None:
        return self.db.execute(
            "SELECT status, kind, fetched_at, seen_run, attempts FROM urls WHERE url=? FOR UPDATE",
            (url,),
        ).fetchone()

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

        def tx() -> int:
            urls = [r[0] for r in self.db.execute(
                "SELECT url FROM urls WHERE source=? AND kind='article' AND status='done' AND "
                "fetched_at<? ORDER BY fetched_at, rowid LIMIT ? FOR UPDATE SKIP LOCKED",
                (source, fetched_before, limit))]
            for url in urls:
                self._requeue(url)
            return len(urls)

        return self.db.transaction(tx)

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
        at = fetched_at or utcnow()
        self.db.transaction(lambda: self._upsert_fetched(
            url, source, kind, status, etag, last_modified, content_hash, reason, at))

    def failed(self, url: str, source: str, kind: str, reason: str) -> None:
        self.db.transaction(lambda: self.db.execute(
            "INSERT INTO urls (url, source, kind, status, attempts, reason, discovered_at) "
            "VALUES (?, ?, ?, 'failed', 1, ?, ?) ON CONFLICT(url) DO UPDATE SET "
            "status=CASE WHEN urls.status IN ('done', 'rejected') THEN urls.status "
            "ELSE 'failed' END, attempts=urls.attempts+1, reason=excluded.reason",
            (url, source, kind, reason, utcnow()),
        ))

    # -- articles -----------------------------------------------------------------------------

    def article(self, key: str) -> tuple[str, int] | None:
        row = self.db.execute(
            "SELECT content_hash, version FROM articles WHERE key=?", (key,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def emit(
        self, run_id: str, emits: Sequence[Emit], pages: Sequence[tuple[str, str, str]],
        *, etag: str | None, last_modified: str | None, fetched_at: str,
    ) -> list[Emit]:
        """Store records and mark their page URLs done, atomically (before any JSONL write).

        Returns what was stored, which is what the caller writes: each article's version is
        decided here, under a lock on its key, from what the state holds now. With one process
        that is the version the caller computed; with several workers sharing a database,
        another may have stored a version since, so the record becomes the next one (its line
        renumbered), or, when that version has this very content hash, nothing is stored (the
        same version is never written twice).
        """
        content_hash = emits[0].content_hash if emits else None

        def tx() -> list[Emit]:
            stored = []
            for e in emits:
                self.db.lock_key(e.key)
                prev = self.article(e.key)
                if prev is not None and prev[0] == e.content_hash:
                    continue
                version = 1 if prev is None else prev[1] + 1
                if version != e.version:
                    e = renumbered(e, version)
                self.db.execute(
                    "INSERT INTO records (run_id, key, version, source, url, content_hash, "
                    "fetched_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, e.key, e.version, e.source, e.url, e.content_hash, e.fetched_at,
                     e.line),
                )
                self.db.execute(
                    "INSERT INTO articles (key, source, url, content_hash, version, first_seen, "
                    "last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "content_hash=excluded.content_hash, version=excluded.version, "
                    "last_seen=excluded.last_seen, url=excluded.url",
                    (e.key, e.source, e.url, e.content_hash, e.version, fetched_at, fetched_at),
                )
                stored.append(e)
            for i, (url, source, kind) in enumerate(pages):
                self._upsert_fetched(
                    url, source, kind, "done", etag if i == 0 else None,
                    last_modified if i == 0 else None, content_hash, None, fetched_at,
                )
            return stored

        return self.db.transaction(tx)

    def touch_articles(self, keys: Iterable[str], fetched_at: str) -> None:
        rows = [(fetched_at, k) for k in keys]
        self.db.transaction(lambda: self.db.executemany(
            "UPDATE articles SET last_seen=? WHERE key=?", rows))

    def run_records(self, run_id: str) -> Iterator[str]:
        """A run's committed record lines in the order they were stored (all workers')."""
        for (line,) in self.db.execute(
                "SELECT record FROM records WHERE run_id=? ORDER BY seq", (run_id,)):
            yield line

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
            "etag=COALESCE(excluded.etag, urls.etag), "
            "last_modified=COALESCE(excluded.last_modified, urls.last_modified), "
            "content_hash=COALESCE(excluded.content_hash, urls.content_hash), "
            "reason=excluded.reason",
            (url, source, kind, status, fetched_at, fetched_at, etag, last_modified,
             content_hash, reason),
        )


def renumbered(e: Emit, version: int) -> Emit:
    """The same record as another version (its JSON line's `version` rewritten)."""
    from kirinuki.pipelines.record import dumps

    rec = json.loads(e.line)
    if "version" in rec:
        rec["version"] = version
    return replace(e, version=version, line=dumps(rec))


def open_store(target: str | Path) -> Store:
    """The crawl state at `target`: a path opens (or creates) the SQLite file with its lock; a
    `postgresql://` URL opens the shared PostgreSQL state of a cluster (`scraper.pgstate`)."""
    if is_database_url(target):
        from kirinuki.scraper.pgstate import PgStore

        return PgStore(str(target))
    return Store(target)


class JsonlWriter:
    """Append-only JSON Lines file: each record is one `write()` of one complete line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def write(self, line: str) -> None:
        assert self.fd is not None
        write_all(self.fd, (line + "\n").encode("utf-8"))
        self.count += 1

    def close(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = None


def repair_jsonl(path: Path, lines: Iterable[str]) -> int:
    """Make the file hold `lines` (a run's committed records, in order); return lines written.

    The usual damage is a short file (a killed run, a full disk): a torn last line is cut and
    the missing lines are appended. A file that differs inside (a torn line followed by later
    writes, a duplicate) is rewritten next to itself and swapped in, and the old file is kept
    as `<name>.damaged`. Lines after all of `lines` are not ours and are left alone.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        with os.fdopen(os.dup(fd), "rb") as f:
            want_iter: Iterator[str] = iter(lines)
            pos = 0
            for line in want_iter:
                want = (line + "\n").encode("utf-8")
                got = f.readline()
                if got == want:
                    pos += len(got)
                    continue
                if not got.endswith(b"\n"):
                    break  # end of file, maybe after a torn last line: append from here
                return _rewrite(path, fd, pos, want, want_iter)
            else:
                tail = f.read()
                end = pos + tail.rfind(b"\n") + 1
                if end < pos + len(tail):
                    os.ftruncate(fd, end)  # a torn last line (never a committed record)
                    os.fsync(fd)
                return 0
        os.ftruncate(fd, pos)
        os.lseek(fd, 0, os.SEEK_END)
        return _write_lines(fd, want, want_iter)
    finally:
        os.close(fd)


def _write_lines(fd: int, first: bytes, rest: Iterator[str]) -> int:
    """`first` (one encoded line) then each record line of `rest`, synced; how many were written."""
    write_all(fd, first)
    n = 1
    for line in rest:
        write_all(fd, (line + "\n").encode("utf-8"))
        n += 1
    os.fsync(fd)
    return n


def _rewrite(path: Path, fd: int, good: int, first: bytes, rest: Iterator[str]) -> int:
    """Write the good prefix and the remaining records to a new file, keep the old one aside."""
    tmp = path.with_name(path.name + ".repair")
    out = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                  stat.S_IMODE(os.fstat(fd).st_mode))
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        left = good
        while left:
            chunk = os.read(fd, min(left, 1 << 20))
            write_all(out, chunk)
            left -= len(chunk)
        n = _write_lines(out, first, rest)
    except BaseException:
        os.close(out)
        tmp.unlink(missing_ok=True)
        raise
    os.close(out)
    damaged = path.with_name(path.name + ".damaged")
    damaged.unlink(missing_ok=True)
    try:
        os.link(path, damaged)
    except OSError:
        shutil.copyfile(path, damaged)
    os.replace(tmp, path)
    return n


def _complete_lines(path: Path) -> Iterator[str]:
    """The newline-terminated lines of a file, without their newline (a torn tail is skipped)."""
    with open(path, "rb") as f:
        for raw in f:
            if raw.endswith(b"\n"):
                yield raw[:-1].decode("utf-8", "replace")


def latest_records(db: StateDb) -> Iterator[dict[str, Any]]:
    """The latest version of every article (`articles.version`), as stored, ordered by key.

    Read-only (give it `history.open_readonly()`): the line of that version in `records` (the
    last one, should a version have been written twice), with `version` set from the state,
    since lines written before records carried it lack the field.
    """
    rows = db.execute(
        "SELECT r.record, a.version FROM articles a "
        "JOIN (SELECT key, version, MAX(seq) AS seq FROM records GROUP BY key, version) m "
        "ON m.key = a.key AND m.version = a.version "
        "JOIN records r ON r.seq = m.seq ORDER BY a.key"
    )
    for line, version in rows:
        rec = json.loads(line)
        rec["version"] = version
        rec.setdefault("input_file", None)
        yield rec
