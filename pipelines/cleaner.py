"""The cleaning pipeline: Page in, validated records out. Each stage lives in its own module."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kirinuki.pipelines import bounds
from kirinuki.pipelines import clippings as clip
from kirinuki.pipelines.blocks import Block, element_blocks, text_of
from kirinuki.pipelines.clipping_detect import detect_clipping
from kirinuki.pipelines.doc import Doc, prepare
from kirinuki.pipelines.generic import drop_link_teasers, generic_extract, paragraph_chars
from kirinuki.pipelines.language import detect_language
from kirinuki.pipelines.layout import refine_layout
from kirinuki.pipelines.metadata import (
    dateline_author,
    extract_metadata,
    htmldate_fallback,
    labelled_date,
    source_values,
    trailing_byline,
)
from kirinuki.pipelines.noise import (
    drop_element,
    filter_lines,
    load_vocabulary,
    outermost,
    remove_by_text,
    remove_noise,
)
from kirinuki.pipelines.normalize import http_url, normalize_text
from kirinuki.pipelines.page import Page, Rejected
from kirinuki.pipelines.paywall import Paywall, cut_at_boundary, detect_paywall
from kirinuki.pipelines.profiles import Profile, ProfileSet, SplitRule
from kirinuki.pipelines.record import Draft, pipeline_version
from kirinuki.pipelines.thresholds import (
    GENERIC_MAX_WIDGET_REPEATS,
    GENERIC_MIN_DUPLICATE,
    GENERIC_NOISE_MAX_SHARE,
    MISS_MIN_GAP,
    MISS_SHARE,
    PROFILE_MIN_DUPLICATE,
)
from lxml import etree

# Subtrees without article text, which trafilatura discards too; not `aside` (one benchmark page
# holds its whole article in one) and not `form` (ASP.NET pages wrap everything in a form).
_NON_TEXT_TAGS = (
    "script", "style", "svg", "noscript", "template", "iframe", "button", "input", "select",
    "option", "textarea", "datalist", "canvas", "video", "audio", "picture", "source", "track",
    "map", "area", "object", "embed", "applet", "menu", "menuitem", "link", "noindex", "footer",
    "dialog",
)


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


_IMAGE_ATTRS = ("src", "data-src", "content", "href")


def _images(doc: Doc) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    if doc.profile:
        for img_sel, cap_sel in doc.profile.images:
            for img in img_sel(doc.root):
                # the first usable address: a lazy-loading page puts a `data:` placeholder in src
                src = next(filter(None, (http_url(doc.url, img.get(a)) for a in _IMAGE_ATTRS)), None)
                if src is None or src in seen:
                    continue
                seen.add(src)
                out.append({"url": src, "caption": _caption(img, cap_sel)})
    if not out:
        src = next(filter(None, (http_url(doc.url, v) for v in doc.meta_values("og:image"))), None)
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
            for v in source_values(doc, src, "citations"):
                if isinstance(v, str):
                    v = http_url(doc.url, v)
                    if v and v not in out:
                        out.append(v)
    return out


def _line_rules(profile: Profile | None):
    rules = []
    if profile:
        rules.extend((k, p) for k, ps in profile.lines.items() for p in ps)
    rules.extend(load_vocabulary().lines)
    return rules


def body_missed(root: etree._Element, bodies: list[etree._Element]) -> bool:
    """Whether the profile's body selectors hit a fragment of the article, not the article.

    A renamed class leaves a selector matching a lead box or a caption wrapper; the page's <p>
    prose outside it is then much longer than what the profile found.
    """
    found = sum(len(text_of(b).strip()) for b in bodies)
    prose = paragraph_chars(root)
    return found < MISS_SHARE * prose and prose - found >= MISS_MIN_GAP


@dataclass(slots=True)
class Extracted:
    meta: dict[str, Any]
    blocks: list[Block]
    method: str
    paywall: Paywall
    images: list[dict[str, Any]]
    citations: list[str]
    removed: Counter[str]


def extract(doc: Doc, *, split: SplitRule | None = None, body: etree._Element | None = None) -> Extracted:
    """Metadata, noise removal and the body's blocks. With `split`, the rule's separators become
    split sentinels; `body` (a detected clipping page's container) overrides the profile's."""
    profile = doc.profile
    paywall = detect_paywall(doc.root, doc.jsonld, profile)
    meta = extract_metadata(doc)
    images = _images(doc)
    citations = _citations(doc)
    removed: Counter[str] = Counter()

    bodies = [body] if body is not None else _body_elements(doc)
    if profile:
        remove_noise(doc.root, profile.noise, removed, protected=bodies)
        remove_by_text(doc.root, profile.text_rules, removed, protected=bodies)
        bodies = [b for b in bodies if b.getparent() is not None or b is doc.root]
        for b in bodies:
            _cut_body_end(b, profile, removed)
        if bodies and body_missed(doc.root, bodies):
            bodies = []
    if not bodies:
        # Generic path: these subtrees never hold article text; dropping them first makes every
        # later tree walk, and trafilatura's own tree copies, cheaper (issue 3).
        etree.strip_elements(doc.root, *_NON_TEXT_TAGS, with_tail=False)
    remove_noise(doc.root, load_vocabulary().matcher, removed, protected=bodies,
                 max_share=None if bodies else GENERIC_NOISE_MAX_SHARE)
    if split is not None and split.separator is not None:
        for sep in split.separator(doc.root):
            marker = etree.Element("p")
            marker.text = clip.SPLIT_SENTINEL
            marker.tail = sep.tail
            parent = sep.getparent()
            if parent is not None:
                parent.replace(sep, marker)

    roles = {}
    if split is not None and split.comment is not None:
        roles = {el: "comment" for el in split.comment(doc.root)}
    blocks: list[Block] = []
    for b in bodies:
        if profile and profile.blocks is not None:
            for el in outermost(profile.blocks(b)):
                blocks.extend(element_blocks(el, roles, bounds.MAX_BLOCKS + 1))
        else:
            blocks.extend(element_blocks(b, roles, bounds.MAX_BLOCKS + 1))
    method = "profile"
    if not any(b.text != clip.SPLIT_SENTINEL for b in blocks):
        method = "generic"
        if profile and profile.body and "profile_missed" not in doc.flags:
            # The unattended job turns this flag into an alert (issue 8).
            doc.flags.append("profile_missed")
        if "large_page" in doc.flags:
            # trafilatura and the refinements cost ~40 µs an element: the body's text is read
            # directly, less link lists and the noise vocabulary (bounds.py)
            drop_link_teasers(doc.root, removed)
            body = doc.root.find("body")
            blocks = element_blocks(body if body is not None else doc.root,
                                    max_blocks=bounds.MAX_BLOCKS + 1)
        else:
            result = generic_extract(doc.root, doc.url, doc.jsonld, meta["authors"], meta["title"])
            blocks = result.blocks
            removed.update(result.removed)
            if not meta["subtitle"] and result.standfirst:
                meta["subtitle"] = result.standfirst
            blocks = refine_layout(doc.root, blocks, meta["title"], removed)
    blocks = cut_at_boundary(blocks, profile, paywall)
    blocks, capped = bounds.cap_blocks(blocks)
    if capped:
        doc.flags.append("text_truncated")
    return Extracted(meta, blocks, method, paywall, images, citations, removed)


def _draft(doc: Doc, ex: Extracted) -> Draft:
    meta = dict(ex.meta)
    date_flags = meta.pop("date_flags", [])
    return Draft(
        url=doc.url,
        source=doc.page.source or (doc.profile.name if doc.profile else None),
        fetched_at=doc.page.fetched_at,
        extraction={
            "profile": doc.profile.label if doc.profile else None,
            "method": ex.method,
            "version": pipeline_version(),
            "encoding": doc.decoded.encoding,
        },
        **meta,
        images=ex.images,
        citations=ex.citations,
        paywall=ex.paywall.as_dict(),
        flags=list(doc.flags) + date_flags,
    )


def _settle(draft: Draft, blocks: list[Block], removed: Counter[str], doc: Doc) -> Draft:
    """Give a draft its final blocks and the fallbacks that read them (byline, labelled date)."""
    if not blocks:
        raise Rejected("no_text", f"no article text found in {doc.url or 'page'}")
    title = draft.title
    while blocks and title and blocks[0].text == title:
        blocks = blocks[1:]  # the headline repeated as the first block is not body text
    if not blocks:
        raise Rejected("no_text", f"no article text found in {doc.url or 'page'}")
    if not draft.authors:
        author = dateline_author(blocks[0].text) or trailing_byline(blocks[-1].text)
        draft.authors = [author] if author else []
    if not draft.published_at:
        draft.published_at = labelled_date(doc.root, doc.tz)
        if not draft.published_at and "large_page" not in doc.flags:  # htmldate: whole-page scans
            draft.published_at = htmldate_fallback(doc.root, doc.tz)
            if draft.published_at:  # htmldate gives days only
                draft.flags.append("published_date_only")
    if draft.paywall["truncated"] and "paywall_truncated" not in draft.flags:
        draft.flags.append("paywall_truncated")
    draft.blocks = blocks
    draft.removed = removed
    return draft


def finish(draft: Draft) -> dict[str, Any]:
    """The record of a settled draft: text joined and its language detected, once."""
    text = draft.text
    return draft.record(text, detect_language(text))


def drafts(page: Page | Doc, profiles: ProfileSet | None = None, *,
           generic_only: bool = False) -> list[Draft]:
    """One page's settled drafts (several for a clipping page). Raises Rejected."""
    doc = page if isinstance(page, Doc) else prepare(page, profiles, generic_only)
    split = doc.profile.split if doc.profile else None
    container = None
    if split is None and (doc.profile is None or not doc.profile.body):
        found = detect_clipping(doc.root)
        if found is not None:
            split, container = found
    ex = extract(doc, split=split, body=container)
    rules = _line_rules(doc.profile)
    if split is None:
        # Generic path: short repeats are structure (recipes, tables), long ones pull quotes.
        if ex.method == "generic":
            blocks = filter_lines(ex.blocks, rules, ex.removed, GENERIC_MIN_DUPLICATE, GENERIC_MAX_WIDGET_REPEATS)
        else:
            blocks = filter_lines(ex.blocks, rules, ex.removed, PROFILE_MIN_DUPLICATE)
        return [_settle(_draft(doc, ex), blocks, ex.removed, doc)]

    out: list[Draft] = []
    page_removed = Counter(ex.removed)
    for seg in clip.segments(ex.blocks, split):
        seg = filter_lines(seg, rules, page_removed)
        c = clip.parse_clipping(seg, split, page_removed, doc.tz)
        if c is None or not c.blocks:
            continue
        d = _draft(doc, ex)
        d.extraction["method"] = "clipping"
        d.title = c.title or d.title
        d.published_at, d.source_outlet, d.notes, d.authors = c.published_at, c.outlet, c.notes, []
        d.canonical_url = d.canonical_url or doc.url
        d.url = f"{doc.url}#clipping-{len(out) + 1}" if doc.url else None
        out.append(_settle(d, c.blocks, Counter(), doc))
    if not out:
        raise Rejected("no_text", f"no clippings found in {doc.url or 'page'}")
    # Page-level removals (menus, year navigation) are reported once, on the first clipping.
    out[0].removed = page_removed
    return out


def clean(page: Page | Doc, profiles: ProfileSet | None = None, *,
          generic_only: bool = False) -> list[dict[str, Any]]:
    """Clean one page into its records (several for a clipping page). Raises Rejected.

    `page` may be a `Doc` from `prepare()` (already parsed, e.g. after `continuation_urls()`);
    cleaning strips its tree, so a `Doc` is cleaned once.
    """
    return [finish(d) for d in drafts(page, profiles, generic_only=generic_only)]


def _merge(into: Draft, more: Draft) -> None:
    """Append a continuation page's draft: new blocks, citations and images; removals and
    paywall signals add up; everything else is page 1's."""
    seen = {b.text for b in into.blocks}
    for b in more.blocks:
        if b.text not in seen:
            seen.add(b.text)
            into.blocks.append(b)
    for c in more.citations:
        if c not in into.citations:
            into.citations.append(c)
    for img in more.images:
        if img not in into.images:
            into.images.append(img)
    into.removed.update(more.removed)
    into.paywall["truncated"] |= more.paywall["truncated"]
    into.paywall["detected"] |= more.paywall["detected"]


def clean_pages(pages: list[Page | Doc], profiles: ProfileSet | None = None) -> list[dict[str, Any]]:
    """Merge a multi-page article (page 1 first) into one record, at the draft level."""
    if not pages:
        raise Rejected("empty", "no pages")
    first = drafts(pages[0], profiles)
    if len(pages) == 1 or len(first) != 1:
        return [finish(d) for d in first]
    merged = first[0]
    merged.blocks = list(merged.blocks)
    merged.citations = list(merged.citations)
    merged.images = list(merged.images)
    merged.removed = Counter(merged.removed)
    for p in pages[1:]:
        try:
            more = drafts(p, profiles)[0]
        except Rejected:
            merged.flags.append("continuation_failed")
            continue
        _merge(merged, more)
    return [finish(merged)]


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def continuation_urls(page: Page | Doc, profiles: ProfileSet | None = None) -> list[str]:
    """Next pages of the same article per the profile's `[pages] next` rules (same host only).

    Reads without changing: pass the same `Doc` to `clean()` afterwards to parse once.
    """
    if isinstance(page, Doc):
        doc = page
    else:
        try:
            doc = prepare(page, profiles)
        except Rejected:
            return []
    if doc.profile is None or not doc.url:
        return []
    host = _host(doc.url)
    out: list[str] = []
    for src in doc.profile.next_pages:
        for v in source_values(doc, src, "next"):
            if not isinstance(v, str):
                continue
            u = (http_url(doc.url, v) or "").split("#")[0]
            if u and _host(u) == host and u != doc.url and u not in out:
                out.append(u)
    return out
