"""Retention for runs made every few minutes for months: prune old and empty run files.

A run is `<out>/<run_id>.jsonl` plus `<run_id>.summary.json`, and its records in the state's
`records` table (the copy crash recovery replays). With `[crawl] keep_runs` and/or `keep_days`
set, after each run: empty runs (no record) go, except the newest; non-empty runs beyond the
newest `keep_runs`, or older than `keep_days`, go. Never pruned: the run just made, and a run
that did not finish (the next run's recovery needs its records). The state keeps every article's
identity and version, so nothing already emitted is emitted again. `vacuum` gives the freed pages
back to the file system.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kirinuki.scraper.schedule import parse_time


@dataclass(frozen=True, slots=True)
class RunFile:
    run_id: str
    started_at: datetime | None
    records: int
    output: Path


def finished_runs(db: sqlite3.Connection) -> list[RunFile]:
    """Finished runs, newest first, with their record counts (from their summaries)."""
    out = []
    for run_id, started, output, summary in db.execute(
            "SELECT run_id, started_at, output, summary FROM runs WHERE finished_at IS NOT NULL "
            "ORDER BY started_at DESC, rowid DESC"):
        try:
            records = int(json.loads(summary or "{}").get("records", 0))
        except (ValueError, TypeError, AttributeError):
            records = 0
        out.append(RunFile(run_id, parse_time(started), records, Path(output)))
    return out


def choose_prunable(runs: list[RunFile], keep_runs: int | None, keep_days: float | None,
                    now: datetime, current: str | None = None) -> list[RunFile]:
    """Which runs to delete (pure; `runs` newest first)."""
    if keep_runs is None and keep_days is None:
        return []
    horizon = now - timedelta(days=keep_days) if keep_days is not None else None
    doomed = []
    kept_full = 0
    newest = runs[0].run_id if runs else None
    for run in runs:
        if run.run_id in (current, newest):
            kept_full += run.records > 0
            continue
        if horizon is not None and run.started_at is not None and run.started_at < horizon:
            doomed.append(run)
        elif run.records == 0:
            doomed.append(run)
        elif keep_runs is not None and kept_full >= keep_runs:
            doomed.append(run)
        else:
            kept_full += 1
    return doomed


def prune(db: sqlite3.Connection, keep_runs: int | None, keep_days: float | None,
          now: datetime, current: str | None = None) -> list[str]:
    """Delete the chosen runs' files and their rows in the state; return their run ids."""
    doomed = choose_prunable(finished_runs(db), keep_runs, keep_days, now, current)
    for run in doomed:
        for path in (run.output, run.output.with_name(f"{run.run_id}.summary.json")):
            path.unlink(missing_ok=True)
        db.execute("DELETE FROM records WHERE run_id=?", (run.run_id,))
        db.execute("DELETE FROM runs WHERE run_id=?", (run.run_id,))
        db.execute("DELETE FROM run_flags WHERE run_id=?", (run.run_id,))
    return [r.run_id for r in doomed]


def vacuum(db: sqlite3.Connection) -> tuple[int, int]:
    """Checkpoint the WAL and rebuild the file; return (pages before, pages after)."""
    before = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, db.execute("PRAGMA page_count").fetchone()[0]
