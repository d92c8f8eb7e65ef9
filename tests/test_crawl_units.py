"""Crawler units without a crawl: sources file validation, discovery parsing, state recovery."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from kirinuki.scraper.config import SourcesError, check_profiles, load_sources, parse_sources
from kirinuki.scraper.discovery import (
    DiscoveryError,
    extract_links,
    is_newer,
    normalize_url,
    parse_feed,
    parse_sitemap,
)
from kirinuki.scraper.state import Emit, JsonlWriter, StateLocked, Store, repair_jsonl

from kirinuki.demo import sitegen
from tests import sites
from tests.crawl_server import BOMB, T0

REPO = Path(__file__).resolve().parent.parent


# -- sources file ---------------------------------------------------------------------------

def _src(**kw):
    base = {"name": "site", "feeds": ["https://example.jp/rss.xml"]}
    base.update(kw)
    return {"sources": [base]}


@pytest.mark.parametrize("doc, needle", [
    (_src(feed=["https://x.jp/rss"]), "source 'site': unknown key 'feed' (did you mean 'feeds'?)"),
    (_src(article_pattern="(unclosed"), "source 'site': key 'article_pattern': bad regular expression"),
    (_src(feeds=[], start_urls=[]), "source 'site': no discovery"),
    (_src(feeds=["not a url"]), "source 'site': key 'feeds': not an absolute http(s) URL"),
    (_src(download_delay="fast"), "source 'site': key 'download_delay': must be a number"),
    (_src(concurrent_requests=0), "source 'site': key 'concurrent_requests': must be an integer from 1 to 64"),
    (_src(autothrottle="yes"), "source 'site': key 'autothrottle': must be true or false"),
    (_src(start_urls=["https://example.jp/"]), "source 'site': key 'article_pattern': required"),
    ({"sources": [{"feeds": ["https://x.jp/"]}]}, "[[sources]] #1: key 'name': required"),
    ({"sources": [_src()["sources"][0], _src()["sources"][0]]}, "key 'name': duplicate"),
    ({"sources": []}, "no [[sources]]"),
    ({"crawl": {"max_response_size": "huge"}, **_src()}, "[crawl]: key 'max_response_size'"),
    ({"crawl": {"user_agnet": "x"}, **_src()}, "[crawl]: unknown key 'user_agnet' (did you mean 'user_agent'?)"),
    ({"craw": {}, **_src()}, "top level: unknown key 'craw'"),
])
def test_sources_errors_name_source_and_key(doc, needle):
    with pytest.raises(SourcesError) as exc:
        parse_sources(doc, "sources.toml")
    assert needle in str(exc.value)
    assert str(exc.value).startswith("sources.toml")


def test_unknown_profile_is_an_error(profiles):
    cfg = parse_sources(_src(profile="newsweek"), "s.toml")
    with pytest.raises(SourcesError, match="source 'site': key 'profile': unknown profile 'newsweek'"):
        check_profiles(cfg, profiles.names())


def test_sources_values_and_defaults():
    cfg = parse_sources({"crawl": {"max_response_size": "5MB", "download_delay": 2},
                         **_src(concurrent_requests=1, autothrottle=False)})
    s = cfg.sources[0]
    assert cfg.crawl.max_response_size == 5 * 1024 * 1024
    assert s.download_delay == 2.0 and s.concurrent_requests == 1 and s.autothrottle is False


def test_bad_toml_and_missing_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[[sources]\nname=", encoding="utf-8")
    with pytest.raises(SourcesError, match="not valid TOML"):
        load_sources(p)
    with pytest.raises(SourcesError, match="no such sources file"):
        load_sources(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["sources.example.toml", "sources.fixtures.toml"])
def test_shipped_sources_files_are_valid(name, profiles):
    cfg = load_sources(REPO / name)
    check_profiles(cfg, profiles.names())
    assert cfg.sources


# -- discovery ------------------------------------------------------------------------------

ITEMS = [sitegen.Item("https://ex.jp/a/1.html", "一", T0, T0),
         sitegen.Item("https://ex.jp/a/2.html?utm_source=rss", "二", T0)]


@pytest.mark.parametrize("writer", [sitegen.rss2, sites.rss1, sites.atom])
def test_feeds(writer):
    entries = parse_feed(writer("t", "https://ex.jp/", ITEMS), "https://ex.jp/feed")
    assert [e.url for e in entries] == [i.url for i in ITEMS]
    assert entries[0].title == "一"
    assert entries[0].published == T0.isoformat()


def test_news_sitemap_keeps_titles_and_dates():
    sm = parse_sitemap(sitegen.urlset(ITEMS, news="Ex"), "https://ex.jp/s.xml")
    assert [e.title for e in sm.entries] == ["一", "二"]
    assert sm.entries[0].published == T0.isoformat()
    assert sm.entries[0].updated == T0.isoformat()


def test_sitemap_index_and_gzip():
    idx = parse_sitemap(sitegen.sitemap_index([("https://ex.jp/s1.xml.gz", T0)]), "https://ex.jp/")
    assert [c.url for c in idx.children] == ["https://ex.jp/s1.xml.gz"]
    sm = parse_sitemap(gzip.compress(sitegen.urlset(ITEMS)), "https://ex.jp/s1.xml.gz")
    assert len(sm.entries) == 2


def test_xml_bomb_is_refused_quickly():
    t = time.monotonic()
    with pytest.raises(DiscoveryError) as exc:
        parse_feed(BOMB, "https://ex.jp/")
    assert exc.value.reason == "xml_entities"
    assert time.monotonic() - t < 0.5


@pytest.mark.parametrize("body, reason", [
    (b"<!DOCTYPE html><html><body>hi</body></html>", "not_xml"),
    (b"Service Unavailable", "not_xml"),
    (b"", "empty"),
    (b"<?xml version='1.0'?><foo/>", "not_a_feed"),
    (b"\x1f\x8b\x08garbage", "bad_gzip"),
])
def test_bad_feeds(body, reason):
    with pytest.raises(DiscoveryError) as exc:
        parse_feed(body, "https://ex.jp/")
    assert exc.value.reason == reason


def test_normalize_url_and_links():
    assert normalize_url("HTTPS://Ex.JP:443/a?utm_source=x&id=3#frag") == "https://ex.jp/a?id=3"
    assert normalize_url("http://ex.jp") == "http://ex.jp/"
    html = '<base href="https://ex.jp/news/"><a href="1.html">a</a><a href="#x">b</a><a href="mailto:a@b">c</a>'
    assert extract_links(html, "https://ex.jp/") == ["https://ex.jp/news/1.html"]
    assert is_newer("2030-01-01", "2025-01-01T00:00:00+00:00")
    assert not is_newer(None, "2025-01-01T00:00:00+00:00")


# -- state: crash recovery ------------------------------------------------------------------

def _emit(i: int) -> Emit:
    rec = {"url": f"https://ex.jp/{i}", "text": f"本文{i}", "content_hash": f"h{i}"}
    return Emit(f"https://ex.jp/{i}", 1, "s", rec["url"], rec["content_hash"], None,
                json.dumps(rec, ensure_ascii=False))


def test_recovery_completes_a_killed_runs_file(tmp_path):
    """Committed records missing from the JSONL (killed between commit and write, or mid-line)
    are appended by the next run; nothing is duplicated."""
    store = Store(tmp_path / "state.sqlite")
    out = tmp_path / "run1.jsonl"
    store.start_run("run1", out)
    writer = JsonlWriter(out)
    for i in range(5):
        store.emit("run1", [_emit(i)], [(f"https://ex.jp/{i}", "s", "article")],
                   etag=None, last_modified=None, fetched_at="2025-01-01T00:00:00+00:00")
        if i < 3:
            writer.write(_emit(i).line)
    with open(out, "ab") as f:  # record 3 half-written when the process died
        f.write(_emit(3).line.encode()[:7])
    store.close()

    store = Store(tmp_path / "state.sqlite")
    assert store.recover() == [(str(out), 2)]
    lines = out.read_text().splitlines()
    assert [json.loads(x)["url"] for x in lines] == [f"https://ex.jp/{i}" for i in range(5)]
    assert store.recover() == []  # idempotent: the run is now finished
    assert store.get("https://ex.jp/4").status == "done"
    store.close()


def test_repair_without_missing_lines_only_trims(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"a":1}\n{"b"')
    assert repair_jsonl(p, ['{"a":1}']) == 0
    assert p.read_bytes() == b'{"a":1}\n'


def test_state_is_locked_against_a_second_crawl(tmp_path):
    a = Store(tmp_path / "s.sqlite")
    with pytest.raises(StateLocked, match="in use by another crawl"):
        Store(tmp_path / "s.sqlite")
    a.close()
    Store(tmp_path / "s.sqlite").close()


def test_demo_sites_keep_their_ports_across_runs(tmp_path):
    """A second `crawl --demo` serves each site on the port it had, so the state's URLs match
    (with 8701+ taken by something else, the first run's fallback ports are reused)."""
    import socket

    from kirinuki import pipelines
    from kirinuki.demo import BASE_PORT, demo_config

    ports_file = tmp_path / ".demo-ports.json"
    profiles = pipelines.load_profiles()
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        blocker.bind(("127.0.0.1", BASE_PORT))
        blocker.listen()
    except OSError:
        pass  # already taken by someone else: just as good for this test
    try:
        first, servers = demo_config(profiles=profiles, ports_file=ports_file)
        origins = [s.origin for s in servers]
        for s in servers:
            s.stop()
        assert f"127.0.0.1:{BASE_PORT}" not in " ".join(origins)
        again, servers = demo_config(profiles=profiles, ports_file=ports_file)
        try:
            assert [s.origin for s in servers] == origins
        finally:
            for s in servers:
                s.stop()
    finally:
        blocker.close()
