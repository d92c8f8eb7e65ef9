"""A second reader votes on the lines around the article: readability's choice of container.

Old table-layout and portal pages (issue 10: a quarter of chinese-wce, 2000s news portals and
forums) give trafilatura no container to pick: it returns the article with the page around it,
menu rows ("首页 | 新闻 | 体育"), breadcrumbs, "今日推荐" teaser rows, source/date lines and
copyright notices before and after the prose. Readability (trafilatura's port of readability-lxml)
scores containers by their paragraphs and usually picks the article's own cell there.

Its whole result is not better than ours (it drops headings, lists, tweets and captions that the
golds keep), so it only votes, and only on the edges, when its text holds most of our prose (the
same article): above the article, the lines it left out go (a CJK notice ending in 。 too: one
stop makes any teaser "prose"); below the last prose line, only non-prose lines, and only when it
holds nearly all our prose. Latin-script prose, and everything inside the article, always stays.
"""

from __future__ import annotations

import copy
import logging
import re
from collections import Counter

import lxml.html
from kirinuki.pipelines.blocks import Block, element_blocks
from kirinuki.pipelines.layout import is_prose
from kirinuki.pipelines.thresholds import (
    VOTE_CLEAR_SHARE,
    VOTE_EDGE_MIN_CHARS,
    VOTE_HEAD_COVER,
    VOTE_PROSE_COVER,
    VOTE_TITLE_MIN_CHARS,
)
from kirinuki.pipelines.tokens import is_mostly_cjk
from lxml import etree

log = logging.getLogger(__name__)

_SQUEEZE_RE = re.compile(r"[\s|]+")
# A sentence ending inside a Latin-script block: running text cut mid-sentence, not chrome.
_INNER_SENTENCE_RE = re.compile(r"\w[.!?][\"'”’)]?\s+[\"“‘(]?[A-Z]")
# Lists and quotes at the edges are often the article's own (a closing list, an embedded post)
# and readability drops them by its <li>/<p> rule; menus of old layouts are plain lines.
_VOTED_TYPES = frozenset({"paragraph", "heading"})


def _squeeze(text: str) -> str:
    return _SQUEEZE_RE.sub("", text)


def readability_text(tree: etree._Element) -> str | None:
    """Readability's article of the page, squeezed (no spaces or row bars); None if it fails.

    Readability moves and drops nodes, so it reads a copy of the tree."""
    from trafilatura.readability_lxml import Document

    try:
        html = Document(copy.deepcopy(tree)).summary()
    except Exception as exc:  # its crash on one page must not stop a run
        log.debug("readability failed: %s", exc)
        return None
    if not html.strip():
        return None
    frag = lxml.html.fragment_fromstring(html, create_parent="div")
    return _squeeze("".join(b.text for b in element_blocks(frag)))


def _votable(block: Block, title: str | None) -> bool:
    """Whether a line outside the prose may go on readability's vote: a plain line or heading
    that is no running text and does not hold the title (a title merged with its article is
    the table-layout dump that layout.py reads from its content cell)."""
    if block.type not in _VOTED_TYPES or _INNER_SENTENCE_RE.search(block.text):
        return False
    return not (title and len(title) >= VOTE_TITLE_MIN_CHARS and title in block.text)


def _dropped(block: Block, prose: bool, theirs: str, title: str | None) -> bool:
    """A line readability left out that may go: a votable line that is no Latin-script sentence
    (CJK prose is a single 。 away from any teaser or notice, Latin prose is recognised well).
    `prose` is `is_prose(block.text)`."""
    if not _votable(block, title) or _squeeze(block.text) in theirs:
        return False
    return not prose or is_mostly_cjk(block.text)


def vote_edges(tree: etree._Element, blocks: list[Block], removed: Counter[str],
               title: str | None = None) -> list[Block]:
    """Drop the lines around the article that readability's article leaves out.

    Readability runs only when there is something to vote on (`VOTE_EDGE_MIN_CHARS` of votable
    text before the first or after the last prose line) and the first pass is not clearly good:
    Latin-script prose (recognised well, unlike CJK prose, one 。 away from any teaser) with
    votable text around it under `VOTE_CLEAR_SHARE` of it pays for no second opinion, which
    could move such a page by a few hundredths at most (issue 10; 65 of the vote's 69 runs on
    the fundus pages were such pages, 8% of their cleaning time). It counts only when its
    article holds a share of our prose (a different container, a teaser list or a comment
    thread, gives no vote). Above the article, which starts at the first prose line readability
    also has (or the first Latin-script sentence, recognised well), a line it left out goes when
    its article holds `VOTE_HEAD_COVER` of our prose. Below the last prose line, only non-prose
    lines go, and only when it holds `VOTE_PROSE_COVER`: the golds disagree on the asides that
    follow a story.
    """
    is_line_prose = [is_prose(b.text) for b in blocks]  # once per block: every step reads it
    prose_at = [i for i, p in enumerate(is_line_prose) if p]
    if not prose_at:
        return blocks
    first, last = prose_at[0], prose_at[-1]
    outside = sum(len(b.text) for b in blocks[:first] + blocks[last + 1:] if _votable(b, title))
    if outside < VOTE_EDGE_MIN_CHARS:
        return blocks
    prose = sum(len(blocks[i].text) for i in prose_at)
    latin = [i for i in prose_at if not is_mostly_cjk(blocks[i].text)]  # read once: both steps use it
    if outside < VOTE_CLEAR_SHARE * prose and len(latin) == len(prose_at):
        return blocks  # a clearly good first pass: no second opinion (see the docstring)
    theirs = readability_text(tree)
    if not theirs:
        return blocks
    held = [i for i in prose_at if _squeeze(blocks[i].text) in theirs]
    share = sum(len(blocks[i].text) for i in held) / prose
    if not held or share < VOTE_HEAD_COVER:
        return blocks
    start = min(held + latin[:1])  # the first Latin-script sentence starts the article too
    kept = [b for i, b in enumerate(blocks)
            if not ((i < start or (i > last and share >= VOTE_PROSE_COVER))
                    and _dropped(b, is_line_prose[i], theirs, title))]
    removed["navigation"] += len(blocks) - len(kept)
    return kept
