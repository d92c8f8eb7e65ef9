"""End of a run: turn its counters and flagged records into alerts, and log it in the history."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from kirinuki.scraper.health import RECORD_KINDS, Alert, sort_alerts, source_alerts
from kirinuki.scraper.history import History


def finish_health(history: History, run_id: str, started_at: str,
                  sources: dict[str, dict[str, Any]], complete: bool = True) -> list[Alert]:
    """Alerts of this run (worst first); one `source_runs` row per source crawled.

    A run stopped early (SIGTERM, a shutdown) judges only the records it made: its counters say
    nothing about the sources, and it is not logged as their run, so they stay due.
    """
    alerts: list[Alert] = []
    for name, row in sources.items() if complete else ():
        alerts += source_alerts(name, row, history.had_articles(name))
    groups: dict[tuple[str, str], list[tuple[str | None, str | None, bool]]] = defaultdict(list)
    for source, profile, url, flags, held in history.flagged(run_id):
        for kind in flags:
            if kind in RECORD_KINDS:
                groups[(source, kind)].append((profile, url, held))
    for (source, kind), items in groups.items():
        n_held = sum(1 for _p, _u, h in items if h)
        profiles = sorted({p for p, _u, _h in items if p})
        detail = f"{len(items)} record(s)"
        if n_held:
            detail += f", {n_held} held back (kirinuki held list)"
        if profiles:
            detail += f"; profile {', '.join(profiles)}"
        alerts.append(Alert(source, kind, detail, tuple(u for _p, u, _h in items if u),
                            profiles[0] if len(profiles) == 1 else None))
    alerts = sort_alerts(alerts)
    lengths = history.run_lengths(run_id)
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in alerts:
        by_source[a.source].append(a.as_dict())
    for name, row in sources.items() if complete else ():
        history.add_source_run(run_id, name, started_at, dict(row), lengths.get(name, []),
                               by_source.get(name, []))
    return alerts
