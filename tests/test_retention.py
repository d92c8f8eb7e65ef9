"""Retention (issue 8): keep_runs / keep_days prune old and empty runs; vacuum."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kirinuki.scraper.history import History
from kirinuki.scraper.retention import RunFile, choose_prunable, prune
from kirinuki.scraper.state import Emit, Store

from tests.crawl_server import REPO, crawl_env

NOW = datetime(2026, 3, 10, tzinfo=UTC)


def _runs(*specs: tuple[int, int]) -> list[RunFile]:
    """(days ago, records) newest first."""
    return [RunFile(f"r{i}", NOW - timedelta(days=d), n, Path(f"/x/r{i}.jsonl"))
            for i, (d, n) in enumerate(specs)]


def test_choose_prunable():
    runs = _runs((0, 0), (1, 3), (2, 0), (3, 5), (4, 2), (30, 1))
    assert choose_prunable(runs, None, None, NOW) == []  # retention off: keep everything
    ids = lambda rs: [r.run_id for r in rs]  # noqa: E731
    # empty runs go (not the newest), then non-empty ones beyond the newest two
    assert ids(choose_prunable(runs, 2, None, NOW)) == ["r2", "r4", "r5"]
    assert ids(choose_prunable(runs, None, 7, NOW)) == ["r2", "r5"]
    assert ids(choose_prunable(runs, 10, 7, NOW, current="r0")) == ["r2", "r5"]


def _fake_run(store: Store, out: Path, run_id: str, started: datetime, records: int) -> None:
    path = out / f"{run_id}.jsonl"
    store.start_run(run_id, path)
    store.db.execute("UPDATE runs SET started_at=? WHERE run_id=?", (started.isoformat(), run_id))
    lines = [f'{{"n":"{run_id}-{i}"}}' for i in range(records)]
    for i, line in enumerate(lines):
        store.emit(run_id, [Emit(f"{run_id}-{i}", 1, "s", f"http://x.test/{run_id}/{i}", "h", None,
                                 line)], [], etag=None, last_modified=None, fetched_at="t")
    path.write_text("".join(x + "\n" for x in lines))
    (out / f"{run_id}.summary.json").write_text("{}")
    store.finish_run(run_id, {"records": records})


def test_prune_deletes_files_and_rows_and_vacuum_shrinks(tmp_path):
    out = tmp_path / "out"
    store = Store(out / "state.sqlite")
    History(store.db)
    now = datetime.now(UTC)
    for i, (days, n) in enumerate([(40, 50), (3, 0), (2, 50), (1, 0), (0, 1)]):
        _fake_run(store, out, f"crawl-{i}", now - timedelta(days=days), n)
    gone = prune(store.db, None, 30, now, current="crawl-4")
    assert sorted(gone) == ["crawl-0", "crawl-1", "crawl-3"]
    assert sorted(p.name for p in out.glob("crawl-*")) == [
        "crawl-2.jsonl", "crawl-2.summary.json", "crawl-4.jsonl", "crawl-4.summary.json"]
    assert store.db.execute("SELECT COUNT(*) FROM records").fetchone() == (51,)
    # the article identities stay: a pruned run's articles are not new again
    assert store.article("crawl-0-0") is not None
    store.close()
    res = subprocess.run([sys.executable, "-m", "kirinuki.cli", "state", "vacuum", "--state",
                          str(out / "state.sqlite")], capture_output=True, text=True, cwd=REPO,
                         env=crawl_env(), timeout=60)
    assert res.returncode == 0 and "vacuumed" in res.stdout, res.stderr
