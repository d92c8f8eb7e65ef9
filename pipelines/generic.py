"""The generic path: the article of a page we have no profile for (or whose profile missed).

Before: the global noise vocabulary ran (cleaner), then short link-dominated teasers go.
Extraction: trafilatura in fast mode (comments off, its dedup off for determinism), with a
full-mode second opinion only when the fast result looks like a raw dump or a fragment; its XML
body becomes our typed blocks, and a body split over same-class containers is put back together.
After: what the page says about itself decides (refine.py: JSON-LD articleBody vote, headline,
lead, trailing promos, edge dates and bylines). Every step was kept only where it raised token F1
on both benchmarks of docs/EVAL.md, and the whole path is faster than bare trafilatura.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kirinuki.pipelines import refine, trafilatura_fast
from kirinuki.pipelines.blocks import (
    SUBHEADINGS,
    Block,
    BlockBuffer,
    element_blocks,
    enclosing_block,
    link_chars,
    text_of,
)
from kirinuki.pipelines.gaps import fill_gaps
from kirinuki.pipelines.noise import drop_element
from kirinuki.pipelines.normalize import normalize_text
from kirinuki.pipelines.readability_vote import vote_edges
from kirinuki.pipelines.thresholds import (
    CARD_MAX_CHARS,
    CARD_MIN_SIBLINGS,
    CHUNK_ANCHOR_MIN_CHARS,
    CHUNK_COVERED_SHARE,
    CHUNK_MAX_LINK_SHARE,
    CHUNK_MAX_SHARE,
    CHUNK_MIN_PROSE_SHARE,
    CHUNK_MIN_WORDS,
    CHUNK_PROBE_CHARS,
    LAYOUT_CELL_MIN_CHARS,
    LAYOUT_ROW_MIN_CHARS,
    LAYOUT_ROW_SHARE,
    LINK_MENU_MAX_CHARS,
    LINK_MENU_MAX_UNLINKED,
    LIST_MAX_LINK_SHARE,
    LIST_SENTENCE_WORDS,
    LOOSE_MIN_CHARS,
    SHELL_BODY_MIN,
    SHELL_SHARE,
    SHORT_SHARE,
    SINGLE_BLOCK_DUMP,
    SLIDESHOW_MIN_SLIDES,
    SMALL_RESULT,
    SUBHEAD_PROSE_CHARS,
    TEASER_LINK_SHARE,
    TEASER_MAX_CHARS,
    TEASER_MIN_LINK,
    TEASER_SENTENCE_WORDS,
)
from lxml import etree

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GenericResult:
    blocks: list[Block]
    removed: Counter[str] = field(default_factory=Counter)
    standfirst: str | None = None  # the printed description, for the record's subtitle


# Trafilatura's output elements that end a block, and the block type they start.
_TRAF_BLOCKS = {"p": None, "div": None, "code": None, "head": "heading", "item": "list_item",
                "quote": "quote", "list": None, "table": None, "cell": None}


def body_blocks(body: etree._Element) -> list[Block]:
    """Trafilatura's XML body as our typed blocks; every piece of its text lands in one block.

    Text can sit anywhere: in a `<p>`, in the tail of a `<head>` at body level (deal lists), in a
    list item holding paragraphs. `<lb/>` ends a block; a table row is one block, cells joined
    with " | ", except a layout row: a cell of `LAYOUT_ROW_MIN_CHARS` or more holding
    `LAYOUT_ROW_SHARE` of the row's text is the article and the other cells are the sidebar
    beside it (a blog post's cell and its "Official links:" cell; issue 10, tumblr and four old
    Chinese portals). Inside a quote everything is quote; inside a list item, list item.
    """
    buf = BlockBuffer()

    def walk(node: etree._Element, kind: str) -> None:
        tag = node.tag
        if not isinstance(tag, str) or tag == "graphic":
            return
        if tag == "lb":
            buf.flush(kind)
            return
        if tag == "row":
            buf.flush(kind)
            cells = [normalize_text(" ".join(c.itertext())) for c in node]
            big = max(cells, key=len, default="")
            if len(big) >= LAYOUT_ROW_MIN_CHARS and len(big) >= LAYOUT_ROW_SHARE * sum(map(len, cells)):
                cells = [big]  # a layout row: the article's cell, not the sidebar beside it
            buf.add(" | ".join(c for c in cells if c))
            buf.flush(kind)
            return
        block = tag in _TRAF_BLOCKS
        if block:
            buf.flush(kind)
            if kind == "paragraph" and _TRAF_BLOCKS[tag]:
                kind = _TRAF_BLOCKS[tag]
        buf.walk_children(node, kind, walk)
        if block:
            buf.flush(kind)

    walk(body, "paragraph")
    buf.flush("paragraph")
    return buf.out


def plain_paragraph_ids(tree: etree._Element) -> None:
    """Take the `id` off every `<p>`: a paragraph is text whatever its id says, and trafilatura's
    discard rules read ids by substring ("nav", "menu", "share"), so a generated id like
    `NavzzU` cost a 130-word paragraph of a film review (issue 10, videos-1). No other page of
    the five sets changes."""
    for p in tree.iter("p"):
        if "id" in p.attrib:
            del p.attrib["id"]


# Blocks whose tail may hold a loose paragraph (an embed's or a figure's wrapper, a table, a list).
_LOOSE_AFTER = ("div", "figure", "table", "ul", "ol", "blockquote", "section")
# Emphasis printed between blocks as a paragraph of its own (spans and links there are widgets').
_INLINE = frozenset({"em", "i", "b", "strong"})


def _inline_run(el: etree._Element) -> list[etree._Element]:
    """The emphasis elements (`<em>`, `<b>`...) that follow `el` up to the next element."""
    run = []
    for s in el.itersiblings():
        if not isinstance(s.tag, str) or s.tag not in _INLINE:
            break
        run.append(s)
    return run


def wrap_loose_text(tree: etree._Element) -> None:
    """Put a paragraph printed as loose text after a block (`<div>figure</div>The Federal Flag
    Code has…<p>`, `</div><em>Disclaimer: if you see…</em><p>`) into a `<p>` of its own, among
    the `<p>` siblings it reads with.

    Trafilatura's fast pass leaves the tail of a `<div>`, and emphasis standing between blocks,
    out when the container's text is in `<p>` elements: the paragraph after an embedded
    photo, player or table is lost (issue 10, yahoo-3: a 50-word paragraph; links-in-tables: a
    32-word disclaimer in an `<em>`). Only runs of `LOOSE_MIN_CHARS` or more, under a parent that
    holds `<p>` children, are wrapped: white space and separators between blocks stay as they are.
    """
    for el in tree.iter(*_LOOSE_AFTER):
        tail = el.tail
        run = _inline_run(el)
        size = len(tail.strip()) if tail else 0
        if size < LOOSE_MIN_CHARS:
            size += sum(len(text_of(s)) + len((s.tail or "").strip()) for s in run)
            if size < LOOSE_MIN_CHARS:
                continue
        parent = el.getparent()
        if parent is None or parent.find("p") is None:
            continue
        p = etree.Element("p")
        p.text = tail
        el.tail = None
        el.addnext(p)
        for s in run:
            p.append(s)  # its tail comes with it


def unwrap_layout_tables(tree: etree._Element) -> None:
    """Read a layout table as columns of the article: a one-row table of two or more cells that
    each hold `LAYOUT_CELL_MIN_CHARS` of `<p>` text, one of them a list, becomes `<div>`s.

    Trafilatura reads such a table as one row of cells and leaves every list in a cell out
    (lists in cells are kept only in its recall mode): an essay printed in two columns lost its
    bullet lists (issue 10, table-style-attributes). As `<div>`s, its paragraphs come out as
    paragraphs, and `gaps.fill_gaps` puts the lists back between them. Data tables have more
    rows, or cells without paragraphs.
    """
    for table in list(tree.iter("table")):
        rows = list(table.iter("tr"))
        if len(rows) != 1 or table.find(".//table") is not None:
            continue
        cells = [c for c in rows[0] if c.tag in ("td", "th")]
        if len(cells) < 2 or not any(c.find(".//ul") is not None or c.find(".//ol") is not None for c in cells):
            continue
        if all(sum(len(text_of(p)) for p in c.iter("p")) >= LAYOUT_CELL_MIN_CHARS for c in cells):
            etree.strip_tags(table, "tbody", "thead", "tfoot")
            for el in (table, rows[0], *cells):
                el.tag = "div"
                el.attrib.clear()


def _trafilatura(tree: etree._Element, url: str | None, *, fast: bool) -> list[Block] | None:
    """Trafilatura's body as our blocks; None when it found nothing or crashed.

    Fast mode goes through `trafilatura_fast.fast_body` (the same body without the copies and
    passes we discard), full mode through `trafilatura_fast.full_body` (`bare_extraction`
    rebound to the same walks and a stoplist built once), on the trafilatura versions they were
    checked against."""
    from trafilatura import bare_extraction

    try:
        if fast and trafilatura_fast.supported():
            body = trafilatura_fast.fast_body(tree, url)
        elif trafilatura_fast.supported():
            body = trafilatura_fast.full_body(tree, url)
        else:
            doc = bare_extraction(tree, url=url, fast=fast, **trafilatura_fast.BARE_OPTIONS)
            body = None if doc is None else doc.body
    except Exception as exc:  # a trafilatura crash on one page must not stop a run
        log.warning("trafilatura failed on %s: %s", url, exc)
        return None
    if body is None:
        return None
    return body_blocks(body)


def paragraph_chars(tree: etree._Element) -> int:
    """Characters of text inside `<p>` elements: a cheap size of the page's prose."""
    return sum(len(text_of(p).strip()) for p in tree.iter("p"))


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
    # A page whose text is mostly outside <p> (headings and lines between math or figure
    # blocks) gives a tiny fast result that the <p> measure calls complete (issue 10).
    return chars < SHORT_SHARE * prose or chars < SMALL_RESULT


