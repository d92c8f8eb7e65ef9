"""`CleanPipeline`: the item pipeline any Scrapy project enables to clean the pages it scrapes.

    ITEM_PIPELINES = {"kirinuki.scraper.pipelines.CleanPipeline": 300}

A page item in (see `kirinuki.scraper.items` for the accepted shapes), the article record out, as
a plain `dict` (the keys of `kirinuki.Record`), so `FEEDS` exports records. Other items pass
through. A page without an article is dropped (`DropItem`, counted in the stats as
`kirinuki/rejected/<reason>`). Cleaning runs in worker processes (`kirinuki.scraper.cleaning`).

A pipeline returns one item per item, so a page holding several articles (a clipping page) needs
`kirinuki.scraper.spidermiddlewares.CleanSpiderMiddleware`, which cleans in the spider's output
and yields one item per record (the add-on `kirinuki.scraper.addon.Kirinuki` enables both). Left
alone, the pipeline keeps such a page's first record and counts the others in
`kirinuki/records_not_fanned_out`.

Settings: `KIRINUKI_PROFILES_DIRS` (extra profile directories), `KIRINUKI_GENERIC_ONLY` (profiles
off), `KIRINUKI_WORKERS` (cleaning processes; default CPUs - 1; 0 = a thread),
`KIRINUKI_CLEAN_TIMEOUT` (seconds per page, default 120).
"""

from __future__ import annotations

import logging
from typing import Any

from kirinuki.scraper.cleaning import Cleaner, CleanError, PageArgs
from kirinuki.scraper.items import page_args
from scrapy.exceptions import DropItem

logger = logging.getLogger(__name__)


async def clean_page(cleaner: Cleaner, stats: Any, args: PageArgs) -> list[dict[str, Any]]:
    """Records of one page, counted in the crawl stats; [] when the page yields none."""
    from kirinuki.pipelines import Rejected

    stats.inc_value("kirinuki/pages")
    try:
        records = await cleaner.clean([args])
    except Rejected as exc:
        stats.inc_value(f"kirinuki/rejected/{exc.reason}")
        logger.debug("no article in %s: %s", args[0], exc)
        return []
    except CleanError as exc:
        stats.inc_value(f"kirinuki/failed/{exc.reason}")
        logger.warning("cleaning %s failed: %s", args[0], exc)
        return []
    stats.inc_value("kirinuki/records", len(records))
    return records


class CleanPipeline:
    """Page item -> its article record (a dict); other items untouched."""

    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats
        self.cleaner = Cleaner.from_crawler(crawler)
        self.warned = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> CleanPipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        self.cleaner.warm_up()

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        args = page_args(item)
        if args is None:
            return item
        records = await clean_page(self.cleaner, self.stats, args)
        if not records:
            raise DropItem(f"kirinuki: no article in {args[0]}")
        if len(records) > 1:
            self.stats.inc_value("kirinuki/records_not_fanned_out", len(records) - 1)
            if not self.warned:
                self.warned = True
                logger.warning(
                    "%s holds %d articles; an item pipeline returns one item, so only the first "
                    "is kept: enable kirinuki.scraper.spidermiddlewares.CleanSpiderMiddleware "
                    "(or the kirinuki.scraper.addon.Kirinuki add-on) to get one item per article",
                    args[0], len(records))
        return records[0]
