"""`scrapy crawl kirinuki` from the repository root runs our spider as `kirinuki crawl` does (state,
JSONL, summary), and FEEDS exports one item per record: the same records as the run's JSONL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kirinuki.demo.server import SiteServer
from tests.conftest import REPO
from tests.crawl_server import build_news_site, news_source, write_sources

pytestmark = [pytest.mark.e2e, pytest.mark.scrapy]


def scrapy_crawl(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "kirinuki", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)


def test_scrapy_crawl_kirinuki_with_feeds(tmp_path):
    with SiteServer() as srv:
        site = build_news_site(srv)
        sources = write_sources(tmp_path / "sources.toml", [news_source(site)])
        out, feed = tmp_path / "out", tmp_path / "feed.jsonl"
        proc = scrapy_crawl("-a", f"sources={sources}", "-a", f"out={out}",
                            "-O", f"{feed}:jsonlines", "-s", "LOG_LEVEL=INFO")
        assert proc.returncode == 0, proc.stderr[-3000:]
        exported = [json.loads(line) for line in feed.read_text().splitlines()]
        summary = json.loads(next(out.glob("*.summary.json")).read_text())
        written = [json.loads(line) for line in open(summary["output"], encoding="utf-8")]
        assert sorted(r["url"] for r in exported) == sorted(
            site.origin + site.path(n) for n in range(1, 13))
        assert sorted(exported, key=lambda r: r["url"]) == sorted(written, key=lambda r: r["url"])
        assert summary["totals"]["new"] == 12
        assert "records (12 new, 0 updated)" in proc.stdout  # the run summary table

        # the state is shared with `kirinuki crawl`: a second run has nothing new
        again = scrapy_crawl("-a", f"sources={sources}", "-a", f"out={out}",
                             "-O", f"{feed}:jsonlines")
        assert again.returncode == 0, again.stderr[-3000:]
        assert feed.read_text() == ""
