"""Kill a crawl midway, run it again: no record lost, none duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import (
    REPO,
    all_records,
    crawl_cmd,
    crawl_env,
    news_article,
    run_crawl,
    write_sources,
)

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e

N = 40


def _site(srv: SiteServer) -> None:
    for n in range(1, N + 1):
        srv.resources[f"/a/{n}.html"] = Resource(news_article(n))
    items = [sitegen.Item(srv.url(f"/a/{n}.html"), f"記事{n}") for n in range(1, N + 1)]
    srv.resources["/sitemap.xml"] = Resource(sitegen.urlset(items), "application/xml")
    srv.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow:\n", "text/plain")


def _lines(out: Path) -> int:
    return sum(len(f.read_bytes().splitlines()) for f in out.glob("*.jsonl"))


def _session_pids(sid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.getsid(int(d.name)) == sid:
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill9", "term"])
def test_killed_crawl_resumes_without_loss_or_duplicates(tmp_path, sig):
    # Each page takes 0.15 s to serve, two at a time: fetching, not cleaning, sets the pace.
    # At 0.04 s a loaded machine had all 40 pages fetched before the 8th was written, and
    # SIGTERM's graceful stop rightly cleaned and wrote them all (nothing left to resume).
    with SiteServer(delay=0.15) as srv:
        _site(srv)
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "slow", "sitemaps": [srv.url("/sitemap.xml")],
            "download_delay": 0.0, "concurrent_requests": 2,
        }])
        out = tmp_path / "out"
        proc = subprocess.Popen(crawl_cmd(sources, out), cwd=REPO, env=crawl_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while _lines(out) < 8 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert proc.poll() is None, "crawl finished before it could be killed"
            os.kill(proc.pid, sig)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        written = _lines(out)
        assert 8 <= written < N
        done_first = {r["url"] for r in all_records(out)}
        # cleaner workers do not outlive a killed crawler
        deadline = time.monotonic() + 15
        while _session_pids(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftover = _session_pids(proc.pid)
        for pid in leftover:  # don't leak processes from a failing test
            os.kill(pid, signal.SIGKILL)
        assert leftover == []

        again = run_crawl(sources, out)
        assert again.returncode == 0, again.stderr[-3000:]
        counts = Counter(r["url"] for r in all_records(out))
        assert set(counts) == {srv.url(f"/a/{n}.html") for n in range(1, N + 1)}
        assert max(counts.values()) == 1
        # what the first run had written was not fetched again
        for url in done_first:
            path = url[len(srv.origin):]
            assert len([h for h in srv.requests_for(path) if h.method == "GET"]) == 1, url
