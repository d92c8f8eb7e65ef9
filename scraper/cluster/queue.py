"""The run's request queue with leases: nothing a worker pops is lost when that worker dies.

scrapy-redis's `PriorityQueue` pops a request by removing it from the sorted set; a worker killed
with the request in memory would lose it. `LeasedPriorityQueue` pops and records the request in
the worker's in-flight hash in one Lua script (atomic on the server), and the worker deletes it
from there once the request's outcome is in the state (`Leases.release`). Every worker refreshes
an `alive` key with a TTL; when it expires, any other worker or the seeder moves the dead
worker's in-flight requests back into the queue (`reclaim_dead`, atomic too).

A run is drained when its queue is empty and no worker, live or dead, holds a lease.

Redis going away (a restart, a network cut) is waited out: `call` retries with a growing pause
and one clear log line per outage instead of failing the request or crash-looping.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from kirinuki.scraper.cluster import keys
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from scrapy_redis.queue import PriorityQueue

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "Redis is not there right now" (restart, network, still loading its data).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
               redis.exceptions.TryAgainError, ConnectionError, OSError)

_POP = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #r == 0 then return false end
redis.call('ZREM', KEYS[1], r[1])
redis.call('HSET', KEYS[2], r[1], r[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return r[1]
"""

# Within one priority, requests are taken round-robin over sources: the n-th request of each
# source gets n / 1e7 added to its score (capped well below the gap between priorities), so
# that a worker's few concurrent requests go to different sites instead of waiting in a row
# for one site's politeness delay (a sorted set orders equal scores by their bytes: by URL).
_PUSH = """
local n = redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + math.min(n, 90000000) / 1e7, ARGV[2])
return n
"""

# After a pop whose reply was lost (the connection dropped after the script ran), the worker's
# in-flight hash may hold a request it never received: put back every lease it does not hold.
_RESYNC = """
local kv = redis.call('HGETALL', KEYS[2])
local held = {}
for i = 1, #ARGV do held[ARGV[i]] = true end
local n = 0
for i = 1, #kv, 2 do
  if not held[kv[i]] then
    redis.call('ZADD', KEYS[1], kv[i + 1], kv[i])
    redis.call('HDEL', KEYS[2], kv[i])
    n = n + 1
  end
end
return n
"""

_RECLAIM = """
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local kv = redis.call('HGETALL', KEYS[2])
for i = 1, #kv, 2 do redis.call('ZADD', KEYS[1], kv[i + 1], kv[i]) end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return #kv / 2
"""


def connect(url: str) -> redis.Redis:
    """A client that retries a dropped connection a few times by itself (our `call` waits longer)."""
    return redis.Redis.from_url(
        url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError])


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Outage:
    """Logs a Redis outage once when it starts and once when it ends."""

    def __init__(self, what: str = "redis") -> None:
        self.what = what
        self.since: float | None = None
        self.last_log = 0.0
        self.failures = 0  # callers compare it before and after a call: "was it retried?"

    def failed(self, exc: BaseException, wait: float) -> None:
        self.failures += 1
        now = time.monotonic()
        if self.since is None:
            self.since = now
        if self.since == now or now - self.last_log > 30:
            self.last_log = now
            logger.warning("%s unavailable (%s): waiting and retrying (every %gs) "
                           "until it is back", self.what, _one_line(exc), round(wait, 1))

    def ok(self) -> None:
        if self.since is not None:
            logger.warning("%s is back after %.1fs", self.what, time.monotonic() - self.since)
            self.since = None


def call(fn: Callable[[], T], outage: Outage | None = None, *, give_up: float | None = None) -> T:
    """`fn()`, retried while Redis is unavailable (blocking: the caller has nothing better to
    do than wait, and dropping the operation would lose a request). `give_up` seconds: re-raise."""
    outage = outage or Outage()
    wait, start = 0.2, time.monotonic()
    while True:
        try:
            out = fn()
        except UNAVAILABLE as exc:
            if give_up is not None and time.monotonic() - start > give_up:
                raise
            outage.failed(exc, wait)
            time.sleep(wait)
            wait = min(wait * 2, 5.0)
            continue
        outage.ok()
        return out