def _only_links(tree: etree._Element, blocks: list[Block]) -> bool:
    """A short result from a page whose every word is link text: a menu, not an article."""
    if sum(len(b.text) for b in blocks) > LINK_MENU_MAX_CHARS:
        return False
    texts = tree.xpath("//body//text()[not(ancestor::a) and not(ancestor::script) and not(ancestor::style)]")
    return sum(len(t.strip()) for t in texts) < LINK_MENU_MAX_UNLINKED


_CHUNK_CLASS_RE = re.compile(r"body|article|content|story|entry|post|text", re.I)
_TEXT_WITH = etree.XPath("//body//text()[contains(., $p)][not(ancestor::script)][not(ancestor::style)]")


def _covered(part: Counter[Any], whole: Counter[Any]) -> bool:
    n = sum(part.values())
    return not n or sum((part & whole).values()) >= CHUNK_COVERED_SHARE * n


def merge_body_chunks(tree: etree._Element, blocks: list[Block]) -> list[Block]:
    """Add the other parts of an article body split over several same-class containers.

    Some layouts cut the body into chunks with ads or widgets between them (`div.body__inner-
    container` three times); trafilatura reads the first chunk only. Chunks are recognised by the
    container class of the first paragraph we extracted (a body-like name), must be prose (mostly
    `<p>` text, few links) and new to us (word bigrams, as common words overlap any text).
    """
    first = next((b.text for b in blocks if len(b.text) >= CHUNK_ANCHOR_MIN_CHARS), None)
    if first is None:
        return blocks
    hits = _TEXT_WITH(tree, p=first[:CHUNK_PROBE_CHARS])
    if not hits:
        return blocks
    el = enclosing_block(hits[0].getparent())
    box = el.getparent() if el is not None else None
    cls = box.get("class") if box is not None else None
    if not cls or not _CHUNK_CLASS_RE.search(cls):
        return blocks
    boxes = tree.xpath(f"//{box.tag}[@class=$c]", c=cls)
    if len(boxes) < 2:
        return blocks
    cjk = refine.is_cjk(first)
    ours = refine.bigrams("\n".join(b.text for b in blocks), cjk)
    parts: list[tuple[str, list[Block]]] = []  # ("ours" | "new" | "skip", blocks)
    for b in boxes:
        chunk = element_blocks(b)
        words = refine.bigrams("\n".join(c.text for c in chunk), cjk)
        if sum(words.values()) < CHUNK_MIN_WORDS:
            parts.append(("skip", []))
        elif _covered(words, ours):
            parts.append(("ours", []))
        else:
            total = len(text_of(b)) or 1
            prose = sum(len(text_of(p)) for p in b.iter("p"))
            linked = sum(len(text_of(a)) for a in b.iter("a"))
            parts.append(("new" if prose >= CHUNK_MIN_PROSE_SHARE * total and linked <= CHUNK_MAX_LINK_SHARE * total
                          else "skip", chunk))
    kinds = [k for k, _ in parts]
    if "ours" not in kinds or "new" not in kinds:
        return blocks
    # Our blocks stay together; each new chunk goes before or after them, in page order.
    at = kinds.index("ours")
    before = [c for i, (k, chunk) in enumerate(parts) if k == "new" and i < at for c in chunk]
    after = [c for i, (k, chunk) in enumerate(parts) if k == "new" and i > at for c in chunk]
    return before + blocks + after


