"""Unattended runs end to end (issue 8): alerts and exit status when a site drifts between runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from kirinuki.demo.server import SiteServer
from tests.crawl_server import REPO, crawl_env, paragraphs, run_crawl, write_sources
from tests.unattended_sites import FeedSite, write_profile


@pytest.mark.e2e
def test_drifting_site_raises_the_right_alerts_and_holds_the_degraded_version(tmp_path):
    with SiteServer() as s1, SiteServer() as s2, SiteServer() as s3, SiteServer() as s4:
        news = FeedSite(s1, "news", 8)
        drift = FeedSite(s2, "drift", 6, profiled=True)
        down = FeedSite(s3, "down", 3)
        steady = FeedSite(s4, "steady", 6)
        profiles = write_profile(tmp_path / "profiles").parent
        sources = write_sources(
            tmp_path / "sources.toml",
            [news.source(), drift.source(), down.source(), steady.source()],
            crawl={"profiles_dirs": [str(profiles)]})
        out = tmp_path / "out"
        first = run_crawl(sources, out)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        assert first.summary["alerts"] == []
        assert len(first.records) == 8 + 6 + 3 + 6
        drifted = [r for r in first.records if r["source"] == "drift"]
        assert all(r["extraction"]["method"] == "profile" for r in drifted)

        # Between the runs: drift's template changes (body selectors no longer match) on two
        # articles, one news article is cut to one sentence with a new date, one host goes down.
        for i in (2, 3):
            drift.change(i, drift.page(i, body_class="content-v2"))
        news.change(4, news.page(4, paras=paragraphs(1, "切り詰め")[:1]))
        s3.stop()

        second = run_crawl(sources, out)
        assert second.returncode == 1, second.stdout + second.stderr[-3000:]
        alerts = second.summary["alerts"]
        by = {(a["source"], a["kind"]) for a in alerts}
        assert ("down", "source_failed") in by
        assert ("news", "short_text") in by
        assert ("drift", "profile_missed") in by
        assert {a["source"] for a in alerts} == {"down", "news", "drift"}  # steady raises nothing
        short = next(a for a in alerts if a["kind"] == "short_text")
        assert short["urls"] == [news.url(4)]
        missed = next(a for a in alerts if a["kind"] == "profile_missed")
        assert sorted(missed["urls"]) == [drift.url(2), drift.url(3)]
        # the degraded version was held, not emitted (drift's generic path found the same text:
        # nothing to hold, but the alert is raised all the same)
        assert second.records == []
        assert second.summary["sources"]["news"]["held"] == 1
        assert "ALERT source_failed down" in second.stdout
        db = sqlite3.connect(second.summary["state"])
        held = db.execute("SELECT url, flags FROM held ORDER BY url").fetchall()
        assert [u for u, _f in held] == [news.url(4)]
        assert json.loads(dict(held)[news.url(4)]) == ["short_text"]
        # the latest version of the article is still the good one
        ver = db.execute("SELECT version FROM articles WHERE url=?", (news.url(4),)).fetchone()
        assert ver == (1,)

        db.close()

        # a person judges the change real: `kirinuki held release` emits it as version 2
        listed = held_cmd(second.summary["state"], "list", "--json")
        assert [h["url"] for h in json.loads(listed.stdout)] == [news.url(4)]
        rel = held_cmd(second.summary["state"], "release", news.url(4))
        assert rel.returncode == 0, rel.stderr
        released = list(out.glob("release-*.jsonl"))
        assert len(released) == 1
        lines = [json.loads(x) for x in released[0].read_text().splitlines()]
        assert [r["url"] for r in lines] == [news.url(4)] and "short_text" in lines[0]["flags"]
        db = sqlite3.connect(second.summary["state"])
        assert db.execute("SELECT version FROM articles WHERE url=?", (news.url(4),)).fetchone() == (2,)
        assert db.execute("SELECT COUNT(*) FROM held").fetchone() == (0,)
        db.close()

        # --fail-on chooses which kinds fail the run
        third = run_crawl(sources, out, "--fail-on", "short_text")
        assert third.returncode == 0, third.stdout
        assert [a["kind"] for a in third.summary["alerts"]] == ["source_failed"]


def held_cmd(state: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kirinuki.cli", "held", *args, "--state", state],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=crawl_env())


def test_a_second_run_on_a_busy_state_exits_3(tmp_path):
    from kirinuki.scraper.state import Store

    with SiteServer() as srv:
        site = FeedSite(srv, "news", 1)
        sources = write_sources(tmp_path / "sources.toml", [site.source()])
        out = tmp_path / "out"
        holder = Store(out / "state.sqlite")  # what a running crawl holds
        try:
            res = run_crawl(sources, out)
        finally:
            holder.close()
        assert res.returncode == 3, res.stderr
        assert "busy" in res.stderr
        assert srv.requests_for("/atom.xml") == []


def test_usage_and_config_errors_exit_2(tmp_path):
    bad = tmp_path / "sources.toml"
    bad.write_text("[[sources]]\nname = 'x'\n", encoding="utf-8")
    assert run_crawl(bad, tmp_path / "out").returncode == 2
    with SiteServer() as srv:
        sources = write_sources(tmp_path / "ok.toml", [FeedSite(srv, "news", 1).source()])
        res = run_crawl(sources, tmp_path / "out", "--fail-on", "nonsense")
    assert res.returncode == 2 and "known" in res.stderr
