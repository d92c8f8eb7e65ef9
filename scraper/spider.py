"""One spider for all configured sources: discover, fetch, hand pages to the cleaner.

Site knowledge stays in the sources file and the cleaning profiles; the spider only knows the kinds
of discovery documents (feed, sitemap, listing) and the incremental rules:
- every discovered article URL goes to the state as pending before the document that listed it
  gets its validators stored (so a 304 later never hides unfetched links of a killed run);
- article requests are made from that frontier a batch at a time (memory stays flat however
  large a sitemap is; a killed run's leftovers come first): `start()` yields the first batch,
  callbacks top the batch up as answers come in, and `spider_idle` hands out what is left;
- an article already fetched is not fetched again unless discovery says it changed (lastmod),
  and then conditionally;
- cleaning runs off the reactor (`cleaning.Cleaner`); a multi-page article's next page is a
  request whose callback carries the pages so far, and the last one yields the merged records,
  one item per record (`items.RecordItem`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from kirinuki.pipelines.hosts import on_domain
from kirinuki.scraper.cleaning import Cleaner, LinkPolicy, PageArgs
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
from kirinuki.scraper.items import KEEP_HEADERS, PageGroup, RecordItem
from kirinuki.scraper.state import utcnow
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 500
FEED_LOW_WATER = 32  # top up article requests from the frontier below this many in flight
FEED_BATCH = 32
DISCOVERY_KINDS = ("feed", "sitemap", "listing")


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
        self.articles_inflight = 0  # article requests made, not yet answered
        self.own_run: tuple[Path, float, str] | None = None  # (state file, start) under `scrapy crawl`

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> SourcesSpider:
        """`kirinuki crawl` passes its run `context`; `scrapy crawl kirinuki -a sources=FILE
        [-a out=DIR] [-a state=FILE] [-a max_articles=N]` opens (and closes) the run here."""
        own_run = None
        if kwargs.get("context") is None:
            kwargs["context"], own_run = _open_run(crawler, kwargs)
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.own_run = own_run
        crawler.signals.connect(spider._on_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._on_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        spider.cleaner = Cleaner.from_crawler(crawler)
        spider.cleaner.warm_up()
        return spider

    def _on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        stats = self.crawler.stats
        stats.set_value("kirinuki/cleaner/peak_rss_kb", self.cleaner.peak_rss_kb())
        stats.set_value("kirinuki/cleaner/restarts", self.cleaner.restarts)
        self.context.stats = dict(stats.get_stats())
        self.context.stats["finish_reason"] = reason
        if self.own_run is not None:
            _close_run(self.context, *self.own_run)

    def _on_idle(self, spider: scrapy.Spider) -> None:
        """Nothing in flight: hand out what is left in the frontier, or let the spider close."""
        reqs = self._next_articles(FEED_BATCH)
        for req in reqs:
            self.crawler.engine.crawl(req)
        if reqs:
            raise DontCloseSpider

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
        # Articles come from the frontier in the state file, a batch at a time, so memory does
        # not grow with the size of a sitemap, and a killed run's leftovers come first.
        for req in self._top_up():
            yield req

    def _top_up(self) -> list[Request]:
        """Article requests from the frontier when fewer than FEED_LOW_WATER are in flight."""
        if self.articles_inflight >= FEED_LOW_WATER:
            return []
        return self._next_articles(FEED_BATCH)

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
        self.articles_inflight += len(reqs)
        return reqs

    def _doc_request(self, book: SourceBook, url: str, kind: str, callback: Any) -> Request | None:
        norm = normalize_url(url)
        if norm in book.seen_docs:
            return None
        book.seen_docs.add(norm)
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
        """Record discovered article links in the frontier (`_top_up` requests them from there)."""
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

    def _not_modified(self, response: Response, book: SourceBook, kind: str, norm: str) -> bool:
        """A 304 on a feed, sitemap or listing: counted, and its fetch time noted (validators
        kept), so the caller only decides what else an unchanged document still asks for."""
        if response.status != 304:
            return False
        self._inc(book.source.name, "not_modified")
        self.store.fetched(norm, book.source.name, kind)
        return True

    # -- discovery callbacks ------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        if self._not_modified(response, book, kind, norm):
            return []
        try:
            entries = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._fail(book.source.name, kind, norm, exc.reason)
            return []
        self._note_articles(book, entries, norm)
        self._save_doc(response, book, kind, norm)
        return self._top_up()

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        src = book.source
        if self._not_modified(response, book, kind, norm):
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
            reqs = self._top_up()
        self._save_doc(response, book, kind, norm)
        return reqs

    def parse_listing(self, response: Response) -> Iterable[Request]:
        book, kind, norm = self._book(response)
        src = book.source
        if self._not_modified(response, book, kind, norm):
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
        reqs += self._top_up()
        self._save_doc(response, book, kind, norm)
        return reqs

    # -- articles -----------------------------------------------------------------------------

    async def parse_article(self, response: Response, chain: Chain | None = None
                            ) -> AsyncIterator[Request | RecordItem]:
        """An article's first page, or (with `chain`) a later page of a multi-page article."""
        book, _kind, norm = self._book(response)
        src = book.source
        if chain is None:
            self.articles_inflight -= 1
            fetched_at = utcnow()
            if response.status == 304:
                self._inc(src.name, "unchanged")
                self.store.fetched(norm, src.name, "article", fetched_at=fetched_at)
                for req in self._top_up():
                    yield req
                return
            self._inc(src.name, "fetched")
            chain = Chain(
                group=PageGroup(
                    source=src.name, url=norm, final_url=response.url,
                    pages=[(norm, src.name, "article")],
                    hints=response.meta.get("kirinuki_hints") or (None, None),
                    fetched_at=fetched_at, etag=_header(response, "ETag"),
                    last_modified=_header(response, "Last-Modified")),
                pages=[self._page_args(response, src, fetched_at)],
                known=[norm, normalize_url(response.url)], policy=book.policy)
        elif response.status != 200:
            self._page_failed(chain, response.url, f"http_{response.status}")
        else:
            chain.pages.append(self._page_args(response, src, chain.group.fetched_at))
            chain.group.pages.append((norm, src.name, "page"))
            if len(chain.pages) >= chain.policy.max_pages:
                chain.todo.clear()
        async for out in self._advance(book, chain):
            yield out

    async def on_page_error(self, failure: Failure) -> AsyncIterator[Request | RecordItem]:
        """A later page failed: keep what we have rather than lose the article."""
        request = failure.request  # type: ignore[attr-defined]
        book, _kind, _norm = self._book(request)
        chain = request.cb_kwargs["chain"]
        self._page_failed(chain, request.url, failure_reason(failure.value))
        async for out in self._advance(book, chain):
            yield out

    def _page_failed(self, chain: Chain, url: str, reason: str) -> None:
        logger.info("page %s failed: %s", url, reason)
        self._inc(chain.group.source, "partial")
        chain.policy = replace(chain.policy, max_pages=len(chain.pages))

    async def _advance(self, book: SourceBook, chain: Chain) -> AsyncIterator[Request | RecordItem]:
        """Ask the cleaner for the next page (then request it) or for the records."""
        result = await self.cleaner.process(chain.pages, chain.policy, chain.known + chain.todo)
        if result[0] == "more":
            chain.todo.extend(result[1])
            next_url = chain.todo.pop(0)
            next_norm = normalize_url(next_url)
            chain.known.append(next_norm)
            yield Request(next_url, callback=self.parse_article, errback=self.on_page_error,
                          cb_kwargs={"chain": chain}, dont_filter=True, priority=20,
                          meta=self._meta(book, "page", next_norm))
            return
        for out in self._finish(chain, result):
            yield out
        for req in self._top_up():
            yield req

    def _finish(self, chain: Chain, result: tuple) -> list[RecordItem]:
        g = chain.group
        outcome = result[0]
        if outcome == "records":
            records = list(result[1])
            g.pending = len(records)
            g.first_hash = records[0].get("content_hash") if records else None
            return [RecordItem(rec, g, i) for i, rec in enumerate(records)]
        if outcome == "rejected":
            reason = result[1]
            self._inc(g.source, "rejected")
            self._inc(g.source, f"rejected/{reason}")
            for key, source, kind in g.pages:
                self.store.fetched(key, source, kind, status="rejected", reason=reason,
                                   fetched_at=g.fetched_at)
            logger.info("rejected %s: %s %s", g.url, reason, result[2])
        else:
            reason = result[1] if result[1] in ("clean_timeout", "worker_died") else "clean_error"
            self._fail(g.source, "article", g.url, reason)
        return []

    @staticmethod
    def _page_args(response: Response, src: Source, fetched_at: str) -> PageArgs:
        headers = {}
        for name in KEEP_HEADERS:
            v = _header(response, name)
            if v is not None:
                headers[name] = v
        return (response.url, response.body, headers.get("content-type"), fetched_at,
                src.name, src.profile, headers)

    # -- failures -----------------------------------------------------------------------------

    def on_error(self, failure: Failure) -> list[Request]:
        request = failure.request  # type: ignore[attr-defined]
        book, kind, norm = self._book(request)
        self._fail(book.source.name, kind, norm, failure_reason(failure.value, request))
        if kind == "article":
            self.articles_inflight -= 1
            return self._top_up()
        return []

    def _on_dropped(self, request: Request, spider: scrapy.Spider) -> None:
        if request.meta.get("kirinuki_kind") == "article":
            self.articles_inflight -= 1


