"""`CleanSpiderMiddleware`: clean page items where the spider yields them, one item per article.

    SPIDER_MIDDLEWARES = {"kirinuki.scraper.spidermiddlewares.CleanSpiderMiddleware": 800}

The fan-out half of the Scrapy integration: an item pipeline returns exactly one item, but a
clipping page holds several articles. This middleware replaces each page item in a callback's
output (see `kirinuki.scraper.items` for the accepted shapes) by its records, one `dict` each, so
item pipelines and `FEEDS` see one item per article. Requests and other items pass through.
Settings and stats are those of `kirinuki.scraper.pipelines.CleanPipeline` (same worker pool).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kirinuki.scraper.cleaning import Cleaner
from kirinuki.scraper.items import page_args
from kirinuki.scraper.pipelines import clean_page


class CleanSpiderMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats
        self.cleaner = Cleaner.from_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CleanSpiderMiddleware:
        return cls(crawler)

    async def process_spider_output(self, response: Any, result: AsyncIterator[Any],
                                    spider: Any = None) -> AsyncIterator[Any]:
        async for obj in result:
            args = page_args(obj)
            if args is None:
                yield obj
                continue
            for record in await clean_page(self.cleaner, self.stats, args):
                yield record
