"""scrapy-redis's scheduler, with a local queue for the follow-ups of a leased request.

New work (discovery documents, articles) goes through scrapy-redis: its duplicate filter (one
fetch of a URL per run across the cluster) and its queue, from which any worker pops. A request
that continues leased work -- a retry, a redirect, the next page of a multi-page article --
carries its lease in `meta` and stays in this worker: it holds in-memory state (the pages so far)
and is covered by its lease, so if this worker dies the leased request is re-queued and the work
starts over elsewhere.

scrapy-redis 0.9.1 works on Scrapy 2.15-2.19, but its `open` calls `Spider.log()` and it passes
`spider=` to the stats: both deprecated since Scrapy 2.13; this subclass calls neither.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kirinuki.scraper.cluster.queue import Outage, call
from scrapy_redis.scheduler import Scheduler


class ClusterScheduler(Scheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.local: deque[Any] = deque()
        self.outage = Outage()

    def __len__(self) -> int:
        return len(self.local) + super().__len__()

    def open(self, spider: Any) -> None:
        """scrapy-redis's `open` without its `spider.log()` (deprecated since Scrapy 2.13)."""
        from scrapy.utils.misc import load_object

        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer)
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        spider.scheduler = self  # the spider's clock pops from our queue (ClusterSpider._tick)

    def enqueue_request(self, request: Any) -> bool:
        if request.meta.get("kirinuki_queue_lease") is not None:
            self.local.append(request)
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/local")
            return True
        # scrapy-redis's enqueue, with Redis outages waited out (a lost push is a lost page):
        # the filter first (retried alone: a retried SADD would call the request a duplicate),
        # then the push (the queue retries it).
        if not request.dont_filter:
            before = self.outage.failures
            seen = call(lambda: self.df.request_seen(request), self.outage)
            # A retried SADD whose first reply was lost says "seen" about our own add: when in
            # doubt, push (a page fetched twice is counted unchanged; a dropped one is lost).
            if seen and self.outage.failures == before:
                self.df.log(request, self.spider)
                return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Any:
        if self.local:
            return self.local.popleft()
        if getattr(self.spider, "paused", False):
            return None  # stopping: take no new work (SIGTERM)
        request = self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        # Only our own: the shared queue is other workers' work too, and the spider decides
        # when this worker is done with the run (`ClusterSpider._on_idle`).
        return bool(self.local)

    def close(self, reason: str) -> Any:
        # The shared queue and duplicate filter belong to the run, not to this worker: never
        # flushed here (the seeder deletes a finished run's keys).
        return None