@dataclass(eq=False)
class Chain:
    """A multi-page article being fetched: the pages so far and where to go next."""

    group: PageGroup
    pages: list[PageArgs]
    known: list[str]
    policy: LinkPolicy
    todo: list[str] = field(default_factory=list)


def _open_run(crawler: Any, kwargs: dict[str, Any]) -> tuple[CrawlContext, tuple[Path, float, str]]:
    """Open a run for `scrapy crawl kirinuki`: sources, settings, state and JSONL, as
    `kirinuki crawl` does (`-a` arguments, else the KIRINUKI_SOURCES / KIRINUKI_OUT settings)."""
    from kirinuki.scraper.command import new_run_id
    from kirinuki.scraper.config import check_profiles, load_sources, with_max_articles
    from kirinuki.scraper.settings import build_settings
    from kirinuki.scraper.state import JsonlWriter, open_store

    from kirinuki import pipelines

    settings = crawler.settings
    config = load_sources(kwargs.pop("sources", None) or settings.get("KIRINUKI_SOURCES")
                          or "sources.toml")
    check_profiles(config, pipelines.load_profiles(extra_dirs=config.crawl.profiles_dirs).names())
    limit = kwargs.pop("max_articles", None)
    config = with_max_articles(config, int(limit) if limit else None)
    out = Path(kwargs.pop("out", None) or settings.get("KIRINUKI_OUT") or "out")
    state = Path(kwargs.pop("state", None) or out / "state.sqlite")
    for name, value in build_settings(config, log_level=None).items():
        settings.set(name, value, priority="spider")  # the command line (-s) still wins
    store = open_store(state)
    try:
        for path, n in store.recover():
            logger.warning("completed interrupted run %s (+%d records)", path, n)
        run_id = new_run_id(out)
        writer = JsonlWriter(out / f"{run_id}.jsonl")
        store.start_run(run_id, writer.path)
    except BaseException:
        store.close()
        raise
    return CrawlContext(config, store, writer, run_id), (state, time.monotonic(), utcnow())


def _close_run(ctx: CrawlContext, state: Path, started: float, started_at: str) -> None:
    from kirinuki.scraper.command import print_summary
    from kirinuki.scraper.history import History
    from kirinuki.scraper.run_health import finish_health

    from kirinuki.safe_output import write_json_atomic

    try:
        if ctx.fatal is not None:
            logger.error("%s; stopped run %s and left it unfinished (the next run completes its "
                         "file from the state)", ctx.fatal, ctx.run_id)
            return
        ctx.writer.close()
        ctx.store.mark_checked(ctx.run_id, ctx.writer.path, ctx.writer.count)
        summary = ctx.summary(state, time.monotonic() - started)
        alerts = finish_health(History(ctx.store.db), ctx.run_id, started_at, summary["sources"])
        summary["alerts"] = [a.as_dict() for a in alerts]
        ctx.store.finish_run(ctx.run_id, summary)
        write_json_atomic(ctx.output.with_name(f"{ctx.run_id}.summary.json"), summary)
        print_summary(summary)
    finally:
        ctx.store.close()


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
