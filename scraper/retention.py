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
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from kirinuki.scraper.schedule import parse_time
from kirinuki.scraper.statedb import StateDb


@dataclass(frozen=True, slots=True)
class RunFile:
    run_id: str
    started_at: datetime | None
    records: int
    output: Path


def finished_runs(db: StateDb) -> list[RunFile]:
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


def prune(db: StateDb, keep_runs: int | None, keep_days: float | None,
          now: datetime, current: str | None = None) -> list[str]:
    """Delete the chosen runs' files and their rows in the state; return their run ids."""
    doomed = choose_prunable(finished_runs(db), keep_runs, keep_days, now, current)
    for run in doomed:
        for path in (run.output, run.output.with_name(f"{run.run_id}.summary.json")):
            path.unlink(missing_ok=True)
        db.transaction(lambda run=run: _forget_run(db, run.run_id))
    return [r.run_id for r in doomed]


def _forget_run(db: StateDb, run_id: str) -> None:
    for table in ("records", "runs", "run_flags"):
        db.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))


def vacuum(db: StateDb) -> tuple[int, int]:
    """Checkpoint the WAL and rebuild the file; return (pages before, pages after).

    On PostgreSQL: VACUUM FULL of the state's tables, sizes in 8 KiB pages of the database.
    """
    if db.dialect == "postgres":
        size = "SELECT pg_database_size(current_database()) / 8192"
        before = db.execute(size).fetchone()[0]
        db.execute("VACUUM FULL")
        return before, db.execute(size).fetchone()[0]
    before = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return before, db.execute("PRAGMA page_count").fetchone()[0]
