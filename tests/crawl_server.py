"""Test sites for the crawl tests: a generated news site, fault routes, and a crawl runner.

Crawls run in a subprocess (`python -m kirinuki.scraper`), as users run them: a Twisted reactor cannot be
restarted inside one pytest process, and a subprocess can be killed mid-crawl.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteHandler, SiteServer
from tests import sites

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def paragraphs(n: int, seed: str) -> list[str]:
    """Distinct Japanese news-like paragraphs (long enough for the generic extractor)."""
    base = [
        "政府は{d}、経済対策の規模を拡大する方針を固めた。関係者によると、追加の財政支出は来週にも閣議決定される見通しだ。",
        "専門家の間では、物価上昇が家計に与える影響を懸念する声が強まっている。{s}の調査では、消費者の六割が節約を意識していると答えた。",
        "与野党は国会で論戦を続けており、{s}をめぐる議論は週明けに山場を迎える。市場関係者は金利の動向を注視している。",
        "地方の中小企業からは、人手不足と原材料高の二重苦を訴える声が相次いだ。{s}の担当者は支援策の拡充を検討すると述べた。",
        "一方、海外では{s}に関する報道が広がり、各国の政府高官が相次いで声明を出した。今後の交渉の行方が焦点となる。",
    ]
    return [base[i % len(base)].format(d=f"{i + 1}日", s=f"{seed}第{i + 1}項") for i in range(n)]


def news_article(n: int, title: str | None = None, dated: bool = True, extra: str = "") -> bytes:
    title = title or f"テスト記事{n:02d} 経済対策の行方"
    paras = paragraphs(5, f"記事{n:02d}{extra}")
    return sites.article(title, paras, published=T0 + timedelta(hours=n) if dated else None)


@dataclass
class NewsSite:
    """Generated site: feeds (RSS 2.0, RSS 1.0, Atom), sitemap index (news + gzipped url set),
    paged listing with private and off-site links, robots.txt disallowing /private/."""

    server: SiteServer
    articles: dict[str, bytes]

    @property
    def origin(self) -> str:
        return self.server.origin

    def path(self, n: int) -> str:
        return f"/news/a{n:02d}.html"

    def hits(self, path: str) -> list[Any]:
        return self.server.requests_for(path)


def build_news_site(server: SiteServer, n_articles: int = 12) -> NewsSite:
    o = server.origin
    res = server.resources
    arts: dict[str, bytes] = {}
    for n in range(1, n_articles + 1):
        # a08 has no date on the page: its date must come from the news sitemap.
        body = news_article(n, dated=(n != 8))
        arts[f"/news/a{n:02d}.html"] = body
        res[f"/news/a{n:02d}.html"] = Resource(body, last_modified=(T0 + timedelta(hours=n)).timestamp())
    res["/private/p1.html"] = Resource(news_article(99, "非公開の記事"))

    def item(n: int, lastmod: datetime | None = None) -> sitegen.Item:
        return sitegen.Item(f"{o}/news/a{n:02d}.html", f"テスト記事{n:02d} 経済対策の行方",
                            T0 + timedelta(hours=n), lastmod or T0 + timedelta(hours=n))

    res["/feed.rss"] = Resource(sitegen.rss2("Test News", o + "/", [item(n) for n in (1, 2, 3, 4)]),
                                "application/rss+xml")
    res["/atom.xml"] = Resource(sites.atom("Test News", o + "/", [item(n) for n in (3, 4, 5, 6)]),
                                "application/atom+xml")
    res["/index.rdf"] = Resource(sites.rss1("Test News", o + "/", [item(n) for n in (5, 6, 7)]),
                                 "application/rdf+xml")
    res["/sitemap-news.xml"] = Resource(
        sitegen.urlset([item(n) for n in (7, 8, 9)] + [sitegen.Item(o + "/private/p1.html", "x")],
                       news="Test News"), "application/xml")
    res["/sitemap-old.xml.gz"] = Resource(
        gzip.compress(sitegen.urlset([item(n) for n in (9, 10)])), "application/x-gzip")
    res["/sitemap_index.xml"] = Resource(
        sitegen.sitemap_index([(o + "/sitemap-news.xml", T0), (o + "/sitemap-old.xml.gz", T0)]),
        "application/xml")
    links = lambda ns: [(f"{o}/news/a{n:02d}.html", f"記事{n}") for n in ns]  # noqa: E731
    res["/list/"] = Resource(sitegen.listing("一覧", links((10, 11)), o + "/list/?page=2",
                                             extra_links=[("/about.html", "会社概要")]),
                             last_modified=T0.timestamp())
    res["/list/?page=2"] = Resource(sitegen.listing(
        "一覧2", links((12,)) + [(o + "/private/p1.html", "非公開"),
                                ("http://offsite.invalid/news/a01.html", "外部")],
        o + "/list/?page=3"), last_modified=T0.timestamp())
    res["/list/?page=3"] = Resource(sitegen.listing("一覧3", links((1,)), None),
                                    last_modified=T0.timestamp())
    res["/robots.txt"] = Resource(sitegen.robots(["/private/"], [o + "/sitemap_index.xml"]),
                                  "text/plain")
    return NewsSite(server, arts)


def news_source(site: NewsSite, name: str = "testnews", **over: Any) -> dict[str, Any]:
    o = site.origin
    src = {
        "name": name,
        "feeds": [o + "/feed.rss", o + "/atom.xml", o + "/index.rdf"],
        "sitemaps": [o + "/sitemap_index.xml"],
        "start_urls": [o + "/list/"],
        "article_pattern": r"/(news|private)/[a-z0-9]+\.html$",
        "follow_pattern": r"/list/\?page=\d+$",
        "download_delay": 0.0,
        "concurrent_requests": 4,
    }
    src.update(over)
    return src


# -- faults ---------------------------------------------------------------------------------

def _reset(h: SiteHandler, path: str) -> bool:
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True
    return True


def _truncated(h: SiteHandler, path: str) -> bool:
    body = news_article(50)
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body[:200])
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)
    h.close_connection = True
    return True


def _slow(seconds: float):
    def hook(h: SiteHandler, path: str) -> bool:
        time.sleep(seconds)
        return False  # then serve normally (the client is long gone)
    return hook


def redirect(to: str, status: int = 302):
    """A hook answering `status` with `Location: to` (and no body)."""
    def hook(h: SiteHandler, path: str) -> bool:
        h.send_response(status)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()
        return True
    return hook


def _huge(declared: bool):
    def hook(h: SiteHandler, path: str) -> bool:
        size = 30 * 1024 * 1024
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        if declared:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        chunk = b"<p>" + b"x" * 65530 + b"</p>"
        try:
            for _ in range(size // len(chunk) + 1):
                h.wfile.write(chunk)
        except OSError:
            pass
        return True
    return hook


def _fail_first(status: int = 500):
    calls = {"n": 0}

    def hook(h: SiteHandler, path: str) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            h.send_bytes(status, b"temporary error", "text/plain")
            return True
        return False
    return hook


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>/news/bomb.html</link></item></channel></rss>
"""

