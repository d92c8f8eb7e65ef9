"""Profile versions: one site, two templates, each page cleaned by the one valid on its date."""

from __future__ import annotations

import textwrap

import pytest
from kirinuki.pipelines import Page, clean
from kirinuki.pipelines.profiles import load_profiles

from tests.conftest import profile_error

PROFILE = textwrap.dedent("""
    id = "versioned"
    domains = ["news.versioned.example.jp"]
    timezone = "+09:00"
    version = "2021"                      # the current template

    [extract]
    title = ["h1.headline"]
    body = ["div.story-body"]
    [noise]
    promo = ["div.story-promo"]

    [[versions]]
    name = "2015"
    until = 2021-04-01                    # pages fetched before the redesign
    [versions.extract]
    title = ["div#kiji h2"]
    body = ["div#kiji div.honbun"]
    [versions.noise]
    promo = ["p.kanren"]
""")
TEXT = "新しい港湾計画について市は住民説明会を開き、事業費と工期の見通しを示した。" * 10
OLD = (f"<html><body><div id='kiji'><h2>旧テンプレートの見出し</h2><div class='honbun'><p>{TEXT}</p>"
       "<p class='kanren'>関連記事はこちら</p></div></div><div class='story-body'><p>サイドの短信</p></div>"
       "</body></html>")
NEW = (f"<html><body><h1 class='headline'>新テンプレートの見出し</h1><div class='story-body'><p>{TEXT}</p>"
       "<div class='story-promo'>有料会員募集中</div></div></body></html>")
URL = "https://news.versioned.example.jp/a/1"


@pytest.fixture
def profiles(tmp_path):
    (tmp_path / "versioned.toml").write_text(PROFILE, encoding="utf-8")
    return load_profiles([tmp_path])


def _clean(html: str, profiles, fetched_at: str | None):
    return clean(Page(url=URL, body=html.encode(), fetched_at=fetched_at), profiles)[0]


def test_old_page_is_read_with_the_old_template(profiles):
    rec = _clean(OLD, profiles, "2019-06-01T00:00:00+00:00")
    assert rec["extraction"]["profile"] == "versioned@2015" and rec["extraction"]["method"] == "profile"
    assert rec["title"] == "旧テンプレートの見出し" and rec["text"] == TEXT
    assert "profile_missed" not in rec["flags"]


def test_new_page_is_read_with_the_current_template(profiles):
    rec = _clean(NEW, profiles, "2025-01-10T00:00:00+00:00")
    assert rec["extraction"]["profile"] == "versioned@2021" and rec["text"] == TEXT
    assert rec["title"] == "新テンプレートの見出し"


def test_the_date_decides_not_the_markup(profiles):
    # the old page fetched after the redesign is read with the new template: its selectors hit
    # the side box, a fragment, so the record says the profile missed
    rec = _clean(OLD, profiles, "2025-01-10T00:00:00+00:00")
    assert rec["extraction"]["profile"] == "versioned@2021" and "profile_missed" in rec["flags"]


def test_archived_copy_without_fetch_time_uses_its_published_date(profiles):
    old = OLD.replace("<html>", "<html><head><meta property='article:published_time' content='2018-03-01T09:00:00+09:00'></head>")
    rec = _clean(old, profiles, None)
    assert rec["extraction"]["profile"] == "versioned@2015"


@pytest.mark.parametrize("extra, key", [
    ('[[versions]]\nname = "x"\n', "[versions[0]]"),
    ('[[versions]]\nname = "x"\nuntil = "April"\n', "[versions[0].until]"),
    ('[[versions]]\nname = "x"\nfrom = 2022-01-01\nuntil = 2021-01-01\n', "[versions[0]]"),
    ('[[versions]]\nname = "x"\nuntil = 2021-01-01\nbogus = 1\n', "[versions[0].bogus]"),
])
def test_bad_versions_name_the_key(tmp_path, extra, key):
    assert key in profile_error(tmp_path / "bad.toml", 'id = "bad"\n' + extra)
