"""Headings and lists that sit between two paragraphs of the extracted article are the article's,
and so is the list a kept paragraph announces with a colon.

Trafilatura sometimes returns an article's paragraphs without the subheads and lists printed
between them: when its main pass finds no container it falls back to collecting the page's wild
`<p>` elements (headings and lists are not looked for there), and its filters drop a heading or
a list now and then (issue 10: a blog post losing all six subheads and every bullet list). A
heading or a list whose neighbours on both sides are paragraphs we kept, in the same container,
is part of the text both golds and readers see: it is put back where it stands.

Link-heavy lists (related stories inside the article) stay out, like the link teasers before
extraction (generic.drop_link_teasers).
"""

from __future__ import annotations

from kirinuki.pipelines.blocks import SUBHEADINGS, Block, element_blocks, link_chars, text_of
from kirinuki.pipelines.thresholds import GAP_MAX_LINK_SHARE, GAP_MAX_SIBLINGS
from lxml import etree

_LISTS = frozenset({"ul", "ol", "dl"})


def _key(text: str) -> str:
    """Text without its spaces: a block's text and its `<p>`'s raw text meet there (no NFKC,
    which costs more than the rest of the step: a text it would change is not found)."""
    return "".join(text.split())


def _paragraphs(tree: etree._Element) -> dict[str, etree._Element | None]:
    """The `<p>` elements that have a heading or a list for a sibling, by their squeezed text
    (None for a text printed in several): only they can stand on both sides of a gap."""
    out: dict[str, etree._Element | None] = {}
    parents = {el.getparent() for el in tree.iter(*SUBHEADINGS, *_LISTS)}
    parents.discard(None)
    for p in (c for parent in parents for c in parent.iterchildren("p")):
        k = _key(text_of(p))
        if k:
            out[k] = None if k in out else p
    return out


def _fillable(el: etree._Element) -> bool:
    """A heading, or a list that is not mostly links."""
    tag = el.tag
    if tag in SUBHEADINGS:
        return True
    if tag not in _LISTS:
        return False
    linked, total = link_chars(el)
    return total > 0 and linked <= GAP_MAX_LINK_SHARE * total


def _between(a: etree._Element, b: etree._Element) -> list[etree._Element] | None:
    """The siblings strictly between `a` and `b` when `b` follows `a` under the same parent."""
    if a.getparent() is None or a.getparent() is not b.getparent():
        return None
    out = []
    for s in a.itersiblings():
        if s is b:
            return out
        if len(out) >= GAP_MAX_SIBLINGS:  # a bounded walk: b may come before a in a long list
            return None
        out.append(s)
    return None


def _announced_list(p: etree._Element, whole: str) -> list[Block]:
    """The blocks of the list that a paragraph ending with a colon announces ("The replies were
    roughly in the following groups:"), when our result lacks it: trafilatura leaves lists out
    of table cells and, at the end of a container, out of its result (issue 10,
    table-style-attributes: 176 words). Empty paragraphs may stand between them."""
    nxt = p.getnext()
    while nxt is not None and (not isinstance(nxt.tag, str) or (nxt.tag == "p" and not text_of(nxt).strip())):
        nxt = nxt.getnext()
    if nxt is None or nxt.tag not in _LISTS or not _fillable(nxt) or _key(text_of(nxt))[:60] in whole:
        return []
    return element_blocks(nxt)


def fill_gaps(tree: etree._Element, blocks: list[Block]) -> list[Block]:
    """`blocks` with the headings and lists found between two adjacent paragraphs put back."""
    if len(blocks) < 2:
        return blocks
    paragraphs: dict[str, etree._Element | None] | None = None
    have = {b.text for b in blocks}
    out: list[Block] = [blocks[0]]
    prev: etree._Element | None = None
    whole: str | None = None  # the result's text, squeezed, once a paragraph announces a list
    for i, b in enumerate(blocks):
        el = None
        if b.type == "paragraph":
            if paragraphs is None:
                paragraphs = _paragraphs(tree)
            el = paragraphs.get(_key(b.text))
        if i:
            if prev is not None and el is not None:
                gap = _between(prev, el)
                if gap:
                    for s in gap:
                        if not _fillable(s):
                            continue
                        for nb in element_blocks(s):
                            if nb.text not in have:
                                out.append(nb)
                                have.add(nb.text)
            out.append(b)
        if el is not None and b.text.endswith((":", "：")):
            whole = whole if whole is not None else _key("".join(x.text for x in blocks))
            for nb in _announced_list(el, whole):
                if nb.text not in have:
                    out.append(nb)
                    have.add(nb.text)
        prev = el
    return out
