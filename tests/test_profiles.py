from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from kirinuki.pipelines.profiles import ProfileError, load_profile_file, load_profiles

from tests.conftest import profile_error


def test_shipped_profiles_load():
    profiles = load_profiles()
    for name in ("nikkei", "mezamero", "trendmatome"):
        assert name in profiles.names()


def test_pick_by_domain_and_name():
    profiles = load_profiles()
    assert profiles.for_url("https://www.nikkei.com/article/X/").name == "nikkei"
    assert profiles.for_url("https://example.org/a") is None
    assert profiles.get("nikkei").name == "nikkei"
    with pytest.raises(ProfileError, match="unknown profile"):
        profiles.get("nope")


@pytest.mark.parametrize(
    "body, key",
    [
        ('id = "x"\ndomains = ["x.jp"]\nbogus = 1\n', "[bogus]"),
        ('id = "x"\n[extract]\nbody = ["div[["]\n', "[extract.body]"),
        ('id = "x"\n[noise]\nnavigation = ["nav"]\nweird = ["p"]\n', "[noise.weird]"),
        ('id = "x"\n[noise.lines]\nshare = ["(unclosed"]\n', "[noise.lines.share]"),
        ('id = "X Y"\n', "[id]"),
        ('id = "x"\ntimezone = "JST"\n', "[timezone]"),
        ('id = "x"\n[paywall]\njson = [{ script = "script", path = "a.b", sets = "maybe" }]\n', "[paywall.json.sets]"),
        ('id = "x"\n[extract]\ntitle = [{ pattern = "(.*)" }]\n', "[extract.title]"),
        ('id = "x"\nfurigana = "ruby"\n', "[furigana]"),
        ('id = "x"\n[noise.text]\npager = [{ match = "^次", up = -1 }]\n', "[noise.text.pager]"),
        ('id = "x"\n[noise.text]\nbogus = ["x"]\n', "[noise.text.bogus]"),
        ('id = "x"\n[pages]\nnext = ["text:(unclosed"]\n', "[pages.next]"),
    ],
)
def test_bad_profiles_name_file_and_key(tmp_path, body, key):
    f = tmp_path / "bad.toml"
    message = profile_error(f, body)
    assert str(f) in message and key in message


def test_not_toml(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("id = \n", encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile_file(f)


def test_user_profile_dir_overrides_and_extends(tmp_path):
    (tmp_path / "mine.toml").write_text(
        textwrap.dedent("""
        id = "mine"
        domains = ["news.example.org"]
        [extract]
        body = ["div.story"]
        """),
        encoding="utf-8",
    )
    profiles = load_profiles([tmp_path])
    assert profiles.for_url("https://news.example.org/x").name == "mine"
    assert "nikkei" in profiles.names()


def test_profiles_command_json(tmp_path):
    import json

    out = subprocess.run([sys.executable, "-m", "kirinuki.cli", "profiles", "--json"],
                         capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)
    assert all(r["ok"] for r in rows) and {"name", "domains", "file"} <= set(rows[0])
    (tmp_path / "bad.toml").write_text('id = "bad"\nnope = 1\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kirinuki.cli", "profiles", "--profiles-dir", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "nope" in proc.stdout


def test_furigana_inline_keeps_the_printed_reading(tmp_path):
    """A site that prints readings after names keeps them as text; elsewhere they go."""
    from kirinuki.pipelines import Page, clean

    (tmp_path / "ruby.toml").write_text(
        'id = "rubysite"\ndomains = ["ruby.example.jp"]\nfurigana = "inline"\n[extract]\nbody = ["div.story"]\n',
        encoding="utf-8")
    story = ("<div class='story'><p>韓国の<ruby><rb>尹錫悦</rb><rp>（</rp><rt>ユンソンニョル</rt><rp>）</rp></ruby>"
             "大統領は<ruby>弾劾<rt>だんがい</rt></ruby>訴追案について語った。" + "記事の本文。" * 20 + "</p></div>")
    body = f"<html><head><title>t</title></head><body>{story}</body></html>".encode()
    profiles = load_profiles([tmp_path])
    kept = clean(Page(url="https://ruby.example.jp/a", body=body), profiles)[0]
    assert kept["text"].startswith("韓国の尹錫悦(ユンソンニョル)大統領は弾劾(だんがい)訴追案")
    dropped = clean(Page(url="https://other.example.jp/a", body=body), profiles)[0]
    assert "ユンソンニョル" not in dropped["text"] and "尹錫悦大統領は弾劾訴追案" in dropped["text"]


def test_profiles_and_sources_share_one_toml_validator(tmp_path):
    """Unknown keys and bad regexes read the same in a profile and in a sources file."""
    from kirinuki.scraper.config import SourcesError, load_sources

    prof = tmp_path / "p.toml"
    prof.write_text('id = "x"\ndomains = ["x.jp"]\n[extract]\ntilte = ["h1"]\n', encoding="utf-8")
    with pytest.raises(ProfileError) as exc:
        load_profile_file(prof)
    assert "[extract.tilte] unknown key 'tilte' (did you mean 'title'?); allowed:" in str(exc.value)
    prof.write_text('id = "x"\ndomains = ["x.jp"]\n[noise.lines]\nad = ["(unclosed"]\n', encoding="utf-8")
    with pytest.raises(ProfileError, match=r"\[noise.lines.ad\] bad regular expression '\(unclosed'"):
        load_profile_file(prof)
    src = tmp_path / "s.toml"
    src.write_text('[[sources]]\nname = "s"\nfeeds = ["https://x.jp/rss"]\narticle_pattern = "(unclosed"\n',
                   encoding="utf-8")
    with pytest.raises(SourcesError, match=r"key 'article_pattern': bad regular expression '\(unclosed'"):
        load_sources(src)
    src.write_bytes(b"\xff\xfe not utf-8")
    for load, error in ((load_sources, SourcesError), (load_profile_file, ProfileError)):
        with pytest.raises(error, match="not valid TOML"):
            load(src)
