"""A UTF-8 page is parsed from its own bytes, into the tree its decoded text gives (issue 10)."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kirinuki.pipelines import Page, doc
from lxml import etree


def _same(a: etree._Element, b: etree._Element) -> bool:
    return etree.tostring(a, encoding="unicode") == etree.tostring(b, encoding="unicode")


PAGES = [
    # a stale single-byte label on UTF-8 bytes: the decoder's choice stands, not the label's
    "<html><head><meta charset='iso-8859-1'><title>Café</title></head><body><p>Ünïcödé ☃ 𝄞</p></body></html>",
    "<html><head><meta http-equiv='Content-Type' content='text/html; charset=shift_jis'></head>"
    "<body><p>日本語の記事。\r\nCRLF と &amp; &eacute; &#8217; 𠮷</p></body></html>",
    "<p>no head or body, a fragment ‘quoted’</p><!-- a comment --><?pi x?>",
    "<html><body><div><p>unclosed <b>bold <i>both</p></div>tail ä</body></html>",
]


@pytest.mark.parametrize("html", [*PAGES, "<p>a\x01b\x7f</p>", "<?xml version='1.0'?><p>x</p>"])
def test_utf8_bytes_give_the_same_tree(html):
    assert _same(doc.parse_html(html, utf8=html.encode("utf-8")), doc.parse_html(html))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<div class='a'>", "</div>", "<br>", "&amp;", "&nbsp;",
                                 "<meta charset='latin1'>", "é", "日本", "𝄞", "\r\n", " ", "<b>", "x", "\x00",
                                 "\x08\x1f", "\x0c", "\x7f", "\x85"]),
                min_size=1, max_size=30))
def test_utf8_bytes_give_the_same_tree_on_random_markup(parts):
    html = "<html><body>" + "".join(parts) + "</body></html>"
    assert _same(doc.parse_html(html, utf8=html.encode("utf-8")), doc.parse_html(html))


def _parsed_inputs(body: bytes) -> list[type]:
    seen: list[type] = []
    real = doc._parse
    with mock.patch.object(doc, "_parse", side_effect=lambda t: seen.append(type(t)) or real(t)):
        doc.prepare(Page(None, body), generic_only=True)
    return seen


def test_prepare_parses_a_utf8_page_from_its_bytes():
    assert _parsed_inputs("<html><body><p>Grüße</p></body></html>".encode()) == [bytes]


@pytest.mark.parametrize("body", [
    "<html><head><meta charset='shift_jis'></head><body><p>日本語</p></body></html>".encode("cp932"),
    b"\xef\xbb\xbf<html><body><p>BOM</p></body></html>",  # the text starts after the BOM
    b"<html><body><p>a\x01b</p></body></html>",  # a control character stripped: the text differs
    b"<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",  # declaration cut
])
def test_prepare_parses_the_text_where_the_bytes_are_not_it(body):
    assert _parsed_inputs(body) == [str]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF) | st.sampled_from("\x00\x01\x0b\x0c\x1f\x7f字𝄞"),
               max_size=20))
def test_control_bytes_tell_what_strip_controls_removes(text):
    from kirinuki.pipelines.markup import strip_controls, utf8_has_controls

    assert utf8_has_controls(text.encode("utf-8")) == (strip_controls(text) != text)
