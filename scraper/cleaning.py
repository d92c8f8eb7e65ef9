"""Cleaning off the reactor thread, shared by the item pipeline, the spider middleware and our spider.

Cleaning is CPU-bound (lxml + trafilatura, ~5-50 ms a page). On the reactor thread it stalls every
download; in a thread it holds the GIL against the reactor. So `Cleaner` runs the pure core
(`kirinuki.pipelines`) in a `concurrent.futures.ProcessPoolExecutor` whose workers load the site
profiles once, and the reactor thread awaits each job (an asyncio future under Scrapy's asyncio
reactor, a Deferred under another reactor).
`workers=0` cleans in a thread of the crawler process instead (no child processes at all).

One `Cleaner` per crawler (`Cleaner.from_crawler`), configured by the `KIRINUKI_*` settings and
shut down on `engine_stopped`. At most `workers * depth` jobs are handed to the pool at a time, so
a worker never waits for its next job and the queue stays short.

A hung page (a pathological document) must not hold the crawl nor fail the pages queued behind it:
each job's clock starts when it reaches a worker (jobs start in submission order, so the running
ones are the oldest `workers` unfinished jobs), and a job over `timeout` gets its worker pool
killed and is reported as `clean_timeout`; the other jobs that were in the pool are resubmitted to
a fresh pool and keep running (a job that breaks a pool twice is reported as a worker crash).

One round trip per page does both of our spider's jobs (`process`): find the next page of a
multi-page article, or, when there is none, clean all pages collected so far into records.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from kirinuki.scraper.peak_memory import peak_rss_kb

logger = logging.getLogger(__name__)

# (url, body, content_type, fetched_at, source, profile, headers): plain tuples pickle cheaply.
PageArgs = tuple[str, bytes, "str | None", "str | None", "str | None", "str | None", dict]

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Which continuation URLs a worker may return: same site, not seen, within the page budget."""

    hosts: frozenset[str]
    mirror_of: str | None
    local_origin: str
    max_pages: int


