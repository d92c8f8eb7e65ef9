"""Property-based fuzzing of `kirinuki.pipelines.clean` (issue 7): random and mutated HTML,
random bytes, Japanese and UTF-16 encodings, broken UTF-8, huge attribute values, deep nesting.

Whatever the input: no exception but `Rejected` with a reason, every record valid against the
schema with only http(s) URLs, and bounded CPU time per page. Deterministic in CI (derandomized,
no example database); `-m e2e` runs the long version.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.record import _validator

from tests.conftest import FIXTURES

PAGE_CPU_BOUND = 20.0  # seconds per page, generous: a linear page of this size takes well under 1
_COMMON = dict(deadline=None, derandomize=True, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.large_base_example])
CI = settings(max_examples=150, **_COMMON)
LONG = settings(max_examples=2000, **_COMMON)

TAGS = ["html", "head", "body", "title", "meta", "link", "script", "style", "div", "p", "span",
        "a", "img", "article", "main", "section", "nav", "footer", "aside", "h1", "h2", "ul", "ol",
        "li", "table", "tr", "td", "th", "br", "hr", "blockquote", "pre", "figure", "figcaption",
        "time", "frameset", "frame", "noframes", "noscript", "iframe", "svg", "math", "template",
        "form", "ruby", "rt", "rp", "font", "center", "x-widget", "a:b"]
ATTRS = ["class", "id", "href", "src", "data-src", "content", "name", "property", "rel", "charset",
         "http-equiv", "itemprop", "lang", "type", "style", "datetime", "onclick"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["canonical", "og:title", "og:image", "og:url", "article:published_time",
                     "news_keywords", "description", "author", "application/ld+json",
                     "javascript:alert(1)", "data:text/html,<p>x", "https://example.com/x",
                     "//cdn.example.org/i.png", "/relative", "text/html; charset=shift_jis",
                     "utf-8", "euc-jp", "2024-01-02T03:04:05+09:00", "share", "ranking",
                     "2024-01-02" + " " * 5000 + "x"]),
    st.integers(1, 300_000).map(lambda n: "x " * (n // 2)),  # huge attribute values
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["これは記事の本文です。" * 10, "Lorem ipsum dolor sit amet, consectetur. " * 8,
                     '{"@type": "NewsArticle", "headline": "x", "articleBody": "y"}', "\x00\x01\x1b",
                     "公開日:2024年6月1日", "&amp;&#0;&#xD800;&bogus;", "<!--", "]]>", "<![CDATA["]),
)


@st.composite
def elements(draw, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.dictionaries(st.sampled_from(ATTRS), VALUES, max_size=4))
    quoted = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    children = []
    if depth < 4:
        children = draw(st.lists(st.one_of(TEXT, elements(depth + 1)), max_size=4))
    close = "" if draw(st.integers(0, 9)) == 0 else f"</{tag}>"  # unclosed tags too
    return f"<{tag} {quoted}>" + "".join(children) + close


@st.composite
def html_pages(draw) -> str:
    head = "".join(draw(st.lists(elements(2), max_size=4)))
    body = "".join(draw(st.lists(st.one_of(elements(), TEXT), min_size=1, max_size=8)))
    deep = draw(st.sampled_from([0, 0, 0, 50, 2100, 3000]))
    body = "<div>" * deep + body + "</div>" * deep
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


ENCODINGS = ["utf-8", "shift_jis", "cp932", "euc_jp", "utf-16", "utf-16-le", "cp1252", "latin-1"]


@st.composite
def encoded(draw) -> tuple[bytes, str | None]:
    text = draw(html_pages())
    enc = draw(st.sampled_from(ENCODINGS))
    body = text.encode(enc, errors="replace")
    if draw(st.booleans()):  # broken bytes: a cut multi-byte character or stray high bytes
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from([b"\xe3\x81", b"\xff", b"\x82", b"\x8e\xa1\xa1", b"\x00"])) + body[at:]
    declared = draw(st.sampled_from([None, enc, "utf-8", "shift_jis", "bogus-charset", "utf-16"]))
    return body, f"text/html; charset={declared}" if declared else draw(st.sampled_from([None, "text/html"]))


def _seed_pages() -> list[bytes]:
    return [p.read_bytes() for p in sorted(FIXTURES.glob("*/*.html"))[:8]]


@st.composite
def mutated(draw) -> tuple[bytes, str | None]:
    body = bytearray(draw(st.sampled_from(_seed_pages())))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["delete", "insert", "flip", "duplicate"]))
        at = draw(st.integers(0, len(body)))
        size = draw(st.integers(1, 4000))
        if op == "delete":
            del body[at:at + size]
        elif op == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "flip" and at < len(body):
            body[at] ^= draw(st.integers(1, 255))
        else:
            body[at:at] = body[at:at + size] * draw(st.integers(1, 50))
    return bytes(body), draw(st.sampled_from([None, "text/html; charset=utf-8", "text/html; charset=euc-jp"]))


INPUTS = st.one_of(
    encoded(),
    mutated(),
    st.tuples(st.binary(max_size=4000), st.sampled_from([None, "text/html; charset=utf-8"])),
    st.tuples(st.text(max_size=2000).map(lambda t: ("<p>" + t).encode("utf-8", "surrogatepass")), st.none()),
)


def check(body: bytes, content_type: str | None) -> None:
    start = time.process_time()
    try:
        records = clean(Page("https://example.com/news/1", body, content_type))
    except Rejected as exc:
        assert exc.reason and exc.reason != "invalid_record", exc
        records = []
    assert time.process_time() - start < PAGE_CPU_BOUND
    for rec in records:
        errors = list(_validator().iter_errors(rec))
        assert not errors, errors[0].message
        urls = [rec["url"], rec["canonical_url"], *rec["citations"], *(i["url"] for i in rec["images"])]
        for u in urls:
            assert u is None or u.lower().startswith(("http://", "https://")), u


@CI
@given(INPUTS)
def test_clean_never_breaks(data):
    check(*data)


@pytest.mark.e2e
@LONG
@given(INPUTS)
def test_clean_never_breaks_long(data):
    check(*data)
