"""The hold pipeline (issue 8) in process: flag, hold a degraded known article, let new ones flow."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kirinuki.scraper.health import RecordStats
from kirinuki.scraper.history import History
from kirinuki.scraper.hold import HealthPipeline
from kirinuki.scraper.items import PageGroup, RecordItem
from kirinuki.scraper.state import Emit, Store
from scrapy.exceptions import DropItem


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, n: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + n


def _record(url: str, text: str, method: str = "profile", chash: str | None = None,
            flags: list[str] | None = None) -> dict:
    return {"url": url, "canonical_url": None, "text": text, "content_hash": chash or f"h{len(text)}",
            "title": "見出し", "published_at": "2026-03-01T09:00:00+09:00", "authors": [],
            "blocks": [{"type": "paragraph", "text": p} for p in text.split("\n\n")],
            "extraction": {"profile": "p", "method": method}, "flags": flags or []}


def _item(rec: dict) -> RecordItem:
    group = PageGroup("s", rec["url"], rec["url"], [(rec["url"], "s", "article")],
                      fetched_at="2026-03-02T00:00:00+00:00", etag='"e2"', pending=1, valid=1)
    return RecordItem(rec, group)


@pytest.fixture
def setup(tmp_path):
    store = Store(tmp_path / "state.sqlite")
    stats = _Stats()
    ctx = SimpleNamespace(store=store, run_id="run-2", fatal=None)
    crawler = SimpleNamespace(spider=SimpleNamespace(context=ctx), stats=stats)
    history = History(store.db)
    body = "本文の段落です。" * 40
    for i in range(6):  # an earlier run: six healthy articles of ~320 characters
        url = f"http://s.test/a{i}.html"
        rec = _record(url, body)
        store.emit("run-1", [Emit(url, 1, "s", url, rec["content_hash"], None, "{}")], [],
                   etag=None, last_modified=None, fetched_at="t")
        history.note(url, "s", url, "run-1", "2026-03-01T00:00:00+00:00", RecordStats.of(rec))
    yield HealthPipeline(crawler), store, history, stats
    store.close()


def test_degraded_known_article_is_held_and_its_page_marked_done(setup):
    pipe, store, history, stats = setup
    url = "http://s.test/a1.html"
    with pytest.raises(DropItem, match="held"):
        pipe.process_item(_item(_record(url, "一文だけ。", chash="short")))
    held = history.held()
    assert [(h.url, h.flags) for h in held] == [(url, ("short_text",))]
    assert stats.values["kirinuki/s/held"] == 1
    assert store.article(url)[1] == 1  # the good version stays the latest
    assert store.get(url).status == "done" and store.get(url).etag == '"e2"'
    assert history.flagged("run-2") == [("s", "p", url, ["short_text"], True)]


def test_profile_fallback_with_other_text_is_held_too(setup):
    pipe, _store, history, _stats = setup
    url = "http://s.test/a2.html"
    rec = _record(url, "別の本文です。" * 45, method="generic", chash="g",
                  flags=["profile_missed"])
    with pytest.raises(DropItem):
        pipe.process_item(_item(rec))
    assert history.held()[0].flags == ("profile_missed",)


def test_new_articles_flow_flagged_and_unchanged_ones_still_alert(setup):
    pipe, _store, history, _stats = setup
    new = _record("http://s.test/new.html", "短い。", chash="n")
    out = pipe.process_item(_item(new))
    assert out.record["flags"] == ["short_text"]  # below the source's baseline, not held
    same = _record("http://s.test/a3.html", "本文の段落です。" * 40, method="generic",
                   flags=["profile_missed"])  # same hash as stored: unchanged text
    assert pipe.process_item(_item(same)).record == same
    kinds = [(u, f, h) for _s, _p, u, f, h in history.flagged("run-2")]
    assert kinds == [("http://s.test/new.html", ["short_text"], False),
                     ("http://s.test/a3.html", ["profile_missed"], False)]
    assert history.held() == []
