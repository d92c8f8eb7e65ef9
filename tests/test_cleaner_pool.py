"""The crawl's cleaner pool: a page that hangs its worker fails alone.

Kept for the crawl's cleaning rewrite: whatever runs the cleaner, the timeout must count only a
page's own cleaning time, and the pages queued behind a hanging one must come out as records.
"""

from __future__ import annotations

import asyncio
import time

from kirinuki.scraper.cleaning import Cleaner, LinkPolicy

from tests.crawl_server import news_article


class _Hang:
    """Unpickles (in the worker, as part of its job) by sleeping: a page that hangs the cleaner."""

    def __reduce__(self):
        return (time.sleep, (60,))


def _page(url: str, body: object) -> tuple:
    return (url, body, "text/html; charset=utf-8", "2025-03-01T00:00:00+00:00", "t", None, {})


def test_hanging_page_does_not_fail_the_pages_queued_behind_it():
    policy = LinkPolicy(frozenset({"example.jp"}), None, "http://example.jp", 1)
    pool = Cleaner(1, timeout=3.0, depth=3)
    pool.warm_up()

    async def go():
        jobs = [pool.process([_page("http://example.jp/hang", _Hang())], policy, [])]
        jobs += [pool.process([_page(f"http://example.jp/{n}", news_article(n))], policy, [])
                 for n in (1, 2)]
        t = time.monotonic()
        results = await asyncio.gather(*jobs)
        took = time.monotonic() - t
        return results, took

    try:
        (hang, *good), took = asyncio.run(go())
    finally:
        pool.shutdown()
    assert hang == ("error", "clean_timeout")
    assert [r[0] for r in good] == ["records", "records"], good
    assert took < 30
    assert pool.restarts == 1
