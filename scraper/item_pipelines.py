"""Scrapy item pipelines: validate the cleaner's records, drop what we already have, write.

Order matters and is fixed in `scraper.settings`: Validate (100) -> Dedup (200) -> Write (300).
Every drop is counted per source with a reason, so the run summary adds up. One item per record
(`items.RecordItem`); the records of one page share a `PageGroup` that settles the page's state.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kirinuki.pipelines import Rejected
from kirinuki.pipelines.jadates import parse_date
from kirinuki.pipelines.normalize import normalize_field
from kirinuki.pipelines.record import dumps, validate_record
from kirinuki.scraper.context import CrawlContext, stat_key
from kirinuki.scraper.discovery import normalize_url
from kirinuki.scraper.items import RecordItem
from kirinuki.scraper.state import Emit
from kirinuki.scraper.statedb import state_errors
from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro


class StatePipeline:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> StatePipeline:
        return cls(crawler)

    @property
    def ctx(self) -> CrawlContext:
        return self.crawler.spider.context

    def inc(self, source: str, counter: str, n: int = 1) -> None:
        self.stats.inc_value(stat_key(source, counter), n)

    def drop(self, item: RecordItem, why: str) -> DropItem:
        """Settle a record that is not written; the last one of its page settles the pages."""
        g = item.group
        g.pending -= 1
        if g.pending == 0 and not g.pages_done and self.ctx.fatal is None:
            g.pages_done = True
            store = self.ctx.store
            if g.valid == 0:
                self.inc(g.source, "rejected")
                self.inc(g.source, "rejected/invalid_record")
                for key, source, kind in g.pages:
                    store.fetched(key, source, kind, status="rejected", reason="invalid_record",
                                  fetched_at=g.fetched_at)
            else:  # unchanged, duplicate or held (a held version's hash is not the page's)
                for n, (key, source, kind) in enumerate(g.pages):
                    store.fetched(key, source, kind, etag=g.etag if n == 0 else None,
                                  last_modified=g.last_modified if n == 0 else None,
                                  content_hash=None if g.held else g.first_hash,
                                  fetched_at=g.fetched_at)
            settled(self.ctx, g)
        return DropItem(f"{why}: {g.url}")


class ValidatePipeline(StatePipeline):
    """Keep records with text and a content hash; fill title/date from the feed when missing."""

    def process_item(self, item: RecordItem, spider: Any = None) -> RecordItem:
        rec, g = item.record, item.group
        title, published = g.hints
        text, chash = rec.get("text"), rec.get("content_hash")
        if not isinstance(text, str) or not text.strip() or not isinstance(chash, str):
            raise self.drop(item, "invalid_record")
        # Google News sitemaps and feeds carry a title and publication date; keep them
        # when the page itself gave none.
        if title and not rec.get("title"):
            rec["title"] = normalize_field(title)
        if published and not rec.get("published_at"):
            rec["published_at"] = parse_date(published)
        if not rec.get("url"):
            rec["url"] = g.final_url
        if not rec.get("fetched_at"):
            rec["fetched_at"] = g.fetched_at
        try:
            validate_record(rec)  # what the hints filled in must still fit the schema
        except Rejected:
            raise self.drop(item, "invalid_record") from None
        g.valid += 1
        return item


class DedupPipeline(StatePipeline):
    """Classify each record by its article key and content hash: new, updated or unchanged."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.this_run: dict[str, str] = {}  # key -> content hash emitted in this run

    def process_item(self, item: RecordItem, spider: Any = None) -> RecordItem:
        rec, g = item.record, item.group
        key = article_key(item)
        chash = rec["content_hash"]
        if self.this_run.get(key) == chash:
            self.inc(g.source, "duplicate")
            raise self.drop(item, "duplicate")
        store = self.ctx.store
        prev = store.article(key)
        if prev is not None and prev[0] == chash:
            self.inc(g.source, "unchanged")
            store.touch_articles([key], g.fetched_at)
            raise self.drop(item, "unchanged")
        version = 1 if prev is None else prev[1] + 1
        self.this_run[key] = chash
        rec["version"] = version  # the JSONL line and the exported item carry it alike
        item.emit = Emit(key, version, g.source, rec.get("url") or g.final_url, chash,
                         rec.get("fetched_at"), dumps(rec))
        return item


class WritePipeline(StatePipeline):
    """Commit to SQLite, then append the same line to the run's JSONL file (see state.py).

    The last record of a page marks its pages done in the same transaction. Returns the bare
    record, so `FEEDS` (e.g. `scrapy crawl kirinuki -O out.jsonl`) exports records.

    A failed write (disk full, I/O error) or commit stops the whole run: Scrapy would log the
    exception and go on, and the run would be marked finished with records missing from its
    file. Instead the error is kept on the context (`CrawlContext.fatal`), the spider is closed,
    nothing more is committed or written, and `kirinuki crawl` exits non-zero leaving the run
    unfinished, so the next run's recovery appends the committed records the file lacks.
    """

    def process_item(self, item: RecordItem, spider: Any = None) -> dict[str, Any]:
        ctx, g, e = self.ctx, item.group, item.emit
        if ctx.fatal is not None:  # not committed: its URLs stay pending for the next run
            raise DropItem(f"run stopped: {g.url}")
        last = g.pending == 1
        try:
            stored = ctx.store.emit(ctx.run_id, [e], g.pages if last else [], etag=g.etag,
                                    last_modified=g.last_modified, fetched_at=g.fetched_at)
            g.pending -= 1
            g.pages_done = g.pages_done or last
            if last:
                settled(ctx, g)
            for done in stored:
                ctx.writer.write(done.line)
        except (OSError, *state_errors()) as exc:
            ctx.fatal = f"cannot write {ctx.writer.path}: {exc}"
            if not isinstance(exc, OSError):
                ctx.fatal = f"cannot write the state {ctx.store.path}: {exc}"
            self._stop()
            raise DropItem(f"write failed: {g.url}") from exc
        if not stored:  # another worker stored this very version first (shared state)
            self.inc(g.source, "unchanged")
            raise DropItem(f"unchanged: {g.url}")
        e = stored[-1]
        item.record["version"] = e.version
        self.inc(g.source, "new" if e.version == 1 else "updated")
        return item.record

    def _stop(self) -> None:
        engine = self.crawler.engine
        if hasattr(engine, "close_spider_async"):  # Scrapy >= 2.14
            self._closing = deferred_from_coro(engine.close_spider_async(reason="write_error"))
        else:
            self._closing = engine.close_spider(self.crawler.spider, "write_error")


def settled(ctx: Any, group: Any) -> None:
    """Every record of the page is settled in the state: tell the run (cluster mode releases
    the article's queue lease there; `CrawlContext.settled`)."""
    hook = getattr(ctx, "settled", None)
    if hook is not None:
        hook(group)


def article_key(item: RecordItem) -> str:
    """The record's article key, decided once (the health and dedup pipelines both need it)."""
    if item.key is None:
        g = item.group
        key = record_key(item.record, g.final_url)
        if key in g.keys:  # a clipping page with several records of one URL
            key = f"{key}#{item.index}"
        g.keys.add(key)
        item.key = key
    return item.key


def record_key(rec: dict[str, Any], fallback: str) -> str:
    """Article identity across URLs: the canonical URL when the page names one."""
    url = rec.get("url") or fallback
    canonical = rec.get("canonical_url")
    # A canonical pointing at a site root (a common template bug) would merge every article.
    if canonical and (urlsplit(canonical).path not in ("", "/") or urlsplit(url).path in ("", "/")):
        url = canonical
    return normalize_url(url)
