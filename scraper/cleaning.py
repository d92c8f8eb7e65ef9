"""Cleaning off the reactor: worker processes that load the site profiles once.

Cleaning is CPU-bound (lxml + trafilatura, ~5-50 ms a page). Run in the reactor thread it stalls
every download; in a thread it holds the GIL against the reactor. Worker processes avoid both.

Why not `ProcessPoolExecutor`: it moves jobs and results through two helper threads in the
crawler process, and each hop needs the GIL. With the reactor busy a third of the time, those
hand-offs left the worker idle half the time (benchmark: 86 vs 142 pages/s for one worker). Here
each worker has a Unix socket read and written by the reactor's own asyncio loop (non-blocking,
length-prefixed pickles): no helper threads, and a few jobs queued per worker keep it busy.

One round trip per page does both jobs: find the next page of a multi-page article, or, when
there is none, clean all pages collected so far into records.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import pickle
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kirinuki.scraper.peak_memory import peak_rss_kb

logger = logging.getLogger(__name__)

# (url, body, content_type, fetched_at, source, profile, headers): plain tuples pickle cheaply.
PageArgs = tuple[str, bytes, "str | None", "str | None", "str | None", "str | None", dict]

_PROFILES: Any = None
_HEADER = 8  # bytes of big-endian length before each pickled message
RETRY = ("retry",)  # a queued job whose worker died before starting it: send it elsewhere


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    """Which continuation URLs a worker may return: same site, not seen, within the page budget."""

    hosts: frozenset[str]
    mirror_of: str | None
    local_origin: str
    max_pages: int


# -- worker side ------------------------------------------------------------------------------

def init_worker(profile_dirs: tuple[str, ...]) -> None:
    """Import the cleaner and load profiles once per worker process."""
    global _PROFILES
    from kirinuki import pipelines

    _PROFILES = pipelines.load_profiles(extra_dirs=profile_dirs)


def process_pages(pages: list[PageArgs], policy: LinkPolicy, known: list[str]) -> tuple:
    """Return ("more", [urls]) | ("records", [dicts]) | ("rejected", reason, msg) | ("error", msg)."""
    from kirinuki.pipelines import Page, Rejected
    from kirinuki.scraper.discovery import normalize_url, rewrite_origin

    from kirinuki import pipelines

    objs: list[Any] = [Page(u, b, ct, fa, src, prof, dict(h)) for (u, b, ct, fa, src, prof, h) in pages]
    try:
        if len(objs) < policy.max_pages and _may_continue(objs[-1]):
            seen = {normalize_url(u) for u in known}
            new: list[str] = []
            try:  # parsed once: the Doc goes on to clean_pages() when there are no more pages
                objs[-1] = pipelines.prepare(objs[-1], _PROFILES)
            except Rejected:
                pass
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
    except RecursionError:
        return ("rejected", "too_deep", "document nesting too deep")
    except Exception as exc:  # a cleaner bug on one page must not end the crawl
        logger.exception("cleaning failed for %s", pages[0][0])
        return ("error", f"{type(exc).__name__}: {exc}")


def _may_continue(page: Any) -> bool:
    """Skip the continuation pass when no profile has page rules."""
    from kirinuki.pipelines.profiles import ProfileError

    try:
        profile = _PROFILES.get(page.profile) if page.profile else _PROFILES.for_url(page.url)
    except ProfileError:
        return False  # an unknown forced profile: clean() reports it
    return profile is not None and bool(profile.next_pages)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def worker_main(sock: socket.socket, profile_dirs: tuple[str, ...]) -> None:
    """Serve jobs until the crawler closes its end (or dies: the socket then reads EOF)."""
    init_worker(profile_dirs)
    sock.sendall(_frame((0, ("ready",), 0)))
    try:
        while True:
            head = _recv_exact(sock, _HEADER)
            if head is None:
                return
            data = _recv_exact(sock, int.from_bytes(head, "big"))
            if data is None:
                return
            job_id, args = pickle.loads(data)
            result = process_pages(*args)
            rss = peak_rss_kb() or 0
            sock.sendall(_frame((job_id, result, rss)))
    except (ConnectionError, KeyboardInterrupt):
        return  # the crawler went away


def _frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER, "big") + data


# -- crawler side -----------------------------------------------------------------------------

class _Worker:
    def __init__(self, ctx: Any, profile_dirs: tuple[str, ...], on_rss: Any) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.proc = ctx.Process(target=worker_main, args=(child, profile_dirs), daemon=True,
                                name="kirinuki-cleaner")
        self.proc.start()
        child.close()
        self.sock = parent
        self.on_rss = on_rss
        self.pending: dict[int, asyncio.Future[tuple]] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.dead = False
        self.head_started = time.monotonic()  # when the job at the head of `pending` started

    async def connect(self, on_dead: Any) -> None:
        reader, self.writer = await asyncio.open_unix_connection(sock=self.sock, limit=2**26)
        self.reader_task = asyncio.get_running_loop().create_task(self._read(reader, on_dead))

    async def _read(self, reader: asyncio.StreamReader, on_dead: Any) -> None:
        try:
            while True:
                head = await reader.readexactly(_HEADER)
                body = await reader.readexactly(int.from_bytes(head, "big"))
                job_id, result, rss = pickle.loads(body)
                self.on_rss(rss)
                fut = self.pending.pop(job_id, None)
                # The worker takes jobs in order: the next one starts now ("ready" included).
                self.head_started = time.monotonic()
                if fut is not None and not fut.done():
                    fut.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            self.dead = True
            raise
        self.dead = True
        # Only the job at the head was running: it failed. The ones queued behind it never
        # started and go to another worker.
        for i, fut in enumerate(self.pending.values()):
            if not fut.done():
                fut.set_result(("error", "cleaner worker died") if i == 0 else RETRY)
        self.pending.clear()
        on_dead(self)

    def running(self) -> int | None:
        """The job the worker is on (jobs run in the order they were sent)."""
        return next(iter(self.pending), None)

    def kill(self) -> None:
        self.dead = True
        if self.proc.is_alive():
            self.proc.kill()
        if self.writer is not None:
            self.writer.close()

    def close(self, timeout: float = 5.0) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
            self.sock.close()
        except OSError:
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1)


class CleanerPool:
    """Jobs go to the least busy worker (at most `depth` queued each); a dead worker is replaced."""

    def __init__(self, workers: int | None, profile_dirs: tuple[str, ...] = (),
                 timeout: float = 120.0, depth: int = 3) -> None:
        if workers is None:
            workers = max(1, (os.cpu_count() or 2) - 1)
        self.workers = workers
        self.profile_dirs = profile_dirs
        self.timeout = timeout
        self.depth = depth
        self.restarts = 0
        self._peak_rss = 0
        self._ids = itertools.count(1)
        self._ctx = None
        self._pool: list[_Worker] = []
        self._slots: asyncio.Semaphore | None = None
        self._closing = False
        self._ready: asyncio.Future[None] | None = None
        if workers == 0:
            init_worker(profile_dirs)

    def warm_up(self) -> None:
        """Start the worker processes (and their profile loading) before the crawl needs them."""
        if self.workers == 0 or self._pool:
            return
        # forkserver: never fork the running reactor (threads, sockets); faster than spawn.
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["kirinuki.pipelines", "kirinuki.scraper.cleaning"])
        self._pool = [_Worker(self._ctx, self.profile_dirs, self._on_rss)
                      for _ in range(self.workers)]

    async def process(self, pages: list[PageArgs], policy: LinkPolicy, known: list[str]) -> tuple:
        if self.workers == 0:
            return process_pages(pages, policy, known)
        if not self._pool:
            self.warm_up()
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._connect_all())
        await self._ready
        assert self._slots is not None
        # A semaphore wakes one waiter per finished job (a Condition woke all ~500 waiting
        # responses per job and cost the reactor more than the downloads).
        async with self._slots:
            while True:
                worker = await self._live_worker()
                if worker is None:
                    return ("error", "cleaner worker died")
                job_id = next(self._ids)
                fut: asyncio.Future[tuple] = asyncio.get_running_loop().create_future()
                if not worker.pending:
                    worker.head_started = time.monotonic()
                worker.pending[job_id] = fut
                worker.writer.write(_frame((job_id, (pages, policy, known))))
                result = await self._wait(worker, job_id, fut, pages[0][0])
                if result is not RETRY:
                    return result

    async def _wait(self, worker: _Worker, job_id: int, fut: asyncio.Future[tuple],
                    url: str) -> tuple:
        """The job's result; the timeout counts its own cleaning time, not its time queued
        behind other jobs (a hanging page must not fail the good pages waiting after it)."""
        while True:
            if worker.running() == job_id:
                budget = worker.head_started + self.timeout - time.monotonic()
                if budget <= 0:
                    logger.warning("cleaning %s took over %gs: restarting its worker",
                                   url, self.timeout)
                    worker.kill()
                    return ("error", "clean_timeout")
            else:
                budget = min(self.timeout, 0.5)  # queued: look again when it may have started
            try:
                return await asyncio.wait_for(asyncio.shield(fut), budget)
            except TimeoutError:
                continue

    async def _live_worker(self, wait: float = 60.0) -> _Worker | None:
        """The least busy live worker, waiting for a replacement when all have died."""
        deadline = time.monotonic() + wait
        while True:
            live = [w for w in self._pool if not w.dead and w.writer is not None]
            if live:
                return min(live, key=lambda w: len(w.pending))
            if self._closing or time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)

    async def _connect_all(self) -> None:
        for w in self._pool:
            await w.connect(self._on_dead)
        self._slots = asyncio.Semaphore(self.workers * self.depth)

    def _on_dead(self, worker: _Worker) -> None:
        if not self._closing:
            asyncio.get_running_loop().create_task(self._replace(worker))

    async def _replace(self, worker: _Worker) -> None:
        if worker not in self._pool:
            return
        logger.warning("restarting a cleaner worker (exit code %s)", worker.proc.exitcode)
        self.restarts += 1
        idx = self._pool.index(worker)
        worker.kill()
        new = _Worker(self._ctx, self.profile_dirs, self._on_rss)
        await new.connect(self._on_dead)
        self._pool[idx] = new

    def _on_rss(self, rss_kb: int) -> None:
        self._peak_rss = max(self._peak_rss, rss_kb)

    def peak_rss_kb(self) -> int:
        """Largest peak RSS reported by a worker (for the run summary and the benchmark)."""
        return self._peak_rss

    async def aclose(self) -> None:
        """Stop reading from the workers while the event loop still runs (spider closed)."""
        self._closing = True
        tasks = [w.reader_task for w in self._pool if w.reader_task is not None]
        for w in self._pool:
            if w.writer is not None:
                w.writer.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self) -> None:
        self._closing = True
        for w in self._pool:
            w.close()
        self._pool = []
