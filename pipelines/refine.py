"""Second looks at the generic extractor's blocks: what a page says about itself decides.

Each check is generic (no site named) and was kept only where it raised token F1 on both
benchmarks of issue 3 (see docs/EVAL.md): the JSON-LD `articleBody` vote, trailing boilerplate,
date and byline lines at the edges, and the page's own lead paragraph.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from kirinuki.pipelines.blocks import Block, enclosing_block
from kirinuki.pipelines.jsonld import article_objects
from kirinuki.pipelines.layout import STAMP_RE, is_prose
from kirinuki.pipelines.noise import load_vocabulary
from kirinuki.pipelines.normalize import normalize_text
from kirinuki.pipelines.thresholds import (
    BYLINE_MAX_CHARS,
    CJK_SAMPLE,
    COMMENTS_AFTER,
    DATELINE_MAX_CHARS,
    DATELINE_MIN_DIGITS,
    DOUBLED_MAX_CHARS,
    DOUBLED_MIN_CHARS,
    EDGE_HEAD,
    EDGE_TAIL,
    ENTRY_MIN,
    ENTRY_SEPARATOR_MAX_CHARS,
    FRAGMENT_MAX_CHARS,
    HEADLINE_MAX_CHARS,
    HEADLINE_SEARCH_BLOCKS,
    LABEL_MAX_CHARS,
    LEAD_MIN_CHARS,
    LEAD_PRESENT_SHARE,
    NOTICE_MAX_CHARS,
    SOURCE_LINE_MAX_CHARS,
    STANDFIRST_WITHIN,
    TAIL_MAX_BLOCKS,
    TAIL_MAX_CHARS,
    TITLE_MIN_KEY,
    TITLE_OVERLAP_SHARE,
    VOTE_BLOCK_SHARE,
    VOTE_MIN_BLOCK_TOKENS,
    VOTE_MIN_COVER,
    VOTE_MIN_SIZE,
)
from kirinuki.pipelines.tokens import bigrams, is_mostly_cjk, tokens
from lxml import etree


def is_cjk(text: str) -> bool:
    """CJK text, judged on a sample (texts can be long); the scorer reads all of its gold."""
    return is_mostly_cjk(text[:CJK_SAMPLE])


def _share_in(part: Counter[str], whole: Counter[str]) -> float:
    """The share of `part`'s tokens found in `whole`: `sum((part & whole).values()) / n`,
    without building the intersection (counts are positive) or a lookup of `Counter.__missing__`
    for each token `whole` lacks."""
    n = sum(part.values())
    if not n:
        return 1.0
    get = whole.get
    return sum([c if c < (w := get(k, 0)) else w for k, c in part.items()]) / n


# --- JSON-LD articleBody vote -------------------------------------------------------------------


def article_body(jsonld: Iterable[dict[str, Any]]) -> str | None:
    """The longest `articleBody` the page publishes about itself (HTML entities resolved)."""
    bodies = [o.get("articleBody") for o in article_objects(list(jsonld))]
    bodies = [b for b in bodies if isinstance(b, str) and b.strip()]
    return html.unescape(max(bodies, key=len)) if bodies else None


def vote_article_body(blocks: list[Block], body: str | None, removed: Counter[str]) -> list[Block]:
    """Drop blocks the publisher's own `articleBody` does not contain.

    Only when articleBody agrees with our extraction overall (checked against the page text):
    a truncated or summary-only articleBody votes on nothing. Promo boxes, "share your
    subscription" notices and teaser lists inside the article container go (fundus: +0.0017).
    """
    if not body or not blocks:
        return blocks
    cjk = is_cjk(body)
    ours = tokens("\n".join(b.text for b in blocks), cjk)
    theirs = tokens(body, cjk)
    if _share_in(ours, theirs) < VOTE_MIN_COVER or sum(theirs.values()) < VOTE_MIN_SIZE * sum(ours.values()):
        return blocks
    kept = []
    for b in blocks:
        bt = tokens(b.text, cjk)
        if sum(bt.values()) >= VOTE_MIN_BLOCK_TOKENS and _share_in(bt, theirs) < VOTE_BLOCK_SHARE:
            removed["boilerplate"] += 1
            continue
        kept.append(b)
    return kept or blocks


# --- trailing boilerplate -----------------------------------------------------------------------

_SENTENCE_END_RE = re.compile(r"[.!?。！？»\"”’)\]:…]$")


def _is_fragment(text: str) -> bool:
    """A short line that is no sentence: a label, a tag, a name, a date (page furniture)."""
    return len(text) < FRAGMENT_MAX_CHARS and not _SENTENCE_END_RE.search(text.strip())




def cut_comments(blocks: list[Block], removed: Counter[str]) -> list[Block]:
    """End the text at a heading that opens the readers' comments ("Comentar", "12 Comments",
    "コメント") once the article has begun: what follows is comment policy and comments."""
    rule = load_vocabulary().positional["comments"]  # noise_vocabulary.toml [positional]
    begun = False  # a paragraph came first: "941 comments" above the article is a count link
    for i, b in enumerate(blocks):
        if begun and len(b.text) <= 40 and rule.match(b.text):
            removed["comment"] += len(blocks) - i
            return blocks[:i]
        begun = begun or len(b.text) >= COMMENTS_AFTER
    return blocks


def cut_notices(blocks: list[Block], removed: Counter[str]) -> list[Block]:
    """End the text at the heading of a site's legal notice ("雅虎中国著作权声明", "反侵权公告:",
    "免責事項") once the article has begun: what follows is the notice and the page's footer.
    Closed-class words, so it runs before readability's vote, whose "last prose line" the
    notice's sentences would otherwise be (issue 10)."""
    rule = load_vocabulary().positional["notice"]  # noise_vocabulary.toml [positional]
    begun = False
    for i, b in enumerate(blocks):
        if begun and len(b.text) <= NOTICE_MAX_CHARS and rule.match(b.text):
            removed["boilerplate"] += len(blocks) - i
            return blocks[:i]
        begun = begun or len(b.text) >= COMMENTS_AFTER
    return blocks


