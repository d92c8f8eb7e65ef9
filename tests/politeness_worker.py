"""A minimal Scrapy worker for the cluster politeness tests: one process, our robots.txt and
politeness middlewares (through `cluster_politeness_settings`, as a cluster worker gets them),
a list of URLs to fetch. Run as `python -m tests.politeness_worker CONFIG.json`.

The test starts several of these at once against loopback sites and checks, on the server side,
that each site's delay, concurrency and robots.txt hold for all of them together. A worker
writes `ready` next to its result file, then waits for `go` before its first request, so that
all of them really crawl at the same time. CONFIG keys: redis_url, run_id, urls, sites
({netloc: {"delay", "concurrency"}}), result (path), name, lease_ttl, download_timeout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import scrapy
from kirinuki.scraper.cluster_politeness import cluster_politeness_settings
from scrapy.crawler import CrawlerProcess


class Probe(scrapy.Spider):
    name = "probe"

    def __init__(self, conf: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conf = conf
        self.result = Path(conf["result"])
        self.fetched: list[list[Any]] = []
        self.failed: list[list[str]] = []

    async def start(self):  # noqa: ANN201 - Scrapy's async generator
        self.result.with_suffix(".ready").touch()
        go = self.result.with_suffix(".go")
        while not go.exists():
            await asyncio.sleep(0.05)
        for url in self.conf["urls"]:
            yield scrapy.Request(url, callback=self.parse, errback=self.error, dont_filter=True,
                                 meta={"download_slot": urlsplit(url).netloc})

    def parse(self, response: scrapy.http.Response) -> None:
        self.fetched.append([response.url, response.status])

    def error(self, failure: Any) -> None:
        self.failed.append([failure.request.url, f"{failure.type.__name__}: {failure.value}"])

    def closed(self, reason: str) -> None:
        self.result.write_text(json.dumps({"fetched": self.fetched, "failed": self.failed,
                                           "reason": reason}))


def settings_for(conf: dict[str, Any]) -> dict[str, Any]:
    base = {
        "USER_AGENT": "kbot-test",
        "ROBOTSTXT_OBEY": True,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "LOGSTATS_INTERVAL": 0,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "DOWNLOAD_DELAY": 0.0,
        "DOWNLOAD_TIMEOUT": conf.get("download_timeout", 30.0),
        "DOWNLOAD_SLOTS": {k: {**v, "jitter": 0.5} for k, v in conf["sites"].items()},
        "RETRY_TIMES": 2,
        "KIRINUKI_RETRY_BACKOFF": 0.2,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "kirinuki.scraper.robotstxt.RobotsMiddleware": 100,
            "kirinuki.scraper.middlewares.BackoffDelayMiddleware": 540,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "kirinuki.scraper.middlewares.BackoffRetryMiddleware": 550,
        },
        "DEFAULT_REQUEST_HEADERS": {"X-Worker": conf.get("name", "w")},
    }
    settings = cluster_politeness_settings(base, redis_url=conf["redis_url"],
                                           run_id=conf["run_id"])
    if conf.get("lease_ttl"):
        settings["KIRINUKI_LEASE_TTL"] = conf["lease_ttl"]
    return settings


def main(argv: list[str]) -> int:
    conf = json.loads(Path(argv[0]).read_text())
    process = CrawlerProcess(settings_for(conf))
    process.crawl(Probe, conf=conf)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
