"""Hand-made pages: a table-layout content cell, and the listings that trail an article.

Personal and community sites (fixtures/unknown/) lay the page out with one big `<table>`: header row,
menu cell, content cell, footer row. Trafilatura reads such a page as table cells and returns the
whole page, the article merged into one block with everything else of its cell. When the title
heading sits in a `<td>` holding most of the page's prose and the generic result looks like that
dump, the article is read from that cell instead, one block per paragraph and `<br>` line.

Either way the article is followed, inside the same container, by listings: "最近のニュース"
date lists, schedule tables, guestbook lines, update histories. A run of such lines (table rows,
date-prefixed lines) after the article's prose ends it; a byline right after the prose stays.
No site is named: the shapes are prose (sentences) versus listings (rows and dated lines).
"""

from __future__ import annotations

import copy
import re
from collections import Counter

from kirinuki.pipelines.blocks import HEADINGS, Block, element_blocks, text_of
from kirinuki.pipelines.normalize import normalize_text
from kirinuki.pipelines.thresholds import (
    CELL_PROSE_SHARE,
    DUMP_MERGED,
    DUMP_OUTSIDE_SHARE,
    ENTRY_RUN_SPACING,
    ENTRY_RUN_STAMPS,
    LISTING_LINES,
    LISTING_RUN,
    PROSE_MIN_CJK_CHARS,
    PROSE_MIN_WORDS,
    RESUME_CHARS,
    RESUME_PARAGRAPH,
    RESUME_SHARE,
    TAIL_SHARE,
    TITLE_OVERLAP_SHARE,
)
from lxml import etree

_HR = "\ue000hr\ue000"  # a horizontal rule in the content cell: a section boundary

# A sentence: Japanese full stop anywhere, or a Latin sentence end at the end of the block.
_CJK_STOP_RE = re.compile(r"[。！？]")
_LATIN_END_RE = re.compile(r"[.!?…][\"'”’)\]]?$")
# A line that starts with a date: "2024/05/10 ...", "2024年5月10日 ...", "05/28 12:10 ...",
# "6月 2日(日) ...".
_DATED_RE = re.compile(
    r"^(?:\d{4}\s*[/.\-年]\s*\d{1,2}(?:\s*[/.\-月]\s*\d{1,2}\s*日?)?"
    r"|\d{1,2}\s*/\s*\d{1,2}(?:\s+\d{1,2}:\d{2})?"
    r"|\d{1,2}\s*月\s*\d{1,2}\s*日)(?:\s*[(（][^)）]{1,3}[)）])?(?:\s|\||$)"
)
# A date and a time of day, as entries of a list print them ("08-11 16:06", "2005/05/18 13:45:40").
STAMP_RE = re.compile(r"(?<!\d)(?:\d{4}\s*[-/.]\s*)?\d{1,2}[-/.]\d{1,2}\s*\d{1,2}:\d{2}(?!\d)")
# "(広報部 記)", "(文・写真 運営スタッフ)", "(山田)": a short parenthesised signature.
_SIGNATURE_RE = re.compile(r"^[(（][^()（）]{1,30}[)）]$")

_SQUEEZE_RE = re.compile(r"[\s|]+")

ROW_SEP = " | "


def is_entry_run(text: str) -> bool:
    """Dated entries run together into one line: a forum's reply list ("...【name】08-11 16:06
    298字 [4321/87] ..."), a related-news list with times. Each entry prints a date and a time,
    so they come every few dozen characters; a schedule inside an article has them far apart.

    Each stamp holds one ":" and stamps do not overlap, so a line with too few colons for
    either bound is settled without the regex (nearly every line: this runs on every block)."""
    colons = text.count(":")
    if colons < ENTRY_RUN_STAMPS or colons * ENTRY_RUN_SPACING < len(text):
        return False
    stamps = len(STAMP_RE.findall(text))
    return stamps >= ENTRY_RUN_STAMPS and stamps * ENTRY_RUN_SPACING >= len(text)


def is_prose(text: str) -> bool:
    """A sentence or more of running text (not a menu entry, caption, row or dated line)."""
    if ROW_SEP in text or is_entry_run(text):
        return False
    if _CJK_STOP_RE.search(text):
        return len(text) >= PROSE_MIN_CJK_CHARS
    # the end is at most 3 characters (stop, quote, a newline before the end): no scan from the start
    return bool(_LATIN_END_RE.search(text, max(0, len(text) - 3))) and len(text.split()) >= PROSE_MIN_WORDS


def is_listing(text: str) -> bool:
    """A table row or a date-prefixed line: an entry of a schedule, news list or guestbook."""
    return ROW_SEP in text or bool(_DATED_RE.match(text))


def _similar_title(text: str, title: str) -> bool:
    if not text or not title:
        return False
    if text == title:
        return True
    short, long_ = sorted((text, title), key=len)
    return short in long_ and len(short) >= TITLE_OVERLAP_SHARE * len(long_)




def _resumes(blocks: list[Block], prose: list[bool], i: int, j: int) -> bool:
    """Whether the article's prose goes on after the run `blocks[i:j]`: a data table or a list
    of figures between sections belongs to the article (issue 10), a trailing listing does not
    (short notes after it, "※駐車場は...", are not the article going on). `prose` says which
    blocks are prose (`is_prose`, read once per block by the caller)."""
    before = sum(len(b.text) for b, p in zip(blocks[:i], prose, strict=False) if p)
    after = sum(len(b.text) for b, p in zip(blocks[j:], prose[j:], strict=True)
                if p and len(b.text) >= RESUME_PARAGRAPH)
    return after >= min(RESUME_SHARE * before, RESUME_CHARS)


