"""`normalize_text`'s fast paths (issue 10) give what the plain rules give, on any text."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from kirinuki.pipelines import normalize
from kirinuki.pipelines.normalize import normalize_text


def _reference(text: str) -> str:
    """The rules step by step, for every text (README "The record")."""
    if not text:
        return ""
    for ch, token in normalize._KEEP.items():
        text = text.replace(ch, token)
    text = unicodedata.normalize("NFKC", text)
    for ch, token in normalize._KEEP.items():
        text = text.replace(token, ch)
    text = normalize._ZERO_WIDTH_RE.sub("", text)
    text = text.replace("\r", " ").replace("\n", " ")
    text = normalize._CONTROL_RE.sub("", text)
    return normalize._SPACES_RE.sub(" ", text).strip()


# every character str.split() takes for whitespace, the ones the rules fold or strip, and letters
_TRICKY = "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) + (
    "\u200b\u200d\u2060\ufeff\u00ad\u2026\u2025\x00\x07\x7f\x9f\uff21\u3000\u2028abc 字")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(_TRICKY), max_size=40) | st.text(max_size=40))
def test_normalize_text_equals_the_rules(text: str) -> None:
    assert normalize_text(text) == _reference(text)


def test_ascii_and_whitespace_runs() -> None:
    assert normalize_text("  a\t\tb \r\n c\x0b\x1fd  ") == "a b cd"
    assert normalize_text("x\u00a0\u2003\u3000y\u2028z") == "x yz"


def test_nul_in_ascii_keeps_the_kept_character_token() -> None:
    # "\x00E\x00" is how "…" rides through NFKC: ASCII text holding it takes the full path
    assert normalize_text("a\x00E\x00b") == _reference("a\x00E\x00b") == "a…b"
