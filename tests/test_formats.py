"""Output formats (`clean --format`, suffix inference) and `kirinuki export` from a crawl state."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from kirinuki import cli
from kirinuki.formats import RecordWriter, format_for, to_markdown, to_text

PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>見出しの記事</title></head><body>"
        "<article><h1>見出しの記事</h1><p>" + "最初の段落です。" * 20 + "</p>"
        "<h2>小見出し</h2><p>" + "二つ目の段落です。" * 20 + "</p>"
        "<ul><li>一つ目の項目です</li><li>二つ目の項目です</li></ul>"
        "<blockquote><p>" + "引用された言葉です。" * 10 + "</p></blockquote>"
        "<p>" + "最後の段落です。" * 20 + "</p></article></body></html>")


def record(**kw):
    rec = {"url": "https://example.org/a", "title": "題", "subtitle": None, "authors": ["山田"],
           "site_name": "例", "published_at": "2025-01-01T00:00:00+09:00", "text": "本文",
           "blocks": [{"type": "heading", "text": "節"}, {"type": "paragraph", "text": "# 本文"},
                      {"type": "list_item", "text": "甲"}, {"type": "list_item", "text": "乙"},
                      {"type": "quote", "text": "言葉"}, {"type": "paragraph", "text": "1. 終"}],
           "tags": ["a", "b"], "extraction": {"profile": None, "method": "generic"},
           "paywall": {"detected": False, "truncated": False}, "flags": [], "version": None,
           "input_file": "x.html"}
    rec.update(kw)
    return rec


def test_markdown_keeps_headings_lists_quotes_and_escapes_paragraphs():
    md = to_markdown(record())
    assert md.startswith("# 題\n\n例 · 山田 · 2025-01-01T00:00:00+09:00 · <https://example.org/a>\n\n")
    assert md.endswith("## 節\n\n\\# 本文\n\n- 甲\n- 乙\n\n> 言葉\n\n1\\. 終\n")


def test_text_is_title_then_blocks():
    assert to_text(record()) == "題\n\n節\n\n# 本文\n\n- 甲\n\n- 乙\n\n> 言葉\n\n1. 終\n"


def test_writer_separates_records_and_csv_has_one_header():
    buf = io.StringIO()
    w = RecordWriter(buf, "csv")
    w.write(record())
    w.write_many([record(title="二", text="二つ\n目")])
    w.close()
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["title"] for r in rows] == ["題", "二"]
    assert rows[1]["text"] == "二つ\n目" and rows[0]["authors"] == "山田" and rows[0]["tags"] == "a; b"
    assert rows[0]["method"] == "generic" and rows[0]["input_file"] == "x.html"
    buf = io.StringIO()
    w = RecordWriter(buf, "markdown")
    w.write_many([record(), record(title="二")])
    assert "\n---\n\n# 二\n" in buf.getvalue()


def test_format_from_suffix():
    assert [format_for(p, None) for p in ("a.md", "a.TXT", "a.csv", "a.jsonl", "-", "a.out")] == \
        ["markdown", "text", "csv", "jsonl", "jsonl", "jsonl"]
    assert format_for("a.md", "jsonl") == "jsonl"


@pytest.fixture
def page(tmp_path: Path) -> Path:
    p = tmp_path / "page.html"
    p.write_text(PAGE, encoding="utf-8")
    return p


def test_clean_writes_markdown_by_suffix(page, tmp_path):
    out = tmp_path / "a.md"
    assert cli.main(["clean", str(page), "-o", str(out), "-q"]) == 0
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# 見出しの記事\n")
    assert "\n## 小見出し\n" in md and "\n- 一つ目の項目です\n- 二つ目の項目です\n" in md
    assert "\n> 引用された言葉です。" in md


def test_clean_writes_csv_and_text(page, tmp_path):
    out = tmp_path / "a.csv"
    assert cli.main(["clean", str(page), "-o", str(out), "-q"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert len(rows) == 1 and rows[0]["title"] == "見出しの記事" and rows[0]["input_file"] == str(page)
    out = tmp_path / "a.out"
    assert cli.main(["clean", str(page), "-o", str(out), "--format", "text", "-q"]) == 0
    assert out.read_text(encoding="utf-8").startswith("見出しの記事\n\n")


# -- export ------------------------------------------------------------------------------------

def _state(path: Path) -> None:
    from kirinuki.pipelines.record import dumps
    from kirinuki.scraper.state import Emit, Store

    def rec(url: str, text: str) -> dict:
        return record(url=url, text=text, version=None, input_file=None)

    store = Store(path)
    store.start_run("r1", path.parent / "r1.jsonl")
    for key, text, version in (("https://e.org/a", "一版", 1), ("https://e.org/b", "乙", 1)):
        store.emit("r1", [Emit(key, version, "s", key, "sha256:" + "0" * 64, None,
                               dumps({k: v for k, v in rec(key, text).items() if k != "version"}))],
                   [], etag=None, last_modified=None, fetched_at="2025-01-01T00:00:00+00:00")
    store.start_run("r2", path.parent / "r2.jsonl")
    store.emit("r2", [Emit("https://e.org/a", 2, "s", "https://e.org/a", "sha256:" + "1" * 64,
                           None, dumps({**rec("https://e.org/a", "二版"), "version": 2}))],
               [], etag=None, last_modified=None, fetched_at="2025-01-02T00:00:00+00:00")
    store.close()


def test_export_gives_the_latest_version_of_each_article(tmp_path, capsys):
    state = tmp_path / "state.sqlite"
    _state(state)
    out = tmp_path / "all.jsonl"
    assert cli.main(["export", "--state", str(state), "-o", str(out)]) == 0
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["url"], r["text"], r["version"]) for r in recs] == [
        ("https://e.org/a", "二版", 2), ("https://e.org/b", "乙", 1)]
    out = tmp_path / "all.csv"
    assert cli.main(["export", "--state", str(state), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [(r["text"], r["version"]) for r in rows] == [("二版", "2"), ("乙", "1")]


def test_export_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    state = tmp_path / "state.sqlite"
    _state(state)
    out = tmp_path / "all.parquet"
    assert cli.main(["export", "--state", str(state), "-o", str(out)]) == 0
    table = pq.read_table(out).to_pylist()
    assert [(r["text"], r["version"], r["authors"]) for r in table] == [
        ("二版", 2, ["山田"]), ("乙", 1, ["山田"])]


def test_export_parquet_without_pyarrow_is_a_clear_message(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state.sqlite"
    _state(state)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert cli.main(["export", "--state", str(state), "-o", str(tmp_path / "x.parquet")]) == 2
    assert "needs pyarrow" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_export_of_a_missing_or_broken_state(tmp_path, capsys):
    assert cli.main(["export", "--state", str(tmp_path / "none.sqlite"), "-o", "-"]) == 2
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database" * 100)
    assert cli.main(["export", "--state", str(bad), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "no such state file" in err and "not a readable crawl state" in err
    assert "Traceback" not in err


def test_library_clean_file_names_its_input(page):
    import kirinuki

    [rec] = kirinuki.clean_file(page)
    assert rec["input_file"] == str(page) and rec["version"] is None
    [rec] = kirinuki.clean(PAGE)
    assert rec["input_file"] is None
