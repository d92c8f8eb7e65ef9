"""Per-site politeness for a whole cluster of workers, and robots.txt once per site per run.

A single crawler spaces the requests to a site with Scrapy's download slots, which live in one
process: four workers on one site would each keep its delay and concurrency, so the site would
see four times what its source asks for. In cluster mode (issue 12) the slots keep no delay and
`PolitenessGate`, the last downloader middleware before the network, takes a lease from Redis
for every request instead:

- `next`: the earliest time (Redis's clock, so workers' clocks never matter) the site's next
  request may start. A lease is granted only when `next` has passed, and the grant moves `next`
  to now + the delay (the source's `download_delay`, robots.txt's Crawl-delay); before that
  the worker is told how long to wait, sleeps, and asks again. Nothing is reserved ahead: a
  worker that wakes up late (a busy reactor, a loaded machine) then sends late, and the next
  request still waits a whole delay after it (a start time reserved ahead would not move, and
  the site would see the two closer than the delay). A Retry-After moves `next` for every
  worker.
- The response moves `next` too, to at least its own arrival + the delay (`RELEASE_LUA`):
  a grant is not a send (a worker's reactor can be busy between the two), and the site must see
  the delay between what actually reaches it. With one request at a time per site this makes
  the gap the site sees at least the delay whatever the workers' lag (cluster_bench's 8-worker
  row saw 0.150 s under a 0.25 s delay before); it costs a response time per request per site.
- `leases`: a sorted set, lease id -> expiry, at most `concurrency` of them. A lease goes back
  on the response or the exception; one a SIGKILLed worker never gave back expires after its
  TTL (the download timeout plus slack: no download outlives that).

Each operation is one Lua script (atomic on the server); the wait happens in the worker with
`asyncio.sleep`, never blocking the reactor. While Redis is away, every operation waits and
retries with one warning per outage and one line when it is back: requests wait, none is dropped.

`SharedRobots` makes `RobotsMiddleware` download each site's robots.txt once per run for the
whole cluster: the first worker takes a lock in Redis, downloads it exactly as a single crawler
would (same request, same off-site rules for its redirects), and stores what it got under the
run id; the others read it from there and parse it with Protego, as if they had downloaded it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kirinuki.scraper.middlewares import _retry_after
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached

logger = logging.getLogger(__name__)

GATE_PATH = "kirinuki.scraper.cluster_politeness.PolitenessGate"
# After every built-in downloader middleware (the highest, DownloaderStats, is 850): the lease
# is taken as late as possible before the request goes out, and given back first on the way in.
GATE_ORDER = 900
MAX_BACKOFF = 120.0  # same cap as middlewares.BackoffRetryMiddleware's Retry-After
# A lease outlives its download by this much at most (the download itself is bounded by
# DOWNLOAD_TIMEOUT); a killed worker's leases free themselves after that.
LEASE_SLACK = 10.0
POLL = 0.1  # seconds between tries while a site is at its concurrency (other workers' leases)
OUTAGE_RETRY_MAX = 5.0  # seconds between tries while Redis is unreachable

# KEYS[1] next start time (ms), KEYS[2] leases (zset id -> expiry ms)
# ARGV[1] delay ms, ARGV[2] concurrency (0: no limit), ARGV[3] lease TTL ms, ARGV[4] lease id
# -> {0, 0} granted: start now | {ms, 1} the delay runs for ms more (nothing taken: ask again
# then) | {-1, ms until the oldest lease expires} when the site is at its concurrency
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('ZCARD', KEYS[2]) >= limit then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {-1, tonumber(first[2]) - now}
end
local nxt = tonumber(redis.call('GET', KEYS[1]))
if nxt and nxt > now then return {nxt - now, 1} end
local delay = tonumber(ARGV[1])
if delay > 0 then redis.call('SET', KEYS[1], now + delay, 'PX', delay + 1000) end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], tonumber(last[2]) - now + 1000)
return {0, 0}
"""

