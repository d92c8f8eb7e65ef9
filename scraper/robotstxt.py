"""robots.txt, obeyed by every request, Crawl-delay included (issue 9: public Scrapy APIs only).

Scrapy's own `RobotsTxtMiddleware` let requests through while robots.txt was still downloading
(waiters shared one Deferred; after the first consumed it, the rest saw "no robots.txt"), and
fixing that from a subclass meant overriding its internals. This middleware is small and ours:
one robots.txt download per netloc through `engine.download_async()`, parsed with Protego, and
every request that arrives meanwhile waits on a Deferred of its own.

It replaces Scrapy's middleware (disabled in `scraper.settings` and by the add-on) and, like it,
does nothing unless `ROBOTSTXT_OBEY` is set; `ROBOTSTXT_USER_AGENT` / `USER_AGENT` name the agent
and Scrapy's documented meta key (`SKIP_KEY`) skips a request. robots.txt requests carry no
`kirinuki_source`, so `SourceOffsiteMiddleware` keeps them and their redirects on the hosts of
the source they serve.

In cluster mode (`scraper.cluster_politeness`) the download happens once per site per run for
the whole cluster: the gate's `SharedRobots` lets the first worker download it and hands the
others what it got; and the Crawl-delay goes to the gate (request meta `kirinuki_crawl_delay`),
which holds it for all workers together, instead of to this process's download slot.
"""

from __future__ import annotations

import logging
from typing import Any

from protego import Protego
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

# A robots.txt asking for more than this between requests would stall a run; cap it.
MAX_CRAWL_DELAY = 60.0
SKIP_KEY = "dont_obey_robotstxt"  # Scrapy's public Request.meta key, honoured as Scrapy does
# Ahead of everything else in the queue: every request to the host waits for it.
ROBOTS_PRIORITY = 1000


class RobotsMiddleware:
    """Drop requests robots.txt disallows (IgnoreRequest "Forbidden by robots.txt", counted in
    `robotstxt/forbidden`) and hold the host's download slot to its Crawl-delay."""

    def __init__(self, crawler: Any) -> None:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.useragent: str = (crawler.settings.get("ROBOTSTXT_USER_AGENT")
                               or crawler.settings.get("USER_AGENT") or "*")
        # netloc -> parsed robots.txt (None: none usable, allow all); absent while downloading
        self.parsers: dict[str, Protego | None] = {}
        # netloc -> one Deferred per request waiting for that download
        self.waiting: dict[str, list[Deferred]] = {}
        self._shared: Any = False  # not looked up yet (the engine exists once requests flow)

    @classmethod
    def from_crawler(cls, crawler: Any) -> RobotsMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if request.meta.get(SKIP_KEY) or request.url.startswith(("data:", "file:")):
            return None
        parser = await self.parser_for(request)
        if parser is None:
            return None
        agent = self.agent_for(request)
        if not parser.can_fetch(request.url, agent):
            logger.debug("Forbidden by robots.txt: %s", request)
            self.crawler.stats.inc_value("robotstxt/forbidden")
            raise IgnoreRequest("Forbidden by robots.txt")
        delay = parser.crawl_delay(agent)
        if delay:
            request.meta["kirinuki_crawl_delay"] = min(float(delay), MAX_CRAWL_DELAY)
            if self.shared() is None:
                self.apply_crawl_delay(delay, request)
        return None

    def shared(self) -> Any:
        """The cluster's shared robots.txt (`cluster_politeness.SharedRobots`) when the
        politeness gate is among the downloader middlewares, else None."""
        if self._shared is False:
            self._shared = None
            engine = self.crawler.engine
            if engine is not None:
                for mw in engine.downloader.middleware.middlewares:
                    if getattr(mw, "shared_robots", None) is not None:
                        self._shared = mw.shared_robots
        return self._shared

    def agent_for(self, request: Request) -> str:
        if self.crawler.settings.get("ROBOTSTXT_USER_AGENT"):
            return self.useragent
        header = request.headers.get(b"User-Agent")
        return header.decode("latin-1") if header else self.useragent

    async def parser_for(self, request: Request) -> Protego | None:
        """The host's parsed robots.txt, downloading it on first use; later arrivals wait."""
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc in self.parsers:
            return self.parsers[netloc]
        if netloc in self.waiting:
            mine: Deferred = Deferred()
            self.waiting[netloc].append(mine)
            return await maybe_deferred_to_future(mine)
        self.waiting[netloc] = []
        robots_url = f"{url.scheme}://{netloc}/robots.txt"
        shared = self.shared()
        if shared is None:
            text = await self._download(robots_url)
        else:
            text, downloaded = await shared.once(netloc, lambda: self._download(robots_url))
            if not downloaded:
                self.crawler.stats.inc_value("robotstxt/shared_count")
        # Like Scrapy's: whatever came back is parsed (an HTML 404 page allows everything).
        parser = None if text is None else Protego.parse(text)
        self.parsers[netloc] = parser
        for d in self.waiting.pop(netloc):
            d.callback(parser)
        return parser

    async def _download(self, robots_url: str) -> str | None:
        """robots.txt's text, or None when there is none usable (allow all)."""
        stats = self.crawler.stats
        stats.inc_value("robotstxt/request_count")
        req = Request(robots_url, priority=ROBOTS_PRIORITY, callback=NO_CALLBACK,
                      meta={SKIP_KEY: True})
        try:
            response: Response = await self.crawler.engine.download_async(req)
        except IgnoreRequest:
            return None  # e.g. redirected off the source's hosts: counted there, allow all
        except Exception as exc:  # noqa: BLE001 - any failure means "no robots.txt"
            stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
            # One line at any level (a refused host is routine in unattended runs); the
            # traceback only for those who asked for DEBUG.
            logger.error("Error downloading %s: %s: %s", robots_url, type(exc).__name__,
                         " ".join(str(exc).split()))
            logger.debug("robots.txt download failure", exc_info=True)
            return None
        stats.inc_value("robotstxt/response_count")
        stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        return response.body.decode("utf-8", errors="ignore")

    def apply_crawl_delay(self, delay: float | None, request: Request) -> None:
        """The site's download slot never waits less than robots.txt's Crawl-delay.

        Re-applied on every request, because AutoThrottle moves the slot's delay as it goes."""
        if not delay or self.crawler.engine is None:
            return
        # Our requests name their slot (meta download_slot); Scrapy's fallback is the host name.
        key = request.meta.get("download_slot") or urlparse_cached(request).hostname or ""
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is not None:
            slot.delay = max(slot.delay, min(float(delay), MAX_CRAWL_DELAY))