def trim_listings(blocks: list[Block], removed: Counter[str] | None = None,
                  max_cut: float | None = None) -> list[Block]:
    """Cut the blocks at the first run of listing lines that follows the article's prose.

    The run must hold `LISTING_RUN` non-prose blocks in a row with `LISTING_LINES` table rows or
    dated lines among them (a short bullet list inside an article is neither), prose must come
    before it, and not much after it (`RESUME_SHARE`: else it is a table inside the article).
    A parenthesised signature opening the run is the article's byline and stays.
    With `max_cut`, the cut part may be at most that share of the kept text: an article whose
    substance is its tables (standings, snap counts) keeps them; a short trailing schedule goes.
    """
    prose = [is_prose(b.text) for b in blocks]
    seen_prose = False
    i, n = 0, len(blocks)
    while i < n:
        if prose[i]:
            seen_prose = True
            i += 1
            continue
        j = i
        while j < n and not prose[j]:
            j += 1
        listed = sum(1 for b in blocks[i:j] if is_listing(b.text))
        if seen_prose and j - i >= LISTING_RUN and listed >= LISTING_LINES and not _resumes(blocks, prose, i, j):
            cut = i
            while cut < j and _SIGNATURE_RE.match(blocks[cut].text):
                cut += 1
            kept = sum(len(b.text) for b in blocks[:cut])
            if max_cut is not None and sum(len(b.text) for b in blocks[cut:]) > max_cut * kept:
                break
            if removed is not None:
                removed["related"] += sum(1 for b in blocks[cut:] if b.text != _HR)
            return [b for b in blocks[:cut] if b.text != _HR]
        i = j
    return [b for b in blocks if b.text != _HR]


def _prose_chars(el: etree._Element) -> int:
    """Characters of sentence-bearing lines under `el`."""
    return sum(len(b.text) for b in element_blocks(el) if is_prose(b.text))


def _title_cell(tree: etree._Element, title: str) -> tuple[etree._Element, etree._Element] | None:
    """The innermost `<td>` holding the title heading, and the heading."""
    for h in tree.iter(*HEADINGS):
        if not _similar_title(normalize_text(text_of(h)), title):
            continue
        node = h.getparent()
        while node is not None and node.tag != "td":
            node = node.getparent()
        return (node, h) if node is not None else None
    return None


def _cell_blocks(cell: etree._Element, heading: etree._Element) -> list[Block]:
    """The cell's blocks from its title heading on; rows joined with " | ", rules kept as marks."""
    heading.set("data-kirinuki-title", "1")
    try:
        box = copy.deepcopy(cell)
    finally:
        del heading.attrib["data-kirinuki-title"]
    mark = box.xpath(".//*[@data-kirinuki-title]")[0]
    # Everything before the heading in document order goes (dateline, issue number).
    node = mark
    while node is not box:
        parent = node.getparent()
        for sib in list(node.itersiblings(preceding=True)):
            parent.remove(sib)
        parent.text = None
        node = parent
    for hr in list(box.iter("hr")):
        hr.tag, hr.text = "p", _HR
    for tr in list(box.iter("tr")):
        if tr.find(".//table") is not None:
            continue
        cells = [normalize_text(text_of(c)) for c in tr if c.tag in ("td", "th")]
        text = ROW_SEP.join(c for c in cells if c)
        tail = tr.tail
        tr.clear()
        tr.tag, tr.text, tr.tail = "p", text, tail
    blocks = element_blocks(box)
    if blocks and _similar_title(blocks[0].text, normalize_text(text_of(heading))):
        blocks = blocks[1:]
    # Captions, photo notes, byline and date lines between the headline and the first sentence
    # are not body text.
    while blocks and not is_prose(blocks[0].text):
        blocks = blocks[1:]
    return blocks


def _squeeze(text: str) -> str:
    return _SQUEEZE_RE.sub("", text)


def _looks_dumped(blocks: list[Block], cell_text: str, title: str) -> bool:
    """Whether the generic result is the table-layout dump (cell text merged, or page chrome)."""
    total = sum(len(b.text) for b in blocks) or 1
    outside = sum(len(b.text) for b in blocks if _squeeze(b.text) not in cell_text)
    if outside >= DUMP_OUTSIDE_SHARE * total:
        return True
    return any(title in b.text and len(b.text) > len(title) + DUMP_MERGED for b in blocks)


def table_layout_blocks(tree: etree._Element, blocks: list[Block], title: str | None,
                        removed: Counter[str] | None = None) -> list[Block]:
    """The article of a table-laid-out page, read from its content cell; else `blocks` unchanged.

    Only when the title heading is in a `<td>` that holds most of the page's prose and the
    generic result merged that cell or carries text from outside it (header, menu, footer).
    """
    if not title or not blocks:
        return blocks
    found = _title_cell(tree, title)
    if found is None:
        return blocks
    cell, heading = found
    body = tree.find("body")
    page_prose = _prose_chars(body if body is not None else tree)
    cell_prose = _prose_chars(cell)
    if not cell_prose or cell_prose < CELL_PROSE_SHARE * page_prose:
        return blocks
    if not _looks_dumped(blocks, _squeeze(normalize_text(text_of(cell))), title):
        return blocks
    ours = _cell_blocks(cell, heading)
    if not any(is_prose(b.text) for b in ours):
        return blocks
    if removed is not None:
        removed["navigation"] += 1
    return ours


def refine_layout(tree: etree._Element, blocks: list[Block], title: str | None,
                  removed: Counter[str] | None = None) -> list[Block]:
    """The generic result with a table layout read from its content cell and listings cut.

    A content cell read by us ends at its first listing run; trafilatura's own result only when
    the listings are a small tail of it (`TAIL_SHARE`).
    """
    ours = table_layout_blocks(tree, blocks, title, removed)
    return trim_listings(ours, removed, None if ours is not blocks else TAIL_SHARE)
