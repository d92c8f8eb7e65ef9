"""`kirinuki crawl` in cluster mode: seed a run, wait until the workers drain it, finish it.

Seeding pushes the run's first requests into its Redis queue through scrapy-redis's queue and
duplicate filter: the discovery documents of the (due) sources, listing pages and articles a
killed run left pending, and the articles due for a re-check. Workers (`kirinuki worker`, here or
on other machines; `--local-workers N` starts some beside the seeder) pop them; discovery
responses push article requests; leases bring back what a dead worker held.

The run is drained when its queue is empty and no worker holds a lease. Then the state is asked
once more: an article of the run's sources still pending (Redis lost its data in a restart
without persistence, say) is pushed again, and the wait goes on. At the end the run is finished
from the shared state, not from one process's stats: the records exported from the database to
OUT/<run>.jsonl in sequence order, the per-source counters summed in Redis by every worker (new
and updated counted from the records themselves), health alerts and history, the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirinuki.scraper.cluster import keys
from kirinuki.scraper.cluster.worker import NullWriter
from kirinuki.scraper.config import ClusterSettings, SourcesConfig

logger = logging.getLogger(__name__)

DRAIN_POLL_S = 0.5
SEEDER_LOCK_TTL = 60  # seconds; refreshed while the seeder lives
CONNECT_GIVE_UP_S = 60.0
BACKSTOP_ROUNDS = 5
NO_WORKER_WARN_S = 30.0


def redact(url: str) -> str:
    """A server URL without its password (for messages and the summary)."""
    from kirinuki.scraper.pgstate import redact as _redact

    return _redact(url)


def cluster_crawl(config: SourcesConfig, out: Path, args: argparse.Namespace,
                  fail_on: frozenset[str], sources_text: str | None,
                  rechecks: Any = None) -> int:
    """The cluster form of `command._crawl` (same exit codes)."""
    from kirinuki.scraper.cluster.queue import UNAVAILABLE, call, connect
    from kirinuki.scraper.command import (
        EXIT_BUSY,
        EXIT_CONFIG,
        EXIT_WRITE_ERROR,
    )

    cluster = config.cluster
    assert cluster is not None
    if sources_text is None:
        print("kirinuki crawl: cluster mode needs a sources file (--sources), not --demo",
              file=sys.stderr)
        return EXIT_CONFIG
    r = connect(cluster.redis)
    try:
        call(r.ping, give_up=CONNECT_GIVE_UP_S)
    except UNAVAILABLE as exc:
        print(f"kirinuki crawl: cannot reach redis at {redact(cluster.redis)}: {exc}",
              file=sys.stderr)
        return EXIT_CONFIG
    token = f"{os.getpid()}:{time.time()}"
    if not r.set(keys.SEEDER_LOCK, token, nx=True, ex=SEEDER_LOCK_TTL):
        print(f"kirinuki crawl: busy: another cluster run is being seeded or finished "
              f"({r.get(keys.SEEDER_LOCK)!r} holds {keys.SEEDER_LOCK} in "
              f"{redact(cluster.redis)})", file=sys.stderr)
        return EXIT_BUSY
    seeder = Seeder(config, cluster, r, out, args, fail_on, sources_text, token)
    previous = {sig: signal.signal(sig, seeder.request_stop)
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return seeder.run()
    except OSError as exc:
        print(f"kirinuki crawl: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_WRITE_ERROR
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            if r.get(keys.SEEDER_LOCK) == token.encode():
                r.delete(keys.SEEDER_LOCK)
        except UNAVAILABLE:
            pass


class Seeder:
    def __init__(self, config: SourcesConfig, cluster: ClusterSettings, r: Any, out: Path,
                 args: argparse.Namespace, fail_on: frozenset[str], sources_text: str,
                 token: str) -> None:
        self.config = config
        self.cluster = cluster
        self.r = r
        self.out = out
        self.args = args
        self.fail_on = fail_on
        self.sources_text = sources_text
        self.token = token
        self.children: list[subprocess.Popen[bytes]] = []
        self._lock_refreshed = time.monotonic()
        self.stop_requested = False

    def request_stop(self, signum: int, _frame: Any) -> None:
        """SIGTERM/SIGINT: the workers finish the requests they hold and take no more; the
        run is then finished with what it has (the rest stays pending for the next run)."""
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True
        logger.warning("%s: stopping the run (workers finish what they hold)",
                       signal.Signals(signum).name)

    def run(self) -> int:
        from kirinuki.scraper.command import (
            EXIT_ALERT,
            EXIT_CONFIG,
            EXIT_OK,
            _recheck,
            _write_format,
            new_run_id,
            print_summary,
        )
        from kirinuki.scraper.context import CrawlContext
        from kirinuki.scraper.health import fails
        from kirinuki.scraper.state import open_store

        try:
            store = open_store(self.cluster.database)
        except Exception as exc:  # noqa: BLE001 - any reason the state cannot be opened
            print(f"kirinuki crawl: cannot open the state {redact(self.cluster.database)}: "
                  f"{' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_CONFIG
        try:
            fmt = getattr(self.args, "format", None) or self.config.crawl.format
            self._adopt_orphans(store, fmt)
            for path, n in store.recover():
                print(f"kirinuki crawl: completed interrupted run {path} (+{n} records)",
                      file=sys.stderr)
                _write_format(Path(path), fmt)
            if self.stop_requested:
                return EXIT_OK
            started = time.monotonic()
            self.out.mkdir(parents=True, exist_ok=True)
            run_id = new_run_id(self.out)
            started_at = datetime.now(UTC).isoformat(timespec="seconds")
            output = self.out / f"{run_id}.jsonl"
            store.start_run(run_id, output)
            rechecked = _recheck(self.config, store)
            ctx = CrawlContext(self.config, store, NullWriter(output), run_id)
            self._register(run_id)
            pushed = self._seed(ctx)
            self.r.hset(keys.run(run_id), "phase", "running")
            logger.info("run %s: seeded %d request(s)", run_id, pushed)
            self._start_local_workers()
            reason = self._wait_drained(ctx)
            summary, alerts = self._finish(ctx, self.out, started, started_at, reason, fmt,
                                           {n: {"rechecked": c} for n, c in rechecked.items()})
            print_summary(summary)
            return EXIT_ALERT if fails(alerts, self.fail_on) else EXIT_OK
        finally:
            self._stop_local_workers()
            store.close()

    def _finish(self, ctx: Any, out: Path, started: float, started_at: str, reason: str,
                fmt: str, extra: dict[str, dict[str, int]] | None = None
                ) -> tuple[dict[str, Any], list[Any]]:
        """Finish a drained run from the shared state: file, summary, alerts, report."""
        from kirinuki.scraper.command import _report, _write_format
        from kirinuki.scraper.history import History
        from kirinuki.scraper.run_health import finish_health

        from kirinuki.safe_output import write_json_atomic

        store, run_id = ctx.store, ctx.run_id
        output = ctx.writer.path
        self.r.hset(keys.run(run_id), "phase", "finished")
        ctx.writer.count = export_records(store, run_id, output)
        stats = {k.decode(): int(v) for k, v in self.r.hgetall(keys.stats(run_id)).items()}
        ctx.stats = {**stats, "finish_reason": reason}
        summary = ctx.summary(redact(self.cluster.database), time.monotonic() - started, extra)
        _counts_from_records(store, run_id, summary)
        summary["cluster"] = {"redis": redact(self.cluster.redis),
                              "workers": self._workers_seen(run_id)}
        alerts = finish_health(History(store.db), run_id, started_at, summary["sources"],
                               complete=reason == "finished")
        summary["alerts"] = [a.as_dict() for a in alerts]
        formatted = _write_format(output, fmt)
        if formatted:
            summary["formatted"] = formatted
        store.mark_checked(run_id, output, ctx.writer.count)
        store.finish_run(run_id, summary)
        crawl = ctx.config.crawl
        if crawl.keep_runs is not None or crawl.keep_days is not None:
            from kirinuki.scraper.retention import prune

            summary["pruned_runs"] = len(prune(store.db, crawl.keep_runs, crawl.keep_days,
                                               datetime.now(UTC), run_id))
        write_json_atomic(out / f"{run_id}.summary.json", summary)
        _report(store, out)
        self._forget(run_id)
        return summary, alerts

    def _adopt_orphans(self, store: Any, fmt: str) -> None:
        """Runs whose seeder stopped (killed, the machine rebooted) while workers drained them:
        waited for and finished here first, so their late records reach their files."""
        from kirinuki.scraper.cluster.worker import run_config
        from kirinuki.scraper.context import CrawlContext

        for raw in self.r.zrange(keys.RUNS, 0, -1):
            run_id = raw.decode()
            meta = self.r.hgetall(keys.run(run_id))
            if not meta or b"sources" not in meta:
                self.r.zrem(keys.RUNS, run_id)
                continue
            out = Path(meta.get(b"out", b"out").decode())
            print(f"kirinuki crawl: finishing run {run_id}, left by a seeder that stopped",
                  file=sys.stderr)
            ctx = CrawlContext(run_config(meta), store, NullWriter(out / f"{run_id}.jsonl"),
                               run_id)
            if meta.get(b"phase") == b"seeding":
                self._seed(ctx)  # the filter skips what was pushed before
            if meta.get(b"phase") in (b"seeding", b"running"):
                self.r.hset(keys.run(run_id), "phase", "running")
            started = float(meta.get(b"started", b"0") or 0)
            started_at = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
            reason = self._wait_drained(ctx)
            self._finish(ctx, out, time.monotonic(), started_at, reason, fmt)

    # -- the run in Redis ---------------------------------------------------------------------

    def _register(self, run_id: str) -> None:
        names = [s.name for s in self.config.sources]
        limit = getattr(self.args, "max_articles", None)
        self.r.hset(keys.run(run_id), mapping={
            "sources": self.sources_text,
            "path": self.config.path,
            "names": json.dumps(names),
            "max_articles": json.dumps(limit),
            "out": str(self.out.resolve()),
            "phase": "seeding",
            "started": str(time.time()),
        })
        self.r.zadd(keys.RUNS, {run_id: time.time()})

    def _seed(self, ctx: Any) -> int:
        """Push the run's first requests, in the order the embedded spider would make them."""
        from kirinuki.scraper.cluster.queue import LeasedPriorityQueue
        from kirinuki.scraper.cluster.spider import ClusterSpider
        from scrapy_redis import picklecompat
        from scrapy_redis.dupefilter import RFPDupeFilter

        spider = ClusterSpider(ctx, redis=self.r)
        queue = LeasedPriorityQueue(self.r, spider, keys.requests(ctx.run_id), picklecompat)
        df = RFPDupeFilter(self.r, keys.dupefilter(ctx.run_id))
        max_attempts = self.config.crawl.max_attempts
        n = 0

        def push(req: Any) -> None:
            nonlocal n
            if req is not None and (req.dont_filter or not df.request_seen(req)):
                queue.push(req)
                n += 1

        for book in spider.books.values():
            src = book.source
            for url in ctx.store.pending_listings(src.name, max_attempts):
                push(spider._listing_request(book, url))
            for url in src.feeds:
                push(spider._doc_request(book, url, "feed", spider.parse_feed))
            for url in src.sitemaps:
                push(spider._doc_request(book, url, "sitemap", spider.parse_sitemap))
            for url in src.start_urls:
                push(spider._listing_request(book, url, seed=True))
        # Articles a killed run left pending, and the re-checks: from the frontier, oldest first.
        for book in spider.books.values():
            for st in _frontier(ctx.store, book.source.name, max_attempts):
                if not spider.may_schedule(book):
                    break
                push(spider._article_request(book, st))
        return n

    def _backstop(self, ctx: Any) -> int:
        """Articles of the run's sources still pending once the queue is drained (lost with a
        Redis that restarted without its data): pushed again, past the duplicate filter."""
        from kirinuki.scraper.cluster.queue import LeasedPriorityQueue
        from kirinuki.scraper.cluster.spider import ClusterSpider
        from scrapy_redis import picklecompat

        spider = ClusterSpider(ctx, redis=self.r)
        queue = LeasedPriorityQueue(self.r, spider, keys.requests(ctx.run_id), picklecompat)
        max_attempts = self.config.crawl.max_attempts
        n = 0
        for book in spider.books.values():
            cap = book.source.max_articles
            done = int(self.r.hget(keys.scheduled(ctx.run_id), book.source.name) or 0)
            for st in _frontier(ctx.store, book.source.name, max_attempts):
                if cap is not None and done >= cap:
                    break
                if st.status != "pending":
                    continue
                queue.push(spider._article_request(book, st))
                n += 1
                done += 1
        return n

    def _wait_drained(self, ctx: Any) -> str:
        """Until the run is drained ("finished") or, after SIGTERM, until the workers hold
        nothing of it any more ("shutdown")."""
        from kirinuki.scraper.cluster.queue import UNAVAILABLE, Outage, outstanding, reclaim_dead

        run_id = ctx.run_id
        outage = Outage("redis")
        quiet = 0
        rounds = 0
        idle_since = time.monotonic()
        warned = False
        last_log = 0.0
        while True:
            time.sleep(DRAIN_POLL_S)
            try:
                self._refresh_lock()
                if self.stop_requested:
                    self.r.hset(keys.run(run_id), "phase", "stopping")
                    reclaim_dead(self.r, run_id)
                    if outstanding(self.r, run_id)[1] == 0:
                        return "shutdown"
                    continue
                if self.r.hget(keys.run(run_id), "phase") is None:
                    logger.warning("run %s vanished from redis (restarted without its data?): "
                                   "registered again", run_id)
                    self._register(run_id)
                    self.r.hset(keys.run(run_id), "phase", "running")
                reclaim_dead(self.r, run_id)
                queued, leased = outstanding(self.r, run_id)
                outage.ok()
            except UNAVAILABLE as exc:
                outage.failed(exc, DRAIN_POLL_S)
                quiet = 0
                continue
            now = time.monotonic()
            if now - last_log > 10:
                last_log = now
                logger.info("run %s: %d queued, %d in flight", run_id, queued, leased)
            if leased:
                idle_since = now
            elif queued and not warned and now - idle_since > NO_WORKER_WARN_S:
                warned = True
                logger.warning("run %s: %d request(s) queued and no worker has taken one for "
                               "%.0fs: start `kirinuki worker`", run_id, queued, NO_WORKER_WARN_S)
            if queued or leased:
                quiet = 0
                continue
            quiet += 1
            if quiet < 2:
                continue  # twice in a row: a pop and its lease are atomic, but be sure
            if rounds < BACKSTOP_ROUNDS:
                rounds += 1
                again = self._backstop(ctx)
                if again:
                    logger.warning("run %s: %d pending article(s) were in no queue: queued "
                                   "again", run_id, again)
                    quiet = 0
                    continue
            return "finished"

    def _refresh_lock(self) -> None:
        now = time.monotonic()
        if now - self._lock_refreshed > SEEDER_LOCK_TTL / 4:
            self._lock_refreshed = now
            self.r.set(keys.SEEDER_LOCK, self.token, ex=SEEDER_LOCK_TTL)

    def _workers_seen(self, run_id: str) -> int:
        return int(self.r.scard(keys.seen_workers(run_id)) or 0)

    def _forget(self, run_id: str) -> None:
        """The finished run's keys go (its queue, filter, leases, counters)."""
        self.r.zrem(keys.RUNS, run_id)
        doomed = list(self.r.scan_iter(match=keys.all_of_run(run_id), count=500))
        doomed.append(keys.run(run_id))
        for i in range(0, len(doomed), 500):
            self.r.delete(*doomed[i:i + 500])

    # -- workers beside the seeder ------------------------------------------------------------

    def _start_local_workers(self) -> None:
        n = getattr(self.args, "local_workers", None) or 0
        for _ in range(n):
            cmd = [sys.executable, "-m", "kirinuki.cli", "worker", "--until-idle",
                   "--redis", self.cluster.redis, "--database", self.cluster.database,
                   "--log-level", getattr(self.args, "log_level", "WARNING")]
            if getattr(self.args, "workers", None) is not None:
                cmd += ["--workers", str(self.args.workers)]
            self.children.append(subprocess.Popen(cmd))

    def _stop_local_workers(self) -> None:
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