class CleanError(RuntimeError):
    """Cleaning failed for a reason that is not the page's (timeout, crashed worker, cleaner bug)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


# -- worker side ------------------------------------------------------------------------------
# Each worker process (or the crawler process itself with workers=0) loads the profiles once.

_WORKER: dict[str, Any] = {}


def init_worker(profile_dirs: tuple[str, ...], generic_only: bool = False,
                pids: Any = None, crawler_pid: int | None = None) -> None:
    """Import the cleaner and load profiles once per worker process; report our pid (kill switch)."""
    from kirinuki import pipelines

    if pids is not None:
        pids.put(os.getpid())
    if crawler_pid is not None:
        _exit_with_crawler(crawler_pid)
    _WORKER["profiles"] = pipelines.load_profiles(extra_dirs=profile_dirs)
    _WORKER["generic_only"] = generic_only


def _exit_with_crawler(crawler_pid: int, interval: float = 0.5) -> None:
    """A worker outlives a killed crawler: nothing closes its job queue, and forkserver children
    keep the forkserver alive too. So leave when the crawler process is gone (POSIX; on Windows
    `os.kill` would terminate the process it probes, so there the check is skipped)."""
    if os.name != "posix":
        return

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(crawler_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass  # alive, owned by someone else

    threading.Thread(target=watch, name="kirinuki-crawler-watch", daemon=True).start()


def ping() -> int:
    """A no-op job that makes the pool start its workers (and load profiles) ahead of need."""
    return os.getpid()


def process_pages(pages: list[PageArgs], policy: LinkPolicy | None = None,
                  known: list[str] | tuple[str, ...] = ()) -> tuple[tuple, int]:
    """(("more", [urls]) | ("records", [dicts]) | ("rejected", reason, msg) | ("error", msg), rss).

    Without a `policy` no continuation is looked for: the pages are cleaned (merged when several).
    """
    return _process(pages, policy, known), peak_rss_kb() or 0


def _process(pages: list[PageArgs], policy: LinkPolicy | None, known: Any) -> tuple:
    from kirinuki.pipelines import Page, Rejected

    from kirinuki import pipelines

    profiles = _WORKER["profiles"]
    generic_only = _WORKER["generic_only"]
    objs: list[Any] = [Page(u, b, ct, fa, src, prof, dict(h)) for (u, b, ct, fa, src, prof, h) in pages]
    try:
        if (policy is not None and not generic_only and len(objs) < policy.max_pages
                and _may_continue(objs[-1], profiles)):
            from kirinuki.scraper.discovery import normalize_url, rewrite_origin

            seen = {normalize_url(u) for u in known}
            new: list[str] = []
            try:  # parsed once: the Doc goes on to clean_pages() when there are no more pages
                objs[-1] = pipelines.prepare(objs[-1], profiles)
            except Rejected:
                pass
            for url in pipelines.continuation_urls(objs[-1], profiles):
                url = rewrite_origin(url, policy.mirror_of, policy.local_origin)
                norm = normalize_url(url)
                if norm in seen or urlsplit(norm).netloc not in policy.hosts:
                    continue
                seen.add(norm)
                new.append(url)
            if new:
                return ("more", new)
        if len(objs) == 1:
            records = pipelines.clean(objs[0], profiles, generic_only=generic_only)
        else:
            records = pipelines.clean_pages(objs, profiles)
        return ("records", records)
    except Rejected as exc:
        return ("rejected", exc.reason, exc.message)
    except RecursionError:
        return ("rejected", "too_deep", "document nesting too deep")
    except Exception as exc:  # a cleaner bug on one page must not end the crawl
        logger.exception("cleaning failed for %s", pages[0][0])
        return ("error", f"{type(exc).__name__}: {exc}")


def _may_continue(page: Any, profiles: Any) -> bool:
    """Skip the continuation pass when no profile has page rules."""
    from kirinuki.pipelines.profiles import ProfileError

    try:
        profile = profiles.get(page.profile) if page.profile else profiles.for_url(page.url)
    except ProfileError:
        return False  # an unknown forced profile: clean() reports it
    return profile is not None and bool(profile.next_pages)


# -- crawler side -----------------------------------------------------------------------------

@dataclass(eq=False)
class _Job:
    started: float | None = None
    timer: Any = None
    timed_out: bool = False
    pool: Any = None
    future: Future | None = field(default=None, repr=False)


_SHARED: WeakKeyDictionary[Any, Cleaner] = WeakKeyDictionary()


def default_workers() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class Cleaner:
    """Clean pages in worker processes; await results from the reactor thread."""

    def __init__(self, workers: int | None = None, profile_dirs: tuple[str, ...] | list[str] = (),
                 *, generic_only: bool = False, timeout: float = DEFAULT_TIMEOUT,
                 depth: int = 2) -> None:
        self.workers = default_workers() if workers is None else max(0, int(workers))
        self.profile_dirs = tuple(str(d) for d in profile_dirs)
        self.generic_only = generic_only
        self.timeout = timeout
        self.depth = max(1, depth)
        self.restarts = 0
        self.jobs = 0
        self._peak_rss = 0
        self._executor: Any = None
        self._pids: Any = None
        self._inflight: list[_Job] = []
        self._slots: Any = None
        self._loop: Any = None
        self._ready: list[Future] = []
        self._closed = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> Cleaner:
        """The crawler's one Cleaner (created from its settings on first use)."""
        cleaner = _SHARED.get(crawler)
        if cleaner is None:
            from scrapy import signals

            s = crawler.settings
            workers = s.get("KIRINUKI_WORKERS")
            cleaner = cls(
                None if workers in (None, "") else int(workers),
                s.getlist("KIRINUKI_PROFILES_DIRS"),
                generic_only=s.getbool("KIRINUKI_GENERIC_ONLY"),
                timeout=s.getfloat("KIRINUKI_CLEAN_TIMEOUT", DEFAULT_TIMEOUT),
            )
            _SHARED[crawler] = cleaner
            crawler.signals.connect(cleaner.shutdown, signal=signals.engine_stopped)
        return cleaner

    # -- pool ---------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Start the workers (and their profile loading) before the crawl needs them."""
        self._ensure_executor()

    def _ensure_executor(self) -> Any:
        if self._closed:
            raise CleanError("closed", "the cleaner was shut down")
        if self._executor is not None:
            return self._executor
        if self.workers == 0:
            init_worker(self.profile_dirs, self.generic_only)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="kirinuki-cleaner")
            return self._executor
        # forkserver: never fork the running reactor (threads, sockets); faster than spawn.
        # Windows and macOS without it use spawn.
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["kirinuki.pipelines", "kirinuki.scraper.cleaning"])
        self._pids = ctx.SimpleQueue()
        self._executor = ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=init_worker,
            initargs=(self.profile_dirs, self.generic_only, self._pids, os.getpid()))
        # Jobs wait for these: a fresh pool's start-up (profile loading) is nobody's cleaning time.
        self._ready = [self._executor.submit(ping) for _ in range(self.workers)]
        return self._executor

    def _drop_executor(self, executor: Any) -> None:
        """A broken pool (killed or crashed worker): the next job starts a fresh one."""
        if executor is not self._executor:
            return
        self.restarts += 1
        self._executor = None
        self._kill_workers()
        executor.shutdown(wait=False, cancel_futures=True)

    def _kill_workers(self) -> None:
        pids = self._pids
        self._pids = None
        if pids is None:
            return
        while not pids.empty():
            pid = pids.get()
            try:
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            except OSError:
                pass  # already gone

    # -- jobs ---------------------------------------------------------------------------------

    async def process(self, pages: list[PageArgs], policy: LinkPolicy | None = None,
                      known: list[str] | tuple[str, ...] = ()) -> tuple:
        """One job: the `process_pages` result tuple; timeouts and crashes come back as errors."""
        if self._slots is None:
            self._slots = _Loop.detect().semaphore(max(1, self.workers) * self.depth)
        await self._slots.acquire()
        try:
            return await self._run(pages, policy, tuple(known))
        finally:
            self._slots.release()

    async def clean(self, pages: list[PageArgs]) -> list[dict[str, Any]]:
        """Records of one page (several for a clipping page) or one merged multi-page article.

        Raises `kirinuki.Rejected` for a page without an article, `CleanError` otherwise."""
        from kirinuki.pipelines import Rejected

        result = await self.process(pages)
        if result[0] == "records":
            return list(result[1])
        if result[0] == "rejected":
            raise Rejected(result[1], result[2])
        if result[1] in ("clean_timeout", "worker_died", "cleaner_closed"):
            raise CleanError(result[1])
        raise CleanError("clean_error", result[1])

    async def _run(self, pages: list[PageArgs], policy: LinkPolicy | None,
                   known: tuple[str, ...]) -> tuple:
        loop = _Loop.detect()
        breaks = attempts = 0
        while True:
            attempts += 1
            if breaks >= 2 or attempts > 5:
                logger.warning("cleaning %s broke the worker pool: skipped", pages[0][0])
                return ("error", "worker_died")
            try:
                executor = self._ensure_executor()
            except CleanError:
                return ("error", "cleaner_closed")
            ready = self._ready
            job = _Job(pool=executor)
            try:
                for f in ready:
                    await loop.wait(f)
                if executor is not self._executor:
                    continue  # replaced while we waited: go to the new pool
                job.future = executor.submit(process_pages, pages, policy, known)
            except (BrokenProcessPool, RuntimeError):
                self._drop_executor(executor)  # broke while starting: not this page's doing
                continue
            self.jobs += 1
            self._track(job, loop)
            try:
                result, rss = await loop.wait(job.future)
            except BrokenProcessPool:
                if job.timed_out:
                    return ("error", "clean_timeout")
                if executor is self._executor:  # we are the first to see it: maybe our page
                    breaks += 1
                    self._drop_executor(executor)
                continue  # else another page's timeout restarted the pool: just resend
            except Exception as exc:  # noqa: BLE001 - e.g. a body that does not pickle
                return ("error", f"{type(exc).__name__}: {exc}")
            finally:
                self._untrack(job)
            self._peak_rss = max(self._peak_rss, rss)
            if job.timed_out:
                return ("error", "clean_timeout")
            return result

    def _track(self, job: _Job, loop: _Loop) -> None:
        self._loop = loop
        self._inflight.append(job)
        self._start_clocks()

    def _untrack(self, job: _Job) -> None:
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        if job in self._inflight:
            self._inflight.remove(job)
        self._start_clocks()

    def _start_clocks(self) -> None:
        """Jobs start in submission order: the oldest `workers` unfinished ones are running."""
        now = time.monotonic()
        live = [j for j in self._inflight if j.pool is self._executor]
        for job in live[:max(1, self.workers)]:
            if job.started is None:
                job.started = now
                job.timer = self._loop.call_later(self.timeout, self._expire, job)

    def _expire(self, job: _Job) -> None:
        if job not in self._inflight or job.future is None or job.future.done():
            return
        job.timed_out = True
        logger.warning("cleaning took over %gs: restarting the cleaner workers", self.timeout)
        if self.workers == 0:
            return  # a thread cannot be killed: the result is discarded when it comes
        self._drop_executor(job.pool)

    def peak_rss_kb(self) -> int:
        """Largest peak RSS reported by a worker (for the run summary and the benchmark)."""
        return self._peak_rss

    def shutdown(self) -> None:
        """Stop the workers (engine_stopped); a job still running at this point is abandoned."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if self._inflight:
            self._kill_workers()
        executor.shutdown(wait=True, cancel_futures=True)
        self._pids = None


class _Loop:
    """Wait, time and queue on whatever drives the caller: asyncio (Scrapy's asyncio reactor,
    or plain asyncio in tests) or another Twisted reactor (Deferreds)."""

    def __init__(self, asyncio_loop: Any) -> None:
        self.aio = asyncio_loop

    @classmethod
    def detect(cls) -> _Loop:
        import asyncio

        try:
            return cls(asyncio.get_running_loop())
        except RuntimeError:
            return cls(None)

    def semaphore(self, n: int) -> Any:
        if self.aio is not None:
            import asyncio

            return asyncio.Semaphore(n)
        return _DeferredSemaphore(n)

    async def wait(self, fut: Future) -> Any:
        if self.aio is not None:
            import asyncio

            try:
                return await asyncio.wrap_future(fut)
            except asyncio.CancelledError:
                if fut.cancelled():  # dropped with its pool (shutdown): resend, as for a Deferred
                    raise BrokenProcessPool("cancelled") from None
                raise
        return await _as_deferred(fut)

    def call_later(self, delay: float, fn: Any, *args: Any) -> Any:
        if self.aio is not None:
            return self.aio.call_later(delay, fn, *args)
        from twisted.internet import reactor

        call = reactor.callLater(delay, fn, *args)  # type: ignore[attr-defined]
        return _TwistedTimer(call)


class _TwistedTimer:
    def __init__(self, call: Any) -> None:
        self.call = call

    def cancel(self) -> None:
        if self.call.active():
            self.call.cancel()


class _DeferredSemaphore:
    def __init__(self, n: int) -> None:
        from twisted.internet.defer import DeferredSemaphore

        self.sem = DeferredSemaphore(n)

    async def acquire(self) -> None:
        await self.sem.acquire()

    def release(self) -> None:
        self.sem.release()


def _as_deferred(fut: Future) -> Any:
    """A Deferred fired on the reactor thread with a concurrent.futures result."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    d: Deferred = Deferred()

    def fire(f: Future) -> None:
        if d.called:
            return
        exc = f.exception() if not f.cancelled() else BrokenProcessPool("cancelled")
        if exc is not None:
            d.errback(Failure(exc))
        else:
            d.callback(f.result())

    fut.add_done_callback(lambda f: reactor.callFromThread(fire, f))  # type: ignore[attr-defined]
    return d
