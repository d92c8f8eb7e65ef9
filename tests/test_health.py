"""Health checks (issue 8): pure rules over a source's history and one run's counters."""

from __future__ import annotations

import pytest
from kirinuki.scraper.health import (
    Alert,
    RecordStats,
    baseline,
    fails,
    parse_fail_on,
    record_flags,
    source_alerts,
)

ALL = frozenset({"title", "published_at", "authors"})


def stats(n: int, fields=ALL, method="profile", flags=()) -> RecordStats:
    return RecordStats(n, 5, frozenset(fields), method, "p", frozenset(flags))


def test_short_text_needs_history_and_ignores_outliers():
    assert baseline([stats(1000)] * 4) is None  # too few articles to judge
    history = [stats(n) for n in (900, 1000, 1100, 1200, 950, 30, 20000)]  # two outliers
    base = baseline(history)
    assert base is not None and 900 <= base.median_len <= 1100
    assert record_flags(stats(120), base) == ["short_text"]
    assert record_flags(stats(600), base) == []  # shorter, but not far below
    # a source whose articles vary a lot is judged more loosely (MAD widens the band)
    wide = baseline([stats(n) for n in (200, 400, 1000, 3000, 8000, 600, 1500)])
    assert record_flags(stats(150), wide) == []


def test_flagged_history_does_not_shift_the_baseline():
    history = [stats(1000)] * 5 + [stats(50, flags=("short_text",))] * 20
    base = baseline(history)
    assert base is not None and base.n == 5 and round(base.median_len) == 1000


def test_previous_version_is_compared_even_without_history():
    assert record_flags(stats(100), None, previous=stats(900)) == ["short_text"]
    assert record_flags(stats(800), None, previous=stats(900)) == []
    # a title the article had is gone
    assert record_flags(stats(900, fields={"published_at", "authors"}), None,
                        previous=stats(900)) == ["fields_missing"]
    # profile -> generic on the same article
    assert record_flags(stats(900, method="generic"), None, previous=stats(900)) == [
        "profile_missed"]


def test_fields_missing_only_for_fields_the_source_always_had():
    history = [stats(1000, fields={"title", "published_at"})] * 10
    history += [stats(1000, fields={"title", "published_at", "authors"})] * 3
    base = baseline(history)
    assert record_flags(stats(1000, fields={"title", "published_at"}), base) == []
    assert record_flags(stats(1000, fields={"title"}), base) == ["fields_missing"]


def test_source_alerts():
    down = {"failed_reasons": {"feed:connection_refused": 1}, "discovered": 0, "known": 0}
    assert [a.kind for a in source_alerts("s", down, had_articles=True)] == ["source_failed"]
    articles = {"failed_reasons": {"article:http_500": 4}, "discovered": 4, "fetched": 0}
    assert [a.kind for a in source_alerts("s", articles, False)] == ["source_failed"]
    robots = {"failed_reasons": {"article:robots_txt": 1}, "not_modified": 3}
    assert source_alerts("s", robots, True) == []  # a policy refusal is not a failure
    empty = {"failed_reasons": {}, "discovered": 0, "known": 0, "not_modified": 0}
    assert [a.kind for a in source_alerts("s", empty, True)] == ["no_articles"]
    assert source_alerts("s", empty, False) == []  # never had any: nothing lost
    quiet = {"failed_reasons": {}, "not_modified": 2}
    assert source_alerts("s", quiet, True) == []  # 304s are healthy


def test_fail_on_and_exit_status():
    alerts = [Alert("s", "short_text", "x")]
    assert fails(alerts, parse_fail_on(None))
    assert not fails(alerts, parse_fail_on("source_failed"))
    assert not fails(alerts, parse_fail_on("none"))
    assert not fails([], parse_fail_on("all"))
    with pytest.raises(ValueError, match="known"):
        parse_fail_on("short_txt")