def _frontier(store: Any, source: str, max_attempts: int) -> Iterator[Any]:
    """A source's frontier rows (`UrlState`), oldest first, read 500 at a time."""
    cursor = 0
    while rows := store.next_articles(source, cursor, 500, max_attempts):
        for rowid, st in rows:
            cursor = rowid
            yield st


def export_records(store: Any, run_id: str, output: Path) -> int:
    """The run's records from the shared state into OUT/<run>.jsonl, in sequence order (the
    file is made to hold exactly them, as recovery does); how many records the run has."""
    from kirinuki.scraper.state import repair_jsonl

    lines = [row[0] for row in store.db.execute(
        "SELECT record FROM records WHERE run_id=? ORDER BY seq", (run_id,))]
    repair_jsonl(output, iter(lines))
    return len(lines)


def _counts_from_records(store: Any, run_id: str, summary: dict[str, Any]) -> None:
    """New and updated per source counted from the run's records (exact, whichever worker)."""
    rows = store.db.execute(
        "SELECT source, CASE WHEN version = 1 THEN 'new' ELSE 'updated' END, COUNT(*) "
        "FROM records WHERE run_id=? GROUP BY 1, 2", (run_id,)).fetchall()
    sources = summary["sources"]
    for row in sources.values():
        row["new"] = row["updated"] = 0
    for source, kind, n in rows:
        if source in sources:
            sources[source][kind] = int(n)
    totals: dict[str, int] = {}
    for row in sources.values():
        for k, v in row.items():
            if isinstance(v, int):
                totals[k] = totals.get(k, 0) + v
    summary["totals"] = totals
