"""The shared spider in cluster form: same callbacks, requests through Redis, leases settled.

`SourcesSpider` discovers feeds, sitemaps and listings, records article URLs pending in the state
and pulls article requests from that frontier with a per-process cursor. Here the frontier is
shared: a discovery callback pushes a request for each article it made pending into the run's
queue (scrapy-redis's duplicate filter keeps one per URL per run; a Redis counter keeps each
source's `max_articles` for the whole cluster), and any worker pops it.

Each popped request holds a lease (`queue.LeasedPriorityQueue`). It is released only once the
request's outcome is in the state: for a discovery document after its article and child requests
are in the queue; for an article after its records are committed (or it was rejected, failed,
unchanged). A worker that dies before that leaves the lease behind and the request is re-queued.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from kirinuki.scraper.cluster import keys
from kirinuki.scraper.cluster.queue import UNAVAILABLE, Leases, outstanding, reclaim_dead
from kirinuki.scraper.discovery import Entry, normalize_url
from kirinuki.scraper.items import PageGroup, RecordItem
from kirinuki.scraper.spider import SourceBook, SourcesSpider
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response
from scrapy.statscollectors import MemoryStatsCollector
from twisted.internet import task
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

TICK = 0.25  # seconds between looks at the shared queue when this worker has room


class ClusterSpider(SourcesSpider):
    name = "kirinuki-cluster"

    def __init__(self, context: Any, *, worker_id: str | None = None, redis: Any = None,
                 lease_timeout: float = 15.0, until_idle: bool = False, **kwargs: Any) -> None:
        super().__init__(context, **kwargs)
        self.run_id = context.run_id
        self.worker_id = worker_id
        self.redis = redis
        self.until_idle = until_idle
        self.lease_timeout = lease_timeout
        self.paused = False  # set on SIGTERM: finish what we hold, take nothing new
        self.scheduler: Any = None  # set by ClusterScheduler.open
        self.leases = (Leases(redis, self.run_id, worker_id, lease_timeout)
                       if redis is not None and worker_id else None)
        self._outbox: list[Request] = []
        self._loop: Any = None
        self._last_beat = self._last_reclaim = 0.0
        context.settled = self._group_settled

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ClusterSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._item_error, signal=signals.item_error)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        return spider

    # -- the worker's clock: heartbeat, dead workers' leases, new work -------------------------

    def _opened(self, spider: Any) -> None:
        if self.leases is not None:
            self.leases.heartbeat()
        self._loop = task.LoopingCall(self._tick)
        self._loop.start(TICK, now=False)

    def _tick(self) -> None:
        now = time.monotonic()
        if self.leases is None:
            return
        if now - self._last_beat >= self.lease_timeout / 4:
            self._last_beat = now
            self.leases.heartbeat()
        try:
            if self.redis.hget(keys.run(self.run_id), "phase") in (b"stopping", b"finished"):
                self.paused = True  # the seeder is stopping the run: finish what we hold
            if now - self._last_reclaim >= self.lease_timeout / 2:
                self._last_reclaim = now
                reclaim_dead(self.redis, self.run_id)
            engine = self.crawler.engine
            if (not self.paused and self.scheduler is not None and not self.scheduler.local
                    and engine is not None and not engine.needs_backout()):
                request = self.scheduler.queue.pop()
                if request is not None:
                    engine.crawl(request)  # leased: the scheduler keeps it local
        except UNAVAILABLE:
            pass  # the queue logs the outage; the next tick tries again

    def _on_closed(self, spider: Any, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        super()._on_closed(spider, reason)

    def _on_idle(self, spider: Any) -> None:
        """Nothing in flight here: stay for more work unless the run is over (or drained, for
        `--until-idle` and on SIGTERM, where a drained run is all this worker waits for)."""
        if self.paused:
            return  # SIGTERM and nothing of ours in flight: close (leases all settled)
        try:
            phase = self.redis.hget(keys.run(self.run_id), "phase")
            if phase in (None, b"finished", b"stopping"):
                return  # finished (and forgotten), or being stopped: this crawl is over
            if self.until_idle and outstanding(self.redis, self.run_id) == (0, 0):
                return
        except UNAVAILABLE:
            pass
        raise DontCloseSpider

    # -- requests -----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        """The seeder pushed the run's first requests; workers only pop."""
        return
        yield  # an async generator

    def _top_up(self) -> list[Request]:
        out, self._outbox = self._outbox, []
        return out

    def _next_articles(self, limit: int) -> list[Request]:
        return []  # the shared queue is the frontier (see the module docstring)

    def _note_articles(self, book: SourceBook, entries: Iterable[Entry], parent: str) -> None:
        """As the embedded spider, then a request for each article that is now pending."""
        entries = list(entries)
        super()._note_articles(book, entries, parent)
        max_attempts = self.context.config.crawl.max_attempts
        for e in entries:
            url = book.local(e.url)
            if not book.allows(url):
                continue
            src = book.source
            if src.article_pattern is not None and not src.article_pattern.search(url):
                continue
            st = self.store.get(normalize_url(url))
            if st is None or not (st.status == "pending"
                                  or (st.status == "failed" and st.attempts < max_attempts)):
                continue
            if not self.may_schedule(book):
                break
            self._outbox.append(self._article_request(book, st))

    def may_schedule(self, book: SourceBook) -> bool:
        """One more article request for this source within its `max_articles`, cluster-wide."""
        cap = book.source.max_articles
        if cap is None:
            return True
        n = self.redis.hincrby(keys.scheduled(self.run_id), book.source.name, 1)
        return n <= cap

    def _article_request(self, book: SourceBook, st: Any) -> Request:
        # One fetch of an article per run across the cluster: scrapy-redis's filter decides.
        # Below the discovery documents (priority 0): every site's feed or sitemap is fetched
        # before articles pile up, so the queue interleaves all sites, not the first few found
        # (with per-site politeness those few would hold every worker; docs/SCALE.md).
        return super()._article_request(book, st).replace(dont_filter=False, priority=-10)

    def _doc_request(self, book: SourceBook, url: str, kind: str, callback: Any) -> Request | None:
        req = super()._doc_request(book, url, kind, callback)
        return req.replace(dont_filter=False) if req is not None else None

    def _push(self, requests: Iterable[Request]) -> None:
        """Into the shared queue now (before the lease of the request that found them goes)."""
        for req in requests:
            self.crawler.engine.crawl(req)

    def _release(self, lease: bytes | None) -> None:
        if self.leases is not None:
            self.leases.release(lease)

    # -- discovery: children queued, then the lease released ----------------------------------

    def parse_feed(self, response: Response) -> list[Request]:
        return self._settle(response, super().parse_feed(response))

    def parse_sitemap(self, response: Response) -> list[Request]:
        return self._settle(response, super().parse_sitemap(response))

    def parse_listing(self, response: Response) -> list[Request]:
        return self._settle(response, super().parse_listing(response))

    def _settle(self, response: Response, requests: Iterable[Request]) -> list[Request]:
        self._push([*requests, *self._top_up()])
        self._release(response.meta.get("kirinuki_queue_lease"))
        return []

    def on_error(self, failure: Failure) -> list[Request]:
        request = failure.request  # type: ignore[attr-defined]
        self._push([*super().on_error(failure), *self._top_up()])
        self._release(request.meta.get("kirinuki_queue_lease"))
        return []

    # -- articles: the lease goes with the records, or with the next page ---------------------

    async def parse_article(self, response: Response, chain: Any = None
                            ) -> AsyncIterator[Request | RecordItem]:
        lease = response.meta.get("kirinuki_queue_lease")
        async for out in self._leased(lease, super().parse_article(response, chain)):
            yield out

    async def on_page_error(self, failure: Failure) -> AsyncIterator[Request | RecordItem]:
        lease = failure.request.meta.get("kirinuki_queue_lease")  # type: ignore[attr-defined]
        async for out in self._leased(lease, super().on_page_error(failure)):
            yield out

    async def _leased(self, lease: bytes | None, outputs: AsyncIterator[Any]
                      ) -> AsyncIterator[Any]:
        """Pass the lease on to what continues the article (its records, its next page);
        when nothing does (304, rejected, failed: already in the state), release it."""
        handed = False
        async for out in outputs:
            if isinstance(out, RecordItem):
                out.group.lease = lease
                handed = True
            elif isinstance(out, Request) and out.meta.get("kirinuki_kind") == "page":
                out.meta["kirinuki_queue_lease"] = lease
                handed = True
            yield out
        if not handed:
            self._release(lease)

    def _group_settled(self, group: PageGroup) -> None:
        """Called by the item pipelines when every record of the article is settled."""
        self._release(getattr(group, "lease", None))

    def _item_error(self, item: Any, response: Any, spider: Any, failure: Failure) -> None:
        """A record the pipelines could not settle (a bug, the state unreachable): its lease
        goes, so that the run can drain; the article is still pending in the state, and the
        seeder queues pending articles again once the queue is empty (a few rounds at most,
        so a page that always fails cannot hold the run for ever)."""
        group = getattr(item, "group", None)
        self._release(getattr(group, "lease", None))

    def _spider_error(self, failure: Failure, response: Any, spider: Any) -> None:
        """A callback raised: as for `_item_error`, the lease goes and the state keeps the URL."""
        self._release(response.meta.get("kirinuki_queue_lease"))


