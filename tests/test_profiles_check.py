"""`kirinuki profiles check DIR`: a user's profiles validated and their fixtures run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROFILE = textwrap.dedent("""
    id = "mysite"
    domains = ["news.mysite.example"]
    [extract]
    title = ["h1.t"]
    body = ["div.story"]
    [noise]
    promo = ["div.promo"]
""")
TEXT = "市議会は二十八日、新しい図書館の建設計画を賛成多数で可決した。開館は再来年の春を予定している。" * 4
PAGE = (f"<html><body><h1 class='t'>図書館計画を可決</h1><div class='story'><p>{TEXT}</p>"
        "<div class='promo'>今すぐ会員登録</div></div></body></html>")


def _dir(tmp_path, profile=PROFILE, checks=None):
    d = tmp_path / "myprofiles"
    (d / "fixtures" / "mysite").mkdir(parents=True)
    (d / "mysite.toml").write_text(profile, encoding="utf-8")
    (d / "fixtures" / "mysite" / "2025-01-01_library.html").write_text(PAGE, encoding="utf-8")
    checks = checks or {"count": 1, "records": [{"fields": {"title": "図書館計画を可決", "extraction.method": "profile"},
                                                 "absent": ["今すぐ会員登録"], "starts_with": TEXT[:20]}]}
    meta = {"source": {"url": "https://news.mysite.example/a/1", "fetched_at": "2025-01-01T00:00:00+00:00",
                       "content_type": "text/html; charset=utf-8", "profile": None}, "checks": checks}
    (d / "fixtures" / "mysite" / "2025-01-01_library.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return d


def _check(d):
    return subprocess.run([sys.executable, "-m", "kirinuki.cli", "profiles", "check", str(d)],
                          capture_output=True, text=True, timeout=120)


def test_a_good_directory_passes(tmp_path):
    res = _check(_dir(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok    profile mysite" in res.stdout and "1 fixtures passed, 0 failed" in res.stdout


def test_a_broken_profile_is_named_with_its_key(tmp_path):
    res = _check(_dir(tmp_path, PROFILE.replace("[noise]", "[noise]\nbogus = ['x']")))
    assert res.returncode == 1 and "[noise.bogus]" in res.stdout and "fixtures not run" in res.stdout


def test_a_failing_fixture_check_fails(tmp_path):
    checks = {"count": 1, "records": [{"absent": ["市議会"]}]}
    res = _check(_dir(tmp_path, checks=checks))
    assert res.returncode == 1 and "noise present '市議会'" in res.stdout


def test_a_profile_whose_selectors_no_longer_match_fails(tmp_path):
    # the body moved: the fixture still comes out (generic path) but not through the profile
    checks = {"count": 1}
    res = _check(_dir(tmp_path, PROFILE.replace("div.story", "div.article-body"), checks))
    assert res.returncode == 1 and "mysite: no fixture went through its profile path" in res.stdout
