"""One malformed link in a feed, sitemap or listing is skipped; the rest of the document counts."""

from __future__ import annotations

from kirinuki.scraper import discovery


def test_listing_with_bad_links_keeps_good_ones():
    html = ('<html><body><a href="http://[bad/">x</a><a href="https://ex.com:abc/">y</a>'
            '<a href="/ok">z</a></body></html>')
    assert discovery.extract_links(html, "https://ex.com/list") == ["https://ex.com/ok"]


def test_malformed_port_does_not_raise():
    assert discovery.normalize_url("https://ex.com:abc/a") == "https://ex.com:abc/a"
