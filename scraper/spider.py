"""One spider for all configured sources: discover, fetch, hand pages to the cleaner.

Site knowledge stays in the sources file and the cleaning profiles; the spider only knows the kinds
of discovery documents (feed, sitemap, listing) and the incremental rules:
- every discovered article URL goes to the state as pending before the document that listed it
  gets its validators stored (so a 304 later never hides unfetched links of a killed run);
- article requests are made from that frontier a batch at a time by `start()` (memory stays flat
  however large a sitemap is; a killed run's leftovers come first);
- an article already fetched is not fetched again unless discovery says it changed (lastmod),
  and then conditionally;
- multi-page articles are fetched page after page inside one callback and merged by the cleaner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import scrapy
from kirinuki.pipelines.hosts import on_domain
from kirinuki.scraper.cleaning import LinkPolicy, PageArgs
from kirinuki.scraper.config import CrawlSettings, Source
from kirinuki.scraper.context import CrawlContext, stat_key
from kirinuki.scraper.discovery import (
    DiscoveryError,
    Entry,
    extract_links,
    normalize_url,
    origin,
    parse_feed,
    parse_sitemap,
    rewrite_origin,
)
from kirinuki.scraper.items import ArticleItem
from kirinuki.scraper.state import utcnow
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 500
FEED_LOW_WATER = 32  # refill the scheduler from the frontier below this many requests
FEED_BATCH = 32
DISCOVERY_KINDS = ("feed", "sitemap", "listing")
_KEEP_HEADERS = ("content-type", "content-language", "last-modified", "etag", "date")


def allows(url: str, hosts: frozenset[str], domains: tuple[str, ...] = ()) -> bool:
    """Same-site check: the exact seed host:port, or a subdomain of an `allowed_domains` entry."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    if parts.netloc.lower() in hosts:
        return True
    return any(on_domain(parts.hostname, d) for d in domains)


class SourceBook:
    """Per-source bookkeeping for one run (seen URLs, budgets)."""

    def __init__(self, source: Source, crawl: CrawlSettings) -> None:
        self.source = source
        self.hosts = source.hosts()
        self.domains = tuple(d.lower() for d in source.allowed_domains)
        self.local_origin = origin(source.seed_urls()[0])
        self.seen_docs: set[str] = set()
        self.cursor = 0  # last frontier rowid handed out in this run
        self.listing_pages = 0
        self.scheduled = 0
        self.policy = LinkPolicy(self.hosts, source.mirror_of, self.local_origin,
                                 crawl.max_pages_per_article)

    def allows(self, url: str) -> bool:
        return allows(url, self.hosts, self.domains)

    def local(self, url: str) -> str:
        return rewrite_origin(url, self.source.mirror_of, self.local_origin)


