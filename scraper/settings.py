"""Scrapy settings for a kirinuki crawl, derived from the sources file.

Defaults are polite: robots.txt obeyed, AutoThrottle on, two requests at a time per site, an
identifying User-Agent, a response size cap, retries with backoff, a short redirect chain, and no
cookies. Per-source politeness becomes a DOWNLOAD_SLOTS entry keyed by the source's host:port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from kirinuki.scraper.config import SourcesConfig

# The Scrapy project settings module (scrapy.cfg at the repository root points here), so that
# `scrapy crawl kirinuki -a sources=sources.toml` runs our spider; the spider then applies
# `build_settings()` for its sources file. Only UPPER-CASE names are Scrapy settings.
BOT_NAME = "kirinuki"
SPIDER_MODULES = ["kirinuki.scraper.spider"]


def build_settings(config: SourcesConfig, *, log_level: str | None = "WARNING",
                   progress: bool = False, workers: int | None = None) -> dict[str, Any]:
    """Scrapy settings for a sources file (`log_level=None`: leave logging to the caller)."""
    crawl = config.crawl
    if workers is None:
        workers = crawl.workers
    slots: dict[str, dict[str, Any]] = {}
    for src in config.sources:
        for url in src.seed_urls():
            key = urlsplit(url).netloc.lower()
            # The first source naming a host sets its politeness; the stricter delay wins.
            prev = slots.get(key)
            delay = src.download_delay if prev is None else max(prev["delay"], src.download_delay)
            conc = src.concurrent_requests if prev is None else min(prev["concurrency"],
                                                                   src.concurrent_requests)
            slots[key] = {"concurrency": conc, "delay": delay, "jitter": 0.5 if delay else 0.0}
    # robots.txt requests carry no slot and fall back to the bare host name; give those slots the
    # same politeness (only differs from host:port for sites on a non-default port, e.g. loopback).
    for key, slot in list(slots.items()):
        host = key.rsplit(":", 1)[0] if not key.endswith("]") else key
        if host != key and (host not in slots or slots[host]["delay"] > slot["delay"]):
            slots[host] = dict(slot)
    settings = {
        "BOT_NAME": BOT_NAME,
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        # An HTTP endpoint that runs code in the crawler process: never in a crawler for others.
        "REMOTE_CONTROL_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": any(s.autothrottle for s in config.sources),
        "AUTOTHROTTLE_START_DELAY": max(1.0, crawl.download_delay),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "CONCURRENT_REQUESTS": crawl.concurrent_requests_total,
        # Also sizes the HTTP connection pool per host: as large as the largest slot.
        "CONCURRENT_REQUESTS_PER_DOMAIN": max([crawl.concurrent_requests]
                                              + [s.concurrent_requests for s in config.sources]),
        "DOWNLOAD_DELAY": 0.0,  # per slot, below; AutoThrottle's floor comes from the slot
        "DOWNLOAD_SLOTS": slots,
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_response_size,
        "DOWNLOAD_WARNSIZE": max(1, crawl.max_response_size // 2),
        "DOWNLOAD_FAIL_ON_DATALOSS": True,
        "DNS_TIMEOUT": 15,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retry_times,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "KIRINUKI_RETRY_BACKOFF": crawl.retry_backoff,
        "REDIRECT_MAX_TIMES": crawl.max_redirects,
        "METAREFRESH_MAXDELAY": 5,
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "ja,en;q=0.7",
        },
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "kirinuki.scraper.middlewares.SourceOffsiteMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "kirinuki.scraper.robotstxt.RobotsMiddleware": 100,
            "kirinuki.scraper.middlewares.BackoffDelayMiddleware": 540,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "kirinuki.scraper.middlewares.BackoffRetryMiddleware": 550,
        },
        "SPIDER_MIDDLEWARES": {
            # We bound listing pages and article pages ourselves; the spider never recurses.
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
        },
        "EXTENSIONS": {
            # after Scrapy's AutoThrottle (0): its handler runs first, then the floor
            "kirinuki.scraper.middlewares.SlotDelayFloor": 10,
            "kirinuki.scraper.middlewares.ProgressExtension": 500,
        },
        "ITEM_PIPELINES": {
            "kirinuki.scraper.item_pipelines.ValidatePipeline": 100,
            "kirinuki.scraper.hold.HealthPipeline": 150,
            "kirinuki.scraper.item_pipelines.DedupPipeline": 200,
            "kirinuki.scraper.item_pipelines.WritePipeline": 300,
        },
        # Articles are requested a batch at a time from the frontier: FIFO keeps its order (a
        # killed run's leftovers first, then discovery order) instead of Scrapy's default LIFO.
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "KIRINUKI_PROGRESS": progress,
        # The cleaner (`cleaning.Cleaner`, the same one `pipelines.CleanPipeline` uses).
        "KIRINUKI_WORKERS": workers,
        "KIRINUKI_PROFILES_DIRS": list(crawl.profiles_dirs),
        # Scrapy starts this many tasks for every callback output; our callbacks yield one item.
        "CONCURRENT_ITEMS": 8,
        "DEFAULT_DROPITEM_LOG_LEVEL": "DEBUG",
        "MEMUSAGE_ENABLED": True,
    }
    if log_level is not None:
        settings.update({
            "LOG_LEVEL": log_level,
            "LOGSTATS_INTERVAL": 0 if log_level not in ("DEBUG", "INFO") else 60.0,
            "STATS_DUMP": log_level == "DEBUG",
        })
    return settings
