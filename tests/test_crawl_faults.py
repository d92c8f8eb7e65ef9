"""A server that misbehaves in every way we know: each fault ends as a counted failure or a
correct record, and the crawl finishes."""

from __future__ import annotations

import time

import pytest

from kirinuki.demo.server import SiteServer
from tests.crawl_server import SJIS_TITLE, build_fault_site, run_crawl, write_sources

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e


def test_faults_end_as_counted_failures_or_records(tmp_path):
    with SiteServer() as srv, SiteServer() as elsewhere:
        paths = build_fault_site(srv, elsewhere.origin)
        o = srv.origin
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "faults",
            "feeds": [o + "/f/feed.rss", o + "/f/notxml.rss", o + "/f/bomb.rss"],
            "download_delay": 0.0, "concurrent_requests": 8, "download_timeout": 1.0,
        }], crawl={"retry_times": 1, "retry_backoff": 0.1, "max_redirects": 4})
        t = time.monotonic()
        res = run_crawl(sources, tmp_path / "out", timeout=120)
        took = time.monotonic() - t
        assert res.returncode == 0, res.stderr[-3000:]
        row = res.summary["sources"]["faults"]
        reasons = row["failed_reasons"]

        by_url = {r["url"]: r for r in res.records}
        # 500 then success: retried (with backoff) and emitted
        assert o + paths["flaky"] in by_url
        assert len([h for h in srv.requests_for(paths["flaky"]) if h.method == "GET"]) == 2
        assert o + paths["ok"] in by_url
        # Shift_JIS page without any charset declaration decodes correctly
        sjis = by_url[o + paths["sjis"]]
        assert sjis["title"] == SJIS_TITLE
        assert "桜" in sjis["text"]
        assert sjis["extraction"]["encoding"] in ("cp932", "shift_jis")

        assert reasons.get("article:timeout") == 1
        assert reasons.get("article:connection_lost") == 1  # reset connection
        assert reasons.get("article:truncated") == 1
        assert reasons.get("article:redirect_loop") == 1
        assert reasons.get("article:too_many_redirects") == 1  # 10 distinct hops, max 4
        assert reasons.get("article:decompression_bomb") == 1  # gzip inflating past the cap
        assert reasons.get("article:too_large") == 2  # declared and streamed 30 MB
        assert reasons.get("article:offsite") == 1  # redirect to another host is not followed
        assert reasons.get("article:http_404") == 1
        assert reasons.get("feed:not_xml") == 1
        assert reasons.get("feed:xml_entities") == 1
        # pages that are not articles are rejected by the cleaner, with its reason
        assert row["rejected_reasons"] == {"empty": 1, "binary": 1}
        assert row["failed"] == sum(reasons.values())
        # nothing on the other host was fetched through the redirect
        assert elsewhere.hits == []
        # the timeouts were retried once: 2 attempts of 1 s each plus backoff, not minutes
        assert took < 60
        assert len(res.records) == 3