TEASER_TAGS = ("p", "li", *SUBHEADINGS, "dt", "dd")
_LIST_ITEMS = frozenset({"li", "dt", "dd"})


def _linked_blocks(tree: etree._Element, tags: Iterable[str] = TEASER_TAGS) -> list[etree._Element]:
    """The elements of `tags` holding a link, in document order. lxml's tag-filtered walk and a
    walk for the first `<a>` below each are a quarter of the cost of the XPath
    `//p[.//a] | //li[.//a] | ...` (a scan per tag, a predicate per element); the list is taken
    before anything is removed."""
    out = []
    for el in tree.iter(*tags):
        for _ in el.iter("a"):
            out.append(el)
            break
    return out


_SENTENCE_END_RE = re.compile(r"[.!?…。！？][\"'”’)\]]?$")
_WORD_RE = re.compile(r"\w+")


def _folded(text: str) -> str:
    """Text with its runs of white space folded to one space, as it reads."""
    return " ".join(text.split())


def _unlinked_text(el: etree._Element) -> str:
    """The text of `el` outside its links."""
    parts: list[str] = []

    def walk(node: etree._Element, linked: bool) -> None:
        linked = linked or node.tag == "a"
        if not linked and node.text:
            parts.append(node.text)
        for child in node:
            walk(child, linked)
            if not linked and child.tail:
                parts.append(child.tail)

    walk(el, False)
    return " ".join(parts)


