"""The cleaning pipeline: Page in, validated records out. Each stage lives in its own module."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from kirinuki.pipelines import clippings as clip
from kirinuki.pipelines.blocks import Block, blocks_text, element_blocks
from kirinuki.pipelines.encoding import Decoded, decode
from kirinuki.pipelines.generic import generic_extract
from kirinuki.pipelines.jsonld import parse_jsonld
from kirinuki.pipelines.language import detect_language
from kirinuki.pipelines.layout import refine_layout
from kirinuki.pipelines.metadata import (
    dateline_author,
    extract_metadata,
    htmldate_fallback,
    labelled_date,
    meta_values,
    page_timezone,
    source_values,
    trailing_byline,
)
from kirinuki.pipelines.noise import (
    drop_element,
    filter_lines,
    load_vocabulary,
    outermost,
    remove_noise,
)
from kirinuki.pipelines.normalize import normalize_text, safe_urljoin
from kirinuki.pipelines.page import Page, Rejected
from kirinuki.pipelines.paywall import Paywall, cut_at_boundary, detect_paywall
from kirinuki.pipelines.profiles import Profile, ProfileSet, load_profiles
from kirinuki.pipelines.record import make_record, pipeline_version
from lxml import etree

MAX_BYTES = 64 * 1024 * 1024
GENERIC_MIN_DUPLICATE = 100
# Subtrees without article text, which trafilatura discards too; not `aside` (one benchmark page
# holds its whole article in one) and not `form` (ASP.NET pages wrap everything in a form).
_NON_TEXT_TAGS = (
    "script", "style", "svg", "noscript", "template", "iframe", "button", "input", "select",
    "option", "textarea", "datalist", "canvas", "video", "audio", "picture", "source", "track",
    "map", "area", "object", "embed", "applet", "menu", "menuitem", "link", "noindex", "footer",
    "dialog",
)
_MAGIC = (
    (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"), (b"\x1f\x8b", "gzip"), (b"RIFF", "riff"), (b"OggS", "ogg"),
    (b"ID3", "mp3"), (b"\x7fELF", "elf"), (b"\x00\x00\x01\x00", "ico"), (b"BM", None),
)
_HTML_RE = re.compile(r"<\s*(?:!doctype|html|head|body|div|p|article|title|meta|table|br|h[1-6]|span|a)\b", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_SAVED_FROM_RE = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.I)
# Comments go at parse time: `When <!-- -->President` (React markup) split words for trafilatura.
_PARSER = lxml.html.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True)
# Every element is an HtmlElement, chosen in C: lxml.html's default lookup runs a Python method
# for each element object it creates (form/input subclasses nobody here uses), ~4% of clean().
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))


@dataclass(slots=True)
class Doc:
    """One decoded, parsed page with its chosen profile: what every stage reads."""

    page: Page
    url: str | None
    decoded: Decoded
    root: etree._Element
    profile: Profile | None
    jsonld: list[dict[str, Any]]
    tz: timezone
    flags: list[str] = field(default_factory=list)


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


def parse_html(text: str) -> etree._Element:
    text = _XML_DECL_RE.sub("", text, count=1)
    if not _HTML_RE.search(text[:65536]):
        raise Rejected("not_html", "no HTML markup found")
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise Rejected("unparsable", str(exc)) from None
    if root is None:
        raise Rejected("unparsable", "empty document")
    # Furigana readings never reach any field.
    for el in list(root.iter("rt", "rp")):
        drop_element(el)
    return root


def page_url(page: Page, root: etree._Element, text: str) -> str | None:
    if page.url:
        return page.url
    for el in root.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href", "").startswith("http"):
            return el.get("href")
    og = meta_values(root, "og:url")
    if og and og[0].startswith("http"):
        return og[0]
    m = _SAVED_FROM_RE.search(text[:4096])
    if m and m.group(1).startswith("http"):
        return m.group(1)
    return None


def prepare(page: Page, profiles: ProfileSet | None, generic_only: bool = False) -> Doc:
    sniff(page.body)
    decoded = decode(page.body, page.content_type)
    root = parse_html(decoded.text)
    url = page_url(page, root, decoded.text)
    profile = None
    if not generic_only:
        profiles = profiles if profiles is not None else load_profiles()
        profile = profiles.get(page.profile) if page.profile else profiles.for_url(url)
    flags = []
    if decoded.via == "detected" and not decoded.text.isascii():
        flags.append("encoding_detected")
    elif decoded.via.endswith("-overridden"):
        flags.append("charset_overridden")
    if decoded.replaced:
        flags.append("decode_replaced")
    tz = page_timezone(profile, root, decoded.text[:20000])
    return Doc(page, url, decoded, root, profile, parse_jsonld(root), tz, flags)


def _body_elements(doc: Doc) -> list[etree._Element]:
    if doc.profile is None:
        return []
    for sel in doc.profile.body:
        found = sel(doc.root)
        if found:
            # Keep outermost matches only (a selector may hit nested containers).
            return outermost(found)
    return []


def _cut_body_end(body: etree._Element, profile: Profile, removed: Counter[str]) -> None:
    """Drop the end marker and everything after it inside the body (Fundus's lower boundary)."""
    for sel in profile.body_end:
        ends = sel(body)
        if not ends:
            continue
        node = ends[0]
        while node is not None and node is not body:
            parent = node.getparent()
            for sib in list(node.itersiblings()):
                drop_element(sib)
                removed["related"] += 1
            if node is ends[0]:
                drop_element(node)
            node = parent
        return


def _images(doc: Doc) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    if doc.profile:
        for img_sel, cap_sel in doc.profile.images:
            for img in img_sel(doc.root):
                src = img.get("src") or img.get("data-src") or img.get("content") or img.get("href")
                if not src or src.startswith("data:"):
                    continue
                src = safe_urljoin(doc.url, src)
                if src is None or src in seen:
                    continue
                seen.add(src)
                out.append({"url": src, "caption": _caption(img, cap_sel)})
    if not out:
        for src in meta_values(doc.root, "og:image")[:1]:
            src = safe_urljoin(doc.url, src)
            if src:
                out.append({"url": src, "caption": None})
    return out


def _caption(img: etree._Element, cap_sel) -> str | None:
    """The caption nearest the image: searched in its closest ancestors (figure, wrapper div)."""
    if cap_sel is None:
        return None
    node = img.getparent()
    for _ in range(4):
        if node is None:
            return None
        found = cap_sel(node)
        if found:
            return normalize_text(" ".join(found[0].itertext())) or None
        node = node.getparent()
    return None


def _citations(doc: Doc) -> list[str]:
    out: list[str] = []
    if doc.profile:
        for src in doc.profile.citations:
            for v in source_values(doc.root, doc.jsonld, src, "citations"):
                if isinstance(v, str):
                    v = safe_urljoin(doc.url, v)
                    if v and v.startswith("http") and v not in out:
                        out.append(v)
    return out


def _line_rules(profile: Profile | None):
    rules = []
    if profile:
        rules.extend((k, p) for k, ps in profile.lines.items() for p in ps)
    rules.extend(load_vocabulary().lines)
    return rules


@dataclass(slots=True)
class Extracted:
    meta: dict[str, Any]
    blocks: list[Block]
    method: str
    paywall: Paywall
    images: list[dict[str, Any]]
    citations: list[str]
    removed: Counter[str]


def extract(doc: Doc, *, split_marker: bool = False) -> Extracted:
    profile = doc.profile
    paywall = detect_paywall(doc.root, doc.jsonld, profile)
    meta = extract_metadata(doc.root, doc.jsonld, profile, doc.url, doc.tz)
    images = _images(doc)
    citations = _citations(doc)
    removed: Counter[str] = Counter()

    bodies = _body_elements(doc)
    if profile:
        remove_noise(doc.root, profile.noise, removed, protected=bodies)
        bodies = [b for b in bodies if b.getparent() is not None or b is doc.root]
        for b in bodies:
            _cut_body_end(b, profile, removed)
    if not bodies:
        # Generic path: these subtrees never hold article text; dropping them first makes every
        # later tree walk, and trafilatura's own tree copies, cheaper (issue 3).
        etree.strip_elements(doc.root, *_NON_TEXT_TAGS, with_tail=False)
    remove_noise(doc.root, load_vocabulary().matcher, removed, protected=bodies,
                 max_share=None if bodies else 0.5)
    if split_marker and profile and profile.split and profile.split.separator is not None:
        for sep in profile.split.separator(doc.root):
            marker = etree.Element("p")
            marker.text = clip.SPLIT_SENTINEL
            marker.tail = sep.tail
            parent = sep.getparent()
            if parent is not None:
                parent.replace(sep, marker)

    roles = {}
    if profile and profile.split and profile.split.comment is not None:
        roles = {el: "comment" for el in profile.split.comment(doc.root)}
    blocks: list[Block] = []
    for b in bodies:
        if profile and profile.blocks is not None:
            for el in outermost(profile.blocks(b)):
                blocks.extend(element_blocks(el, roles))
        else:
            blocks.extend(element_blocks(b, roles))
    method = "profile"
    if not any(b.text != clip.SPLIT_SENTINEL for b in blocks):
        method = "generic"
        result = generic_extract(doc.root, doc.url, doc.jsonld, meta["authors"], meta["title"])
        blocks = result.blocks
        removed.update(result.removed)
        blocks = refine_layout(doc.root, blocks, meta["title"], removed)
    blocks = cut_at_boundary(blocks, profile, paywall)
    return Extracted(meta, blocks, method, paywall, images, citations, removed)


def _base_fields(doc: Doc, ex: Extracted) -> dict[str, Any]:
    return {
        "url": doc.url,
        "source": doc.page.source or (doc.profile.name if doc.profile else None),
        **ex.meta,
        "images": ex.images,
        "citations": ex.citations,
        "paywall": ex.paywall.as_dict(),
        "fetched_at": doc.page.fetched_at,
        "extraction": {
            "profile": doc.profile.name if doc.profile else None,
            "method": ex.method,
            "version": pipeline_version(),
            "encoding": doc.decoded.encoding,
        },
        "flags": list(doc.flags),
    }


def _finish(fields: dict[str, Any], blocks: list[Block], removed: Counter[str], doc: Doc) -> dict[str, Any]:
    if not blocks:
        raise Rejected("no_text", f"no article text found in {doc.url or 'page'}")
    title = fields.get("title")
    while blocks and title and blocks[0].text == title:
        blocks = blocks[1:]  # the headline repeated as the first block is not body text
    if not blocks:
        raise Rejected("no_text", f"no article text found in {doc.url or 'page'}")
    text = blocks_text(blocks)
    if not fields.get("authors"):
        author = dateline_author(blocks[0].text) or trailing_byline(blocks[-1].text)
        fields["authors"] = [author] if author else []
    if not fields.get("published_at"):
        fields["published_at"] = labelled_date(doc.root, doc.tz) or htmldate_fallback(doc.root, doc.tz)
    if fields["paywall"]["truncated"] and "paywall_truncated" not in fields["flags"]:
        fields["flags"].append("paywall_truncated")
    fields.update(
        text=text,
        blocks=[b.as_dict() for b in blocks],
        language=detect_language(text),
        removed=dict(removed),
    )
    return make_record(fields)


# The crawler asks continuation_urls() and then clean() for the same page: the first hands its
# parse to the second (taken once, so a mutated tree is never reused).
_HANDOFF: list[Any] = [None, None, None]  # (page, profiles, Doc)


def clean(page: Page, profiles: ProfileSet | None = None, *, generic_only: bool = False) -> list[dict[str, Any]]:
    """Clean one page into its records (several for a clipping page). Raises Rejected."""
    if not generic_only and _HANDOFF[0] is page and _HANDOFF[1] is profiles:
        doc = _HANDOFF[2]
        _HANDOFF[:] = [None, None, None]
    else:
        doc = prepare(page, profiles, generic_only)
    split = doc.profile.split if doc.profile else None
    ex = extract(doc, split_marker=split is not None)
    rules = _line_rules(doc.profile)
    if split is None:
        # Generic path: short repeats are structure (recipes, tables), long ones pull quotes.
        min_dup = GENERIC_MIN_DUPLICATE if ex.method == "generic" else 2
        blocks = filter_lines(ex.blocks, rules, ex.removed, min_dup)
        return [_finish(_base_fields(doc, ex), blocks, ex.removed, doc)]

    records = []
    page_removed = Counter(ex.removed)
    for seg in clip.segments(ex.blocks, split):
        seg = filter_lines(seg, rules, page_removed)
        c = clip.parse_clipping(seg, split, page_removed, doc.tz)
        if c is None or not c.blocks:
            continue
        fields = _base_fields(doc, ex)
        fields["extraction"]["method"] = "clipping"
        fields.update(title=c.title or fields["title"], published_at=c.published_at,
                      source_outlet=c.outlet, notes=c.notes, authors=[],
                      canonical_url=fields.get("canonical_url") or doc.url,
                      url=f"{doc.url}#clipping-{len(records) + 1}" if doc.url else None)
        records.append(_finish(fields, c.blocks, Counter(), doc))
    if not records:
        raise Rejected("no_text", f"no clippings found in {doc.url or 'page'}")
    # Page-level removals (menus, year navigation) are reported once, on the first clipping.
    records[0]["removed"] = dict(sorted(page_removed.items()))
    return records


def clean_pages(pages: list[Page], profiles: ProfileSet | None = None) -> list[dict[str, Any]]:
    """Merge a multi-page article (page 1 first) into one record."""
    if not pages:
        raise Rejected("empty", "no pages")
    first = clean(pages[0], profiles)
    if len(pages) == 1 or len(first) != 1:
        return first
    record = first[0]
    blocks = list(record["blocks"])
    seen = {b["text"] for b in blocks}
    removed = Counter(record["removed"])
    for p in pages[1:]:
        try:
            rec = clean(p, profiles)[0]
        except Rejected:
            record["flags"].append("continuation_failed")
            continue
        for b in rec["blocks"]:
            if b["text"] not in seen:
                seen.add(b["text"])
                blocks.append(b)
        for c in rec["citations"]:
            if c not in record["citations"]:
                record["citations"].append(c)
        for img in rec["images"]:
            if img not in record["images"]:
                record["images"].append(img)
        removed.update(rec["removed"])
        record["paywall"]["truncated"] |= rec["paywall"]["truncated"]
        record["paywall"]["detected"] |= rec["paywall"]["detected"]
    record["blocks"] = blocks
    record["text"] = "\n\n".join(b["text"] for b in blocks)
    record["removed"] = dict(sorted(removed.items()))
    record["language"] = detect_language(record["text"])
    return [make_record(record)]


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def continuation_urls(page: Page, profiles: ProfileSet | None = None) -> list[str]:
    """Next pages of the same article per the profile's `[pages] next` rules (same host only)."""
    if _HANDOFF[0] is page and _HANDOFF[1] is profiles:
        doc = _HANDOFF[2]
    else:
        try:
            doc = prepare(page, profiles)
        except Rejected:
            return []
        _HANDOFF[:] = [page, profiles, doc]
    if doc.profile is None or not doc.url:
        return []
    host = _host(doc.url)
    out: list[str] = []
    for src in doc.profile.next_pages:
        for v in source_values(doc.root, doc.jsonld, src, "next"):
            if not isinstance(v, str):
                continue
            u = (safe_urljoin(doc.url, v) or "").split("#")[0]
            if u and _host(u) == host and u != doc.url and u not in out:
                out.append(u)
    return out
