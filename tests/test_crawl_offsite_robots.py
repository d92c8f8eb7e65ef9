"""robots.txt is fetched like any other request: its redirects stay on the source's hosts."""

from __future__ import annotations

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import news_article, redirect, run_crawl, write_sources


def test_robots_txt_redirect_to_another_host_is_not_followed(tmp_path):
    with SiteServer() as srv, SiteServer() as elsewhere:
        elsewhere.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow:\n", "text/plain")
        srv.hooks["/robots.txt"] = redirect(elsewhere.url("/robots.txt"), 301)
        srv.resources["/a/1.html"] = Resource(news_article(1))
        srv.resources["/sitemap.xml"] = Resource(
            sitegen.urlset([sitegen.Item(srv.url("/a/1.html"), "記事1")]), "application/xml")
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "s", "sitemaps": [srv.url("/sitemap.xml")], "download_delay": 0.0}])
        res = run_crawl(sources, tmp_path / "out")
        assert res.returncode == 0, res.stderr[-3000:]
        assert srv.requests_for("/robots.txt")  # asked where it should be
        assert elsewhere.hits == []  # off-site requests: 0
        assert len(res.records) == 1