# KEYS[1] next start time; ARGV[1] ms from now: no request starts before then (Retry-After)
PUSH_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local later = now + tonumber(ARGV[1])
local nxt = tonumber(redis.call('GET', KEYS[1]))
if not nxt or nxt < later then
  redis.call('SET', KEYS[1], later, 'PX', later - now + 1000)
end
return later - now
"""


# KEYS[1] next start time, KEYS[2] leases; ARGV[1] the lease id, ARGV[2] the delay ms.
# The lease goes back and the next start moves to at least now + the delay, in one step: the
# response is in, so the request reached the site before now, and the next one reaches it a
# whole delay later however late this worker sent (a busy reactor between grant and send).
RELEASE_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
local delay = tonumber(ARGV[2])
if delay <= 0 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]))
if not nxt or nxt < now + delay then
  redis.call('SET', KEYS[1], now + delay, 'PX', delay + 1000)
end
return 1
"""

# KEYS[1] stored robots.txt, KEYS[2] its download lock; ARGV[1] this worker, ARGV[2] lock TTL ms
# -> {1, stored} | {2, ''}: this worker downloads it | {0, ''}: another one is downloading it.
# One script, so that a worker never takes the lock just after another one stored the result.
ROBOTS_LUA = """
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, ''} end
if redis.call('GET', KEYS[2]) == ARGV[1] then return {2, ''} end
return {0, ''}
"""


