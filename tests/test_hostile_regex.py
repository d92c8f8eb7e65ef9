"""Regexes on page-controlled text stay linear (issue 7, item 7).

Each case runs a regex's caller on an input of about 150 KB built to make a backtracking pattern
quadratic or worse. Before the fixes these took from 30 s to many minutes; linear code takes
milliseconds, so a bound of 5 s cannot flake on a loaded machine and cannot pass on the old code.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from kirinuki.pipelines import Page, clean
from kirinuki.pipelines.encoding import decode
from kirinuki.pipelines.jadates import parse_date
from kirinuki.pipelines.metadata import _LABELLED_DATE_RE, clean_tags

BOUND = 5.0  # seconds; quadratic behaviour on these inputs takes minutes
ARTICLE = "<article><h1>Hostile page</h1>" + "".join(
    f"<p>{i} Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    f"incididunt ut labore et dolore magna aliqua, ut enim ad minim veniam.</p>" for i in range(6)
) + "</article>"


@contextmanager
def bounded(seconds: float = BOUND):
    start = time.perf_counter()
    yield
    took = time.perf_counter() - start
    assert took < seconds, f"took {took:.1f} s (bound {seconds} s): super-linear on hostile input"


def page(head: str, body: str = ARTICLE) -> Page:
    html = f"<!doctype html><html><head><title>Hostile page</title>{head}</head><body>{body}</body></html>"
    return Page("https://example.com/a", html.encode(), "text/html; charset=utf-8")


def test_keywords_with_a_run_of_spaces():
    # `re.split(r"\s*[,、]\s*")` on the raw meta value: 104 s for this page
    with bounded():
        rec = clean(page(f'<meta name="news_keywords" content="alpha{" " * 150_000}beta, gamma">'))[0]
    assert rec["tags"] == ["alpha beta", "gamma"]
    with bounded():
        assert clean_tags(["a" + "\t" * 150_000 + "b、c"]) == ["a b", "c"]


def test_iso_date_with_a_run_of_spaces():
    # `^\s*...\s*(?:Z|offset)?\s*$` split the run between its two `\s*`s
    with bounded():
        rec = clean(page(f'<meta property="article:published_time" content="2024-01-02{" " * 150_000}x">'))[0]
    assert rec["published_at"] == "2024-01-02T00:00:00+00:00"
    with bounded():
        assert parse_date("2024-01-02T10:00:00" + " " * 150_000 + "?") is not None
    assert parse_date("2024-01-02T10:00:00 Z") == "2024-01-02T10:00:00+00:00"
    assert parse_date(" 2024-01-02T10:00:00+0900 ") == "2024-01-02T10:00:00+09:00"


def test_meta_charset_scan_of_the_first_4kb():
    # `<meta[^>]+?charset\s*=\s*["']?\s*` over 4 KB of `<meta ` and spaces: 29 s
    head = b"<html><head>" + b"<meta " * 300 + b"charset=" + b" " * 2000 + b"!>"
    with bounded():
        decoded = decode(head + "<p>本文</p>".encode())
    assert "本文" in decoded.text
    meta = b"<meta http-equiv='Content-Type' content=\"text/html; charset = 'Shift_JIS'\">"
    assert decode(meta + "本文".encode("cp932")).encoding == "cp932"
    assert decode(b'<meta charset="euc-jp">' + "本文".encode("euc_jp")).encoding == "euc_jp"


def test_labelled_date_regex_on_unnormalized_spaces():
    # adjacent optional `\s*`s: cubic (1.3 s for 300 spaces, 39 s for 1,200)
    for text in ("公開" + "\u3000" * 20_000 + "x", "2024年1月2日" + " " * 20_000 + "x"):
        with bounded():
            assert _LABELLED_DATE_RE.search(text) is None
    found = [m.group(0) for m in _LABELLED_DATE_RE.finditer(
        "公開日時:2024年6月1日 10:00 / 2024年6月2日(日) 10時30分 公開 2024.6.3 更新")]
    assert found == ["公開日時:2024年6月1日 10:00 / 2024年6月2日(", "公開 2024.6.3 更新"]
