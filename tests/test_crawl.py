"""End-to-end crawls against loopback servers: discovery, robots.txt, multi-page, incremental."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import pytest

from kirinuki.demo import load_fixtures, plan_sites, site_resources, sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests import sites
from tests.crawl_server import (
    T0,
    build_news_site,
    news_article,
    news_source,
    run_crawl,
    write_sources,
)

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def news_server():
    with SiteServer() as srv:
        yield build_news_site(srv)


@pytest.fixture
def curation_server(profiles):
    """The curation fixture (two pages, trendmatome profile) served as a site on loopback."""
    sites = [s for s in plan_sites(load_fixtures(FIXTURES), profiles) if s.name == "curation"]
    if not sites or sites[0].profile is None:
        pytest.skip("curation fixture or profile not available")
    with SiteServer() as srv:
        srv.resources.update(site_resources(sites[0], srv.origin))
        yield srv, sites[0]


def _urls(records):
    return Counter(r["url"] for r in records)


def test_crawl_discovers_every_article_once_and_obeys_robots(tmp_path, news_server, curation_server):
    site = news_server
    cur_srv, cur_site = curation_server
    sources = write_sources(tmp_path / "sources.toml", [
        news_source(site),
        {"name": "curation", "profile": cur_site.profile,
         "start_urls": [cur_srv.url("/kirinuki-demo/list/")],
         "article_pattern": r"/politics/", "follow_pattern": r"/kirinuki-demo/list/",
         "download_delay": 0.0},
    ])
    out = tmp_path / "out"
    res = run_crawl(sources, out)
    assert res.returncode == 0, res.stderr[-3000:]
    counts = _urls(res.records)
    expected = {site.origin + site.path(n) for n in range(1, 13)}
    news = {u: c for u, c in counts.items() if u.startswith(site.origin)}
    assert set(news) == expected
    assert all(c == 1 for c in news.values())
    # robots.txt: the disallowed page was never requested, and is counted, not lost silently.
    assert site.hits("/private/p1.html") == []
    row = res.summary["sources"]["testnews"]
    assert row["failed_reasons"].get("article:robots_txt") == 1
    assert row["new"] == 12 and row["fetched"] == 12
    # every article page was fetched exactly once even though feeds, sitemaps and listings overlap
    for n in range(1, 13):
        assert len([h for h in site.hits(site.path(n)) if h.method == "GET"]) == 1
    # the User-Agent identifies the crawler
    assert "kirinuki" in site.hits("/feed.rss")[0].headers["User-Agent"]
    # the Google News sitemap's publication date fills a page that has none
    a08 = next(r for r in res.records if r["url"].endswith("/news/a08.html"))
    assert a08["published_at"] == (T0 + timedelta(hours=8)).isoformat()
    # multi-page curation article: one merged record with page 2's text; page 2 not a record
    cur = [r for r in res.records if r["url"].startswith(cur_srv.origin)]
    assert len(cur) == 1
    assert cur_srv.requests_for("/politics/us-russia-2025/2/"), "page 2 was not fetched"
    # the page-2 fixture's own opening line ends up in the merged text
    page2 = json.loads((FIXTURES / "curation/2025-03-01_us-russia-relations_2.json").read_text())
    assert page2["checks"]["records"][0]["starts_with"] in cur[0]["text"]
    assert cur[0]["title"] == page2["checks"]["records"][0]["fields"]["title"]
    assert res.summary["sources"]["curation"]["new"] == 1
    # the SQLite store holds the same records
    import sqlite3

    db = sqlite3.connect(res.summary["state"])
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == len(res.records)


def test_second_run_is_incremental_and_conditional(tmp_path, news_server):
    site = news_server
    sources = write_sources(tmp_path / "sources.toml", [news_source(site)])
    out = tmp_path / "out"
    first = run_crawl(sources, out)
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(first.records) == 12
    assert {r["version"] for r in first.records} == {1}
    assert {r["input_file"] for r in first.records} == {None}
    second = run_crawl(sources, out)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.records == []
    # feeds, sitemaps and listings were re-read with conditional requests and got 304s
    for path in ("/feed.rss", "/atom.xml", "/index.rdf", "/sitemap_index.xml", "/list/"):
        hits = [h for h in site.hits(path) if h.method == "GET"]
        assert len(hits) == 2, path
        assert "If-None-Match" in hits[1].headers, path
        assert hits[1].status == 304, path
    # the robots-disallowed URL left in the frontier stays unfetched (it used to slip through
    # while robots.txt was downloading)
    assert site.hits("/private/p1.html") == []
    # and no article was fetched again
    for n in range(1, 13):
        assert len(site.hits(site.path(n))) == 1
    assert second.summary["totals"]["fetched"] == 0

    # An article changes and its feed says so (atom:updated): refetched conditionally, new version.
    later = datetime.now(UTC) + timedelta(minutes=5)  # updated after our fetch
    site.server.resources["/news/a04.html"] = Resource(news_article(4, extra="改訂版"),
                                                       last_modified=later.timestamp())
    # a05's feed date moves but the page is the same: asked, 304, unchanged
    items = [sitegen.Item(f"{site.origin}/news/a{n:02d}.html", f"テスト記事{n:02d}",
                          T0 + timedelta(hours=n), later if n in (4, 5) else T0 + timedelta(hours=n))
             for n in (3, 4, 5, 6)]
    site.server.resources["/atom.xml"] = Resource(sites.atom("Test News", site.origin + "/", items),
                                                  "application/atom+xml")
    third = run_crawl(sources, out)
    assert third.returncode == 0, third.stderr[-3000:]
    assert [r["url"] for r in third.records] == [site.origin + "/news/a04.html"]
    assert "改訂版" in third.records[0]["text"] and third.records[0]["version"] == 2
    # export: the whole collection as it stands, a04 at its second version
    from kirinuki import cli

    exported = tmp_path / "all.jsonl"
    assert cli.main(["export", "--state", str(out / "state.sqlite"), "-o", str(exported)]) == 0
    latest = {r["url"]: r for r in map(json.loads, exported.read_text(encoding="utf-8").splitlines())}
    assert len(latest) == 12 and latest[site.origin + "/news/a04.html"]["version"] == 2
    assert "改訂版" in latest[site.origin + "/news/a04.html"]["text"]
    assert {r["version"] for u, r in latest.items() if not u.endswith("/a04.html")} == {1}
    row = third.summary["sources"]["testnews"]
    assert row["updated"] == 1 and row["new"] == 0 and row["unchanged"] == 1
    a04 = [h for h in site.hits("/news/a04.html") if h.method == "GET"]
    assert len(a04) == 2 and "If-None-Match" in a04[1].headers
    a05 = [h for h in site.hits("/news/a05.html") if h.method == "GET"]
    assert len(a05) == 2 and a05[1].status == 304


def test_politeness_settings_reach_the_wire(tmp_path, news_server):
    """download_delay per source spaces the requests, measured where they arrive (the server)."""
    site = news_server
    sources = write_sources(tmp_path / "sources.toml", [
        news_source(site, download_delay=0.3, concurrent_requests=1, autothrottle=False,
                    feeds=[site.origin + "/feed.rss"], sitemaps=[], start_urls=[]),
    ])
    res = run_crawl(sources, tmp_path / "out")
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(res.records) == 4
    times = sorted(h.at for h in site.server.hits if h.method == "GET" and h.path.startswith("/news/"))
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Scrapy randomizes a slot's delay to 0.5-1.5x: every gap is at least 0.15 s (with no delay
    # the four articles arrive within a few milliseconds of each other).
    assert len(gaps) == 3 and min(gaps) >= 0.3 * 0.5 * 0.95, gaps


def test_last_modified_is_sent_back(tmp_path):
    """The stored Last-Modified goes back as If-Modified-Since (for servers without ETags)."""
    with SiteServer() as srv:
        site = build_news_site(srv, n_articles=2)
        sources = write_sources(tmp_path / "s.toml", [news_source(
            site, feeds=[], sitemaps=[], start_urls=[site.origin + "/list/?page=3"],
            follow_pattern=r"/nothing/")])
        run_crawl(sources, tmp_path / "out")
        run_crawl(sources, tmp_path / "out")
        hits = [h for h in srv.requests_for("/list/?page=3") if h.method == "GET"]
        assert len(hits) == 2
        assert hits[1].headers.get("If-Modified-Since") == formatdate(T0.timestamp(), usegmt=True)


def test_max_articles_leaves_the_rest_for_the_next_run(tmp_path, news_server):
    site = news_server
    sources = write_sources(tmp_path / "sources.toml", [news_source(site)])
    out = tmp_path / "out"
    first = run_crawl(sources, out, "--max-articles", "5")
    assert first.returncode == 0, first.stderr[-3000:]
    assert len(first.records) == 5
    second = run_crawl(sources, out, "--max-articles", "5")
    third = run_crawl(sources, out)
    urls = [r["url"] for r in first.records + second.records + third.records]
    assert len(second.records) == 5 and len(urls) == len(set(urls)) == 12