def _linked_sentence(el: etree._Element) -> bool:
    """A sentence whose words are mostly links (names and phrases linked to other pages), not a
    teaser: it ends with a sentence stop and has words of its own between or after the links
    ("After <a>Miyazaki won on Monday</a>, it was <a>Boulter</a> who got the ball rolling.").
    A teaser's own words are a label ("Read more:") or nothing (issue 10)."""
    return (bool(_SENTENCE_END_RE.search(text_of(el).strip()))
            and len(_WORD_RE.findall(_unlinked_text(el))) >= TEASER_SENTENCE_WORDS)


def _section_anchor(el: etree._Element) -> bool:
    """A heading linked to a place in its own page ("<h3><a href="#setup">Setup</a></h3>", a
    "¶" permalink): the article's section heading, which a table of contents points to, not a
    teaser for another page (issue 10: 25 such headings on the readability set, all in its gold;
    none on the other sets). Skip links ("#main") are list items, not headings."""
    return el.tag in SUBHEADINGS and any(len(a.get("href") or "") > 1 and a.get("href").startswith("#")
                                       for a in el.iter("a"))


def _article_list(parent: etree._Element, tag: str) -> bool:
    """A list that is the article's own: mostly its own words (under `LIST_MAX_LINK_SHARE` link
    text) with an item that is a sentence of `LIST_SENTENCE_WORDS` unlinked words. Its linked
    items ("Here's our Firefox Year in Review!" among a blog post's highlights, a reference list's
    "^ <a>Title</a>" entries) are items, not teasers (issue 10). A related-stories list is all
    headlines; a teaser card's byline or kicker is no sentence."""
    linked, total = link_chars(parent, _folded)
    if linked >= LIST_MAX_LINK_SHARE * total:
        return False
    return any(s.tag == tag and _SENTENCE_END_RE.search(text_of(s).strip())
               and len(_WORD_RE.findall(_unlinked_text(s))) >= LIST_SENTENCE_WORDS for s in parent)


