"""Text normalization rules (README "The record"): NFKC (keeping … and ‥), folded spaces, no controls."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

_KEEP = {"\u2026": "\x00E\x00", "\u2025": "\x00T\x00"}
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")


def normalize_text(text: str) -> str:
    """Normalize one line or paragraph (no newlines in the result).

    ASCII text skips NFKC and the zero-width strip (no-ops on it). The last step folds runs of
    `_SPACES_RE` into one space and strips the ends as `" ".join(text.split())`, twice as fast
    as the regex: the whitespace `str.split` knows beyond that class (line breaks, \x0b-\x0c,
    \x1c-\x1f, \x85, \u2028-\u2029) is gone by then (tests/test_normalize_speed.py)."""
    if not text:
        return ""
    if not text.isascii() or "\x00" in text:  # a NUL may be half of a kept-character token
        for ch, token in _KEEP.items():
            text = text.replace(ch, token)
        text = unicodedata.normalize("NFKC", text)
        for ch, token in _KEEP.items():
            text = text.replace(token, ch)
        text = _ZERO_WIDTH_RE.sub("", text)
    text = text.replace("\r", " ").replace("\n", " ")
    text = _CONTROL_RE.sub("", text)
    return " ".join(text.split())


def normalize_field(value: str | None) -> str | None:
    if value is None:
        return None
    value = normalize_text(value)
    return value or None


def safe_urljoin(base: str | None, href: str | None) -> str | None:
    """`urljoin` that gives None for a malformed URL (`http://[oops/`) instead of raising:
    one bad image or link must not cost the whole page."""
    if not href:
        return None
    try:
        return urljoin(base or "", href.strip())
    except ValueError:
        return None


def http_url(base: str | None, href: str | None) -> str | None:
    """`href` resolved against `base` when the result is an absolute http(s) URL, else None.

    Every URL field of a record (url, canonical_url, images, citations, next pages) goes through
    this: a `javascript:` or `data:` value, or a relative one with nothing to resolve it against,
    is no address of the article (and canonical_url keys the crawl state).
    """
    url = safe_urljoin(base, href)
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None
