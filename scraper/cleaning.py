"""Cleaning off the reactor: a process pool whose workers load the site profiles once.

Cleaning is CPU-bound (lxml + trafilatura, tens of ms a page). Run in the reactor thread it stalls
every download; in a thread it holds the GIL against the reactor. Worker processes avoid both, and
one round trip per page does both jobs: find the next page of a multi-page article, or, when there
is none, clean all pages collected so far into records.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# (url, body, content_type, fetched_at, source, profile, headers): plain tuples pickle cheaply.
PageArgs = tuple[str, bytes, "str | None", "str | None", "str | None", "str | None", dict]

_PROFILES: Any = None


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Which continuation URLs a worker may return: same site, not seen, within the page budget."""

    hosts: frozenset[str]
    mirror_of: str | None
    local_origin: str
    max_pages: int


def init_worker(profile_dirs: tuple[str, ...], parent_pid: int | None = None) -> None:
    """Pool initializer: import the cleaner and load profiles once per worker process."""
    global _PROFILES
    import pipelines

    _PROFILES = pipelines.load_profiles(extra_dirs=profile_dirs)
    if parent_pid is not None:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(pid: int) -> None:
    """Exit when the crawler is gone (kill -9): a pool worker blocks forever on its queue
    otherwise, keeping the forkserver and the resource tracker alive with it."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def warm() -> int:
    return os.getpid()


def peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def process_pages(pages: list[PageArgs], policy: LinkPolicy, known: list[str]) -> tuple:
    """Return ("more", [urls]) | ("records", [dicts]) | ("rejected", reason, msg) | ("error", msg)."""
    import pipelines
    from pipelines import Page, Rejected
    from scraper.discovery import normalize_url, rewrite_origin

    objs = [Page(u, b, ct, fa, src, prof, dict(h)) for (u, b, ct, fa, src, prof, h) in pages]
    try:
        if len(objs) < policy.max_pages:
            seen = {normalize_url(u) for u in known}
            new: list[str] = []
            for url in pipelines.continuation_urls(objs[-1], _PROFILES):
                url = rewrite_origin(url, policy.mirror_of, policy.local_origin)
                norm = normalize_url(url)
                if norm in seen or urlsplit(norm).netloc not in policy.hosts:
                    continue
                seen.add(norm)
                new.append(url)
            if new:
                return ("more", new)
        if len(objs) == 1:
            records = pipelines.clean(objs[0], _PROFILES)
        else:
            records = pipelines.clean_pages(objs, _PROFILES)
        return ("records", records)
    except Rejected as exc:
        return ("rejected", exc.reason, exc.message)
    except Exception as exc:  # a cleaner bug on one page must not end the crawl
        logger.exception("cleaning failed for %s", pages[0][0])
        return ("error", f"{type(exc).__name__}: {exc}")


class InlineExecutor(Executor):
    """workers=0: clean in the calling thread (debugging, profiling); blocks the reactor."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        from concurrent.futures import Future

        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


class CleanerPool:
    """Bounded submission to the worker processes; a crashed pool is replaced, not fatal."""

    def __init__(self, workers: int | None, profile_dirs: tuple[str, ...] = (),
                 timeout: float = 120.0) -> None:
        if workers is None:
            workers = max(1, (os.cpu_count() or 2) - 1)
        self.workers = workers
        self.profile_dirs = profile_dirs
        self.timeout = timeout
        self._sem: asyncio.Semaphore | None = None
        self._executor = self._make()
        self.restarts = 0

    def _make(self) -> Executor:
        if self.workers == 0:
            init_worker(self.profile_dirs)
            return InlineExecutor()
        # forkserver: never fork the running reactor (threads, sockets); faster than spawn.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["pipelines", "scraper.cleaning"])
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx,
            initializer=init_worker, initargs=(self.profile_dirs, os.getpid()),
        )

    def warm_up(self) -> None:
        """Start the workers (and their profile loading) while discovery runs."""
        for _ in range(max(1, self.workers)):
            self._executor.submit(warm)

    async def process(self, pages: list[PageArgs], policy: LinkPolicy, known: list[str]) -> tuple:
        if self._sem is None:
            # A couple of jobs queued per worker keeps workers busy without piling bodies up.
            self._sem = asyncio.Semaphore(max(1, self.workers) * 2)
        async with self._sem:
            executor = self._executor
            try:
                fut = executor.submit(process_pages, pages, policy, known)
                return await asyncio.wait_for(asyncio.wrap_future(fut), self.timeout)
            except BrokenProcessPool:
                self._restart(executor, "a worker died")
                return ("error", "cleaner worker died")
            except TimeoutError:
                self._restart(executor, f"cleaning took over {self.timeout:g}s")
                return ("error", "clean_timeout")

    def _restart(self, broken: Executor, why: str) -> None:
        if broken is not self._executor:
            return  # already replaced by a concurrent failure
        logger.warning("restarting cleaner workers: %s", why)
        self.restarts += 1
        self._kill(broken)
        self._executor = self._make()

    @staticmethod
    def _kill(executor: Executor) -> None:
        procs = getattr(executor, "_processes", None) or {}
        for p in list(procs.values()):
            if p.is_alive():
                p.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    def peak_rss_kb(self) -> int:
        """Largest peak RSS among the workers (for the run summary / benchmark)."""
        if self.workers == 0:
            return 0
        peaks = []
        futs = [self._executor.submit(peak_rss_kb) for _ in range(self.workers * 2)]
        for f in futs:
            try:
                peaks.append(f.result(timeout=10))
            except Exception:  # noqa: BLE001 - best effort figure
                pass
        return max(peaks, default=0)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