SJIS_TITLE = "東京で桜が満開に 平年より早く"


def build_fault_site(server: SiteServer, other_origin: str) -> dict[str, str]:
    """Fault routes, all listed in /f/feed.rss; returns {name: path}."""
    res, hooks = server.resources, server.hooks
    paths = {
        "ok": "/f/ok.html", "flaky": "/f/flaky.html", "timeout": "/f/timeout.html",
        "reset": "/f/reset.html", "truncated": "/f/truncated.html", "loop": "/f/loop1.html",
        "huge": "/f/huge.html", "huge_stream": "/f/huge-stream.html", "sjis": "/f/sjis.html",
        "offsite_redirect": "/f/away.html", "missing": "/f/missing.html", "empty": "/f/empty.html",
        "pdf": "/f/report.pdf", "chain": "/f/chain0.html", "gzip_bomb": "/f/bomb.html",
    }
    res[paths["ok"]] = Resource(news_article(40))
    res[paths["flaky"]] = Resource(news_article(41))
    hooks[paths["flaky"]] = _fail_first(500)
    res[paths["timeout"]] = Resource(news_article(42))
    hooks[paths["timeout"]] = _slow(4.0)
    hooks[paths["reset"]] = _reset
    hooks[paths["truncated"]] = _truncated
    hooks["/f/loop1.html"] = redirect("/f/loop2.html")
    hooks["/f/loop2.html"] = redirect("/f/loop1.html")
    hooks[paths["huge"]] = _huge(declared=True)
    hooks[paths["huge_stream"]] = _huge(declared=False)
    sjis = sites.article(SJIS_TITLE, paragraphs(4, "桜"), charset="shift_jis")
    sjis = sjis.replace(b'<meta charset="shift_jis">', b"")  # no charset anywhere
    res[paths["sjis"]] = Resource(sjis, "text/html")
    hooks[paths["offsite_redirect"]] = redirect(other_origin + "/news/a01.html")
    for i in range(10):  # ten distinct hops: too many redirects, not a loop
        hooks[f"/f/chain{i}.html"] = redirect(f"/f/chain{i + 1}.html")
    res["/f/chain10.html"] = Resource(news_article(43))
    # 30 MB of zeros in 30 KB of gzip: inflates past the 10 MB cap.
    res[paths["gzip_bomb"]] = Resource(gzip.compress(b"\0" * (30 * 1024 * 1024), 9),
                                       headers={"Content-Encoding": "gzip"})
    res[paths["empty"]] = Resource(b"")
    res[paths["pdf"]] = Resource(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "application/pdf")
    o = server.origin
    items = [sitegen.Item(o + p, name) for name, p in paths.items()]
    res["/f/feed.rss"] = Resource(sitegen.rss2("faults", o + "/", items), "application/rss+xml")
    res["/f/notxml.rss"] = Resource(b"<!DOCTYPE html><html><body><p>Please enable JavaScript</p>"
                                    b"</body></html>", "text/html")
    res["/f/bomb.rss"] = Resource(BOMB, "application/rss+xml")
    res["/robots.txt"] = Resource(b"User-agent: *\nDisallow:\n", "text/plain")
    return paths


