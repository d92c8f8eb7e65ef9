"""robots.txt `Crawl-delay` is obeyed even when the source itself asks for no delay."""

from __future__ import annotations

import pytest

from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import build_news_site, news_source, run_crawl, write_sources

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e


def test_robots_crawl_delay_spaces_article_requests(tmp_path):
    with SiteServer() as srv:
        site = build_news_site(srv, n_articles=4)
        srv.resources["/robots.txt"] = Resource(b"User-agent: *\nCrawl-delay: 1\n", "text/plain")
        sources = write_sources(tmp_path / "s.toml", [news_source(
            site, feeds=[site.origin + "/feed.rss"], sitemaps=[], start_urls=[],
            download_delay=0.0, concurrent_requests=1, autothrottle=False)])
        res = run_crawl(sources, tmp_path / "out")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(res.records) == 4
        times = sorted(h.at for n in range(1, 5) for h in srv.requests_for(f"/news/a{n:02d}.html"))
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # Scrapy randomizes a slot's delay to 0.5-1.5x: every gap is at least half a second.
        assert len(gaps) == 3 and min(gaps) >= 0.45, gaps
