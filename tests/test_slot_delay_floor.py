"""AutoThrottle may lower a site's delay to its global minimum; SlotDelayFloor puts the source's
own `download_delay` (its DOWNLOAD_SLOTS entry) back after each response."""

from __future__ import annotations

from types import SimpleNamespace

from kirinuki.scraper.middlewares import SlotDelayFloor
from scrapy.http import Request, Response
from scrapy.settings import Settings


def test_floor_restores_the_sources_delay_after_autothrottle():
    slot = SimpleNamespace(delay=0.05)  # what AutoThrottle left after a fast response
    other = SimpleNamespace(delay=0.05)
    crawler = SimpleNamespace(
        settings=Settings({"DOWNLOAD_SLOTS": {"news.test:80": {"delay": 2.0}}}),
        engine=SimpleNamespace(downloader=SimpleNamespace(
            slots={"news.test:80": slot, "other.test": other})),
    )
    ext = SlotDelayFloor(crawler)
    req = Request("http://news.test/a.html", meta={"download_slot": "news.test:80"})
    ext.floor(Response(req.url, request=req), req)
    assert slot.delay == 2.0
    free = Request("http://other.test/", meta={"download_slot": "other.test"})
    ext.floor(Response(free.url, request=free), free)
    assert other.delay == 0.05  # no configured delay: AutoThrottle decides
    slot.delay = 5.0  # AutoThrottle may raise it
    ext.floor(Response(req.url, request=req), req)
    assert slot.delay == 5.0
