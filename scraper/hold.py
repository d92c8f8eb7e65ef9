"""Item pipeline: judge each record's health; hold a degraded version of a known healthy article.

Runs after validation and before dedup (`scraper.settings`). A record that fails a check gets the
alert word in `flags` (`profile_missed`, `short_text`, `fields_missing`). When the article is
already known, its last version was healthy, and the new version fails a check, the new version is
not emitted as an update: it goes to the state's `held` table (see `scraper.history`) until
`kirinuki held release` lets it through. New articles keep flowing, flagged.
"""

from __future__ import annotations

from typing import Any

from kirinuki.pipelines.record import dumps
from kirinuki.scraper.health import (
    RECORD_KINDS,
    Baseline,
    RecordStats,
    baseline,
    describe_record,
    record_flags,
)
from kirinuki.scraper.history import History
from kirinuki.scraper.item_pipelines import StatePipeline, article_key
from kirinuki.scraper.items import RecordItem


class HealthPipeline(StatePipeline):
    """Flag suspect records; keep degraded versions of known healthy articles out of the output."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._history: History | None = None
        self._baselines: dict[str, Baseline | None] = {}

    def process_item(self, item: RecordItem, spider: Any = None) -> RecordItem:
        ctx = self.ctx
        store = ctx.store
        if self._history is None:
            self._history = History(store.db)
        history = self._history
        rec, g = item.record, item.group
        if g.source not in self._baselines:  # judged against earlier runs only
            self._baselines[g.source] = baseline(history.source_stats(g.source))
        base = self._baselines[g.source]
        key = article_key(item)  # same rule as DedupPipeline for clippings
        prev = store.article(key)
        url = rec.get("url") or g.final_url
        if prev is not None and prev[0] == rec.get("content_hash"):
            # Unchanged text, but the way it was found may have broken (a template change
            # the generic path happened to survive): still worth an alert.
            stats = RecordStats.of(rec)
            if "profile_missed" in stats.flags:
                history.flag(ctx.run_id, g.source, stats.profile, url, ["profile_missed"])
            return item
        previous = history.stats(key) if prev is not None else None
        stats = RecordStats.of(rec)
        flags = record_flags(stats, base, previous)
        rec["flags"] = list(rec.get("flags") or []) + [f for f in flags
                                                      if f not in (rec.get("flags") or [])]
        stats = RecordStats.of(rec)
        bad = [f for f in flags if f in RECORD_KINDS]
        if bad and previous is not None and previous.healthy:
            detail = "; ".join(f"{k}: {describe_record(k, stats, base, previous)}" for k in bad)
            history.hold(key, g.source, url, ctx.run_id, g.fetched_at, bad, detail,
                         stats.text_len, rec.get("content_hash"), dumps(rec))
            history.flag(ctx.run_id, g.source, stats.profile, url, bad, held=True)
            self.inc(g.source, "held")
            g.held += 1
            raise self.drop(item, "held")
        history.note(key, g.source, url, ctx.run_id, g.fetched_at, stats)
        if bad:
            history.flag(ctx.run_id, g.source, stats.profile, url, bad)
        return item
