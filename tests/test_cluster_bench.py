"""benchmarks/cluster_bench.py (issue 12) runs: its site, server-side gap log and table stay working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "cluster_bench.py"


def _rows(out: str) -> dict[tuple[str, int], list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] in ("embedded", "cluster"):
            rows[(cells[0], int(cells[1]))] = cells
    return rows


@pytest.mark.e2e
def test_embedded_row_counts_every_page_and_checks_gaps_on_the_server():
    res = subprocess.run([sys.executable, str(BENCH), "--no-cluster", "--hosts", "3",
                          "--pages-per-host", "3", "--delay", "0.3"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    cells = _rows(res.stdout)[("embedded", 1)]
    assert cells[2] == "9"  # one record per page, on three hosts
    # Page requests to one host are at least half the delay apart (Scrapy's randomized delay).
    assert float(cells[-2]) >= 0.15 and cells[-1] in ("yes", "pages")


@pytest.mark.cluster
@pytest.mark.e2e
def test_scale_limits_measures_redis_bytes_and_state_writes(redis_server, postgres_server):
    # (the session servers only to skip, as every cluster test does, where none is installed;
    # the script starts its own)
    script = BENCH.parent / "scale_limits.py"
    res = subprocess.run([sys.executable, str(script), "--requests", "200", "--records", "20",
                          "--writers", "1", "2"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    per_request = int(out.split("B per request by MEMORY USAGE")[0].rsplit(",", 1)[1])
    assert 300 < per_request < 3000  # a pickled request with our meta, in a sorted set
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("SQLite",
                                                                                  "PostgreSQL"))]
    assert len(rows) == 5  # SQLite, PostgreSQL x (fsync off, on) x (1, 2 writers)
    assert all(float(r[-2]) > 0 for r in rows)
