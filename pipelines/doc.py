"""The `Doc`: one decoded, parsed page with its chosen profile, the unit of work every stage reads.

`prepare()` turns a `Page` into a `Doc` (sniff, decode, parse, find the URL, pick the profile,
index the `<meta>` tags, read JSON-LD, choose the time zone). A caller that needs the parse twice
(the crawler asks `continuation_urls()` and then `clean()`) prepares once and passes the `Doc` to
both: nothing is cached behind the caller's back. `clean()` strips noise from `Doc.root`, so a
`Doc` is cleaned once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

import lxml.html
from kirinuki.pipelines.bounds import fit_for_parse, is_large
from kirinuki.pipelines.encoding import Decoded, decode
from kirinuki.pipelines.jsonld import parse_jsonld
from kirinuki.pipelines.markup import (
    FLATTEN_MAX_CHARS,
    flatten_nesting,
    graft_noframes,
    strip_controls,
    too_deep,
    utf8_has_controls,
)
from kirinuki.pipelines.metadata import page_timezone
from kirinuki.pipelines.noise import drop_element
from kirinuki.pipelines.normalize import http_url
from kirinuki.pipelines.page import Page, Rejected
from kirinuki.pipelines.profiles import Profile, ProfileSet, load_profiles
from lxml import etree

MAX_BYTES = 64 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"), (b"\x1f\x8b", "gzip"), (b"RIFF", "riff"), (b"OggS", "ogg"),
    (b"ID3", "mp3"), (b"\x7fELF", "elf"), (b"\x00\x00\x01\x00", "ico"), (b"BM", None),
)
_HTML_RE = re.compile(r"<\s*(?:!doctype|html|head|body|div|p|article|title|meta|table|br|h[1-6]|span|a)\b", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_SAVED_FROM_RE = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.I)


def _html_parser(encoding: str | None = None) -> lxml.html.HTMLParser:
    # Comments go at parse time: `When <!-- -->President` (React markup) split words for
    # trafilatura.
    parser = lxml.html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True, encoding=encoding)
    # Every element is an HtmlElement, chosen in C: lxml.html's default lookup runs a Python
    # method for each element object it creates (form/input subclasses nobody here uses), ~4%
    # of clean().
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
    return parser


_PARSER = _html_parser()
# The same parse of a page's UTF-8 bytes: libxml2 reads a `str` as UCS-4 or UTF-16 and converts
# it to UTF-8 itself, a quarter of the parse (issue 10). The encoding is given, so a `<meta
# charset>` in the page is not obeyed, as it is not for a `str`.
_UTF8_PARSER = _html_parser("utf-8")

MetaIndex = dict[str, list[str]]


@dataclass(slots=True)
class Doc:
    """One decoded, parsed page with its chosen profile: what every stage reads.

    `meta` indexes the `<meta>` tags of the untouched tree once (a 20 MB page has millions of
    elements, and every field asks for several names); `flags` collects what is worth a look.
    """

    page: Page
    url: str | None
    decoded: Decoded
    root: etree._Element
    profile: Profile | None
    jsonld: list[dict[str, Any]]
    meta: MetaIndex
    tz: timezone
    flags: list[str] = field(default_factory=list)

    def meta_values(self, name: str) -> list[str]:
        return list(self.meta.get(name.lower(), ()))


def meta_index(root: etree._Element) -> MetaIndex:
    """All <meta> name/property/itemprop -> contents (lowercased names, document order)."""
    index: MetaIndex = {}
    for m in root.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
        c = m.get("content")
        if key and c and c.strip():
            index.setdefault(key, []).append(c.strip())
    return index


def sniff(body: bytes) -> None:
    """Reject what is not an HTML page before spending time on it."""
    if not body or not body.strip():
        raise Rejected("empty", "the file or response body is empty")
    if len(body) > MAX_BYTES:
        raise Rejected("too_large", f"{len(body)} bytes is over the {MAX_BYTES} byte limit")
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:3] == b"\xef\xbb\xbf":
        return
    for magic, kind in _MAGIC:
        if kind and body.startswith(magic):
            raise Rejected("binary", f"looks like {kind} data, not HTML")
    head = body[:4096]
    if head.count(b"\x00") > len(head) // 100:
        raise Rejected("binary", "NUL bytes: binary data, not HTML")


def _parse(text: str | bytes) -> etree._Element:
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER if isinstance(text, str) else _UTF8_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise Rejected("unparsable", str(exc)) from None
    if root is None:
        raise Rejected("unparsable", "empty document")
    return root


def parse_html(text: str, flags: list[str] | None = None, utf8: bytes | None = None) -> etree._Element:
    """The page's tree, repaired where libxml2 would lose text (markup.py); what was repaired
    and is worth a look goes into `flags`. `utf8`, when given, is `text` encoded as UTF-8 (the
    page's own bytes): parsed instead of `text` where the repairs leave `text` as it is, the
    same tree sooner."""
    original = text
    text = _XML_DECL_RE.sub("", text, count=1)
    if utf8 is None or utf8_has_controls(utf8):
        text = strip_controls(text)
    if not _HTML_RE.search(text[:65536]):
        raise Rejected("not_html", "no HTML markup found")
    text, cut = fit_for_parse(text)
    if cut and flags is not None:
        flags.append("page_truncated")
    parser = _UTF8_PARSER if utf8 is not None and text is original else _PARSER
    root = _parse(utf8 if parser is _UTF8_PARSER else text)
    if too_deep(parser):
        # libxml2 stopped at its depth limit and dropped the rest of the page
        flat = flatten_nesting(text) if len(text) <= FLATTEN_MAX_CHARS else text
        if flat is not text:
            root = _parse(flat)
        if flags is not None:
            flags.append("nesting_truncated" if too_deep(_PARSER) or flat is text else "nesting_flattened")
    if graft_noframes(root, _parse) and flags is not None:
        flags.append("noframes_used")
    return root


def furigana(root: etree._Element, inline: bool = False) -> None:
    """Furigana readings (`<rt>`, `<rp>`) go, unless the profile says the site prints them.

    A paper that prints a reading after a name (読売: 尹錫悦（ユンソンニョル）) marks it up as ruby
    with `<rp>` parentheses; `furigana = "inline"` keeps it as that printed text.
    """
    for el in list(root.iter("rt", "rp")):
        if inline:
            # the reading becomes plain text (the text walkers skip rt/rp elements)
            text = el.text or ""
            if el.tag == "rt" and not _beside_rp(el):
                text = "（" + text + "）"
            el.tail = text + (el.tail or "")
        drop_element(el)


def _beside_rp(rt: etree._Element) -> bool:
    prev, nxt = rt.getprevious(), rt.getnext()
    return (prev is not None and prev.tag == "rp") or (nxt is not None and nxt.tag == "rp")


def page_url(page: Page, root: etree._Element, meta: MetaIndex, text: str) -> str | None:
    """The page's URL: the caller's, else its canonical link, `og:url`, or a "saved from" note."""
    if page.url:
        return page.url
    for el in root.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and http_url(None, el.get("href")):
            return el.get("href")
    og = meta.get("og:url")
    if og and http_url(None, og[0]):
        return og[0]
    m = _SAVED_FROM_RE.search(text[:4096])
    if m and http_url(None, m.group(1)):
        return m.group(1)
    return None


def version_date(page: Page, meta: MetaIndex) -> str | None:
    """The date that picks a profile's template version: when the page was fetched, else (an
    archived copy with no fetch time) when it says it was published."""
    if page.fetched_at:
        return page.fetched_at
    for name in ("article:published_time", "datepublished", "pubdate"):
        if meta.get(name):
            return meta[name][0]
    return None


def decode_flags(decoded: Decoded) -> list[str]:
    """What the decoder had to guess or override, and whether bytes were replaced."""
    flags = []
    if decoded.via == "detected" and not decoded.text.isascii():
        flags.append("encoding_detected")
    elif decoded.via.endswith("-overridden"):
        flags.append("charset_overridden")
    if decoded.replaced:
        flags.append("decode_replaced")
    return flags


def utf8_bytes(body: bytes, decoded: Decoded) -> bytes | None:
    """`body` where it is exactly `decoded.text` in UTF-8 (decoded whole and strictly, no BOM)."""
    if decoded.encoding == "utf-8" and decoded.via != "bom" and not decoded.replaced:
        return body
    return None


def prepare(page: Page, profiles: ProfileSet | None = None, generic_only: bool = False) -> Doc:
    """Sniff, decode and parse a page, and pick its profile (none with `generic_only`)."""
    sniff(page.body)
    decoded = decode(page.body, page.content_type)
    flags = decode_flags(decoded)
    root = parse_html(decoded.text, flags, utf8_bytes(page.body, decoded))
    if is_large(root):
        flags.append("large_page")  # the light path and no whole-page fallbacks (bounds.py)
    meta = meta_index(root)
    url = page_url(page, root, meta, decoded.text)
    profile = None
    if not generic_only:
        profiles = profiles if profiles is not None else load_profiles()
        profile = profiles.get(page.profile) if page.profile else profiles.for_url(url)
        if profile is not None and profile.versions:
            profile = profile.for_date(version_date(page, meta))
    furigana(root, inline=profile is not None and profile.furigana == "inline")
    tz = page_timezone(profile, root, meta, decoded.text[:20000])
    return Doc(page, url, decoded, root, profile, parse_jsonld(root), meta, tz, flags)
