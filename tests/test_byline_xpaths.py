"""`byline_xpaths.extract_author` gives `trafilatura.metadata.extract_author`'s answer, without
copying the page (issue 10 speed: 12 ms a call before)."""

from __future__ import annotations

import gzip

import lxml.html
import pytest
from kirinuki.pipelines import byline_xpaths
from trafilatura.metadata import extract_author as trafilatura_author
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

from tests.conftest import BENCHMARKS, FIXTURES

# trafilatura 2.3.1's expressions, which byline_xpaths tests in Python: when trafilatura changes
# them, this fails, and byline_xpaths must follow.
ORIGINALS = [
    "\n        //*[self::a or self::address or self::div or self::link or self::p or self::span or self::strong][\n        @rel='author' or @id='author' or @class='author' or @itemprop='author name' or rel='me' or\n        @data-testid='AuthorCard' or @data-testid='AuthorURL' or\n        re:test(@class, 'author-?name|AuthorName|authorName')]|//author\n        ",  # noqa: E501
    "\n        //*[self::a or self::div or self::h3 or self::h4 or self::p or self::span][\n        @class='byline' or @class='username' or @class='byl' or @class='BBL' or\n        contains(@itemprop, 'author') or\n        re:test(@id, 'author|zuozhe|bianji|xiaobian') or\n        re:test(@class, 'author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name')]\n        ",  # noqa: E501
    "\n        //*[\n        contains(@data-component, 'Byline') or contains(@itemprop, 'author') or\n        re:test(@id, '[Aa]uthor') or\n        re:test(@class, '[Aa]uthor|screenname|writer|[Bb]yline')]\n        ",  # noqa: E501
    "\n        .//*[self::a or self::div or self::section or self::span][\n        @id='comments' or @class='comments' or @class='title' or @class='date' or\n        re:test(@id, '^comments|comment-?list|ProductReviews') or\n        re:test(@class, '^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|article-(?:share|support)|print|category|meta-date|meta-reviewer') or\n        contains(@data-component, 'Figure')]\n        ",  # noqa: E501
    "//time|//figure",
]


def test_trafilatura_expressions_are_the_ones_modelled():
    assert [x.path for x in AUTHOR_XPATHS + AUTHOR_DISCARD_XPATHS] == ORIGINALS


BYLINES = [
    # each condition of the three author XPaths, alone
    '<span rel="author">Ann Lee</span>', '<a id="author">Ann Lee</a>', '<p class="author">Ann Lee</p>',
    '<div itemprop="author name">Ann Lee</div>', '<strong data-testid="AuthorCard">Ann Lee</strong>',
    '<link data-testid="AuthorURL">', '<address class="x author-name">Ann Lee</address>',
    '<span class="authorName">Ann Lee</span>', '<author>Ann Lee</author>',
    '<h3 class="byline">By Ann Lee</h3>', '<h4 class="BBL">Ann Lee</h4>', '<p class="byl">Ann Lee</p>',
    '<span itemprop="creator author">Ann Lee</span>', '<div id="xiaobian">Ann Lee</div>',
    '<div class="posted-by">Ann Lee</div>', '<div class="journalist-name big">Ann Lee</div>',
    '<section data-component="Byline">Ann Lee</section>', '<em id="theAuthor">Ann Lee</em>',
    '<b class="screenname">Ann Lee</b>', '<i class="Byline-x">Ann Lee</i>', '<b class="writer">Ann</b>',
    # near misses: no condition holds
    '<section class="AUTHOR">Ann Lee</section>', '<b class="auth">Ann Lee</b>', '<em id="by">Ann</em>',
    # too short or too long, then a later match
    '<span class="author">A</span><div class="byline">Bo Chen</div>',
    '<span class="author">' + "word " * 30 + '</span><i class="writer">Bo Chen</i>',
    # inside what the copy loses: comments, sidebars, time, figure...
    '<div id="comments"><span class="author">Troll</span></div><p class="byline">Bo Chen</p>',
    '<div class="sidebar"><a class="author">Other</a></div>',
    '<figure><figcaption class="author">Photographer</figcaption></figure>',
    '<span class="meta-date"><span class="author">Ann</span></span><b class="writer">Bo</b>',
    '<div data-component="FigureX"><span class="author">Ann Lee</span></div>',
    # the match holds a deleted part: its text differs in the copy (trafilatura decides)
    '<div class="author">By <time>May 1</time>Ann Lee</div>',
    '<div class="author">Ann<span class="quote">"Hi"</span> Lee</div>',
    # a child named rel (the first XPath's `rel='me'`)
    '<span><rel>me</rel></span><b class="writer">Bo Chen</b>',
    '<p>no byline at all</p>',
]


@pytest.mark.parametrize("snippet", BYLINES)
def test_same_author_as_trafilatura(snippet):
    html = f"<html><head><title>t</title></head><body><article><p>Text.</p>{snippet}</article></body></html>"
    root = lxml.html.document_fromstring(html)
    assert byline_xpaths.extract_author(root) == trafilatura_author(root)


def test_the_page_is_not_copied(monkeypatch):
    root = lxml.html.document_fromstring(
        '<html><body><div class="sidebar">x</div><p class="byline">By Ann Lee</p><time>now</time>'
        "</body></html>")
    import trafilatura.metadata

    def forbidden(tree):
        raise AssertionError("copied the page")

    monkeypatch.setattr(trafilatura.metadata, "deepcopy", forbidden)
    assert byline_xpaths.extract_author(root) == "Ann Lee"


def _pages():
    paths = sorted(FIXTURES.rglob("*.html"))
    for name in ("fundus", "article-extraction", "readability", "chinese-wce", "newspaper4k"):
        paths += sorted((BENCHMARKS / name / "html").glob("*"))[::7]
    for p in paths:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            yield p, lxml.html.document_fromstring(raw.decode("utf-8", "replace"))
        except Exception:  # an empty or unparsable page: nothing to compare
            continue


def test_same_author_on_real_pages():
    checked = 0
    for path, root in _pages():
        assert byline_xpaths.extract_author(root) == trafilatura_author(root), path
        checked += 1
    assert checked >= 20
