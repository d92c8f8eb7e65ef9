"""Cluster mode against real servers: one seeder, `kirinuki worker` processes, nothing lost.

Real redis-server and PostgreSQL (tests/servers.py, fresh per test), a loopback news site whose
pages take a while (so that a worker holds requests in flight when it is killed), and the
commands as users run them, in subprocesses.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import REPO, T0, crawl_env, news_article, write_sources

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def slow_site(n: int, delay: float) -> tuple[SiteServer, list[str]]:
    """`n` articles listed in one RSS feed; every response takes `delay` seconds."""
    server = SiteServer(delay=delay).start()
    o = server.origin
    items = []
    for i in range(1, n + 1):
        path = f"/news/a{i:03d}.html"
        server.resources[path] = Resource(news_article(i, extra=f"c{i}"))
        items.append(sitegen.Item(o + path, f"記事{i}", T0 + timedelta(hours=i),
                                  T0 + timedelta(hours=i)))
    server.resources["/feed.rss"] = Resource(sitegen.rss2("Slow", o + "/", items),
                                             "application/rss+xml")
    server.resources["/robots.txt"] = Resource(b"User-agent: *\nAllow: /\n", "text/plain")
    return server, [o + f"/news/a{i:03d}.html" for i in range(1, n + 1)]


def sources_file(tmp: Path, server: SiteServer, redis_url: str, postgres_url: str,
                 lease_timeout: float, **source: object) -> Path:
    path = write_sources(tmp / "sources.toml", [{
        "name": "slow", "feeds": [server.origin + "/feed.rss"],
        "download_delay": 0.0, "concurrent_requests": 4, **source,
    }])
    path.write_text(path.read_text() + f'\n[cluster]\nredis = "{redis_url}"\n'
                    f'database = "{postgres_url}"\nlease_timeout = {lease_timeout}\n')
    return path


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_leftovers():
    """Whatever a test started is gone after it, passed or failed."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def kirinuki(*args: str, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "kirinuki.cli", *args], cwd=REPO,
                            env=crawl_env(), stdout=subprocess.PIPE,
                            stderr=log.open("wb"), text=True)
    _STARTED.append(proc)
    return proc


def start_seeder(sources: Path, out: Path, log: Path) -> subprocess.Popen:
    """A seeding `kirinuki crawl` of the cluster named in `sources`, writing into `out`."""
    return kirinuki("crawl", "--sources", str(sources), "-o", str(out), "--no-progress",
                    "--log-level", "INFO", log=log)


def start_worker(sources: Path, log: Path, *, until_idle: bool = False) -> subprocess.Popen:
    """A `kirinuki worker` cleaning in its own process (`--workers 0`); with `until_idle` it
    stops once the queue is empty, else it serves until told to stop."""
    idle = ("--until-idle",) if until_idle else ()
    return kirinuki("worker", *idle, "--sources", str(sources), "--workers", "0",
                    "--log-level", "INFO", log=log)


def article_hits(server: SiteServer) -> int:
    return sum(1 for h in list(server.hits) if h.path.startswith("/news/"))


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def finished(seeder: subprocess.Popen, out: Path, timeout: float = 120) -> tuple[dict, list]:
    stdout, _ = seeder.communicate(timeout=timeout)
    assert seeder.returncode == 0, stdout
    summary = json.loads(next(out.glob("*.summary.json")).read_text())
    records = [json.loads(line) for line in Path(summary["output"]).read_text().splitlines()]
    return summary, records


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, redis_url, postgres_url):
    """SIGKILL one of two workers while it holds requests: the other finishes the run, and
    every article is in the run's records exactly once."""
    n = 30
    server, urls = slow_site(n, delay=0.25)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=2)
        out = tmp_path / "out"
        seeder = start_seeder(sources, out, tmp_path / "seeder.log")
        victim = start_worker(sources, tmp_path / "victim.log", until_idle=True)
        # the victim alone first, so that it is the one holding requests when it dies
        wait_for(lambda: article_hits(server) >= 6, 60, "the first articles")
        survivor = start_worker(sources, tmp_path / "survivor.log", until_idle=True)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        hits_at_kill = article_hits(server)
        summary, records = finished(seeder, out)
        assert survivor.wait(60) == 0
    finally:
        server.shutdown()
    seeder_log = (tmp_path / "seeder.log").read_text() + (tmp_path / "survivor.log").read_text()
    assert "re-queued" in seeder_log  # the victim's leases came back, it did not just finish
    assert hits_at_kill < n + 1
    got = sorted(r["url"] for r in records)
    assert got == sorted(urls), "every article exactly once"
    assert len({(r["url"], r["version"]) for r in records}) == n
    row = summary["sources"]["slow"]
    assert row["new"] == n and summary["records"] == n
    assert summary["cluster"]["workers"] == 2


def test_redis_restart_mid_run_is_waited_out(tmp_path, redis_server, redis_url, postgres_url):
    """Redis goes away for two seconds mid-run: the worker logs it, waits, carries on; no
    page is dropped, nothing crashes."""
    n = 20
    server, urls = slow_site(n, delay=0.2)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=15)
        out = tmp_path / "out"
        seeder = start_seeder(sources, out, tmp_path / "seeder.log")
        worker = start_worker(sources, tmp_path / "worker.log", until_idle=True)
        wait_for(lambda: article_hits(server) >= 4, 60, "the first articles")
        redis_server.restart(down_for=2.0)
        summary, records = finished(seeder, out)
        assert worker.wait(60) == 0
    finally:
        server.shutdown()
    log = (tmp_path / "worker.log").read_text() + (tmp_path / "seeder.log").read_text()
    assert "redis unavailable" in log and "is back" in log
    assert "Traceback" not in log
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert summary["sources"]["slow"]["new"] == n


