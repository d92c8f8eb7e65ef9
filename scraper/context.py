"""What one crawl run shares between spider, item pipelines and extensions.

Passed to the spider as a constructor argument and reached by components through
`crawler.spider.context`; no module globals, so tests can run crawls side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kirinuki.scraper.config import SourcesConfig
from kirinuki.scraper.state import JsonlWriter, Store

COUNTERS = ("discovered", "known", "fetched", "new", "updated", "unchanged", "duplicate",
            "failed", "rejected", "partial", "not_modified", "held")


@dataclass
class CrawlContext:
    config: SourcesConfig
    store: Store
    writer: JsonlWriter
    run_id: str
    progress: bool = False
    stats: dict[str, Any] = field(default_factory=dict)  # final Scrapy stats, set at close
    # Set when the run cannot write its output (JSONL or state): the crawl stops, the run stays
    # unfinished and `kirinuki crawl` exits non-zero.
    fatal: str | None = None
    # Called with a `PageGroup` once all its records are settled in the state (cluster mode
    # releases the article's queue lease there).
    settled: Callable[[Any], None] | None = None

    @property
    def output(self) -> Path:
        return self.writer.path

    def summary(self, state_path: Path | str, elapsed_s: float,
                extra: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
        """The run summary (`<run>.summary.json`, the `runs` table, the printed table);
        `extra` adds per-source counters kept outside the Scrapy stats (e.g. `rechecked`)."""
        from kirinuki.scraper.peak_memory import peak_rss_kb

        sources = summarize(self.config, self.stats)
        for name, counters in (extra or {}).items():
            sources.setdefault(name, {}).update(counters)
        totals: dict[str, int] = {}
        for row in sources.values():
            for k, v in row.items():
                if isinstance(v, int):
                    totals[k] = totals.get(k, 0) + v
        return {
            "run_id": self.run_id,
            "output": str(self.writer.path),
            "state": str(state_path),
            "records": self.writer.count,
            "elapsed_s": round(elapsed_s, 2),
            "finish_reason": self.stats.get("finish_reason"),
            "sources": sources,
            "totals": totals,
            "peak_rss_mb": {  # None where the platform does not say (Windows)
                "crawler": _mib(peak_rss_kb()),
                "cleaner_worker": _mib(self.stats.get("kirinuki/cleaner/peak_rss_kb") or None),
            },
            "cleaner_restarts": self.stats.get("kirinuki/cleaner/restarts", 0),
        }


def _mib(kib: int | None) -> float | None:
    return round(kib / 1024, 1) if kib is not None else None


def stat_key(source: str, counter: str) -> str:
    return f"kirinuki/{source}/{counter}"


def summarize(config: SourcesConfig, stats: dict[str, Any]) -> dict[str, Any]:
    """Per-source counters and failure/rejection reasons from the flat Scrapy stats."""
    out: dict[str, Any] = {}
    for src in config.sources:
        prefix = f"kirinuki/{src.name}/"
        row: dict[str, Any] = {c: int(stats.get(prefix + c, 0)) for c in COUNTERS}
        for group in ("failed", "rejected"):
            reasons = {
                k[len(prefix) + len(group) + 1:]: int(v)
                for k, v in stats.items()
                if k.startswith(f"{prefix}{group}/")
            }
            row[f"{group}_reasons"] = dict(sorted(reasons.items()))
        out[src.name] = row
    return out
