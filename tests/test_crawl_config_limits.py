"""Sources-file values that would switch a limit off are refused, and URL patterns cannot
backtrack on site-controlled URLs."""

from __future__ import annotations

import time

import pytest
from kirinuki.scraper.config import SourcesError, parse_sources


def _doc(crawl: dict | None = None, **src) -> dict:
    return {"crawl": crawl or {},
            "sources": [{"name": "site", "feeds": ["https://example.jp/feed"], **src}]}


@pytest.mark.parametrize("crawl", [
    {"max_response_size": "0MB"}, {"max_response_size": 0}, {"max_response_size": -5},
    {"max_response_size": "0.0001KB"}, {"max_response_size": "500GB"},
    {"download_timeout": 0}, {"download_timeout": -1}, {"download_timeout": float("inf")},
    {"download_timeout": float("nan")}, {"download_delay": -0.5},
    {"download_delay": float("nan")}, {"retry_backoff": float("inf")},
    {"max_redirects": 0}, {"max_redirects": 10**6}, {"retry_times": -1}, {"retry_times": 10**6},
    {"max_pages_per_article": 0}, {"max_attempts": 10**9}, {"concurrent_requests": 0},
    {"concurrent_requests_total": 10**6}, {"max_articles": -1},
])
def test_crawl_values_that_disable_a_limit_are_refused(crawl):
    key = next(iter(crawl))
    with pytest.raises(SourcesError, match=rf"\[crawl\]: key '{key}': must be"):
        parse_sources(_doc(crawl), "s.toml")


@pytest.mark.parametrize("src", [
    {"download_timeout": 0}, {"download_timeout": float("inf")}, {"download_delay": -1},
    {"max_listing_pages": 0}, {"max_articles": -3}, {"concurrent_requests": 10**5},
])
def test_source_values_that_disable_a_limit_are_refused(src):
    key = next(iter(src))
    with pytest.raises(SourcesError, match=rf"source 'site': key '{key}': must be"):
        parse_sources(_doc(**src), "s.toml")


def test_zero_where_zero_is_a_real_setting():
    cfg = parse_sources(_doc({"download_delay": 0, "retry_times": 0, "max_articles": 0,
                              "retry_backoff": 0, "max_response_size": "64MB"},
                             download_delay=0.0), "s.toml")
    assert cfg.crawl.max_response_size == 64 * 1024**2
    assert cfg.sources[0].download_delay == 0.0


def test_nested_quantifiers_match_in_linear_time():
    cfg = parse_sources(_doc(article_pattern="(a+)+$", follow_pattern="^(x|x)*y"), "s.toml")
    src = cfg.sources[0]
    t = time.monotonic()
    assert not src.article_pattern.search("https://example.jp/" + "a" * 26 + "!")
    assert not src.follow_pattern.search("https://example.jp/" + "x" * 5000)
    assert src.article_pattern.search("https://example.jp/aaa")
    assert time.monotonic() - t < 0.5  # Python's re takes seconds to hours on these


def test_lookaround_patterns_work_and_give_up_instead_of_hanging():
    cfg = parse_sources(_doc(article_pattern=r"/news/(?!pr-)\d+",
                             follow_pattern=r"^(?=x)((x+)+)+y$"), "s.toml")
    src = cfg.sources[0]
    assert src.article_pattern.search("https://example.jp/news/123")
    assert not src.article_pattern.search("https://example.jp/news/pr-123")
    t = time.monotonic()
    assert not src.follow_pattern.search("x" * 4000 + "!")
    assert time.monotonic() - t < 1.0
    with pytest.raises(SourcesError, match=r"source 'site': key 'article_pattern': bad regular"):
        parse_sources(_doc(article_pattern="(unclosed"), "s.toml")
