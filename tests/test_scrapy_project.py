"""A third-party Scrapy project (tests/scrapy_project) cleans with kirinuki through its documented
settings only: `scrapy crawl` in a subprocess against a loopback site, records read from FEEDS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO

PROJECT = REPO / "tests" / "scrapy_project"
ARTICLE = FIXTURES / "newsweekjapan" / "2017-10-10_putin-north-korea.html"
CLIPPINGS = FIXTURES / "clipping-blog" / "2019-12-09_us-russia-relations.html"

pytestmark = [pytest.mark.e2e, pytest.mark.scrapy]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: ANN002 - keep pytest output clean
        pass


@pytest.fixture()
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "article.html").write_bytes(ARTICLE.read_bytes())
    (root / "clip.html").write_bytes(CLIPPINGS.read_bytes())
    (root / "empty.html").write_bytes(b"<html><body><p>hi</p></body></html>")
    (root / "index.html").write_text(
        '<a href="article.html">a</a> <a href="clip.html">c</a> <a href="empty.html">e</a>')
    (root / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def scrapy_crawl(spider: str, origin: str, out: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"start={origin}/index.html",
         "-a", "profile=mezamero", "-O", f"{out}:jsonlines"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def expected(path: Path, url: str, profile: str | None = None) -> list[dict]:
    import kirinuki

    return kirinuki.clean(path.read_bytes(), url, content_type="text/html", profile=profile)


def comparable(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k != "fetched_at"}


def test_pipeline_and_addon_clean_a_third_party_projects_pages(site, tmp_path):
    # 1. ITEM_PIPELINES only: one record per page; the non-article page is dropped.
    out = tmp_path / "pipeline.jsonl"
    proc = scrapy_crawl("pages", site, out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    by_url = {r["url"].split("#")[0]: r for r in records}
    assert set(by_url) == {f"{site}/article.html", f"{site}/clip.html"}, proc.stderr[-2000:]
    want = expected(ARTICLE, f"{site}/article.html")
    assert comparable(by_url[f"{site}/article.html"]) == comparable(want[0])
    clippings = expected(CLIPPINGS, f"{site}/clip.html", "mezamero")
    assert len(clippings) > 1
    assert comparable(by_url[f"{site}/clip.html"]) == comparable(clippings[0])
    assert "only the first is kept" in proc.stderr  # the pipeline says what it cannot do

    # 2. The add-on: the spider middleware fans a clipping page out, one item per article.
    out = tmp_path / "addon.jsonl"
    scrapy_crawl("pages_addon", site, out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    clip = sorted((r for r in records if "/clip.html" in r["url"]), key=lambda r: r["url"])
    assert [comparable(r) for r in clip] == sorted(
        (comparable(r) for r in clippings), key=lambda r: r["url"])
    assert [comparable(r) for r in records if r["url"] == f"{site}/article.html"] == [
        comparable(want[0])]
