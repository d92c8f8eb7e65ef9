"""The output disk fills up mid-crawl (state elsewhere): the run stops with a non-zero exit and
stays unfinished, and the next run's recovery writes every committed record: none lost, none
duplicated."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter

import pytest

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests import crawl_server as cs

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e

N = 60


def test_jsonl_write_error_stops_the_run_and_loses_nothing(tmp_path):
    with SiteServer() as srv:
        for n in range(1, N + 1):
            srv.resources[f"/a/{n}.html"] = Resource(cs.news_article(n))
        items = [sitegen.Item(srv.url(f"/a/{n}.html"), f"記事{n}") for n in range(1, N + 1)]
        srv.resources["/sitemap.xml"] = Resource(sitegen.urlset(items), "application/xml")
        srv.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow:\n", "text/plain")
        sources = cs.write_sources(tmp_path / "sources.toml", [{
            "name": "full", "sitemaps": [srv.url("/sitemap.xml")],
            "download_delay": 0.0, "concurrent_requests": 4,
        }])
        out, state = tmp_path / "out", tmp_path / "elsewhere" / "state.sqlite"
        cmd = cs.crawl_cmd(sources, out, "--state", str(state))
        first = subprocess.run([sys.executable, "-m", "tests.diskfull", "20000", *cmd[3:]],
                               capture_output=True, text=True, timeout=120, cwd=cs.REPO,
                               env=cs.crawl_env())
        assert first.returncode == 4, first.stderr[-3000:]
        last = first.stderr.strip().splitlines()[-1]
        assert "No space left on device" in last and "left it unfinished" in last
        assert "Traceback" not in first.stderr
        db = sqlite3.connect(state)
        (unfinished,) = db.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()
        (committed,) = db.execute("SELECT COUNT(*) FROM records").fetchone()
        db.close()
        assert unfinished == 1
        complete = sum(f.read_bytes().count(b"\n") for f in out.glob("*.jsonl"))
        assert committed > complete  # the file really is short of records (and ends torn)

        again = cs.run_crawl(sources, out, "--state", str(state))
        assert again.returncode == 0, again.stderr[-3000:]
        assert "completed interrupted run" in again.stderr
        counts = Counter(r["url"] for r in cs.all_records(out))
        assert set(counts) == {srv.url(f"/a/{n}.html") for n in range(1, N + 1)}  # lost: 0
        assert max(counts.values()) == 1  # duplicates: 0
