"""Health checks for unattended runs: pure functions over a source's history and one run.

A scheduled crawl has nobody watching it, so a site that changes its template must show up as an
alert (and a non-zero exit status) instead of as a quietly worse record. The checks are written to
be robust: text length is compared on a log scale against the source's median with the median
absolute deviation (one odd article does not move the baseline), and nothing is judged until the
source has `MIN_HISTORY` healthy articles behind it. No SQLite, Scrapy or clock here: the callers
pass history in (`scraper.history`), so every rule is unit-testable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Order = the order alerts are listed in (worst first).
ALERT_KINDS = ("source_failed", "no_articles", "profile_missed", "short_text", "fields_missing")
# Kinds judged per record; a known healthy article whose new version has one of them is held.
RECORD_KINDS = ("profile_missed", "short_text", "fields_missing")
CHECKED_FIELDS = ("title", "published_at", "authors")

MIN_HISTORY = 5  # healthy articles a source needs before its baseline is trusted
SHORT_FACTOR = 3.0  # "far below": at least this many times shorter than usual ...
MAD_SIGMAS = 4.0  # ... and this many robust standard deviations below the median (log scale)
FIELD_ALWAYS = 0.95  # a field the source "always had": filled in at least this share of history
DISCOVERY_KINDS = ("feed", "sitemap", "listing")
POLICY_REASONS = ("robots_txt", "offsite")


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing a person should look at; `kind` is one of ALERT_KINDS."""

    source: str
    kind: str
    detail: str
    urls: tuple[str, ...] = ()
    profile: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "detail": self.detail,
                "urls": list(self.urls), "profile": self.profile}


@dataclass(frozen=True, slots=True)
class RecordStats:
    """What the checks need of one record (also what the state keeps as history)."""

    text_len: int
    paragraphs: int
    fields: frozenset[str]  # which of CHECKED_FIELDS were filled
    method: str | None
    profile: str | None
    flags: frozenset[str] = frozenset()

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RecordStats:
        extraction = record.get("extraction") or {}
        blocks = record.get("blocks") or []
        return cls(
            text_len=len(record.get("text") or ""),
            paragraphs=sum(1 for b in blocks if isinstance(b, dict) and b.get("type") == "paragraph"),
            fields=frozenset(f for f in CHECKED_FIELDS if record.get(f)),
            method=extraction.get("method"),
            profile=extraction.get("profile"),
            flags=frozenset(record.get("flags") or ()),
        )

    @property
    def healthy(self) -> bool:
        return not (self.flags & set(RECORD_KINDS))


@dataclass(frozen=True, slots=True)
class Baseline:
    """A source's usual article, from its healthy history."""

    n: int
    median_len: float
    short_below: float  # a text shorter than this is `short_text`
    always: frozenset[str] = field(default_factory=frozenset)  # fields the source always had


def baseline(history: Iterable[RecordStats], min_history: int = MIN_HISTORY) -> Baseline | None:
    """Median/MAD of log text length and the always-filled fields; None below `min_history`."""
    rows = [h for h in history if h.healthy and h.text_len > 0]
    if len(rows) < min_history:
        return None
    logs = [math.log(h.text_len) for h in rows]
    med = statistics.median(logs)
    mad = statistics.median(abs(x - med) for x in logs) * 1.4826
    cut = med - max(MAD_SIGMAS * mad, math.log(SHORT_FACTOR))
    always = frozenset(f for f in CHECKED_FIELDS
                       if sum(f in h.fields for h in rows) >= FIELD_ALWAYS * len(rows))
    return Baseline(len(rows), math.exp(med), math.exp(cut), always)


def record_flags(stats: RecordStats, base: Baseline | None,
                 previous: RecordStats | None = None) -> list[str]:
    """Health flags for one record, judged against the source baseline and its last version."""
    flags: list[str] = []
    if "profile_missed" in stats.flags or (
        previous is not None and previous.method == "profile" and stats.method == "generic"
    ):
        flags.append("profile_missed")
    short = base is not None and stats.text_len < base.short_below
    if previous is not None and previous.healthy and previous.text_len > 0:
        short = short or stats.text_len * SHORT_FACTOR < previous.text_len
    if short:
        flags.append("short_text")
    expected = set(base.always) if base is not None else set()
    if previous is not None and previous.healthy:
        expected |= previous.fields
    if expected - stats.fields:
        flags.append("fields_missing")
    return flags


def describe_record(kind: str, stats: RecordStats, base: Baseline | None,
                    previous: RecordStats | None) -> str:
    """A human line for a record-level alert (what was expected, what came)."""
    if kind == "short_text":
        usual = f"source median {base.median_len:.0f}" if base else ""
        if previous is not None:
            usual = (usual + ", " if usual else "") + f"previous version {previous.text_len}"
        return f"text {stats.text_len} chars ({usual})"
    if kind == "fields_missing":
        expected = set(base.always) if base else set()
        if previous is not None:
            expected |= previous.fields
        return "missing " + ", ".join(sorted(expected - stats.fields))
    return f"profile {stats.profile or '?'}: body selectors matched nothing, generic path used"


def source_alerts(source: str, row: Mapping[str, Any], had_articles: bool) -> list[Alert]:
    """Alerts from one source's run counters (the summary row): failed or silent sources."""
    failed = row.get("failed_reasons") or {}
    doc_failures = {k: v for k, v in failed.items() if k.split(":", 1)[0] in DISCOVERY_KINDS}
    # A URL robots.txt or the site boundary refuses is policy, not a failing site.
    article_failures = {k: v for k, v in failed.items() if k.startswith("article:")
                        and k.split(":", 1)[1] not in POLICY_REASONS}
    listed = row.get("discovered", 0) + row.get("known", 0) + row.get("not_modified", 0)
    got = row.get("fetched", 0) + row.get("unchanged", 0)
    if doc_failures and listed == 0:
        return [Alert(source, "source_failed",
                      "discovery failed: " + _reasons(doc_failures))]
    if article_failures and got == 0:
        return [Alert(source, "source_failed",
                      "every article fetch failed: " + _reasons(article_failures))]
    if had_articles and listed == 0:
        return [Alert(source, "no_articles",
                      "discovery answered but listed no articles (it did before)")]
    return []


def _reasons(reasons: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))


def sort_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    order = {k: i for i, k in enumerate(ALERT_KINDS)}
    return sorted(alerts, key=lambda a: (order.get(a.kind, len(order)), a.source))


def parse_fail_on(value: str | None) -> frozenset[str]:
    """`--fail-on KIND,...` -> kinds; raises ValueError naming the known kinds."""
    if value is None or value.strip() in ("", "all"):
        return frozenset(ALERT_KINDS)
    if value.strip() == "none":
        return frozenset()
    kinds = {k.strip() for k in value.split(",") if k.strip()}
    bad = kinds - set(ALERT_KINDS)
    if bad:
        raise ValueError(f"unknown alert kind(s) {', '.join(sorted(bad))} "
                         f"(known: {', '.join(ALERT_KINDS)}, or all, none)")
    return frozenset(kinds)


def fails(alerts: Sequence[Alert] | Sequence[Mapping[str, Any]], fail_on: frozenset[str]) -> bool:
    """Was an alert of a `fail_on` kind raised (the run's exit status is then 1)?"""
    return any((a.kind if isinstance(a, Alert) else a.get("kind")) in fail_on for a in alerts)
