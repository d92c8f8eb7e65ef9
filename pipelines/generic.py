"""The generic path: pages with no profile (or whose profile did not match) go to trafilatura.

Trafilatura gets the tree after the global noise vocabulary ran, with comments off and its own
deduplication off (determinism); its XML-ish body is turned into our typed blocks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from pipelines.blocks import Block
from pipelines.normalize import normalize_text

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GenericResult:
    blocks: list[Block]
    meta: dict[str, Any] = field(default_factory=dict)


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


def generic_extract(tree: etree._Element, url: str | None) -> GenericResult:
    """Trafilatura (fast mode) on an already noise-stripped tree, with a full-mode second opinion
    when the fast result looks like a dump or a fragment. Never raises."""
    blocks = _trafilatura(tree, url, fast=True)
    if suspicious(blocks, paragraph_chars(tree)):
        # Full mode compares with readability/jusText and never falls back to a raw dump first.
        blocks = _trafilatura(tree, url, fast=False) or blocks
    return GenericResult(blocks or [], {})
