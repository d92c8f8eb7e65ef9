"""The generic path: pages with no profile (or whose profile did not match) go to trafilatura.

Trafilatura gets the tree after the global noise vocabulary ran, with comments off and its own
deduplication off (determinism); its XML-ish body is turned into our typed blocks.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pipelines.blocks import Block
from pipelines.noise import drop_element
from pipelines.normalize import normalize_text

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GenericResult:
    blocks: list[Block]
    meta: dict[str, Any] = field(default_factory=dict)
    removed: Counter[str] = field(default_factory=Counter)


def _item_text(el: etree._Element) -> list[str]:
    """Text of a trafilatura element, split at its `<lb/>` line breaks."""
    parts: list[str] = []
    buf: list[str] = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):  # comments, processing instructions: only their tail
            buf.append(child.tail or "")
            continue
        if child.tag == "lb":
            parts.append("".join(buf))
            buf = [child.tail or ""]
            continue
        buf.append("".join(child.itertext()))
        buf.append(child.tail or "")
    parts.append("".join(buf))
    return [t for t in (normalize_text(p) for p in parts) if t]


def body_blocks(body: etree._Element) -> list[Block]:
    out: list[Block] = []
    for el in body:
        if not isinstance(el.tag, str):
            continue
        tag = el.tag
        if tag == "head":
            out.extend(Block("heading", t) for t in _item_text(el))
        elif tag == "list":
            for item in el.iter("item"):
                out.extend(Block("list_item", t) for t in _item_text(item))
        elif tag == "quote":
            inner = [c for c in el if c.tag in ("p", "head", "list")]
            if inner:
                for c in inner:
                    out.extend(Block("quote", t) for t in _item_text(c))
            else:
                out.extend(Block("quote", t) for t in _item_text(el))
        elif tag == "table":
            for row in el.iter("row"):
                cells = [normalize_text(" ".join(c.itertext())) for c in row]
                text = " | ".join(c for c in cells if c)
                if text:
                    out.append(Block("paragraph", text))
        elif tag in ("p", "code", "div", "item"):
            out.extend(Block("paragraph", t) for t in _item_text(el))
        elif tag == "graphic":
            continue
        else:
            out.extend(Block("paragraph", t) for t in _item_text(el))
    return out


def _trafilatura(tree: etree._Element, url: str | None, *, fast: bool) -> list[Block] | None:
    """Trafilatura's body as our blocks; None when it found nothing or crashed."""
    from trafilatura import bare_extraction

    try:
        doc = bare_extraction(
            tree, url=url, include_comments=False, include_tables=True, include_images=False,
            include_links=False, deduplicate=False, with_metadata=False, fast=fast,
        )
    except Exception as exc:  # a trafilatura crash on one page must not stop a run
        log.warning("trafilatura failed on %s: %s", url, exc)
        return None
    if doc is None or doc.body is None:
        return None
    return body_blocks(doc.body)


def paragraph_chars(tree: etree._Element) -> int:
    """Characters of text inside `<p>` elements: a cheap size of the page's prose."""
    return sum(len("".join(p.itertext()).strip()) for p in tree.iter("p"))


def suspicious(blocks: list[Block] | None, prose: int) -> bool:
    """A fast-mode result that is likely a fallback dump or a fragment, worth a second opinion.

    Trafilatura's fast mode, when its main extractor comes up short, returns a whole-page text
    dump (menus included) or a JSON-LD summary as a single block; or it keeps one teaser of a
    long page. Seen on 6 of 366 benchmark pages (issue 3), each losing most of its F1.
    """
    if not blocks:
        return prose > 0
    chars = sum(len(b.text) for b in blocks)
    if len(blocks) == 1 and chars > SINGLE_BLOCK_DUMP:
        return True
    return chars < SHORT_SHARE * prose


SINGLE_BLOCK_DUMP = 300
SHORT_SHARE = 0.15


TEASER_TAGS = ("p", "li", "h2", "h3", "h4", "h5", "h6", "dt", "dd")
TEASER_MAX_CHARS = 300
TEASER_LINK_SHARE = 0.7
_LIST_ITEMS = frozenset({"li", "dt", "dd"})


def drop_link_teasers(tree: etree._Element, removed: Counter[str]) -> None:
    """Remove short paragraphs, headings and list items that are mostly link text.

    "ALSO READ: <a>headline</a>", "Les også: <a>...</a>", a list of headlines under the article:
    teasers for other pages, which trafilatura keeps when they sit inside the article container.
    Article prose is rarely more than two thirds link text. Kept: a printed URL (a reference the
    text cites) and a lone linked list item (an inline list, not a link list).
    """
    for el in list(tree.iter(*TEASER_TAGS)):
        if el.getparent() is None:
            continue
        chars = len("".join(el.itertext()).strip())
        if not chars or chars > TEASER_MAX_CHARS:
            continue
        links = ["".join(a.itertext()).strip() for a in el.iter("a")]
        if sum(map(len, links)) < TEASER_LINK_SHARE * chars:
            continue
        if links[0].startswith(("http", "www.")):
            continue
        if el.tag in _LIST_ITEMS and sum(1 for s in el.getparent() if s.tag == el.tag) < 2:
            continue
        drop_element(el)
        removed["related"] += 1


def generic_extract(tree: etree._Element, url: str | None) -> GenericResult:
    """Trafilatura (fast mode) on an already noise-stripped tree, with a full-mode second opinion
    when the fast result looks like a dump or a fragment. Never raises."""
    removed: Counter[str] = Counter()
    drop_link_teasers(tree, removed)
    blocks = _trafilatura(tree, url, fast=True)
    if suspicious(blocks, paragraph_chars(tree)):
        # Full mode compares with readability/jusText and never falls back to a raw dump first.
        blocks = _trafilatura(tree, url, fast=False) or blocks
    return GenericResult(blocks or [], {}, removed)