def first_entry(blocks: list[Block], removed: Counter[str]) -> list[Block]:
    """The first of several dated entries: a forum thread's opening post, a blog archive's
    newest post (issue 10). Such pages print the same short line ("← 返回", "[打印]") after
    every entry, next to the entry's date and time ("发布时间 2005/05/18 13:45:40",
    "张贴 @ 2005-03-21 01:20:44"); what follows the first such line is replies or other posts.
    Only when every occurrence (all but one at most) of the line sits by a date-time stamp,
    at least `ENTRY_MIN` times, and a paragraph comes before it."""
    counts = Counter(b.text for b in blocks if len(b.text) <= ENTRY_SEPARATOR_MAX_CHARS and not is_prose(b.text))
    for line, n in counts.most_common():
        if n < ENTRY_MIN:
            break
        at = [i for i, b in enumerate(blocks) if b.text == line]
        dated = sum(1 for i in at if any(STAMP_RE.search(blocks[j].text) for j in (i - 1, i + 1) if 0 <= j < len(blocks)))
        cut = at[0]
        if dated >= max(ENTRY_MIN, n - 1) and any(len(b.text) >= COMMENTS_AFTER for b in blocks[:cut]):
            removed["comment"] += len(blocks) - cut
            return blocks[:cut]
    return blocks


def trim_tail(blocks: list[Block], removed: Counter[str]) -> list[Block]:
    """Drop promo, credit and copyright lines, and fragments, from the end of the text.

    Like jusText's context rule: short blocks after the last real paragraph belong to the page's
    furniture (tags, "comments", "Explore further", a section name), not to the article.
    """
    # Newsletter and follow-us prompts, tip lines, donation calls, credit lines and copyright
    # notices in the languages of the benchmarks; only ever matched on the last blocks of a text.
    tail = load_vocabulary().positional["tail"]  # noise_vocabulary.toml [positional]
    out = list(blocks)
    for _ in range(TAIL_MAX_BLOCKS):
        if len(out) < 2:
            break
        text = out[-1].text
        promo = len(text) <= TAIL_MAX_CHARS and bool(tail.search(text))
        # a quote's short last line is its attribution ("— Senate (@NGRSenate) October 9"): quoted
        # text, not page furniture
        if not (promo or (_is_fragment(text) and out[-1].type != "quote")):
            break
        out.pop()
        removed["boilerplate"] += 1
    return out


# --- date and byline lines at the edges ---------------------------------------------------------

