"""The Scrapy add-on (Scrapy >= 2.10): `ADDONS = {"kirinuki.scraper.addon.Kirinuki": 0}`.

Enables `CleanSpiderMiddleware` (one item per article, clipping pages included) and
`CleanPipeline` (page items that reach the pipelines some other way), and polite defaults at
add-on priority, so a project's own settings still win: robots.txt obeyed, AutoThrottle on, a
10 MB response cap, robots.txt read by `kirinuki.scraper.robotstxt.RobotsMiddleware`
(Crawl-delay included) instead of Scrapy's middleware. Configure with the `KIRINUKI_*` settings
(see `kirinuki.scraper.pipelines`).
"""

from __future__ import annotations

from typing import Any

PIPELINE = "kirinuki.scraper.pipelines.CleanPipeline"
SPIDER_MIDDLEWARE = "kirinuki.scraper.spidermiddlewares.CleanSpiderMiddleware"
ROBOTS_MIDDLEWARE = "kirinuki.scraper.robotstxt.RobotsMiddleware"
SCRAPY_ROBOTS_MIDDLEWARE = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"

POLITE_DEFAULTS = {
    "ROBOTSTXT_OBEY": True,
    "AUTOTHROTTLE_ENABLED": True,
    "DOWNLOAD_MAXSIZE": 10 * 1024 * 1024,
}


class Kirinuki:
    def update_settings(self, settings: Any) -> None:
        for name, value in POLITE_DEFAULTS.items():
            settings.set(name, value, priority="addon")
        _add_component(settings, "ITEM_PIPELINES", PIPELINE, 300)
        _add_component(settings, "SPIDER_MIDDLEWARES", SPIDER_MIDDLEWARE, 800)
        # Ours in place of Scrapy's robots.txt middleware (no bypass while robots.txt downloads,
        # Crawl-delay obeyed), unless the project placed or disabled Scrapy's itself.
        if SCRAPY_ROBOTS_MIDDLEWARE not in settings["DOWNLOADER_MIDDLEWARES"]:
            _add_component(settings, "DOWNLOADER_MIDDLEWARES", SCRAPY_ROBOTS_MIDDLEWARE, None)
            _add_component(settings, "DOWNLOADER_MIDDLEWARES", ROBOTS_MIDDLEWARE, 100)


def _add_component(settings: Any, name: str, path: str, order: int) -> None:
    """Enable a component unless the project already placed (or disabled) it."""
    components = settings[name]
    if path not in components:
        components.set(path, order, priority="addon")
