"""Per-site politeness for the cluster as a whole (issue 12): several Scrapy processes, one real
redis-server, loopback sites that log when each request arrives and ends. Every check is on the
server side: what the site saw from all workers together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kirinuki.scraper.cluster_politeness import (
    ACQUIRE_LUA,
    GATE_PATH,
    PUSH_LUA,
    RELEASE_LUA,
    cluster_politeness_settings,
)

from kirinuki.demo.server import Resource, SiteServer

REPO = Path(__file__).resolve().parents[1]
TOL = 0.1  # seconds: a request leaves its worker a little after its reserved start (load)


class TimedSite:
    """A SiteServer whose pages take `service` seconds and log (start, end, worker)."""

    def __init__(self, robots: bytes = b"User-agent: *\nDisallow:\n", service: float = 0.0,
                 pages: int = 0) -> None:
        self.srv = SiteServer()
        self.srv.resources["/robots.txt"] = Resource(robots, "text/plain")
        self.service = service
        self.hang = threading.Event()
        self.log: list[tuple[float, float, str, str]] = []
        self.lock = threading.Lock()
        for n in range(pages):
            self.srv.hooks[f"/p/{n}"] = self._answer
        self.srv.hooks["/private/x"] = self._answer
        self.srv.hooks["/slow"] = self._slow

    def _answer(self, handler, path: str) -> bool:
        start = time.monotonic()
        if self.service:
            time.sleep(self.service)
        handler.send_bytes(200, b"<html><body>ok</body></html>", "text/html")
        with self.lock:
            self.log.append((start, time.monotonic(), path, handler.headers.get("X-Worker", "")))
        return True

    def _slow(self, handler, path: str) -> bool:
        with self.lock:
            self.log.append((time.monotonic(), 0.0, path, handler.headers.get("X-Worker", "")))
        self.hang.wait(60)
        return True

    @property
    def netloc(self) -> str:
        return self.srv.origin.split("//", 1)[1]

    def url(self, path: str) -> str:
        return self.srv.url(path)

    def starts(self, prefix: str = "/p/") -> list[float]:
        with self.lock:
            return sorted(s for s, _, p, _ in self.log if p.startswith(prefix))

    def max_overlap(self) -> int:
        with self.lock:
            events = sorted([(s, 1) for s, e, _, _ in self.log] + [(e, -1) for s, e, _, _ in self.log])
        best = cur = 0
        for _, step in events:  # an end at the same instant as a start comes first (-1 < 1)
            cur += step
            best = max(best, cur)
        return best

    def robots_hits(self) -> int:
        return len(self.srv.requests_for("/robots.txt"))

    def __enter__(self) -> TimedSite:
        self.srv.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hang.set()
        self.srv.stop()


class Worker:
    """One `tests.politeness_worker` process."""

    def __init__(self, tmp: Path, name: str, **conf) -> None:
        self.name = name
        self.result = tmp / f"{name}.json"
        cfg = tmp / f"{name}.conf.json"
        cfg.write_text(json.dumps({"name": name, "result": str(self.result), **conf}))
        self.log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed in finish()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.politeness_worker", str(cfg)],
                                     cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def ready(self) -> bool:
        return self.result.with_suffix(".ready").exists()

    def go(self) -> None:
        self.result.with_suffix(".go").touch()

    def finish(self, timeout: float = 90) -> dict:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        assert self.proc.returncode == 0, self.output()[-3000:]
        return json.loads(self.result.read_text())

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def workers(tmp: Path, confs: list[dict]) -> Iterator[list[Worker]]:
    procs = [Worker(tmp, f"w{i}", **conf) for i, conf in enumerate(confs)]
    try:
        yield procs
    finally:
        for w in procs:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
            w.log.close()


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def test_cluster_settings_move_the_delay_from_local_slots_to_the_gate():
    base = {"DOWNLOAD_DELAY": 0.5, "AUTOTHROTTLE_ENABLED": True,
            "DOWNLOAD_SLOTS": {"a.test:80": {"delay": 2.0, "concurrency": 1, "jitter": 0.5}},
            "DOWNLOADER_MIDDLEWARES": {"x.Y": 10},
            "EXTENSIONS": {"kirinuki.scraper.middlewares.SlotDelayFloor": 10}}
    out = cluster_politeness_settings(base, redis_url="redis://127.0.0.1:1/0", run_id="r1")
    assert out["KIRINUKI_SITE_POLITENESS"] == {"a.test:80": {"delay": 2.0, "concurrency": 1}}
    assert out["DOWNLOAD_SLOTS"]["a.test:80"] == {"delay": 0.0, "concurrency": 1, "jitter": 0.0}
    assert out["DOWNLOAD_DELAY"] == 0.0 and out["KIRINUKI_DEFAULT_DOWNLOAD_DELAY"] == 0.5
    assert out["AUTOTHROTTLE_ENABLED"] is False
    assert out["EXTENSIONS"]["kirinuki.scraper.middlewares.SlotDelayFloor"] is None
    assert out["DOWNLOADER_MIDDLEWARES"] == {"x.Y": 10, GATE_PATH: 900}
    assert out["REDIS_URL"] == "redis://127.0.0.1:1/0" and out["KIRINUKI_CLUSTER_RUN"] == "r1"
    assert base["DOWNLOAD_SLOTS"]["a.test:80"]["delay"] == 2.0  # the input is left alone


@pytest.mark.cluster
def test_lease_scripts_space_starts_cap_concurrency_and_expire(redis_url):
    import redis

    r = redis.Redis.from_url(redis_url)
    acquire, push = r.register_script(ACQUIRE_LUA), r.register_script(PUSH_LUA)
    keys = ["t:{s}:next", "t:{s}:leases"]
    # delay 1 s, two at a time, TTL 0.5 s
    assert acquire(keys=keys, args=[1000, 2, 500, "a"]) == [0, 0]
    wait, flag = acquire(keys=keys, args=[1000, 2, 500, "b"])
    assert 950 <= wait <= 1000 and flag == 1  # not yet: the delay runs from a's start
    # Asking again takes nothing ahead (no start time is reserved): the wait does not grow, so
    # a worker that wakes up late cannot leave the next request less than a delay after it.
    assert acquire(keys=keys, args=[1000, 2, 500, "b"])[0] <= wait
    assert r.zcard(keys[1]) == 1  # only a holds a lease
    # concurrency (no delay): two at a time, a lease given back or expired frees a place
    conc = ["t:{c}:next", "t:{c}:leases"]
    assert acquire(keys=conc, args=[0, 2, 500, "a"]) == [0, 0]
    assert acquire(keys=conc, args=[0, 2, 500, "b"]) == [0, 0]
    full = acquire(keys=conc, args=[0, 2, 500, "c"])
    assert full[0] == -1 and 0 < full[1] <= 500  # the oldest lease ends within its TTL
    r.zrem(conc[1], "a")  # given back
    assert acquire(keys=conc, args=[0, 2, 500, "c"]) == [0, 0]
    time.sleep(0.6)  # b and c expired
    assert acquire(keys=conc, args=[0, 2, 500, "d"]) == [0, 0] and r.zcard(conc[1]) == 1
    # b's turn comes once a's delay is over, and the next delay runs from b's start
    wait, _ = acquire(keys=keys, args=[1000, 2, 500, "b"])
    assert 0 < wait <= 450
    time.sleep(wait / 1000 + 0.02)
    assert acquire(keys=keys, args=[1000, 2, 500, "b"]) == [0, 0]
    assert 950 <= acquire(keys=keys, args=[1000, 2, 500, "c"])[0] <= 1000
    assert 2900 <= push(keys=keys[:1], args=[3000]) <= 3000  # Retry-After moves the next start
    wait, flag = acquire(keys=keys, args=[0, 0, 500, "e"])
    assert wait >= 2900 and flag == 1


@pytest.mark.cluster
@pytest.mark.e2e
def test_a_lease_given_back_late_holds_the_next_start_a_whole_delay(redis_url):
    """A worker that sends late (busy reactor between grant and send) must not bring the next
    request closer than the delay: the release moves the next start to now + the delay."""
    import redis

    r = redis.Redis.from_url(redis_url)
    acquire, release = r.register_script(ACQUIRE_LUA), r.register_script(RELEASE_LUA)
    keys = ["t:next", "t:leases"]
    assert acquire(keys=keys, args=[300, 1, 5000, "a"]) == [0, 0]
    time.sleep(0.4)  # the delay is over while "a" is still in flight (sent late, slow answer)
    assert acquire(keys=keys, args=[300, 1, 5000, "b"])[0] == -1  # one at a time
    release(keys=keys, args=["a", 300])
    wait, flag = acquire(keys=keys, args=[300, 1, 5000, "b"])
    assert flag == 1 and 250 <= wait <= 300  # a whole delay after the answer, not at once
    release(keys=keys, args=["x", 0])  # no delay: only the lease goes (none here), next unmoved
    assert 0 < acquire(keys=keys, args=[300, 1, 5000, "b"])[0] <= 300


def test_four_workers_keep_each_sites_delay_concurrency_and_one_robots_txt(tmp_path, redis_url):
    paced = TimedSite(robots=b"User-agent: *\nDisallow: /private/\n", pages=12)
    slow = TimedSite(service=0.4, pages=12)
    crawl_delay = TimedSite(robots=b"User-agent: *\nCrawl-delay: 0.5\n", pages=12)
    with paced, slow, crawl_delay:
        sites = {paced.netloc: {"delay": 0.4, "concurrency": 1},
                 slow.netloc: {"delay": 0.0, "concurrency": 2},
                 crawl_delay.netloc: {"delay": 0.0, "concurrency": 2}}
        confs = []
        for w in range(4):
            urls = [s.url(f"/p/{w * 3 + k}") for s in (paced, slow, crawl_delay) for k in range(3)]
            confs.append({"redis_url": redis_url, "run_id": "run-a", "sites": sites,
                          "urls": urls + [paced.url("/private/x")]})
        with workers(tmp_path, confs) as procs:
            _wait(lambda: all(w.ready() for w in procs), 120, "workers to start")
            for w in procs:
                w.go()
            results = [w.finish() for w in procs]
        for w, res in zip(procs, results, strict=True):
            assert sorted(u for u, _ in res["fetched"]) == sorted(
                u for u in confs[int(w.name[1:])]["urls"] if "/private/" not in u), w.output()
            assert [f for _, f in res["failed"]] == ["IgnoreRequest: Forbidden by robots.txt"]
        for site in (paced, slow, crawl_delay):
            assert site.robots_hits() == 1  # once per site per run, for all four workers
            assert len(site.starts()) == 12
            assert len({w for *_, w in site.log}) > 1  # the workers really shared each site
        assert paced.starts("/private/") == []
        assert min(_gaps(paced.starts())) >= 0.4 - TOL, _gaps(paced.starts())
        assert min(_gaps(crawl_delay.starts())) >= 0.5 - TOL, _gaps(crawl_delay.starts())
        # four workers of two slots each, yet never more than two at once (and two were used)
        assert slow.max_overlap() == 2


@pytest.mark.cluster
@pytest.mark.e2e
def test_a_killed_workers_lease_frees_itself_within_its_ttl(tmp_path, redis_url):
    import redis

    ttl = 4.0
    with TimedSite(pages=1) as site:
        sites = {site.netloc: {"delay": 0.0, "concurrency": 1}}
        conf = {"redis_url": redis_url, "run_id": "run-k", "sites": sites, "lease_ttl": ttl}
        with workers(tmp_path, [{**conf, "urls": [site.url("/slow")]},
                                {**conf, "urls": [site.url("/p/0")]}]) as (killed, survivor):
            _wait(lambda: killed.ready() and survivor.ready(), 120, "workers to start")
            killed.go()
            _wait(lambda: site.starts("/slow"), 30, "the slow request")
            r = redis.Redis.from_url(redis_url)
            leases = f"kirinuki:polite:{{{site.netloc}}}:leases"
            (lease, expiry_ms), = r.zrange(leases, 0, -1, withscores=True)
            sec, usec = r.time()
            expires_at = time.monotonic() + (expiry_ms - (sec * 1000 + usec // 1000)) / 1000
            survivor.go()
            time.sleep(0.5)  # the survivor now waits for the site's only lease
            killed.proc.send_signal(signal.SIGKILL)
            killed.proc.wait()
            res = survivor.finish()
        assert res["fetched"] == [[site.url("/p/0"), 200]]
        (arrived,) = site.starts("/p/")
        # it waited for the dead worker's lease to expire, and not much longer
        assert expires_at - TOL <= arrived <= expires_at + 1.0, (arrived - expires_at)
        assert r.zcard(leases) == 0 and lease.decode().split(":")[1] == str(killed.proc.pid)


@pytest.mark.cluster
@pytest.mark.e2e
def test_redis_restart_mid_run_waits_logs_once_and_drops_nothing(tmp_path):
    from tests.servers import start_redis

    with start_redis() as redis_srv, TimedSite(pages=16) as site:
        sites = {site.netloc: {"delay": 0.25, "concurrency": 1}}
        conf = {"redis_url": redis_srv.url, "run_id": "run-r", "sites": sites,
                "urls": [site.url(f"/p/{n}") for n in range(16)]}
        with workers(tmp_path, [conf]) as (w,):
            _wait(w.ready, 120, "the worker to start")
            w.go()
            _wait(lambda: len(site.starts()) >= 4, 30, "a few requests")
            redis_srv.stop()
            down = time.monotonic()
            time.sleep(2.0)
            redis_srv.start()
            up = time.monotonic()
            res = w.finish()
            out = w.output()
    assert sorted(u for u, _ in res["fetched"]) == sorted(conf["urls"]) and res["failed"] == []
    assert out.count("unreachable") == 1, out[-3000:]
    assert out.count("reachable again") == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    starts = site.starts()
    # while it was down, at most the one request granted just before went out
    assert len([s for s in starts if down < s < up]) <= 1, (down, up, starts)
    assert min(_gaps(starts)) >= 0.25 - TOL, _gaps(starts)


@pytest.mark.cluster
def test_shared_robots_downloads_once_per_site_per_run(redis_url):
    import asyncio

    from kirinuki.scraper.cluster_politeness import ClusterRedis, SharedRobots

    fetched: list[str] = []

    async def main() -> list[tuple[str | None, bool]]:
        redis = ClusterRedis(redis_url)

        def fetcher(run: str):
            async def fetch() -> str | None:
                fetched.append(run)
                await asyncio.sleep(0.3)  # the others arrive while it downloads
                return "User-agent: *\nDisallow: /x\n"
            return fetch

        workers = [SharedRobots(redis, "run-1", ttl=60, lock_ttl=10) for _ in range(3)]
        got = await asyncio.gather(*(w.once("h.test:80", fetcher("run-1")) for w in workers))
        later = await SharedRobots(redis, "run-2", ttl=60, lock_ttl=10).once(
            "h.test:80", fetcher("run-2"))
        await redis.close()
        return [*got, later]

    results = asyncio.run(main())
    assert fetched == ["run-1", "run-2"]  # once per run, whichever worker asked first
    assert {text for text, _ in results} == {"User-agent: *\nDisallow: /x\n"}
    assert sorted(mine for _, mine in results) == [False, False, True, True]


@pytest.mark.cluster
def test_gate_retry_after_holds_the_site_for_every_worker(redis_url):
    import asyncio
    from types import SimpleNamespace

    from kirinuki.scraper.cluster_politeness import PolitenessGate
    from scrapy.http import Request, Response
    from scrapy.settings import Settings

    def gate() -> PolitenessGate:
        settings = Settings(cluster_politeness_settings(
            {"DOWNLOAD_SLOTS": {"h.test": {"delay": 0.0, "concurrency": 2}}},
            redis_url=redis_url, run_id="r"))
        return PolitenessGate(SimpleNamespace(settings=settings,
                                              stats=SimpleNamespace(inc_value=lambda *a: None)))

    async def main() -> float:
        one, two = gate(), gate()  # two workers
        first = Request("http://h.test/a", meta={"download_slot": "h.test"})
        await one.process_request(first)
        assert first.meta["kirinuki_lease"][0] == "h.test"
        one.process_response(first, Response(first.url, status=429,
                                             headers={"Retry-After": "1"}))
        assert "kirinuki_lease" not in first.meta  # given back, not copied into the retry
        await asyncio.sleep(0.1)  # the push runs in the background
        t0 = time.monotonic()
        other = Request("http://h.test/b", meta={"download_slot": "h.test"})
        await two.process_request(other)  # the other worker waits out the site's Retry-After
        waited = time.monotonic() - t0
        two.process_exception(other, ConnectionError())
        for g in (one, two):
            await g.closed()
        return waited

    assert 0.8 <= asyncio.run(main()) <= 1.5


@pytest.mark.cluster
@pytest.mark.e2e
def test_kirinuki_workers_share_a_sources_delay_and_one_robots_txt(tmp_path, redis_url,
                                                                   postgres_url):
    """The real thing: a seeder and three `kirinuki worker` processes on one source with
    `download_delay = 0.4`, `concurrent_requests = 1`: the site sees one request at a time,
    0.4 s apart, from the three together, and robots.txt once."""
    from tests.crawl_server import write_sources

    # the cluster worker's own test helpers (seeder and `kirinuki worker` processes)
    cluster = pytest.importorskip("tests.test_cluster", reason="needs the cluster worker")
    finished, kirinuki, slow_site = cluster.finished, cluster.kirinuki, cluster.slow_site

    n = 16
    server, urls = slow_site(n, delay=0.0)
    procs = []
    try:
        # one request in hand per worker: a worker does not take the whole run off the queue
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "slow", "feeds": [server.origin + "/feed.rss"],
            "download_delay": 0.4, "concurrent_requests": 1}],
            crawl={"concurrent_requests_total": 1})
        sources.write_text(sources.read_text() + f'\n[cluster]\nredis = "{redis_url}"\n'
                           f'database = "{postgres_url}"\nlease_timeout = 15\n')
        out = tmp_path / "out"
        seeder = kirinuki("crawl", "--sources", str(sources), "-o", str(out), "--no-progress",
                          "--log-level", "INFO", log=tmp_path / "seeder.log")
        procs.append(seeder)
        for i in range(3):
            procs.append(kirinuki("worker", "--until-idle", "--sources", str(sources),
                                  "--workers", "0", "--log-level", "INFO",
                                  log=tmp_path / f"w{i}.log"))
        summary, records = finished(seeder, out)
        for w in procs[1:]:
            assert w.wait(60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        server.shutdown()
    assert sorted(r["url"] for r in records) == sorted(urls)
    assert summary["cluster"]["workers"] == 3  # the run really was shared
    assert len(server.requests_for("/robots.txt")) == 1
    starts = sorted(h.at for h in list(server.hits))
    assert len(starts) == n + 2  # robots.txt, the feed and each article, once
    assert min(_gaps(starts)) >= 0.4 - TOL, _gaps(starts)
