"""`kirinuki worker`: drain cluster runs from Redis into the shared state, for ever or until idle.

A worker needs only the two server URLs (`--redis URL --database URL`, or `[cluster]` in a
sources file): the seeder stores the run's sources file in Redis, so every machine crawls with
the same configuration. The loop takes the oldest run that has work, crawls it with a Scrapy
crawler (`ClusterSpider` on scrapy-redis's scheduler) until the run is drained or finished, and
looks again; several runs in one process follow each other on one reactor.

SIGTERM (systemd's stop) or SIGINT: take no new requests, finish the ones in hand (their records
committed, leases released), exit 0. A second signal exits at once: what this worker held is
re-queued by the others when its heartbeat stops. Redis or the database going away is waited
out with a log line (`queue.call`, the state's own retries), never a crash loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from kirinuki.scraper.cluster import keys
from kirinuki.scraper.config import (
    ClusterSettings,
    SourcesConfig,
    SourcesError,
    load_sources,
    parse_sources,
    with_cluster,
    with_max_articles,
)

logger = logging.getLogger(__name__)

POLL_S = 1.0  # how often an idle worker looks for a run with work


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_cluster_arguments(parser)
    parser.add_argument("--sources", default=None, metavar="FILE",
                        help="read the server URLs from this file's [cluster] table "
                             "(the run's sources come from the seeder)")
    parser.add_argument("--until-idle", action="store_true",
                        help="exit once no run has work left (default: wait for work for ever, "
                             "the form for systemd)")
    parser.add_argument("--idle-wait", type=float, default=60.0, metavar="SECONDS",
                        help="with --until-idle: how long to wait for a first run to be seeded "
                             "(default 60)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="cleaning processes (default: the run's [crawl] workers, else "
                             "CPUs - 1; 0 = clean in-process)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default WARNING")
    parser.add_argument("--log-file", default=None, metavar="FILE",
                        help="log to FILE (rotated at 10 MB, 5 kept) instead of stderr")
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    # Accepted so that one command line serves `crawl` and `worker` (deploy units, scripts):
    # a worker writes no files (the seeder exports the run) and shows no progress line.
    parser.add_argument("-o", "--out", default=None, metavar="DIR",
                        help="not used by a worker: the run's files are written by the seeder")
    parser.add_argument("--no-progress", action="store_true", help="accepted; workers never "
                        "show a progress line")


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """`--redis URL --database URL`, shared by crawl, schedule and worker."""
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="cluster mode: the Redis server of the shared request queue "
                             "(redis://host:6379/0); overrides [cluster] redis")
    parser.add_argument("--database", default=None, metavar="URL",
                        help="cluster mode: the PostgreSQL database of the shared state "
                             "(postgresql://user@host/db); overrides [cluster] database")


def cluster_of(args: argparse.Namespace, config: SourcesConfig | None = None
               ) -> ClusterSettings | None:
    """The cluster settings from `config` ([cluster]) and the command line (which wins)."""
    if config is None:
        config = SourcesConfig(())
    config = with_cluster(config, getattr(args, "redis", None), getattr(args, "database", None))
    return config.cluster


def run(args: argparse.Namespace) -> int:
    from kirinuki.scraper.logs import configure_logging

    configure_logging(args.log_level, args.log_file, args.log_format)
    try:
        config = _cluster_file(args.sources) if args.sources else None
        cluster = cluster_of(args, config)
    except (SourcesError, FileNotFoundError) as exc:
        print(f"kirinuki worker: {exc}", file=sys.stderr)
        return 2
    if cluster is None:
        print("kirinuki worker: give --redis URL --database URL (or --sources FILE with a "
              "[cluster] table)", file=sys.stderr)
        return 2
    return Worker(cluster, until_idle=args.until_idle, cleaners=args.workers,
                  log_level=args.log_level, idle_wait=args.idle_wait).main()


def _cluster_file(path: str) -> SourcesConfig:
    """Only the [cluster] table of a sources file matters to a worker (still validated)."""
    return load_sources(path)


def run_config(meta: dict[bytes, bytes]) -> SourcesConfig:
    """The sources of a run, as the seeder stored them (file text, selection, limit)."""
    text = meta[b"sources"].decode("utf-8")
    where = meta.get(b"path", b"<run>").decode("utf-8")
    config = parse_sources(tomllib.loads(text), where)
    names = json.loads(meta.get(b"names", b"null"))
    if names is not None:
        config = config.__class__(tuple(s for s in config.sources if s.name in names),
                                  config.crawl, config.path, config.cluster)
    limit = json.loads(meta.get(b"max_articles", b"null"))
    return with_max_articles(config, limit)


class Worker:
    def __init__(self, cluster: ClusterSettings, *, until_idle: bool = False,
                 cleaners: int | None = None, log_level: str = "WARNING",
                 idle_wait: float = 60.0) -> None:
        from kirinuki.scraper.cluster.queue import connect, new_worker_id

        self.cluster = cluster
        self.until_idle = until_idle
        self.idle_wait = idle_wait
        self.cleaners = cleaners
        self.log_level = log_level
        self.redis = connect(cluster.redis)
        self.worker_id = new_worker_id()
        self.stopping = False
        self.spider: Any = None
        self.exit_code = 0
        self.runs_done = 0

    # -- signals ------------------------------------------------------------------------------

    def _signal(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        if self.stopping:
            logger.warning("second %s: exiting now (held requests are re-queued by the other "
                           "workers)", signal.Signals(signum).name)
            reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]
            return
        self.stopping = True
        logger.warning("%s: finishing the requests in hand, then exiting",
                       signal.Signals(signum).name)
        reactor.callFromThread(self._pause)  # type: ignore[attr-defined]

    def _pause(self) -> None:
        if self.spider is not None:
            self.spider.paused = True

    # -- the loop -----------------------------------------------------------------------------

    def main(self) -> int:
        from scrapy.utils.defer import deferred_from_coro
        from scrapy.utils.reactor import install_reactor

        install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        from twisted.internet import reactor

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        d = deferred_from_coro(self._loop())

        def done(result: Any) -> None:
            if hasattr(result, "getTraceback"):
                logger.error("worker failed: %s", result.getErrorMessage())
                self.exit_code = 1
            if reactor.running:  # type: ignore[attr-defined]
                reactor.stop()  # type: ignore[attr-defined]

        d.addBoth(done)
        reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
        return self.exit_code

    async def _loop(self) -> None:
        from kirinuki.scraper.cluster.queue import Outage, call

        outage = Outage("redis")
        waiting_logged = False
        since = time.monotonic()
        while not self.stopping:
            run_id = call(self._next_run, outage)
            if run_id is None:
                # --until-idle: done once a run was drained, or when none came to be seeded
                if self.until_idle and (self.runs_done
                                        or time.monotonic() - since > self.idle_wait):
                    return
                if not waiting_logged:
                    logger.info("waiting for work")
                    waiting_logged = True
                await asyncio.sleep(POLL_S)
                continue
            waiting_logged = False
            await self._crawl(run_id)

    def _next_run(self) -> str | None:
        """The oldest run being drained that still has work (queued or leased)."""
        from kirinuki.scraper.cluster.queue import outstanding, reclaim_dead

        for raw in self.redis.zrange(keys.RUNS, 0, -1):
            run_id = raw.decode()
            if self.redis.hget(keys.run(run_id), "phase") != b"running":
                continue
            reclaim_dead(self.redis, run_id)
            if outstanding(self.redis, run_id) != (0, 0):
                return run_id
        return None

    async def _crawl(self, run_id: str) -> None:
        from kirinuki.scraper.cluster.spider import ClusterSpider
        from kirinuki.scraper.cluster_politeness import cluster_politeness_settings
        from kirinuki.scraper.context import CrawlContext
        from kirinuki.scraper.settings import build_settings
        from kirinuki.scraper.state import open_store
        from scrapy.crawler import AsyncCrawlerRunner
        from scrapy.settings import Settings

        meta = self.redis.hgetall(keys.run(run_id))
        try:
            config = run_config(meta)
        except (KeyError, ValueError, SourcesError) as exc:
            logger.error("run %s: unusable sources (%s): skipped", run_id, exc)
            await asyncio.sleep(POLL_S)
            return
        store = open_store(self.cluster.database)
        try:
            out = Path(meta.get(b"out", b"out").decode())
            ctx = CrawlContext(config, store, NullWriter(out / f"{run_id}.jsonl"), run_id)
            settings = build_settings(config, log_level=self.log_level, workers=self.cleaners)
            # each site's delay and concurrency for the cluster as a whole, robots.txt once
            settings = cluster_politeness_settings(settings, redis_url=self.cluster.redis,
                                                   run_id=run_id)
            settings.update(cluster_settings(self.cluster, run_id))
            settings["LOG_INSTALL_ROOT_HANDLER"] = False
            runner = AsyncCrawlerRunner(Settings(settings))
            logger.info("worker %s: crawling run %s", self.worker_id, run_id)
            started = time.monotonic()
            crawler = runner.create_crawler(ClusterSpider)
            task = runner.crawl(crawler, context=ctx, worker_id=self.worker_id,
                                redis=self.redis, lease_timeout=self.cluster.lease_timeout,
                                until_idle=self.until_idle)
            await asyncio.sleep(0)
            self.spider = getattr(crawler, "spider", None)
            while self.spider is None and not task.done():
                await asyncio.sleep(0.05)
                self.spider = getattr(crawler, "spider", None)
            if self.stopping and self.spider is not None:
                self.spider.paused = True
            await task
            if self.spider is not None and self.spider.leases is not None:
                self.spider.leases.stop()
            self.runs_done += 1
            logger.info("worker %s: left run %s after %.1fs", self.worker_id, run_id,
                        time.monotonic() - started)
        finally:
            self.spider = None
            store.close()


def cluster_settings(cluster: ClusterSettings, run_id: str) -> dict[str, Any]:
    """The Scrapy settings a cluster worker adds to `build_settings()` (and to the cluster
    politeness settings, `cluster_politeness.cluster_politeness_settings`) for one run."""
    return {
        "SCHEDULER": "kirinuki.scraper.cluster.scheduler.ClusterScheduler",
        "SCHEDULER_QUEUE_CLASS": "kirinuki.scraper.cluster.queue.LeasedPriorityQueue",
        "SCHEDULER_QUEUE_KEY": keys.requests(run_id),
        "SCHEDULER_DUPEFILTER_KEY": keys.dupefilter(run_id),
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_SERIALIZER": "scrapy_redis.picklecompat",
        "REDIS_URL": cluster.redis,
        "STATS_CLASS": "kirinuki.scraper.cluster.spider.ClusterStats",
        "KIRINUKI_CLUSTER_STATS_KEY": keys.stats(run_id),
        "KIRINUKI_CLUSTER_REDIS": cluster.redis,
        "KIRINUKI_CLUSTER_RUN": run_id,
    }


class NullWriter:
    """No JSONL from a worker or the seeder's context: the run's file is exported from the
    database at the end (`seed.export_records`); only the count is kept, for the summary."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0

    def write(self, line: str) -> None:
        self.count += 1

    def close(self) -> None:
        pass