_MONTHS = (
    "jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep|sept|"
    "september|oct|october|nov|november|dec|december|januar|februar|märz|mai|juni|juli|oktober|"
    "dezember|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|"
    "enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
    "gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre"
)
_DATE_WORDS = (
    "updated|update|published|posted|last modified|aktualisiert|veröffentlicht|stand|publié|"
    "mis à jour|publicado|actualizado|pubblicato|aggiornato|uppdaterad|publicerad|oppdatert|"
    "publisert|am|pm|a\\.m|p\\.m|uhr|um|à|h|at|on|utc|gmt|jst|cet|cest|est|edt|pst|pdt|bst|kst|"
    "mez|mesz|mon|monday|tue|tuesday|wed|wednesday|thu|thursday|fri|friday|sat|saturday|sun|"
    "sunday|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
)
_DATE_WORD_RE = re.compile(rf"\b(?:{_MONTHS}|{_DATE_WORDS})\b\.?|[年月日時分]|更新|公開|配信", re.I)
_NUMERIC_DATE_RE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}[:.]\d{2}|\d{4}年|\d{1,2}月\d{1,2}日")
_MONTH_RE = re.compile(rf"\b(?:{_MONTHS})\b", re.I)
_BYLINE_PREFIX_RE = re.compile(r"^(by|von|par|por|di|door|av|af|de|da|text|texte|from)\s+", re.I)
_NAME_SPLIT_RE = re.compile(r",|\band\b|\bund\b|\bet\b|\by\b|&|、|・")


def is_dateline(text: str) -> bool:
    """A line that is only a date and/or time (with words like "Updated", weekday, timezone)."""
    if len(text) > DATELINE_MAX_CHARS or sum(c.isdigit() for c in text) < DATELINE_MIN_DIGITS:
        return False
    if not (_NUMERIC_DATE_RE.search(text) or _MONTH_RE.search(text)):
        return False
    return not re.search(r"[^\W\d_]", _DATE_WORD_RE.sub(" ", text))


def is_byline(text: str, authors: Iterable[str]) -> bool:
    """A line that is only the article's author name(s), as read from the page's metadata."""
    names = {a.casefold() for a in authors if a}
    if not names or len(text) > BYLINE_MAX_CHARS:
        return False
    s = _BYLINE_PREFIX_RE.sub("", text.strip()).strip(" .,;:|-–—()").casefold()
    if s in names:
        return True
    parts = [p.strip() for p in _NAME_SPLIT_RE.split(s) if p.strip()]
    return bool(parts) and all(p in names for p in parts)


def is_source_line(text: str) -> bool:
    """A dated line naming the source outlet ("2005-04-25 08:24:06 来源: 第一财经日报 网友评论 0 条")."""
    if len(text) > SOURCE_LINE_MAX_CHARS or not _NUMERIC_DATE_RE.search(text):
        return False
    return bool(load_vocabulary().positional["source"].search(text))  # noise_vocabulary.toml


def drop_edge_lines(blocks: list[Block], authors: Iterable[str], removed: Counter[str]) -> list[Block]:
    """Dates, source lines and bylines printed above or below the article are metadata, not text."""
    authors = list(authors)
    n = len(blocks)
    kept = []
    for i, b in enumerate(blocks):
        if (i < EDGE_HEAD or i >= n - EDGE_TAIL) and n > 1 and (
                is_dateline(b.text) or is_source_line(b.text) or is_byline(b.text, authors)):
            removed["boilerplate"] += 1
            continue
        kept.append(b)
    return kept


# --- the headline and label lines ---------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", html.unescape(text or "")).casefold()


def is_headline(text: str, title: str | None) -> bool:
    """The page title printed again, maybe with a kicker or without the site name."""
    a, b = _key(text), _key(title or "")
    if not a or not b or len(text) > HEADLINE_MAX_CHARS:
        return False
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= TITLE_MIN_KEY and short in long_ and len(short) >= TITLE_OVERLAP_SHARE * len(long_)


def drop_headline(blocks: list[Block], title: str | None, removed: Counter[str]) -> list[Block]:
    """The title is its own field: drop its copy among the first blocks (fundus +0.0011).

    Where no block repeats the title (a `<title>` or `og:title` written for search or sharing,
    not the printed headline, or a kicker run into the headline), a heading that opens the text
    right above running text is the printed headline: an article's body seldom opens on a
    subhead. Measured on all five sets (docs/EVAL.md)."""
    for i, b in enumerate(blocks[:HEADLINE_SEARCH_BLOCKS]):
        if len(blocks) > 1 and is_headline(b.text, title):
            removed["boilerplate"] += 1
            return blocks[:i] + blocks[i + 1:]
    if (len(blocks) > 1 and blocks[0].type == "heading" and len(blocks[0].text) <= HEADLINE_MAX_CHARS
            and not is_prose(blocks[0].text) and is_prose(blocks[1].text)):
        removed["boilerplate"] += 1
        return blocks[1:]
    return blocks


# "Read also:" labels left behind by removed teaser links, and photo credit lines.


