"""Work per page is bounded: size-aware fallbacks for pages far larger than any article.

Measured (issue 7, item 8): the generic path costs about 40 µs and 2 KB per small paragraph
(trafilatura, block walks, line rules), linear but far too much for a 64 MB page of millions of
elements; and libxml2's tree costs 75 to 250 bytes per element or attribute, so the markup of a
64 MB page alone can exceed the memory budget. Three bounds keep any page under the limits
promised in README (seconds and 1.5 GB):

- Before the parse: a page over `CHECK_CHARS` whose tags and attributes (`nodes`) exceed
  `MAX_NODES` is cut at a tag boundary to that many (flag `page_truncated`).
- After the parse: a tree of more than `LARGE_PAGE_ELEMENTS` elements (no benchmark page has
  a tenth of that) skips trafilatura and the generic refinements; its body's text is read
  directly, minus the noise vocabulary (flag `large_page`).
- Output: at most `MAX_BLOCKS` blocks and `MAX_TEXT_CHARS` characters of text (flag
  `text_truncated`); the light walk stops there.
"""

from __future__ import annotations

import re
from dataclasses import replace

from lxml import etree

CHECK_CHARS = 8 * 1024 * 1024
MAX_NODES = 3_000_000
LARGE_PAGE_ELEMENTS = 100_000
MAX_BLOCKS = 50_000
MAX_TEXT_CHARS = 2_000_000
_TAG_RE = re.compile(r"<[^<>]*>")
_QUOTED_RE = re.compile(r"\"[^\"<>]*\"|'[^'<>]*'")
_COUNT_ELEMENTS = etree.XPath("count(//*)")


def _nodes(text: str) -> int:
    """Tags plus attributes, roughly: each tag starts with `<`, each attribute follows a space
    outside quotes (a class of a million tokens is one attribute)."""
    text = _QUOTED_RE.sub("", text)
    bare = _TAG_RE.sub("", text)
    spaces = sum(text.count(c) for c in " \t\n\r")
    bare_spaces = sum(bare.count(c) for c in " \t\n\r")
    return text.count("<") + spaces - bare_spaces


def fit_for_parse(text: str, max_nodes: int = MAX_NODES) -> tuple[str, bool]:
    """`text`, or its first part holding about `max_nodes` tags and attributes; cut or not."""
    if len(text) <= CHECK_CHARS:
        return text, False
    nodes = _nodes(text)
    cut = False
    while nodes > max_nodes:
        end = text.rfind("<", 0, int(len(text) * max_nodes / nodes * 0.95))
        if end <= 0:
            break
        text, cut = text[:end], True
        nodes = _nodes(text)
    return text, cut


def element_count(root: etree._Element) -> int:
    return int(_COUNT_ELEMENTS(root))


def is_large(root: etree._Element) -> bool:
    return element_count(root) > LARGE_PAGE_ELEMENTS


def cap_blocks(blocks: list, max_blocks: int = MAX_BLOCKS, max_chars: int = MAX_TEXT_CHARS) -> tuple[list, bool]:
    """The first blocks within the output bounds; and whether any were left out."""
    total = 0
    for i, b in enumerate(blocks):
        if i >= max_blocks:
            return blocks[:i], True
        if total + len(b.text) > max_chars:
            # the block that crosses the limit keeps its first part (one 10 MB paragraph is
            # still a text)
            rest = max_chars - total
            return blocks[:i] + ([replace(b, text=b.text[:rest])] if rest > 0 else []), True
        total += len(b.text)
    return blocks, False