# -- running crawls -------------------------------------------------------------------------

def write_sources(path: Path, sources: list[dict[str, Any]], crawl: dict[str, Any] | None = None) -> Path:
    from kirinuki.demo import to_toml

    doc = {"crawl": {"download_timeout": 5.0, "retry_backoff": 0.1, "workers": 1, **(crawl or {})},
           "sources": sources}
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    summary: dict[str, Any] | None
    records: list[dict[str, Any]]


def crawl_cmd(sources: Path | None, out: Path, *extra: str) -> list[str]:
    cmd = [sys.executable, "-m", "kirinuki.scraper", "-o", str(out), "--no-progress", "--log-level", "INFO"]
    if sources is not None:
        cmd += ["--sources", str(sources)]
    return cmd + list(extra)


def run_crawl(sources: Path | None, out: Path, *extra: str, timeout: float = 90) -> CrawlResult:
    before = set(out.glob("*.summary.json")) if out.exists() else set()
    proc = subprocess.run(crawl_cmd(sources, out, *extra), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=crawl_env())
    new = sorted(set(out.glob("*.summary.json")) - before) if out.exists() else []
    summary = json.loads(new[-1].read_text()) if new else None
    records = []
    if summary:
        records = [json.loads(line) for line in Path(summary["output"]).read_text().splitlines()]
    return CrawlResult(proc.returncode, proc.stdout, proc.stderr, summary, records)


def crawl_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def all_records(out: Path) -> list[dict[str, Any]]:
    recs = []
    for f in sorted(out.glob("*.jsonl")):
        recs += [json.loads(line) for line in f.read_text().splitlines()]
    return recs
