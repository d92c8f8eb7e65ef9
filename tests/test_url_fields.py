"""Only absolute http(s) URLs reach a record's URL fields (issue 7, item 13)."""

from __future__ import annotations

from kirinuki.pipelines import Page, clean, continuation_urls
from kirinuki.pipelines.normalize import http_url
from kirinuki.pipelines.profiles import ProfileSet, parse_profile

ARTICLE = "<article><h1>Title</h1>" + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, " \
    "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>" * 6 + "</article>"
BAD = ("javascript:alert(1)", "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "JavaScript:void(0)",
       " java\tscript:alert(1)", "vbscript:x", "file:///etc/passwd", "mailto:a@example.com")


def page(head: str, body: str = ARTICLE, url: str | None = "https://example.com/news/a") -> Page:
    html = f"<!doctype html><html><head><title>Title</title>{head}</head><body>{body}</body></html>"
    return Page(url, html.encode(), "text/html; charset=utf-8")


def test_http_url():
    assert http_url("https://example.com/a/b", "../c.jpg") == "https://example.com/c.jpg"
    assert http_url(None, "HTTP://Example.com/x") == "HTTP://Example.com/x"
    assert http_url(None, "/relative/only") is None
    assert http_url("https://example.com/", "//cdn.example.com/i.png") == "https://cdn.example.com/i.png"
    assert http_url("https://example.com/", "http://[oops/") is None
    assert http_url(None, "https:///no-host") is None
    for bad in BAD:
        assert http_url("https://example.com/", bad) is None, bad


def test_canonical_and_og_image_must_be_http():
    for bad in BAD:
        rec = clean(page(f'<link rel="canonical" href="{bad}"><meta property="og:image" content="{bad}">'))[0]
        assert rec["canonical_url"] is None, bad
        assert rec["images"] == [], bad
    rec = clean(page('<link rel="canonical" href="/news/a?x=1"><meta property="og:image" content="data:,x">'
                     '<meta property="og:image" content="/img/a.jpg">'))[0]
    assert rec["canonical_url"] == "https://example.com/news/a?x=1"
    assert rec["images"] == [{"url": "https://example.com/img/a.jpg", "caption": None}]


def test_no_page_url_and_relative_canonical():
    # a saved file with no URL: a relative canonical has nothing to resolve against
    rec = clean(page('<link rel="canonical" href="/news/a">', url=None))[0]
    assert rec["canonical_url"] is None and rec["url"] is None
    # a javascript: canonical is not taken as the page's URL either
    rec = clean(page('<link rel="canonical" href="javascript:alert(1)">'
                     '<meta property="og:url" content="https://example.com/og">', url=None))[0]
    assert rec["url"] == "https://example.com/og"


def _profile() -> ProfileSet:
    return ProfileSet([parse_profile({
        "id": "urls", "domains": ["example.com"],
        "extract": {"body": "article", "images": "article img", "citations": "article a.cite@href"},
        "pages": {"next": "a.next@href"},
    }, "<test>")])


def test_profile_images_citations_and_next_pages():
    imgs = "".join(f'<img src="{b}">' for b in BAD)
    links = "".join(f'<a class="cite" href="{b}">c</a><a class="next" href="{b}">n</a>' for b in BAD)
    body = ARTICLE.replace("</article>", imgs + '<img src="data:,x" data-src="/lazy.jpg">' + links
                           + '<a class="cite" href="https://other.example.org/src">c</a>'
                           + '<a class="next" href="/news/a?page=2">n</a></article>')
    profiles = _profile()
    rec = clean(page("", body), profiles)[0]
    assert rec["extraction"]["method"] == "profile"
    assert rec["images"] == [{"url": "https://example.com/lazy.jpg", "caption": None}]
    assert rec["citations"] == ["https://other.example.org/src"]
    assert continuation_urls(page("", body), profiles) == ["https://example.com/news/a?page=2"]
