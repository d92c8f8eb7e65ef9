"""Health history and held versions, kept in the crawl's SQLite state file beside `scraper.state`.

Three tables: `article_health` (the checks' view of the latest emitted version of each article),
`held` (degraded versions of known healthy articles, kept out of the JSONL until a person releases
them) and `source_runs` (one row per source per run: the counters the report charts and the
`no_articles` check and `--due` read). Works on the `Store`'s open connection, so it shares its
lock and transactions; `open_readonly` reads a state another process may be writing.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kirinuki.scraper.health import RecordStats
from kirinuki.scraper.statedb import StateDb, as_statedb, open_readonly

__all__ = ["History", "Held", "SourceRun", "open_readonly"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_health (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    profile TEXT,
    run_id TEXT,
    at TEXT,
    url TEXT,
    text_len INTEGER NOT NULL,
    paragraphs INTEGER NOT NULL,
    fields TEXT NOT NULL,           -- JSON list of the checked fields that were filled
    method TEXT,
    flags TEXT NOT NULL             -- JSON list of health flags
);
CREATE INDEX IF NOT EXISTS article_health_source ON article_health (source, at);
CREATE INDEX IF NOT EXISTS article_health_run ON article_health (run_id);
CREATE TABLE IF NOT EXISTS held (
    key TEXT PRIMARY KEY,           -- one held version per article: the latest degraded one
    source TEXT NOT NULL,
    url TEXT,
    run_id TEXT,
    held_at TEXT,
    flags TEXT NOT NULL,
    detail TEXT,
    text_len INTEGER,
    content_hash TEXT,
    record TEXT NOT NULL            -- the JSON line it would have been
);
CREATE TABLE IF NOT EXISTS run_flags (
    run_id TEXT NOT NULL,           -- every flagged record of a run: emitted, held or unchanged
    source TEXT NOT NULL,
    profile TEXT,
    url TEXT,
    flags TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS run_flags_run ON run_flags (run_id);
CREATE TABLE IF NOT EXISTS source_runs (
    run_id TEXT NOT NULL,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    counters TEXT NOT NULL,         -- JSON: the summary row (discovered, fetched, new, ...)
    median_len REAL,                -- of the versions judged in this run (held ones included)
    alerts TEXT NOT NULL,           -- JSON list of the source's alerts ({kind, detail, urls})
    PRIMARY KEY (run_id, source)
);
CREATE INDEX IF NOT EXISTS source_runs_source ON source_runs (source, started_at);
"""

BASELINE_ROWS = 200  # latest healthy articles of a source that make its baseline


@dataclass(frozen=True, slots=True)
class Held:
    key: str
    source: str
    url: str | None
    run_id: str | None
    held_at: str | None
    flags: tuple[str, ...]
    detail: str | None
    text_len: int | None
    content_hash: str | None
    record: str


@dataclass(frozen=True, slots=True)
class SourceRun:
    run_id: str
    source: str
    started_at: str
    counters: dict[str, Any]  # the summary row: counters and failed/rejected reasons
    median_len: float | None
    alerts: tuple[dict[str, Any], ...]