class ClusterStats(MemoryStatsCollector):
    """Scrapy's stats, with our per-source counters (`kirinuki/<source>/...`) also summed in
    Redis for the whole run, so the run summary counts every worker's work."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        from kirinuki.scraper.cluster.queue import connect

        self.key = crawler.settings.get("KIRINUKI_CLUSTER_STATS_KEY")
        url = crawler.settings.get("REDIS_URL")
        self.server = connect(url) if url and self.key else None
        self._unsent: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0, spider: Any = None) -> None:
        super().inc_value(key, count, start)
        if self.server is None or not key.startswith("kirinuki/") \
                or key.startswith("kirinuki/cleaner/"):
            return
        self._unsent[key] = self._unsent.get(key, 0) + count
        self.flush()

    def flush(self) -> None:
        if not self._unsent:
            return
        try:
            pipe = self.server.pipeline()
            for k, v in self._unsent.items():
                pipe.hincrby(self.key, k, v)
            pipe.execute()
            self._unsent.clear()
        except UNAVAILABLE:
            pass  # kept, sent with the next counter or at close

    def close_spider(self, *args: Any, **kwargs: Any) -> None:
        from kirinuki.scraper.cluster.queue import call

        if self.server is not None and self._unsent:
            call(self.flush_or_raise)
        super().close_spider(*args, **kwargs)

    def flush_or_raise(self) -> None:
        pipe = self.server.pipeline()
        for k, v in self._unsent.items():
            pipe.hincrby(self.key, k, v)
        pipe.execute()
        self._unsent.clear()
