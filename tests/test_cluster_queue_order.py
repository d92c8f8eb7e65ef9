"""The shared queue takes every site's discovery documents before articles (issue 12).

scrapy-redis keeps one sorted set per run, taken by priority. If articles went before feeds and
sitemaps, the first sites discovered would fill the queue with their articles while the other
sites' feeds waited behind them; with per-site politeness (a delay, one request at a time) every
worker would then wait on those few sites: a cluster no faster than a handful of sites allow
(benchmarks/cluster_bench.py saw one worker at 10 pages/s of its 20, three hosts at a time).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import REPO, T0, crawl_env, news_article, write_sources

pytestmark = [pytest.mark.cluster, pytest.mark.e2e]


def _site(host: str, n: int, tag: str) -> SiteServer:
    server = SiteServer(host=host).start()
    items = []
    for i in range(1, n + 1):
        path = f"/news/{tag}{i}.html"
        server.resources[path] = Resource(news_article(i, extra=f"{tag}{i}"))
        items.append(sitegen.Item(server.url(path), f"記事{tag}{i}", T0 + timedelta(hours=i)))
    server.resources["/feed.rss"] = Resource(sitegen.rss2(tag, server.url("/"), items),
                                             "application/rss+xml")
    server.resources["/robots.txt"] = Resource(b"User-agent: *\nAllow: /\n", "text/plain")
    return server


def test_every_sites_feed_is_fetched_before_the_articles_pile_up(tmp_path, redis_url,
                                                                postgres_url):
    sites = [_site(f"127.0.0.{2 + k}", 4, tag) for k, tag in enumerate("abcdef")]
    try:
        sources = write_sources(tmp_path / "sources.toml", [
            {"name": f"s{k}", "feeds": [s.url("/feed.rss")], "download_delay": 0.4,
             "concurrent_requests": 1, "autothrottle": False} for k, s in enumerate(sites)],
            crawl={"concurrent_requests_total": 2, "workers": 0})
        sources.write_text(sources.read_text() + f'\n[cluster]\nredis = "{redis_url}"\n'
                           f'database = "{postgres_url}"\n')
        run = subprocess.run(
            [sys.executable, "-m", "kirinuki.cli", "crawl", "--sources", str(sources), "-o",
             str(tmp_path / "out"), "--no-progress", "--local-workers", "1"],
            cwd=REPO, env=crawl_env(), capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout + run.stderr
        hits = sorted((h.at, h.path) for s in sites for h in list(s.hits)
                      if h.path != "/robots.txt")
    finally:
        for s in sites:
            s.stop()
    paths = [p for _, p in hits]
    assert len(paths) == 6 + 24
    # All six feeds went out before the sixth article (a few articles may start while the
    # seeder is still pushing feeds): the first sites' articles never held the other sites'
    # feeds back until they were all fetched (24 articles would then come first).
    last_feed = max(i for i, p in enumerate(paths) if p == "/feed.rss")
    sixth_article = [i for i, p in enumerate(paths) if p.startswith("/news/")][5]
    assert last_feed < sixth_article, paths