def _is_doubled(text: str) -> bool:
    """"Title Title": a teaser card's headline printed twice (visible and screen-reader copy)."""
    n = len(text)
    if n < DOUBLED_MIN_CHARS or n > DOUBLED_MAX_CHARS:
        return False
    half = (n - 1) // 2
    return text[:half].strip() == text[half + 1:].strip()


def _is_label(text: str) -> bool:
    positional = load_vocabulary().positional  # noise_vocabulary.toml [positional]
    return len(text) <= LABEL_MAX_CHARS and bool(
        positional["label"].match(text) or positional["reading_time"].match(text) or _is_doubled(text))


def drop_label_lines(blocks: list[Block], removed: Counter[str]) -> list[Block]:
    kept = [b for b in blocks if not _is_label(b.text)]
    if len(kept) < len(blocks):
        removed["related"] += len(blocks) - len(kept)
    return kept or blocks


# --- the lead paragraph -------------------------------------------------------------------------

_NOT_TEXT = frozenset("script style meta title noscript textarea head".split())


def descriptions(root: etree._Element, jsonld: Iterable[dict[str, Any]]) -> list[str]:
    """The page's descriptions of itself (meta and JSON-LD), which `find_lead` and `standfirst`
    look for in its text; read once a page (a walk of every `<meta>`)."""
    # property/name only: itemprop descriptions (the shared meta index has them) are often a
    # teaser unlike the printed lead (article-extraction F1 -0.0004 with them)
    out = []
    for m in root.iter("meta"):
        key = (m.get("property") or m.get("name") or "").lower()
        if key in ("og:description", "description", "twitter:description") and m.get("content"):
            out.append(m.get("content"))
    out.extend(o["description"] for o in article_objects(list(jsonld)) if isinstance(o.get("description"), str))
    return out


def find_lead(root: etree._Element, descs: list[str], blocks: list[Block] | None = None) -> str | None:
    """The page's summary (its meta description) where it is also printed as a paragraph.

    News pages print their summary above the body, outside the container the extractor picks;
    the lead counts as article text. Only a visible element whose whole text is the
    description (or its untruncated form) counts, so a meta-only description never enters.
    When the extracted `blocks` already hold a description, there is no lead to add (and no
    search, which is the cost). `descs`: the page's `descriptions`.
    """
    seen: set[str] = set()
    extracted = "\n".join(b.text for b in blocks) if blocks else None
    have = None
    for raw in descs:
        desc = normalize_text(raw)
        if len(desc) < LEAD_MIN_CHARS or desc in seen:
            continue
        seen.add(desc)
        if extracted is not None:
            if desc in extracted:
                return None  # the page's summary is already in the text
            cjk = is_cjk(desc)
            if have is None:
                have = bigrams(extracted, cjk)
            if _share_in(bigrams(desc, cjk), have) >= LEAD_PRESENT_SHARE:
                return None
        stem = desc.rstrip(".…").strip() if desc.endswith(("...", "…")) else None
        words = raw.split()
        probe = (" ".join(words[:4]) if len(words) >= 4 else raw.strip()[:20])[:40]
        for node in root.xpath("//body//text()[contains(., $p)]", p=probe):
            # the lead's block, or the inline element printing it beside the headline
            # (`<div><h1>…</h1><span>lead</span></div>`)
            for el in (enclosing_block(node.getparent()), node.getparent()):
                if el is None or el.tag in _NOT_TEXT:
                    continue
                text = normalize_text("".join(el.itertext()))
                if text == desc or (stem and text.startswith(stem) and len(text) <= 1.6 * len(stem) + 20):
                    return text
    return None




def standfirst(descs: list[str], blocks: list[Block]) -> str | None:
    """The page's description where it is printed as a block of its own above the body: the
    standfirst, which the record also gives as `subtitle` (issue 10). A description that only
    begins the first paragraph is the body's own opening, not a standfirst. `descs`: the page's
    `descriptions`."""
    head = {b.text for b in blocks[:STANDFIRST_WITHIN]}
    for raw in descs:
        desc = normalize_text(raw)
        if len(desc) >= LEAD_MIN_CHARS and desc in head:
            return desc
    return None


def add_lead(blocks: list[Block], lead: str | None, title: str | None = None) -> list[Block]:
    """Put the lead first unless the extracted text already holds it (or it is the title)."""
    if not lead or not blocks or is_headline(lead, title):
        return blocks
    cjk = is_cjk(lead)
    if _share_in(bigrams(lead, cjk), bigrams("\n".join(b.text for b in blocks), cjk)) >= LEAD_PRESENT_SHARE:
        return blocks
    return [Block("paragraph", lead), *blocks]