def test_sigterm_finishes_in_flight_pages_and_exits_0(tmp_path, redis_url, postgres_url):
    """A worker told to stop (systemd) finishes what it holds and exits 0; another worker then
    drains the rest: nothing lost, nothing twice."""
    n = 24
    server, urls = slow_site(n, delay=0.25)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=15)
        out = tmp_path / "out"
        seeder = start_seeder(sources, out, tmp_path / "seeder.log")
        first = start_worker(sources, tmp_path / "first.log")
        wait_for(lambda: article_hits(server) >= 4, 60, "the first articles")
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
        second = start_worker(sources, tmp_path / "second.log", until_idle=True)
        summary, records = finished(seeder, out)
        assert second.wait(60) == 0
    finally:
        server.shutdown()
    assert "finishing the requests in hand" in (tmp_path / "first.log").read_text()
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert summary["sources"]["slow"]["new"] == n


def _all_runs(out: Path) -> list[dict]:
    recs = []
    for f in sorted(out.glob("crawl-*.jsonl")):
        recs += [json.loads(line) for line in f.read_text().splitlines()]
    return recs


def test_seeder_sigterm_stops_the_run_and_the_next_run_gets_the_rest(tmp_path, redis_url,
                                                                      postgres_url):
    """SIGTERM to `kirinuki crawl` (a scheduler stopping): workers finish what they hold, the
    run is finished with what it has (exit 0), and the next run fetches the articles left
    pending: over both runs every article once."""
    n = 30
    server, urls = slow_site(n, delay=0.25)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=15)
        out = tmp_path / "out"
        seeder = start_seeder(sources, out, tmp_path / "seeder.log")
        worker = start_worker(sources, tmp_path / "worker.log")
        wait_for(lambda: article_hits(server) >= 4, 60, "the first articles")
        seeder.send_signal(signal.SIGTERM)
        summary, first = finished(seeder, out)
        assert summary["finish_reason"] == "shutdown"
        assert 0 < len(first) < n
        seeder = start_seeder(sources, out, tmp_path / "seeder2.log")
        seeder.communicate(timeout=120)
        assert seeder.returncode == 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        server.shutdown()
    got = sorted(r["url"] for r in _all_runs(out))
    assert got == sorted(urls), "over both runs, every article exactly once"


def test_a_killed_seeder_s_run_is_finished_by_the_next_seeder(tmp_path, redis_url,
                                                               postgres_url):
    """SIGKILL the seeder mid-run: the workers go on draining; the next `kirinuki crawl`
    waits for that run, writes its file complete, then runs its own."""
    n = 24
    server, urls = slow_site(n, delay=0.2)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=15)
        out = tmp_path / "out"
        seeder = start_seeder(sources, out, tmp_path / "seeder.log")
        worker = start_worker(sources, tmp_path / "worker.log")
        wait_for(lambda: article_hits(server) >= 4, 60, "the first articles")
        seeder.kill()
        seeder.wait(10)
        import redis

        redis.Redis.from_url(redis_url).delete("kirinuki:seeder")  # its lock, as after its TTL
        seeder = start_seeder(sources, out, tmp_path / "seeder2.log")
        seeder.communicate(timeout=120)
        assert seeder.returncode == 0
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        server.shutdown()
    assert "left by a seeder that stopped" in (tmp_path / "seeder2.log").read_text()
    summaries = sorted(out.glob("*.summary.json"), key=lambda p: p.stat().st_mtime)
    assert len(summaries) == 2
    first = json.loads(summaries[0].read_text())
    assert first["records"] == n  # the orphan's file holds all it got
    assert sorted(r["url"] for r in _all_runs(out)) == sorted(urls)


def test_schedule_seeds_the_cluster(tmp_path, redis_url, postgres_url):
    """`kirinuki schedule` in cluster mode: its due runs seed the cluster (here with a worker
    started beside the seeder), and what is due is read from the shared database."""
    n = 6
    server, urls = slow_site(n, delay=0.05)
    try:
        sources = sources_file(tmp_path, server, redis_url, postgres_url, lease_timeout=15,
                               schedule="1h")
        out = tmp_path / "out"
        sched = kirinuki("schedule", "--sources", str(sources), "-o", str(out), "--max-runs", "1",
                         "--crawl-arg=--local-workers", "--crawl-arg=1",
                         "--crawl-arg=--workers", "--crawl-arg=0", log=tmp_path / "sched.log")
        sched.communicate(timeout=120)
        assert sched.returncode == 0, (tmp_path / "sched.log").read_text()[-2000:]
    finally:
        server.shutdown()
    log = (tmp_path / "sched.log").read_text()
    assert f"state {postgres_url}" in log  # the history is the cluster's, not a SQLite file
    assert not (out / "state.sqlite").exists()
    assert sorted(r["url"] for r in _all_runs(out)) == sorted(urls)