class LeasedPriorityQueue(PriorityQueue):
    """scrapy-redis's priority queue whose pop leaves a lease in the worker's in-flight hash.

    The spider gives the run and the worker (`spider.run_id`, `spider.worker_id`); a spider
    without a worker id (the seeder only pushes) pops nothing."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.outage = Outage()
        self._pop = server.register_script(_POP)
        self._push = server.register_script(_PUSH)

    def push(self, request: Any) -> None:
        data = self._encode_request(request)
        source = request.meta.get("kirinuki_source") or ""
        call(lambda: self._push(keys=[self.key, keys.order(self.spider.run_id)],
                                args=[-request.priority, data, source]), self.outage)

    def __len__(self) -> int:
        return call(lambda: PriorityQueue.__len__(self), self.outage)

    def pop(self, timeout: int = 0) -> Any:
        worker = self.spider.worker_id
        run_id = self.spider.run_id
        leases = getattr(self.spider, "leases", None)
        before = self.outage.failures
        data = call(lambda: self._pop(
            keys=[self.key, keys.inflight(run_id, worker), keys.workers(run_id),
                  keys.seen_workers(run_id)], args=[worker]),
            self.outage)
        if leases is not None:
            if data:
                leases.held.add(data)
            if self.outage.failures != before:
                call(leases.resync, self.outage)
        if not data:
            return None
        request = self._decode_request(data)
        request.meta["kirinuki_queue_lease"] = data
        return request


class Leases:
    """A worker's side of the leases: heartbeat, release, and re-queueing dead workers' work."""

    def __init__(self, server: redis.Redis, run_id: str, worker_id: str,
                 timeout: float) -> None:
        self.server = server
        self.run_id = run_id
        self.worker_id = worker_id
        self.timeout = timeout
        self._unreleased: list[bytes] = []  # releases that met a Redis outage, sent later
        self.held: set[bytes] = set()  # leases this worker holds (popped, not released)
        self.outage = Outage()

    def heartbeat(self) -> bool:
        """Refresh our `alive` key, send releases left over from an outage and give back any
        lease we do not hold (`resync`); False while Redis is away (the caller just tries
        again on its next tick)."""
        try:
            self.server.set(keys.alive(self.worker_id), str(time.time()),
                            px=int(self.timeout * 1000))
            if self._unreleased:
                self.server.hdel(keys.inflight(self.run_id, self.worker_id), *self._unreleased)
                self.held.difference_update(self._unreleased)
                self._unreleased.clear()
            self.resync()
        except UNAVAILABLE as exc:
            self.outage.failed(exc, self.timeout / 4)
            return False
        self.outage.ok()
        return True

    def release(self, lease: bytes | None) -> None:
        """The request's outcome is in the state: drop its lease (later, if Redis is away)."""
        if lease is None:
            return
        try:
            self.server.hdel(keys.inflight(self.run_id, self.worker_id), lease)
        except UNAVAILABLE:
            self._unreleased.append(lease)
            return
        self.held.discard(lease)

    def resync(self) -> None:
        """Give back leases recorded for us that we never received (a pop's lost reply)."""
        script = self.server.register_script(_RESYNC)
        n = script(keys=[keys.requests(self.run_id), keys.inflight(self.run_id, self.worker_id)],
                   args=list(self.held))
        if n:
            logger.warning("%d request(s) popped while the connection dropped: re-queued", n)

    def stop(self) -> None:
        """A clean exit: our `alive` key goes at once (what we still hold is re-queued now)."""
        try:
            self.server.delete(keys.alive(self.worker_id))
            reclaim_dead(self.server, self.run_id)
        except UNAVAILABLE:
            pass


def reclaim_dead(server: redis.Redis, run_id: str) -> int:
    """Put the leased requests of workers whose heartbeat stopped back in the run's queue."""
    script = server.register_script(_RECLAIM)
    moved = 0
    for raw in server.smembers(keys.workers(run_id)):
        worker = raw.decode() if isinstance(raw, bytes) else raw
        n = script(keys=[keys.requests(run_id), keys.inflight(run_id, worker),
                         keys.workers(run_id), keys.alive(worker)], args=[worker])
        if n and n > 0:
            logger.warning("worker %s stopped with %d request(s) in flight: re-queued them",
                           worker, n)
            moved += n
    return moved


def outstanding(server: redis.Redis, run_id: str) -> tuple[int, int]:
    """(queued requests, leased requests over all workers, live or dead) of a run."""
    queued = server.zcard(keys.requests(run_id))
    leased = sum(server.hlen(keys.inflight(run_id, w.decode() if isinstance(w, bytes) else w))
                 for w in server.smembers(keys.workers(run_id)))
    return queued, leased


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