def _card(box: etree._Element) -> bool:
    """A teaser card: one heading linked to another page and a short summary, `CARD_MAX_CHARS`
    of text in all."""
    if len(_folded(text_of(box))) > CARD_MAX_CHARS:
        return False
    heads = [h for h in box if h.tag in SUBHEADINGS and h.find(".//a") is not None]
    return len(heads) == 1 and not _section_anchor(heads[0])


def drop_teaser_cards(tree: etree._Element, removed: Counter[str]) -> None:
    """Remove lists of teaser cards: `CARD_MIN_SIBLINGS` or more sibling boxes of one kind (tag
    and first class) that are each a linked headline and its summary ("Other Opinion Columns"
    under a column: a kicker, a linked headline, a standfirst, a date). Each card's headline can
    escape the link-teaser rule (a kicker's words dilute its link share) and its summary is
    prose, which trafilatura keeps under the article (issue 10, herald-sun-1)."""
    seen: set[etree._Element] = set()
    for h in _linked_blocks(tree, SUBHEADINGS):
        box = h.getparent()
        parent = box.getparent() if box is not None else None
        if parent is None or parent in seen:
            continue
        seen.add(parent)
        kind = (box.get("class") or "").split()[:1]
        same = [s for s in parent if s.tag == box.tag and (s.get("class") or "").split()[:1] == kind]
        if len(same) >= CARD_MIN_SIBLINGS and all(_card(s) for s in same):
            for s in same:
                drop_element(s)
                removed["related"] += 1


def _prose_paragraph(el: etree._Element | None) -> bool:
    """A `<p>` of running text: `SUBHEAD_PROSE_CHARS` or more, ending with a sentence stop."""
    if el is None or el.tag != "p":
        return False
    text = text_of(el).strip()
    return len(text) >= SUBHEAD_PROSE_CHARS and bool(_SENTENCE_END_RE.search(text))


def _between_paragraphs(el: etree._Element) -> bool:
    """A heading printed between two paragraphs of running text (an embed without text may
    follow it) is the article's subhead even when it links elsewhere: a buying guide's
    "<h3><a href=store>“RIGS: Mechanized Combat League” ($50)</a></h3>" above the game's review
    (issue 10, yahoo-1). A teaser card's heading opens its card; an "Also read" line is a `<p>`."""
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if not _prose_paragraph(prev):
        return False
    nxt = el.getnext()
    while nxt is not None and (not isinstance(nxt.tag, str) or (nxt.tag != "p" and not text_of(nxt).strip())):
        nxt = nxt.getnext()
    return _prose_paragraph(nxt)