class History:
    """Health history and held versions on an open state connection."""

    def __init__(self, db: StateDb | sqlite3.Connection) -> None:
        self.db = db = as_statedb(db)
        if not db.readonly:
            db.executescript(SCHEMA)
        # A read-only look at a state file from before these tables existed reads as empty.
        self.empty = not db.has_table("source_runs")

    # -- per-article health ---------------------------------------------------------------------

    def stats(self, key: str) -> RecordStats | None:
        row = self.db.execute(
            "SELECT text_len, paragraphs, fields, method, profile, flags FROM article_health "
            "WHERE key=?", (key,)).fetchone()
        return _stats(row) if row else None

    def source_stats(self, source: str, limit: int = BASELINE_ROWS) -> list[RecordStats]:
        """The latest healthy articles of a source (the baseline's input)."""
        rows = self.db.execute(
            "SELECT text_len, paragraphs, fields, method, profile, flags FROM article_health "
            "WHERE source=? AND flags='[]' ORDER BY at DESC, rowid DESC LIMIT ?",
            (source, limit)).fetchall()
        return [_stats(r) for r in rows]

    def note(self, key: str, source: str, url: str | None, run_id: str, at: str,
             stats: RecordStats) -> None:
        """Remember the checks' view of the version about to be emitted."""
        self.db.execute(
            "INSERT INTO article_health (key, source, profile, run_id, at, url, text_len, "
            "paragraphs, fields, method, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET source=excluded.source, profile=excluded.profile, "
            "run_id=excluded.run_id, at=excluded.at, url=excluded.url, "
            "text_len=excluded.text_len, paragraphs=excluded.paragraphs, "
            "fields=excluded.fields, method=excluded.method, flags=excluded.flags",
            (key, source, stats.profile, run_id, at, url, stats.text_len, stats.paragraphs,
             _dumps(sorted(stats.fields)), stats.method, _dumps(sorted(stats.flags))),
        )

    def flag(self, run_id: str, source: str, profile: str | None, url: str | None,
             flags: Sequence[str], held: bool = False) -> None:
        """Note a flagged record of this run (the alerts are made from these)."""
        self.db.execute(
            "INSERT INTO run_flags (run_id, source, profile, url, flags, held) "
            "VALUES (?, ?, ?, ?, ?, ?)", (run_id, source, profile, url, _dumps(list(flags)), held))

    def flagged(self, run_id: str) -> list[tuple[str, str | None, str | None, list[str], bool]]:
        """(source, profile, url, flags, held) of this run's records that carry a flag."""
        return [(s, p, u, json.loads(f), bool(h)) for s, p, u, f, h in self.db.execute(
            "SELECT source, profile, url, flags, held FROM run_flags WHERE run_id=? "
            "ORDER BY rowid", (run_id,))]

    def run_lengths(self, run_id: str) -> dict[str, list[int]]:
        """Text lengths judged in this run by source (emitted and held versions)."""
        out: dict[str, list[int]] = {}
        for s, n in self.db.execute(
                "SELECT source, text_len FROM article_health WHERE run_id=? UNION ALL "
                "SELECT source, text_len FROM held WHERE run_id=?", (run_id, run_id)):
            out.setdefault(s, []).append(n)
        return out

    # -- held versions --------------------------------------------------------------------------

    def hold(self, key: str, source: str, url: str | None, run_id: str, at: str,
             flags: Sequence[str], detail: str, text_len: int, content_hash: str | None,
             line: str) -> None:
        self.db.execute(
            "INSERT INTO held (key, source, url, run_id, held_at, flags, detail, text_len, "
            "content_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET source=excluded.source, url=excluded.url, "
            "run_id=excluded.run_id, held_at=excluded.held_at, flags=excluded.flags, "
            "detail=excluded.detail, text_len=excluded.text_len, "
            "content_hash=excluded.content_hash, record=excluded.record",
            (key, source, url, run_id, at, _dumps(list(flags)), detail, text_len, content_hash,
             line),
        )

    def held(self, keys: Iterable[str] = ()) -> list[Held]:
        """Held versions (all, or those whose key or URL is in `keys`), oldest first."""
        wanted = set(keys)
        if self.empty:
            return []
        rows = self.db.execute(
            "SELECT key, source, url, run_id, held_at, flags, detail, text_len, content_hash, "
            "record FROM held ORDER BY held_at, rowid").fetchall()
        out = [Held(*r[:5], tuple(json.loads(r[5])), *r[6:]) for r in rows]
        return [h for h in out if not wanted or h.key in wanted or h.url in wanted]

    def unhold(self, key: str) -> None:
        self.db.execute("DELETE FROM held WHERE key=?", (key,))

    # -- per-source runs ------------------------------------------------------------------------

    def add_source_run(self, run_id: str, source: str, started_at: str, counters: dict[str, Any],
                       lengths: Sequence[int], alerts: Sequence[dict[str, Any]]) -> None:
        med = statistics.median(lengths) if lengths else None
        self.db.execute(
            "INSERT INTO source_runs (run_id, source, started_at, counters, median_len, "
            "alerts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, source) DO UPDATE SET "
            "started_at=excluded.started_at, counters=excluded.counters, "
            "median_len=excluded.median_len, alerts=excluded.alerts",
            (run_id, source, started_at, _dumps(counters), med, _dumps(list(alerts))),
        )

    def source_runs(self, source: str | None = None, limit: int = 30) -> list[SourceRun]:
        """The last `limit` runs of a source (or of every source), oldest first."""
        if self.empty:
            return []
        if source is None:
            rows = self.db.execute(
                "SELECT run_id, source, started_at, counters, median_len, alerts FROM source_runs "
                "ORDER BY started_at, rowid").fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM (SELECT run_id, source, started_at, counters, median_len, alerts, "
                "rowid AS r FROM source_runs WHERE source=? ORDER BY started_at DESC, rowid DESC "
                "LIMIT ?) AS s ORDER BY started_at, r", (source, limit)).fetchall()
        return [SourceRun(r[0], r[1], r[2], json.loads(r[3]), r[4], _alerts(json.loads(r[5])))
                for r in rows]

    def sources(self) -> list[str]:
        """Every source with a logged run, by name."""
        if self.empty:
            return []
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT source FROM source_runs ORDER BY source")]

    def had_articles(self, source: str) -> bool:
        """Did any earlier run of this source list or fetch articles?"""
        for run in self.source_runs(source, limit=50):
            c = run.counters
            if c.get("discovered", 0) + c.get("known", 0) + c.get("fetched", 0) > 0:
                return True
        return False

    def last_started(self) -> dict[str, str]:
        """source -> start time (UTC ISO) of its last run."""
        if self.empty:
            return {}
        return dict(self.db.execute(
            "SELECT source, MAX(started_at) FROM source_runs GROUP BY source").fetchall())


def _alerts(items: list[Any]) -> tuple[dict[str, Any], ...]:
    # Rows written by the first version of this table held bare kinds.
    return tuple(a if isinstance(a, dict) else {"kind": str(a), "detail": ""} for a in items)


def _stats(row: Sequence[Any]) -> RecordStats:
    text_len, paragraphs, fields, method, profile, flags = row
    return RecordStats(text_len, paragraphs, frozenset(json.loads(fields)), method, profile,
                       frozenset(json.loads(flags)))


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
