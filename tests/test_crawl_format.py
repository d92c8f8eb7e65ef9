"""`kirinuki crawl --format` (issue 9): the run's JSONL, and beside it the same records as
Markdown, plain text or CSV, made from the finished (or recovered) run's JSONL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from kirinuki.scraper.config import SourcesError, parse_sources

from kirinuki.demo.server import SiteServer
from kirinuki.formats import RECORD_SEPARATOR_MARKDOWN, convert_jsonl
from tests.crawl_server import build_news_site, news_source, run_crawl, write_sources


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def test_convert_jsonl_writes_every_record_beside_the_file(tmp_path):
    src = tmp_path / "crawl-x.jsonl"
    recs = [{"url": f"https://e.test/{i}", "title": f"T{i}", "text": f"body {i}\nline 2",
             "blocks": [{"type": "paragraph", "text": f"body {i}"}]} for i in range(3)]
    src.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    dst, n = convert_jsonl(src, "csv")
    assert (Path(dst), n) == (tmp_path / "crawl-x.csv", 3)
    assert [r["url"] for r in _csv_rows(Path(dst))] == [r["url"] for r in recs]
    dst, n = convert_jsonl(src, "text")
    assert Path(dst).name == "crawl-x.txt" and n == 3
    # an empty run still gets its file (a CSV with only the header)
    empty = tmp_path / "crawl-y.jsonl"
    empty.write_text("")
    dst, n = convert_jsonl(empty, "csv")
    assert n == 0 and Path(dst).read_text().startswith("url,")


def test_crawl_format_in_the_sources_file_is_checked():
    doc = {"sources": [{"name": "s", "feeds": ["https://e.test/feed"]}]}
    assert parse_sources(doc).crawl.format == "jsonl"
    assert parse_sources({**doc, "crawl": {"format": "markdown"}}).crawl.format == "markdown"
    with pytest.raises(SourcesError, match="'format'"):
        parse_sources({**doc, "crawl": {"format": "md"}})


@pytest.mark.e2e
def test_crawl_writes_markdown_and_csv_beside_the_jsonl(tmp_path):
    with SiteServer() as srv:
        site = build_news_site(srv, n_articles=5)
        out = tmp_path / "out"
        # --format on the command line
        sources = write_sources(tmp_path / "s.toml", [news_source(site)])
        res = run_crawl(sources, out, "--format", "markdown", "--fail-on", "none")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(res.records) == 5
        md_path = Path(res.summary["output"]).with_suffix(".md")
        assert res.summary["formatted"] == str(md_path)
        md = md_path.read_text(encoding="utf-8")
        assert md.count(RECORD_SEPARATOR_MARKDOWN) == len(res.records) - 1
        for r in res.records:
            assert f"# {r['title']}\n" in md and f"<{r['url']}>" in md
            assert r["blocks"][-1]["text"] in md

        # A finished run whose JSONL lost its last record is repaired at the next run's start,
        # and its file in the format asked for ([crawl] format this time) is made again, whole.
        first = Path(res.summary["output"])
        lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
        first.write_text("".join(lines[:-1]), encoding="utf-8")
        sources = write_sources(tmp_path / "s.toml", [news_source(site)], crawl={"format": "csv"})
        again = run_crawl(sources, out, "--fail-on", "none")
        assert again.returncode == 0, again.stderr[-3000:]
        assert "(+1 records)" in again.stderr
        rows = _csv_rows(first.with_suffix(".csv"))
        assert [r["url"] for r in rows] == [r["url"] for r in res.records]
        assert [r["title"] for r in rows] == [r["title"] for r in res.records]
        # the new run's CSV holds exactly its own records (none: nothing changed)
        new_rows = _csv_rows(Path(again.summary["output"]).with_suffix(".csv"))
        assert [r["url"] for r in new_rows] == [r["url"] for r in again.records]