def drop_link_teasers(tree: etree._Element, removed: Counter[str]) -> None:
    """Remove short paragraphs, headings and list items that are mostly link text.

    "ALSO READ: <a>headline</a>", "Les også: <a>...</a>", a list of headlines under the article:
    teasers for other pages, which trafilatura keeps when they sit inside the article container.
    Lists of teaser cards go first (`drop_teaser_cards`). Article prose is rarely more than two
    thirds link text. Kept: a printed URL (a reference the text cites), a line of short keyword
    links, a lone linked list item (an inline list) and the linked items of a list that is
    mostly the article's own sentences (`_article_list`).
    """
    if tree.find(".//a") is None:
        return  # a page of a million paragraphs and no link: no scan of each for links
    drop_teaser_cards(tree, removed)
    siblings: dict[Any, int] = {}  # per parent and tag: counted once (a 2000-item list is linear)
    for el in _linked_blocks(tree):
        parent = el.getparent()
        if parent is None:
            continue
        # A heading's text as it reads: a card's kicker, link and source indentation
        # ("<h4>\n\t\t<strong>Editorial</strong>\n\t\t <a>…</a></h4>") counted no white space.
        heading = el.tag in SUBHEADINGS
        chars = len(_folded(text_of(el)) if heading else text_of(el).strip())
        if not chars or chars > TEASER_MAX_CHARS:
            continue
        links = [_folded(text_of(a)) if heading else text_of(a).strip() for a in el.iter("a")]
        if sum(map(len, links)) < TEASER_LINK_SHARE * chars:
            continue
        if links[0].startswith(("http", "www.")) or max(map(len, links)) < TEASER_MIN_LINK:
            continue
        if el.tag == "p" and _linked_sentence(el):
            continue
        if _section_anchor(el):
            continue
        if heading and _between_paragraphs(el):
            continue
        if el.tag in _LIST_ITEMS:
            key = (parent, el.tag)
            if key not in siblings:
                siblings[key] = sum(1 for s in parent if s.tag == el.tag)
                if siblings[key] >= 2 and _article_list(parent, el.tag):
                    siblings[key] = 0  # its linked items are the article's items
            if siblings[key] < 2:
                continue
        drop_element(el)
        removed["related"] += 1




# "1/50", "1 / 50", "1 of 50": a slide's counter, first thing in its caption.
_SLIDE_COUNTER_RE = re.compile(r"^\s*(\d{1,3})\s*(?:/|of)\s*(\d{1,3})\b")
_FIRST_SLIDES = etree.XPath(
    "//body//*[starts-with(normalize-space(text()), '1/') or starts-with(normalize-space(text()), '1 /')"
    " or starts-with(normalize-space(text()), '1 of ')]")


def _slide_number(el: etree._Element, total: int) -> int | None:
    """The counter an item's text begins with, when it counts to `total`."""
    first = next((t for t in el.itertext() if t.strip()), "")
    m = _SLIDE_COUNTER_RE.match(first)
    return int(m.group(1)) if m and int(m.group(2)) == total else None


def drop_slideshows(tree: etree._Element, removed: Counter[str]) -> bool:
    """Remove embedded photo galleries: sibling items whose captions count "1/50", "2/50"...

    A gallery of other stories dropped into the article ("Business news in pictures") gives each
    slide a headline, a caption and a credit: fifty teasers that outweigh the article, which
    trafilatura keeps as prose (issue 10). Items numbered 1, 2, 3 of the same total, three at
    least, are slides; the list holding them goes. True when one went.
    """
    dropped = False
    for el in _FIRST_SLIDES(tree):
        m = _SLIDE_COUNTER_RE.match(el.text or "")
        if not m or m.group(1) != "1" or int(m.group(2)) < SLIDESHOW_MIN_SLIDES:
            continue
        total = int(m.group(2))
        node = el
        while (parent := node.getparent()) is not None:
            items = [s for s in parent if s.tag == node.tag]
            if len(items) >= SLIDESHOW_MIN_SLIDES:
                numbers = [_slide_number(s, total) for s in items[:SLIDESHOW_MIN_SLIDES]]
                if numbers == list(range(1, SLIDESHOW_MIN_SLIDES + 1)):
                    drop_element(parent)
                    removed["related"] += 1  # other stories' slides
                    dropped = True
                break
            node = parent
    return dropped