def site_key(request: Request) -> str:
    """The site a request counts against: its download slot (our requests name it: the
    source host's netloc), else its own netloc, as robots.txt requests carry none."""
    return str(request.meta.get("download_slot") or urlparse_cached(request).netloc.lower())


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClusterRedis:
    """One asyncio Redis client for a worker, and the one place that waits out an outage."""

    def __init__(self, url: str, prefix: str = "kirinuki") -> None:
        try:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.exceptions import TimeoutError as RedisTimeoutError
        except ImportError as exc:  # pragma: no cover - the `cluster` extra is missing
            raise NotConfigured("cluster politeness needs redis (pip install "
                                "'kirinuki[cluster]')") from exc
        self.url = url
        self.prefix = prefix
        # A pooled connection from before a Redis restart fails once: redis-py retries it on a
        # fresh one (no outage to report); an outage outlasts these retries and reaches call().
        self.client = aioredis.Redis.from_url(
            url, socket_connect_timeout=3, socket_timeout=10,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError])
        self.transient: tuple[type[BaseException], ...] = (RedisConnectionError,
                                                           RedisTimeoutError, OSError)
        self.down_since: float | None = None

    def script(self, lua: str) -> Any:
        return self.client.register_script(lua)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def call(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        """`op()`, retried until Redis answers: one warning when an outage starts, one line
        when it ends (however many requests are waiting meanwhile)."""
        pause = 0.2
        while True:
            try:
                result = await op()
            except self.transient as exc:
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    logger.warning("Redis at %s unreachable (%s: %s) during %s; requests wait "
                                   "and retry until it is back", self.url, type(exc).__name__,
                                   " ".join(str(exc).split()), what)
                await asyncio.sleep(pause * random.uniform(0.8, 1.2))
                pause = min(pause * 2, OUTAGE_RETRY_MAX)
                continue
            if self.down_since is not None:
                logger.warning("Redis at %s reachable again after %.1f s; requests resume",
                               self.url, time.monotonic() - self.down_since)
                self.down_since = None
            return result

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except self.transient:  # pragma: no cover - closing a client whose server is gone
            pass


class SharedRobots:
    """robots.txt once per site per run across the cluster (see the module docstring)."""

    def __init__(self, redis: ClusterRedis, run_id: str, ttl: float, lock_ttl: float) -> None:
        self.redis = redis
        self.run_id = run_id
        self.ttl_ms = int(ttl * 1000)
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self.token = worker_id()
        self.script = redis.script(ROBOTS_LUA)

    async def once(self, netloc: str, fetch: Callable[[], Awaitable[str | None]]
                   ) -> tuple[str | None, bool]:
        """(robots.txt text or None for "allow all", whether this worker downloaded it)."""
        client = self.redis.client
        # under the run's own keys (`scraper.cluster.keys`: kirinuki:run:<run id>:...)
        key = self.redis.key("run", self.run_id, "robots", netloc)
        lock = key + ":lock"
        args = [self.token, self.lock_ttl_ms]
        while True:
            state, stored = await self.redis.call(
                "robots.txt lookup", lambda: self.script(keys=[key, lock], args=args))
            if state == 1:
                return json.loads(stored)["text"], False
            if state == 2:
                break
            await asyncio.sleep(POLL)
        try:
            text = await fetch()
        except BaseException:
            await self.redis.call("robots.txt unlock", lambda: client.delete(lock))
            raise
        value = json.dumps({"text": text})

        async def store() -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(key, value, px=self.ttl_ms)
                pipe.delete(lock)
                await pipe.execute()

        await self.redis.call("robots.txt store", store)
        return text, True


class PolitenessGate:
    """Downloader middleware: a Redis lease per request, so each site's delay and concurrency
    hold for the cluster as a whole. Enabled by `cluster_politeness_settings()`."""

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        url = settings.get("REDIS_URL")
        if not url:
            raise NotConfigured("no REDIS_URL")
        self.crawler = crawler
        self.redis = ClusterRedis(url, settings.get("KIRINUKI_REDIS_PREFIX") or "kirinuki")
        self.sites: dict[str, dict[str, Any]] = settings.getdict("KIRINUKI_SITE_POLITENESS")
        # cluster_politeness_settings() moves DOWNLOAD_DELAY here (the local slots keep none)
        self.default_delay = settings.getfloat("KIRINUKI_DEFAULT_DOWNLOAD_DELAY",
                                               settings.getfloat("DOWNLOAD_DELAY", 0.0))
        self.default_concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8)
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 180.0)
        self.lease_ttl = settings.getfloat("KIRINUKI_LEASE_TTL", 0.0) or timeout + LEASE_SLACK
        self.acquire_script = self.redis.script(ACQUIRE_LUA)
        self.push_script = self.redis.script(PUSH_LUA)
        self.release_script = self.redis.script(RELEASE_LUA)
        self.worker = worker_id()
        self.counter = itertools.count()
        # One Redis poller per site per worker; the others queue behind it locally. A lease
        # given back here wakes this worker's poller at once.
        self.locks: dict[str, asyncio.Lock] = {}
        self.freed: dict[str, asyncio.Event] = {}
        self.pending: set[asyncio.Task] = set()
        self.shared_robots = SharedRobots(
            self.redis, settings.get("KIRINUKI_CLUSTER_RUN") or "default",
            ttl=settings.getfloat("KIRINUKI_ROBOTS_TTL", 86400.0),
            lock_ttl=self.lease_ttl * (settings.getint("RETRY_TIMES", 2) + 1))

    @classmethod
    def from_crawler(cls, crawler: Any) -> PolitenessGate:
        gate = cls(crawler)
        crawler.signals.connect(gate.closed, signal=signals.spider_closed)
        return gate

    def politeness(self, request: Request, site: str) -> tuple[float, int]:
        conf = self.sites.get(site) or {}
        delay = float(conf.get("delay", self.default_delay))
        crawl_delay = request.meta.get("kirinuki_crawl_delay")
        if crawl_delay:
            delay = max(delay, float(crawl_delay))
        return delay, int(conf.get("concurrency") or self.default_concurrency)

    def _keys(self, site: str) -> list[str]:
        # {site}: a Redis Cluster hash tag, both keys of a site on one shard
        return [self.redis.key("polite", "{" + site + "}", "next"),
                self.redis.key("polite", "{" + site + "}", "leases")]

    async def process_request(self, request: Request, spider: Any = None) -> None:
        site = site_key(request)
        delay, concurrency = self.politeness(request, site)
        lease = f"{self.worker}:{next(self.counter)}"
        keys = self._keys(site)
        args = [int(delay * 1000), concurrency, int(self.lease_ttl * 1000), lease]
        lock = self.locks.setdefault(site, asyncio.Lock())
        freed = self.freed.setdefault(site, asyncio.Event())
        async with lock:
            delayed = False
            while True:
                wait_ms, _ = await self.redis.call(
                    "a politeness lease", lambda: self.acquire_script(keys=keys, args=args))
                if wait_ms == 0:
                    break  # granted: the request goes out now
                if wait_ms > 0:  # the site's delay is not over yet
                    delayed = True
                    await asyncio.sleep(wait_ms / 1000)
                    continue
                self.crawler.stats.inc_value("kirinuki/cluster/lease_full")
                freed.clear()
                try:
                    await asyncio.wait_for(freed.wait(), POLL * random.uniform(0.5, 1.5))
                except TimeoutError:
                    pass
        request.meta["kirinuki_lease"] = (site, lease, args[0])
        if delayed:
            self.crawler.stats.inc_value("kirinuki/cluster/delayed")
        return None

    def process_response(self, request: Request, response: Response, spider: Any = None
                         ) -> Response:
        site = self._release(request)
        retry_after = response.headers.get("Retry-After")
        if site is not None and retry_after:
            seconds = _retry_after(retry_after)
            if seconds:
                self._spawn(self._push(site, min(seconds, MAX_BACKOFF)))
        return response

    def process_exception(self, request: Request, exception: Exception, spider: Any = None
                          ) -> None:
        self._release(request)
        return None

    def _release(self, request: Request) -> str | None:
        """Give the request's lease back (in the background: the response goes on while
        Redis is away; the lease's TTL is the backstop)."""
        held = request.meta.pop("kirinuki_lease", None)
        if held is None:
            return None
        site, lease, delay_ms = held
        keys = self._keys(site)

        async def release() -> None:
            await self.redis.call("giving a lease back",
                                  lambda: self.release_script(keys=keys, args=[lease, delay_ms]))
            self.freed.setdefault(site, asyncio.Event()).set()

        self._spawn(release())
        return site

    async def _push(self, site: str, seconds: float) -> None:
        await self.redis.call("Retry-After", lambda: self.push_script(
            keys=self._keys(site)[:1], args=[int(seconds * 1000)]))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def closed(self, spider: Any = None, reason: str = "") -> None:
        if self.pending:
            # Bounded: leases left behind expire with their TTL.
            await asyncio.wait(list(self.pending), timeout=10)
        await self.redis.close()