class SourcesSpider(scrapy.Spider):
    name = "kirinuki"

    def __init__(self, context: CrawlContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context = context
        crawl = context.config.crawl
        self.books = {s.name: SourceBook(s, crawl) for s in context.config.sources}
        self.discovery_inflight = 0  # feeds/sitemaps/listings requested, not yet answered

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourcesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._on_dropped, signal=signals.request_dropped)
        return spider

    async def _on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        self.context.stats = dict(self.crawler.stats.get_stats())
        self.context.stats["finish_reason"] = reason
        await self.context.pool.aclose()

    # -- helpers ------------------------------------------------------------------------------

    @property
    def store(self):  # noqa: ANN201 - scraper.state.Store
        return self.context.store

    def _inc(self, source: str, counter: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(stat_key(source, counter), n)

    def _fail(self, source: str, kind: str, url: str, reason: str) -> None:
        self._inc(source, "failed")
        self._inc(source, f"failed/{kind}:{reason}")
        self.store.failed(url, source, kind, reason)
        logger.info("failed %s %s: %s", kind, url, reason)

    def _meta(self, book: SourceBook, kind: str, norm: str, **extra: Any) -> dict[str, Any]:
        src = book.source
        return {
            "kirinuki_source": src.name,
            "kirinuki_kind": kind,
            "kirinuki_url": norm,
            "download_slot": urlsplit(norm).netloc,
            "download_timeout": src.download_timeout,
            "handle_httpstatus_list": [304],
            "autothrottle_dont_adjust_delay": not src.autothrottle,
            **extra,
        }

    def _conditional(self, st: Any) -> dict[str, str]:
        headers = {}
        if st is not None and st.etag:
            headers["If-None-Match"] = st.etag
        if st is not None and st.last_modified:
            headers["If-Modified-Since"] = st.last_modified
        return headers

    def _book(self, response_or_request: Response | Request) -> tuple[SourceBook, str, str]:
        meta = response_or_request.meta
        return self.books[meta["kirinuki_source"]], meta["kirinuki_kind"], meta["kirinuki_url"]

    # -- requests -----------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        max_attempts = self.context.config.crawl.max_attempts
        for book in self.books.values():
            src = book.source
            # Listing pages a previous (maybe killed) run found but did not read.
            for url in self.store.pending_listings(src.name, max_attempts):
                if (req := self._listing_request(book, url)) is not None:
                    yield req
            for url in src.feeds:
                if (req := self._doc_request(book, url, "feed", self.parse_feed)) is not None:
                    yield req
            for url in src.sitemaps:
                if (req := self._doc_request(book, url, "sitemap", self.parse_sitemap)) is not None:
                    yield req
            for url in src.start_urls:
                if (req := self._listing_request(book, url, seed=True)) is not None:
                    yield req
        # Articles come from the frontier in the state file, a few at a time, so memory does
        # not grow with the size of a sitemap, and a killed run's leftovers come first.
        while True:
            if self._backlog() >= FEED_LOW_WATER:
                await asyncio.sleep(0.02)
                continue
            reqs = self._next_articles(FEED_BATCH)
            if reqs:
                for req in reqs:
                    yield req
                continue
            if self.discovery_inflight > 0:
                await asyncio.sleep(0.02)
                continue
            return

    def _backlog(self) -> int:
        try:
            return len(self.crawler.engine.scheduler)  # type: ignore[arg-type]
        except (RuntimeError, TypeError, AttributeError):
            return 0

    def _next_articles(self, limit: int) -> list[Request]:
        crawl = self.context.config.crawl
        open_books = [b for b in self.books.values()
                      if b.source.max_articles is None or b.scheduled < b.source.max_articles]
        reqs: list[Request] = []
        for book in open_books:
            n = max(4, limit // len(open_books))
            if book.source.max_articles is not None:
                n = min(n, book.source.max_articles - book.scheduled)
            rows = self.store.next_articles(book.source.name, book.cursor, n, crawl.max_attempts)
            for rowid, st in rows:
                book.cursor = rowid
                book.scheduled += 1
                reqs.append(self._article_request(book, st))
        return reqs

    def _doc_request(self, book: SourceBook, url: str, kind: str, callback: Any) -> Request | None:
        norm = normalize_url(url)
        if norm in book.seen_docs:
            return None
        book.seen_docs.add(norm)
        self.discovery_inflight += 1
        return Request(
            url, callback=callback, errback=self.on_error, dont_filter=True,
            headers=self._conditional(self.store.get(norm)), meta=self._meta(book, kind, norm),
        )

    def _listing_request(self, book: SourceBook, url: str, seed: bool = False) -> Request | None:
        if not seed and book.listing_pages >= book.source.max_listing_pages:
            return None
        req = self._doc_request(book, url, "listing", self.parse_listing)
        if req is not None:
            book.listing_pages += 1
        return req

    def _article_request(self, book: SourceBook, st: Any) -> Request:
        """A frontier row -> request (conditional when it was fetched before: a refetch)."""
        headers = self._conditional(st) if st.fetched_at and st.status == "pending" else {}
        return Request(
            st.url, callback=self.parse_article, errback=self.on_error, dont_filter=True,
            headers=headers, priority=10,
            meta=self._meta(book, "article", st.url, kirinuki_hints=(st.title, st.published)),
        )

    def _note_articles(self, book: SourceBook, entries: Iterable[Entry], parent: str) -> None:
        """Record discovered article links in the frontier (the feeder in `start` fetches them)."""
        src = book.source
        cands = []
        for e in entries:
            url = book.local(e.url)
            if not book.allows(url):
                continue  # off-site links are never followed
            if src.article_pattern is not None and not src.article_pattern.search(url):
                continue
            cands.append((normalize_url(url), e.title, e.published, e.updated))
        seen, known = self.store.discover_articles(
            src.name, parent, self.context.run_id, self.context.config.crawl.max_attempts, cands)
        self._inc(src.name, "discovered", seen)
        self._inc(src.name, "known", known)

    def _save_doc(self, response: Response, book: SourceBook, kind: str, norm: str) -> None:
        self.store.fetched(
            norm, book.source.name, kind,
            etag=_header(response, "ETag"), last_modified=_header(response, "Last-Modified"),
        )

    # -- discovery callbacks ------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        self.discovery_inflight -= 1
        if response.status == 304:
            self._inc(book.source.name, "not_modified")
            self.store.fetched(norm, book.source.name, kind)
            return []
        try:
            entries = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._fail(book.source.name, kind, norm, exc.reason)
            return []
        self._note_articles(book, entries, norm)
        self._save_doc(response, book, kind, norm)
        return []

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        self.discovery_inflight -= 1
        src = book.source
        if response.status == 304:
            self._inc(src.name, "not_modified")
            self.store.fetched(norm, src.name, kind)
            # An unchanged index still has children that may have changed: ask them.
            kids = self.store.children(src.name, norm)
            return [r for u in kids if (r := self._doc_request(book, u, "sitemap", self.parse_sitemap))]
        try:
            sm = parse_sitemap(response.body, response.url)
        except DiscoveryError as exc:
            self._fail(src.name, kind, norm, exc.reason)
            return []
        if sm.children:
            kids = []
            for child in sm.children:
                url = book.local(child.url)
                if not book.allows(url):
                    continue
                if src.sitemap_pattern is not None and not src.sitemap_pattern.search(url):
                    continue
                kids.append(url)
            if len(kids) > MAX_CHILD_SITEMAPS:
                logger.warning("%s: %d child sitemaps, reading the first %d (set sitemap_pattern)",
                               norm, len(kids), MAX_CHILD_SITEMAPS)
                kids = kids[:MAX_CHILD_SITEMAPS]
            self.store.discovered(src.name, "sitemap", norm,
                                  [(normalize_url(u), None, None, None) for u in kids])
            reqs = [r for u in kids if (r := self._doc_request(book, u, "sitemap", self.parse_sitemap))]
        else:
            self._note_articles(book, sm.entries, norm)
            reqs = []
        self._save_doc(response, book, kind, norm)
        return reqs

    def parse_listing(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        self.discovery_inflight -= 1
        src = book.source
        if response.status == 304:
            self._inc(src.name, "not_modified")
            self.store.fetched(norm, src.name, kind)
            return []
        if not isinstance(response, TextResponse):
            self._fail(src.name, kind, norm, "not_html")
            return []
        articles, listings = [], []
        for url in extract_links(response.text, response.url):
            url = book.local(url)
            if not book.allows(url):
                continue
            if src.article_pattern is not None and src.article_pattern.search(url):
                articles.append(Entry(url))
            elif src.follow_pattern is not None and src.follow_pattern.search(url):
                if normalize_url(url) not in book.seen_docs:
                    listings.append(url)
        self._note_articles(book, articles, norm)
        budget = max(0, src.max_listing_pages - book.listing_pages)
        listings = listings[:budget]
        self.store.discovered(src.name, "listing", norm,
                              [(normalize_url(u), None, None, None) for u in listings])
        reqs = [r for u in listings if (r := self._listing_request(book, u)) is not None]
        self._save_doc(response, book, kind, norm)
        return reqs

    # -- articles -----------------------------------------------------------------------------

    async def parse_article(self, response: Response) -> AsyncIterator[ArticleItem]:
        book, _kind, norm = self._book(response)
        src = book.source
        fetched_at = utcnow()
        if response.status == 304:
            self._inc(src.name, "unchanged")
            self.store.fetched(norm, src.name, "article", fetched_at=fetched_at)
            return
        self._inc(src.name, "fetched")
        pages = [self._page_args(response, src, fetched_at)]
        page_keys = [(norm, src.name, "article")]
        known = [norm, normalize_url(response.url)]
        todo: list[str] = []
        policy = book.policy
        while True:
            result = await self.context.pool.process(pages, policy, known + todo)
            if result[0] != "more":
                break
            todo.extend(result[1])
            next_url = todo.pop(0)
            known.append(normalize_url(next_url))
            resp = await self._fetch_page(book, next_url)
            if resp is None:
                # A missing later page: keep what we have rather than lose the article.
                self._inc(src.name, "partial")
                policy = replace(policy, max_pages=len(pages))
                continue
            pages.append(self._page_args(resp, src, fetched_at))
            page_keys.append((normalize_url(next_url), src.name, "page"))
            if len(pages) >= policy.max_pages:
                todo.clear()
        outcome = result[0]
        if outcome == "records":
            yield ArticleItem(
                source=src.name, url=norm, final_url=response.url, pages=page_keys,
                records=list(result[1]), hints=response.meta.get("kirinuki_hints") or (None, None),
                fetched_at=fetched_at, etag=_header(response, "ETag"),
                last_modified=_header(response, "Last-Modified"),
            )
        elif outcome == "rejected":
            reason = result[1]
            self._inc(src.name, "rejected")
            self._inc(src.name, f"rejected/{reason}")
            for key, source, kind in page_keys:
                self.store.fetched(key, source, kind, status="rejected", reason=reason,
                                   fetched_at=fetched_at)
            logger.info("rejected %s: %s %s", norm, reason, result[2])
        else:
            self._fail(src.name, "article", norm, "clean_error")

    async def _fetch_page(self, book: SourceBook, url: str) -> Response | None:
        """Fetch a later page of an article directly (downloader middlewares still apply)."""
        norm = normalize_url(url)
        req = Request(url, dont_filter=True, priority=20, meta=self._meta(book, "page", norm))
        try:
            resp = await self.crawler.engine.download_async(req)
        except Exception as exc:  # noqa: BLE001 - any download failure ends the page chain
            logger.info("page %s failed: %s", url, failure_reason(exc))
            return None
        if resp.status != 200:
            logger.info("page %s failed: http_%d", url, resp.status)
            return None
        return resp

    @staticmethod
    def _page_args(response: Response, src: Source, fetched_at: str) -> PageArgs:
        headers = {}
        for name in _KEEP_HEADERS:
            v = _header(response, name)
            if v is not None:
                headers[name] = v
        return (response.url, response.body, headers.get("content-type"), fetched_at,
                src.name, src.profile, headers)

    # -- failures -----------------------------------------------------------------------------

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        book, kind, norm = self._book(request)
        if kind in DISCOVERY_KINDS:
            self.discovery_inflight -= 1
        self._fail(book.source.name, kind, norm, failure_reason(failure.value, request))

    def _on_dropped(self, request: Request, spider: scrapy.Spider) -> None:
        if request.meta.get("kirinuki_kind") in DISCOVERY_KINDS:
            self.discovery_inflight -= 1


def _header(response: Response, name: str) -> str | None:
    v = response.headers.get(name)
    return v.decode("latin-1") if v is not None else None


def failure_reason(exc: BaseException, request: Request | None = None) -> str:
    """Short, countable reason for a download failure.

    `request` is the failed request (the last hop of a redirect chain): a chain that comes back
    to a URL it already visited is a `redirect_loop`, a long chain of distinct URLs is
    `too_many_redirects`. A compressed body that inflates past the size cap is a
    `decompression_bomb` (Scrapy words it "... during decompression")."""
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        msg = str(exc).lower()
        if "robots.txt" in msg:
            return "robots_txt"
        if "offsite" in msg:
            return "offsite"
        if "decompression" in msg:
            return "decompression_bomb"
        if "max redirections" in msg or "redirect" in msg:
            hops = request.meta.get("redirect_urls", []) if request is not None else []
            if request is not None and request.url in hops:
                return "redirect_loop"
            return "too_many_redirects"
        if "download_maxsize" in msg or "max size" in msg:
            return "too_large"
        return "ignored"
    name = type(exc).__name__
    table = {
        "DownloadTimeoutError": "timeout", "TimeoutError": "timeout", "TCPTimedOutError": "timeout",
        "DownloadCancelledError": "too_large", "ResponseDataLossError": "truncated",
        "DownloadConnectionRefusedError": "connection_refused",
        "ConnectionRefusedError": "connection_refused", "ConnectionLost": "connection_lost",
        "ConnectionDone": "connection_lost", "DownloadFailedError": "connection_lost",
        "ResponseFailed": "connection_lost", "ConnectionResetError": "connection_lost",
        "CannotResolveHostError": "dns", "DNSLookupError": "dns",
    }
    return table.get(name, name)