def _counts_slides(blocks: list[Block] | None) -> bool:
    """Whether a result holds a line opening with "1/N": a gallery may have been read as prose."""
    return any(_SLIDE_COUNTER_RE.match(b.text) for b in blocks or ())


def shell_page(blocks: list[Block] | None, body: str | None) -> bool:
    """The HTML holds a shell (menus, a teaser) while JSON-LD `articleBody` holds the article:
    pages rendered by scripts publish the text only there (issue 10). No page of the five
    benchmark sets meets this (the nearest gives 54% of its articleBody, and is right)."""
    if not body or len(body) < SHELL_BODY_MIN:
        return False
    return sum(len(b.text) for b in blocks or ()) < SHELL_SHARE * len(body)


def body_blocks_from_text(text: str) -> list[Block]:
    """articleBody as paragraphs: one per non-empty line."""
    lines = (normalize_text(x) for x in re.split(r"\n+", text))
    return [Block("paragraph", x) for x in lines if x]


def generic_extract(tree: etree._Element, url: str | None, jsonld: Iterable[dict[str, Any]] = (),
                    authors: Iterable[str] = (), title: str | None = None) -> GenericResult:
    """The article's blocks from an already noise-stripped tree. Never raises.

    Trafilatura in fast mode, with a full-mode second opinion when the fast result looks like a
    dump or a fragment; then the page votes (JSON-LD articleBody), trailing promos and edge
    date/byline lines go, and the printed lead comes first.
    """
    removed: Counter[str] = Counter()
    jsonld = list(jsonld)
    drop_link_teasers(tree, removed)
    plain_paragraph_ids(tree)
    wrap_loose_text(tree)
    unwrap_layout_tables(tree)
    blocks = _trafilatura(tree, url, fast=True)
    # Galleries are looked for only when the result shows a slide counter (a whole-tree scan
    # costs a millisecond a page); the page is then read again without them.
    if _counts_slides(blocks) and drop_slideshows(tree, removed):
        blocks = _trafilatura(tree, url, fast=True)
    prose = paragraph_chars(tree)
    if suspicious(blocks, prose):
        # Full mode compares with readability/jusText and never falls back to a raw dump first.
        blocks = _trafilatura(tree, url, fast=False) or blocks
    body = refine.article_body(jsonld)
    if shell_page(blocks, body):
        blocks = body_blocks_from_text(body or "")
    elif not blocks or _only_links(tree, blocks):
        return GenericResult([], removed)
    if sum(len(b.text) for b in blocks) < CHUNK_MAX_SHARE * prose:  # else no prose is left out
        blocks = merge_body_chunks(tree, blocks)
    blocks = fill_gaps(tree, blocks)
    blocks = refine.cut_notices(blocks, removed)
    blocks = refine.first_entry(blocks, removed)
    blocks = vote_edges(tree, blocks, removed, title)
    blocks = refine.vote_article_body(blocks, body, removed)
    blocks = refine.cut_comments(blocks, removed)
    blocks = refine.trim_tail(blocks, removed)
    blocks = refine.drop_edge_lines(blocks, authors, removed)
    blocks = refine.drop_headline(blocks, title, removed)
    blocks = refine.drop_label_lines(blocks, removed)
    descs = refine.descriptions(tree, jsonld)
    blocks = refine.add_lead(blocks, refine.find_lead(tree, descs, blocks), title)
    return GenericResult(blocks, removed, refine.standfirst(descs, blocks))
