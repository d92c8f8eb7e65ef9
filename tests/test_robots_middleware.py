"""`RobotsMiddleware` (issue 9): one robots.txt download per host, every waiting request judged
by it, Crawl-delay applied to the slot, a failed download allows all in one log line."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from kirinuki.scraper import robotstxt
from kirinuki.scraper.addon import Kirinuki
from kirinuki.scraper.robotstxt import RobotsMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, TextResponse
from scrapy.settings import Settings

ROBOTS = b"User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n"


class FakeEngine:
    def __init__(self, body: bytes | None = ROBOTS) -> None:
        self.body = body
        self.downloads: list[str] = []
        self.release = asyncio.Event()
        self.downloader = SimpleNamespace(slots={"h.test": SimpleNamespace(delay=0.5)},
                                          middleware=SimpleNamespace(middlewares=()))

    async def download_async(self, request: Request) -> TextResponse:
        self.downloads.append(request.url)
        await self.release.wait()
        if self.body is None:
            raise ConnectionRefusedError("Connection was refused\nby other side")
        return TextResponse(request.url, body=self.body)


def _middleware(engine: FakeEngine, **settings) -> tuple[RobotsMiddleware, dict]:
    stats: dict = {}
    crawler = SimpleNamespace(
        settings=Settings({"ROBOTSTXT_OBEY": True, "USER_AGENT": "kbot", **settings}),
        stats=SimpleNamespace(inc_value=lambda k: stats.__setitem__(k, stats.get(k, 0) + 1)),
        engine=engine)
    return RobotsMiddleware(crawler), stats


@pytest.fixture(autouse=True)
def _no_reactor(monkeypatch):
    # No Twisted reactor in a unit test: await the Deferreds as asyncio futures.
    monkeypatch.setattr(robotstxt, "maybe_deferred_to_future",
                        lambda d: d.asFuture(asyncio.get_running_loop()))


async def _judge(mw: RobotsMiddleware, engine: FakeEngine, paths: list[str]) -> list[str]:
    async def one(path: str) -> str:
        try:
            await mw.process_request(Request(f"http://h.test{path}"))
        except IgnoreRequest as exc:
            return str(exc)
        return "ok"
    tasks = [asyncio.ensure_future(one(p)) for p in paths]
    await asyncio.sleep(0.01)  # all of them arrive while robots.txt is downloading
    engine.release.set()
    return await asyncio.gather(*tasks)


def test_requests_waiting_for_robots_txt_are_all_judged_by_it():
    engine = FakeEngine()
    mw, stats = _middleware(engine)
    got = asyncio.run(_judge(mw, engine, ["/a", "/b", "/private/1", "/private/2"]))
    assert got == ["ok", "ok", "Forbidden by robots.txt", "Forbidden by robots.txt"]
    assert engine.downloads == ["http://h.test/robots.txt"]  # once per host
    assert stats["robotstxt/forbidden"] == 2 and stats["robotstxt/request_count"] == 1
    assert engine.downloader.slots["h.test"].delay == 3.0  # Crawl-delay raises the slot's delay


def test_failed_robots_txt_allows_all_in_one_line_without_traceback(caplog):
    engine = FakeEngine(body=None)
    mw, stats = _middleware(engine)
    with caplog.at_level(logging.INFO):
        got = asyncio.run(_judge(mw, engine, ["/a", "/private/1"]))
    assert got == ["ok", "ok"]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "ConnectionRefusedError: Connection was refused by other side" in errors[0].getMessage()


def test_robots_user_agent_setting_and_obey_off():
    engine = FakeEngine(b"User-agent: kbot-robots\nDisallow: /\n")
    mw, _ = _middleware(engine, ROBOTSTXT_USER_AGENT="kbot-robots")
    assert asyncio.run(_judge(mw, engine, ["/a"])) == ["Forbidden by robots.txt"]
    with pytest.raises(NotConfigured):
        _middleware(FakeEngine(), ROBOTSTXT_OBEY=False)


def test_addon_swaps_scrapys_robots_middleware_for_ours():
    settings = Settings()
    Kirinuki().update_settings(settings)
    mws = settings["DOWNLOADER_MIDDLEWARES"]
    assert mws["kirinuki.scraper.robotstxt.RobotsMiddleware"] == 100
    assert mws["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    # a project that placed Scrapy's middleware itself keeps it
    own = Settings({"DOWNLOADER_MIDDLEWARES": {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": 120}})
    Kirinuki().update_settings(own)
    assert "kirinuki.scraper.robotstxt.RobotsMiddleware" not in own["DOWNLOADER_MIDDLEWARES"]
