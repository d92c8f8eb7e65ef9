"""Scrapy item pipelines: validate the cleaner's records, drop what we already have, write.

Order matters and is fixed in `scraper.settings`: Validate (100) -> Dedup (200) -> Write (300).
Every drop is counted per source with a reason, so the run summary adds up.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any
from urllib.parse import urlsplit

from kirinuki.pipelines import Rejected
from kirinuki.pipelines.jadates import parse_date
from kirinuki.pipelines.normalize import normalize_field
from kirinuki.pipelines.record import dumps, validate_record
from kirinuki.scraper.context import CrawlContext, stat_key
from kirinuki.scraper.discovery import normalize_url
from kirinuki.scraper.items import ArticleItem
from kirinuki.scraper.state import Emit
from scrapy.exceptions import DropItem


class _Base:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> _Base:
        return cls(crawler)

    @property
    def ctx(self) -> CrawlContext:
        return self.crawler.spider.context

    def inc(self, source: str, counter: str, n: int = 1) -> None:
        self.stats.inc_value(stat_key(source, counter), n)


class ValidatePipeline(_Base):
    """Keep records with text and a content hash; fill title/date from the feed when missing."""

    def process_item(self, item: ArticleItem) -> ArticleItem:
        title, published = item.hints
        good = []
        for rec in item.records:
            if not isinstance(rec, dict):
                continue
            text, chash = rec.get("text"), rec.get("content_hash")
            if not isinstance(text, str) or not text.strip() or not isinstance(chash, str):
                continue
            # Google News sitemaps and feeds carry a title and publication date; keep them
            # when the page itself gave none.
            if title and not rec.get("title"):
                rec["title"] = normalize_field(title)
            if published and not rec.get("published_at"):
                rec["published_at"] = parse_date(published)
            if not rec.get("url"):
                rec["url"] = item.final_url
            if not rec.get("fetched_at"):
                rec["fetched_at"] = item.fetched_at
            try:
                validate_record(rec)  # what the hints filled in must still fit the schema
            except Rejected:
                continue
            good.append(rec)
        if not good:
            self.inc(item.source, "rejected")
            self.inc(item.source, "rejected/invalid_record")
            for key, source, kind in item.pages:
                self.ctx.store.fetched(key, source, kind, status="rejected",
                                       reason="invalid_record", fetched_at=item.fetched_at)
            raise DropItem(f"invalid_record: {item.url}")
        item.records = good
        return item


class DedupPipeline(_Base):
    """Classify each record by its article key and content hash: new, updated or unchanged."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.this_run: dict[str, str] = {}  # key -> content hash emitted in this run

    def process_item(self, item: ArticleItem) -> ArticleItem:
        store = self.ctx.store
        keys_used: set[str] = set()
        emits: list[Emit] = []
        unchanged: list[str] = []
        for i, rec in enumerate(item.records):
            key = record_key(rec, item.final_url)
            if key in keys_used:  # a clipping page with several records of one URL
                key = f"{key}#{i}"
            keys_used.add(key)
            chash = rec["content_hash"]
            if self.this_run.get(key) == chash:
                self.inc(item.source, "duplicate")
                continue
            prev = store.article(key)
            if prev is not None and prev[0] == chash:
                unchanged.append(key)
                continue
            version = 1 if prev is None else prev[1] + 1
            self.this_run[key] = chash
            emits.append(Emit(key, version, item.source, rec.get("url") or item.final_url, chash,
                              rec.get("fetched_at"), dumps({**rec, "version": version})))
        if unchanged:
            self.inc(item.source, "unchanged", len(unchanged))
            store.touch_articles(unchanged, item.fetched_at)
        if not emits:
            first_hash = item.records[0]["content_hash"] if item.records else None
            for n, (key, source, kind) in enumerate(item.pages):
                store.fetched(key, source, kind, etag=item.etag if n == 0 else None,
                              last_modified=item.last_modified if n == 0 else None,
                              content_hash=first_hash, fetched_at=item.fetched_at)
            raise DropItem(f"unchanged: {item.url}")
        item.emits = emits
        return item


class WritePipeline(_Base):
    """Commit to SQLite, then append the same lines to the run's JSONL file (see state.py).

    A failed write (disk full, I/O error) or commit stops the whole run: Scrapy would log the
    exception and go on, and the run would be marked finished with records missing from its
    file. Instead the error is kept on the context (`CrawlContext.fatal`), the spider is closed,
    nothing more is committed or written, and `kirinuki crawl` exits non-zero leaving the run
    unfinished, so the next run's recovery appends the committed records the file lacks.
    """

    def process_item(self, item: ArticleItem) -> ArticleItem:
        ctx = self.ctx
        if ctx.fatal is not None:  # not committed: its URLs stay pending for the next run
            raise DropItem(f"run stopped: {item.url}")
        try:
            ctx.store.emit(ctx.run_id, item.emits, item.pages, etag=item.etag,
                           last_modified=item.last_modified, fetched_at=item.fetched_at)
            for e in item.emits:
                ctx.writer.write(e.line)
                self.inc(item.source, "new" if e.version == 1 else "updated")
        except (OSError, sqlite3.Error) as exc:
            ctx.fatal = f"cannot write {ctx.writer.path}: {exc}"
            if isinstance(exc, sqlite3.Error):
                ctx.fatal = f"cannot write the state {ctx.store.path}: {exc}"
            self._stop()
            raise DropItem(f"write failed: {item.url}") from exc
        return item

    def _stop(self) -> None:
        engine = self.crawler.engine
        self._closing = asyncio.ensure_future(engine.close_spider_async(reason="write_error"))


def record_key(rec: dict[str, Any], fallback: str) -> str:
    """Article identity across URLs: the canonical URL when the page names one."""
    url = rec.get("url") or fallback
    canonical = rec.get("canonical_url")
    # A canonical pointing at a site root (a common template bug) would merge every article.
    if canonical and (urlsplit(canonical).path not in ("", "/") or urlsplit(url).path in ("", "/")):
        url = canonical
    return normalize_url(url)