def cluster_politeness_settings(settings: dict[str, Any], *, redis_url: str,
                                run_id: str | None = None) -> dict[str, Any]:
    """`settings` (from `scraper.settings.build_settings`) for a cluster worker: the delay
    and concurrency of each DOWNLOAD_SLOTS entry move to the gate, which holds them for all
    workers together. The local slots keep no delay (the grant is the start: a local delay
    after it would only add to the site's delay) and AutoThrottle, which tunes one process's
    slots, is off. The local concurrency stays as a cap on this worker alone."""
    out = dict(settings)
    slots: dict[str, dict[str, Any]] = dict(settings.get("DOWNLOAD_SLOTS") or {})
    out["KIRINUKI_SITE_POLITENESS"] = {
        k: {"delay": float(v.get("delay", 0.0)), "concurrency": v.get("concurrency")}
        for k, v in slots.items()}
    out["DOWNLOAD_SLOTS"] = {k: {**v, "delay": 0.0, "jitter": 0.0} for k, v in slots.items()}
    out["KIRINUKI_DEFAULT_DOWNLOAD_DELAY"] = float(settings.get("DOWNLOAD_DELAY", 0.0))
    out["DOWNLOAD_DELAY"] = 0.0
    out["AUTOTHROTTLE_ENABLED"] = False
    out["REDIS_URL"] = redis_url
    if run_id:
        out["KIRINUKI_CLUSTER_RUN"] = run_id
    mws = dict(settings.get("DOWNLOADER_MIDDLEWARES") or {})
    mws[GATE_PATH] = GATE_ORDER
    out["DOWNLOADER_MIDDLEWARES"] = mws
    exts = dict(settings.get("EXTENSIONS") or {})
    exts["kirinuki.scraper.middlewares.SlotDelayFloor"] = None  # no local delays to floor
    out["EXTENSIONS"] = exts
    return out
