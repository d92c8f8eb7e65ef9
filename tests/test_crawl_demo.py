"""`kirinuki crawl --demo`: the README's first command crawls the shipped fixtures offline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kirinuki.demo import load_fixtures, plan_sites
from tests.crawl_server import run_crawl

# Real crawls in subprocesses against loopback sites: slow.
pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_demo_crawls_every_fixture_once(tmp_path, profiles):
    sites = plan_sites(load_fixtures(FIXTURES), profiles)
    out = tmp_path / "demo"
    res = run_crawl(None, out, "--demo", timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "records" in res.stdout  # the summary table was printed

    # every page-1 fixture gave the number of records its checks expect, each exactly once
    expected: Counter[str] = Counter()
    for site in sites:
        for f in site.articles or []:
            meta = json.loads(next(FIXTURES.glob(f"*/{_stem(f)}.json")).read_text())
            expected[urlsplit(f.url).path] = meta.get("checks", {}).get("count", 1)
    got = Counter(urlsplit(r["url"]).path for r in res.records)
    assert got == +expected
    assert len({r["url"] for r in res.records}) == len(res.records)
    # each source used the profile its site needs, on a loopback host
    for site in sites:
        recs = [r for r in res.records if r["source"] == site.name]
        if site.profile and recs:
            assert all(r["extraction"]["profile"] == site.profile for r in recs), site.name

    again = run_crawl(None, out, "--demo", timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.records == []


def _stem(fixture) -> str:
    for meta in FIXTURES.glob(f"{fixture.site}/*.json"):
        if json.loads(meta.read_text())["source"]["url"] == fixture.url:
            return meta.stem
    raise AssertionError(fixture.url)
