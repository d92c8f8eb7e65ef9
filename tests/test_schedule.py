"""Schedules (issue 8): intervals and cron via croniter, what --due picks, config validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kirinuki.scraper.config import SourcesError, parse_sources
from kirinuki.scraper.schedule import due, next_due, parse_duration, parse_schedule
from kirinuki.scraper.scheduler import schedules_of

NOW = datetime(2026, 3, 2, 10, 7, tzinfo=UTC)


def test_durations():
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("6h") == timedelta(hours=6)
    assert parse_duration("1d") == timedelta(days=1)
    for bad in ("", "15", "0m", "1y", "-1d", "ten minutes"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_interval_and_cron_slots():
    assert parse_schedule("15m").next_after(NOW) == NOW + timedelta(minutes=15)
    half = parse_schedule("*/30 * * * *")
    assert half.next_after(NOW) == NOW.replace(minute=30)
    assert parse_schedule("@daily").next_after(NOW) == datetime(2026, 3, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="cron"):
        parse_schedule("*/30 * * *  banana")


def test_due_picks_never_run_and_past_their_slot():
    schedules = {"fast": parse_schedule("15m"), "cron": parse_schedule("0 * * * *"),
                 "new": parse_schedule("1d"), "always": None}
    last = {"fast": (NOW - timedelta(minutes=20)).isoformat(),
            "cron": (NOW - timedelta(minutes=5)).isoformat()}  # 10:02, next slot 11:00
    assert due(schedules, last, NOW) == ["fast", "new", "always"]
    last["fast"] = NOW.isoformat()
    assert due(schedules, last, NOW) == ["new", "always"]
    when, name = next_due({k: v for k, v in schedules.items() if v is not None},
                          {**last, "new": NOW.isoformat()})
    assert (when, name) == (NOW + timedelta(minutes=15), "fast")


def test_config_reads_and_checks_schedules():
    cfg = parse_sources({"crawl": {"schedule": "6h", "keep_runs": 10},
                         "sources": [{"name": "a", "feeds": ["http://x.test/f"]},
                                     {"name": "b", "feeds": ["http://x.test/g"],
                                      "schedule": "*/30 * * * *", "recheck_after": "7d"}]})
    assert [s.schedule for s in cfg.sources] == ["6h", "*/30 * * * *"]
    assert cfg.sources[1].recheck_after == "7d" and cfg.crawl.keep_runs == 10
    assert set(schedules_of(cfg)) == {"a", "b"}
    with pytest.raises(SourcesError, match="'b': key 'schedule'"):
        parse_sources({"sources": [{"name": "b", "feeds": ["http://x.test/g"],
                                    "schedule": "every tuesday"}]})
    with pytest.raises(SourcesError, match="recheck_after"):
        parse_sources({"sources": [{"name": "b", "feeds": ["http://x.test/g"],
                                    "recheck_after": "7"}]})
    bare = parse_sources({"sources": [{"name": "c", "feeds": ["http://x.test/g"]}]})
    with pytest.raises(SourcesError, match="required by `kirinuki schedule`"):
        schedules_of(bare)


def test_scheduler_reloads_a_changed_sources_file_and_keeps_the_last_good_one(tmp_path):
    import os

    from kirinuki.scraper.scheduler import Scheduler

    path = tmp_path / "sources.toml"
    path.write_text('[[sources]]\nname = "a"\nfeeds = ["http://x.test/f"]\nschedule = "1h"\n')
    sched = Scheduler(path, tmp_path / "out", tmp_path / "out" / "state.sqlite", [])
    assert sched.reload() and set(sched.schedules) == {"a"}
    assert not sched.reload()  # unchanged file: not re-read
    path.write_text(path.read_text() + '[[sources]]\nname = "b"\nfeeds = ["http://x.test/g"]\n'
                    'schedule = "*/5 * * * *"\n')
    os.utime(path, ns=(1, 10**18))  # a new mtime even within the clock's resolution
    assert sched.reload() and set(sched.schedules) == {"a", "b"}
    path.write_text("[[sources]]\nname = 'a'\n")  # a broken edit
    os.utime(path, ns=(1, 2 * 10**18))
    assert not sched.reload() and set(sched.schedules) == {"a", "b"}
    assert sched.last_started() == {}  # no state yet: everything is due
