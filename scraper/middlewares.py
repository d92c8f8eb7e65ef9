"""Politeness and safety components wired into Scrapy by `scraper.settings`.

- `SourceOffsiteMiddleware`: a request may only go to its own source's hosts, redirects included,
  robots.txt and its redirects too (Scrapy's OffsiteMiddleware knows one domain list per spider
  and lets `dont_filter` through).
- `BackoffRetryMiddleware` + `BackoffDelayMiddleware`: Scrapy retries at once; we wait
  `retry_backoff * 2**(n-1)` seconds (or the server's Retry-After) before retry n.
- robots.txt: `scraper.robotstxt.RobotsMiddleware`.
- `SlotDelayFloor`: AutoThrottle may raise a site's delay, never lower it below the
  source's `download_delay`.
- `ProgressExtension`: one status line on a terminal.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from twisted.internet.task import LoopingCall

MAX_BACKOFF = 120.0


class SourceOffsiteMiddleware:
    """Drop any request (including a redirect target) outside its source's hosts."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SourceOffsiteMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        books = self.crawler.spider.books
        name = request.meta.get("kirinuki_source")
        if name is not None:
            allowed = books[name].allows(request.url)
        else:
            # robots.txt (Scrapy's own request, no source) and each of its redirect hops: only
            # to the hosts of a source that the first URL of the chain belongs to.
            first = (request.meta.get("redirect_urls") or [request.url])[0]
            allowed = any(b.allows(first) and b.allows(request.url) for b in books.values())
        if not allowed:
            self.crawler.stats.inc_value("kirinuki/offsite_filtered")
            raise IgnoreRequest(f"offsite request to {request.url} (source {name or 'robots.txt'})")
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry policy plus an exponential wait before each retry."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("KIRINUKI_RETRY_BACKOFF", 1.0)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            self._backoff(result)
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                result.meta["kirinuki_backoff"] = max(
                    result.meta.get("kirinuki_backoff", 0.0), min(retry_after, MAX_BACKOFF)
                )
        return result

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> Any:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            self._backoff(result)
        return result

    def _backoff(self, retry: Request) -> None:
        """Wait before retry n: `retry_backoff * 2**(n-1)` (public hooks only, no `_retry`)."""
        n = retry.meta.get("retry_times", 1)
        retry.meta["kirinuki_backoff"] = min(self.backoff * 2 ** (n - 1), MAX_BACKOFF)


class BackoffDelayMiddleware:
    """Wait the backoff a retry asked for, without holding a download slot."""

    async def process_request(self, request: Request, spider: Any = None) -> None:
        delay = request.meta.pop("kirinuki_backoff", 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        return None


def _retry_after(value: bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None  # unreadable: exponential backoff decides
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class SlotDelayFloor:
    """AutoThrottle may raise a site's delay, never lower it below the source's configured
    `download_delay` (DOWNLOAD_SLOTS). Scrapy's own AutoThrottle runs unchanged; this extension
    comes after it (higher EXTENSIONS order, so its `response_downloaded` handler runs later)
    and puts the floor back: public signals and downloader slots only."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        slots = crawler.settings.getdict("DOWNLOAD_SLOTS")
        self.min_delays = {k: float(v.get("delay", 0.0)) for k, v in slots.items()}

    @classmethod
    def from_crawler(cls, crawler: Any) -> SlotDelayFloor:
        ext = cls(crawler)
        crawler.signals.connect(ext.floor, signal=signals.response_downloaded)
        return ext

    def floor(self, response: Response, request: Request, spider: Any = None) -> None:
        key = request.meta.get("download_slot")
        if key is None or key not in self.min_delays or self.crawler.engine is None:
            return
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, self.min_delays[key])


class ProgressExtension:
    """A single self-overwriting status line on stderr when it is a terminal."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.loop: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProgressExtension:
        if not crawler.settings.getbool("KIRINUKI_PROGRESS") or not sys.stderr.isatty():
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider: Any) -> None:
        self.loop = LoopingCall(self.show)
        self.loop.start(1.0, now=False)

    def closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()

    def show(self) -> None:
        stats = self.crawler.stats.get_stats()
        totals: dict[str, int] = {}
        for k, v in stats.items():
            parts = k.split("/")
            if len(parts) == 3 and parts[0] == "kirinuki":
                totals[parts[2]] = totals.get(parts[2], 0) + int(v)
        line = "  ".join(
            f"{name} {totals.get(name, 0)}"
            for name in ("discovered", "fetched", "new", "updated", "unchanged", "failed", "rejected")
        )
        queued = len(self.crawler.engine.downloader.active) if self.crawler.engine else 0
        sys.stderr.write(f"\r\033[Kkirinuki crawl: {line}  in-flight {queued}")
        sys.stderr.flush()
