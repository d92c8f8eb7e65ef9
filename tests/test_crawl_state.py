"""The crawl state against damage: recovery checks every run's file, a lost or corrupt state
file is refused (or rebuilt on request) instead of re-emitting everything."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest
from kirinuki.scraper.item_pipelines import record_key
from kirinuki.scraper.state import Emit, JsonlWriter, StateBusy, StateCorrupt, Store, repair_jsonl

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests.crawl_server import all_records, news_article, run_crawl, write_sources

T = "2025-01-01T00:00:00+00:00"


def _emit(i: int) -> Emit:
    rec = {"url": f"https://ex.jp/{i}", "text": f"本文{i}", "content_hash": f"h{i}", "source": "s"}
    return Emit(f"https://ex.jp/{i}", 1, "s", rec["url"], rec["content_hash"], None,
                json.dumps(rec, ensure_ascii=False))


def _run(store: Store, run_id: str, path, n: int, written: int, finish: bool = True) -> None:
    store.start_run(run_id, path)
    writer = JsonlWriter(path)
    for i in range(n):
        store.emit(run_id, [_emit(i)], [(f"https://ex.jp/{i}", "s", "article")],
                   etag=None, last_modified=None, fetched_at=T)
        if i < written:
            writer.write(_emit(i).line)
    writer.close()
    if finish:
        store.finish_run(run_id, {})


def test_recovery_repairs_a_finished_run_missing_records(tmp_path):
    """An older version marked a run finished after a failed write: recovery still finds the
    missing records in the state and appends them; a complete file is not rewritten."""
    store = Store(tmp_path / "state.sqlite")
    short, full = tmp_path / "crawl-1.jsonl", tmp_path / "crawl-2.jsonl"
    _run(store, "crawl-1", short, 6, written=2)
    _run(store, "crawl-2", full, 3, written=3)
    assert store.recover() == [(str(short), 4)]
    assert [json.loads(x)["url"] for x in short.read_text().splitlines()] == [
        f"https://ex.jp/{i}" for i in range(6)]
    assert store.recover() == []  # checked: sizes remembered
    store.close()


def test_recovery_rewrites_a_file_damaged_inside_and_keeps_the_old_one(tmp_path):
    store = Store(tmp_path / "state.sqlite")
    path = tmp_path / "crawl-1.jsonl"
    _run(store, "crawl-1", path, 4, written=1)
    with open(path, "ab") as f:  # a torn record 1, then record 3 written after it
        f.write(_emit(1).line.encode()[:9] + (_emit(3).line + "\n").encode())
    before = path.read_bytes()
    assert store.recover() == [(str(path), 3)]
    assert path.read_text().splitlines() == [_emit(i).line for i in range(4)]
    assert (tmp_path / "crawl-1.jsonl.damaged").read_bytes() == before
    store.close()


def test_repair_cuts_a_torn_tail_and_leaves_foreign_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"a":1}\n{"b"')
    assert repair_jsonl(p, []) == 0
    assert p.read_bytes() == b'{"a":1}\n'
    p.write_bytes(b'{"a":1}\n{"z":9}\n')
    assert repair_jsonl(p, ['{"a":1}']) == 0
    assert p.read_bytes() == b'{"a":1}\n{"z":9}\n'


def test_corrupt_and_busy_states_raise_their_own_errors(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database, just bytes " * 400)
    with pytest.raises(StateCorrupt, match="not a usable state file"):
        Store(bad)
    Store(bad.with_name("other.sqlite")).close()  # the lock was released on the way out
    a = Store(tmp_path / "s.sqlite")
    with pytest.raises(StateBusy):
        Store(tmp_path / "s.sqlite")
    a.close()
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    s = Store(empty)
    assert s.is_empty()
    s.close()


def test_rebuild_marks_articles_done_with_versions(tmp_path):
    lines = [dict(url="https://ex.jp/1", content_hash="a", source="s", fetched_at=T),
             dict(url="https://ex.jp/2", content_hash="b", source="s", fetched_at=T),
             dict(url="https://ex.jp/1", content_hash="c", source="s", fetched_at=T)]
    f = tmp_path / "crawl-1.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"torn', encoding="utf-8")
    s = Store(tmp_path / "state.sqlite")
    assert s.rebuild([f], record_key) == 3
    assert s.article("https://ex.jp/1") == ("c", 2)
    assert s.get("https://ex.jp/2").status == "done"
    assert not s.is_empty()
    assert s.recover() == []  # the files match the rebuilt records; the torn tail is cut
    assert f.read_bytes().endswith(b"}\n")
    s.close()


N = 30


def test_lost_or_corrupt_state_next_to_earlier_runs_emits_no_duplicates(tmp_path):
    with SiteServer() as srv:
        for n in range(1, N + 1):
            srv.resources[f"/a/{n}.html"] = Resource(news_article(n))
        items = [sitegen.Item(srv.url(f"/a/{n}.html"), f"記事{n}") for n in range(1, N + 1)]
        srv.resources["/sitemap.xml"] = Resource(sitegen.urlset(items), "application/xml")
        srv.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow:\n", "text/plain")
        sources = write_sources(tmp_path / "sources.toml", [{
            "name": "s", "sitemaps": [srv.url("/sitemap.xml")], "download_delay": 0.0,
            "concurrent_requests": 4}])
        out = tmp_path / "out"
        state = out / "state.sqlite"
        first = run_crawl(sources, out)
        assert first.returncode == 0 and len(first.records) == N, first.stderr[-2000:]

        state.write_bytes(b"")  # emptied (a full disk, a careless `>`)
        empty = run_crawl(sources, out)
        assert empty.returncode == 2
        assert len(empty.stderr.strip().splitlines()) == 1, empty.stderr
        assert "--rebuild-state" in empty.stderr and "Traceback" not in empty.stderr

        state.write_bytes(bytes(range(256)) * 64)  # not SQLite at all
        corrupt = run_crawl(sources, out)
        assert corrupt.returncode == 2
        assert len(corrupt.stderr.strip().splitlines()) == 1, corrupt.stderr
        assert "not a usable state file" in corrupt.stderr

        state.unlink()
        rebuilt = run_crawl(sources, out, "--rebuild-state")
        assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
        assert rebuilt.records == []
        counts = Counter(r["url"] for r in all_records(out))
        assert len(counts) == N and max(counts.values()) == 1  # duplicates: 0
        # articles known from the files were not fetched again
        assert all(len([h for h in srv.requests_for(f"/a/{n}.html") if h.method == "GET"]) == 1
                   for n in range(1, N + 1))
        db = sqlite3.connect(state)
        assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == N
        db.close()
