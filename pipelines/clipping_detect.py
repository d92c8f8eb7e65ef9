"""Clipping and digest pages without a profile: many short articles of the same shape on one page.

A hand-made clipping page repeats, for every item, a `date outlet` line (`2024・11・28 産経新聞`,
`2024/11/28 読売新聞`), often a marker line (「記事内容」, 【本文】) and a separator (`<hr>`).
When the page shows that shape at least MIN_ITEMS times, a SplitRule is built from what was seen
and the clipping path (clippings.py) cuts it into one record per item, as a profile's `[split]`
does for its one site.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice

import re2
from kirinuki.pipelines.blocks import element_blocks
from kirinuki.pipelines.profiles import SplitRule
from lxml import etree
from lxml.cssselect import CSSSelector

MIN_ITEMS = 3
# A date (Y・M・D, Y/M/D, Y.M.D, Y-M-D or Y年M月D日, optional weekday) then a short outlet name.
DATE_OUTLET = re.compile(
    r"^(?P<date>\d{4}\s*[・/.\-年]\s*\d{1,2}\s*[・/.\-月]\s*\d{1,2}\s*日?(?:\s*[(（][^)）]{1,3}[)）])?)"
    r"\s*[　 ]\s*(?P<outlet>[^\s　\d:：].{0,29})$"  # an outlet's name, not a time of day
)
# A marker line: a short bracketed label repeated before every quoted text.
_MARKER_SHAPE = re.compile(r"^(?:「[^」]{1,10}」|【[^】]{1,10}】|\[[^\]]{1,10}\])$")
MIN_ITEM_PROSE = 80  # characters of unlinked text after a date line: an item, not a list entry
_SEPARATOR = CSSSelector("hr")
_TEXTS = etree.XPath("//body//text()[not(ancestor::script)][not(ancestor::style)]")
# A date followed by a space and something other than a digit or a colon, anywhere in the page's
# text: what every date line needs (DATE_OUTLET is anchored on a block), so a page showing it
# fewer than MIN_ITEMS times is no clipping page. ISO dates in scripts (`2024-05-03T10:00`, `"`)
# and "date time" lines fail it, so news pages rarely pay for building their blocks (issue 10).
# RE2 on the UTF-8 text, 4x faster than `re` here; its classes spelled to mean Python's `\s`
# (`\s` alone lacks \v, \x1c-\x1f, \x85 and the Unicode spaces) and `\d` (all decimal digits).
_SPACE = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]"
_DATE_THEN_NAME = re2.compile((
    r"\p{Nd}{4}S*[・/.\-年]S*\p{Nd}\p{Nd}?S*[・/.\-月]S*\p{Nd}\p{Nd}?(?:S*日)?"
    r"(?:S*[(（][^)）]{1,3}[)）])?S+[^\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}\p{Nd}:：]"
).replace("S", _SPACE).encode())


def date_then_name_count(body: etree._Element, enough: int = MIN_ITEMS) -> int:
    """Dates followed by a name in the text of `body`, counted up to `enough`."""
    text = etree.tostring(body, method="text", encoding="utf-8", with_tail=False)
    return sum(1 for _ in islice(_DATE_THEN_NAME.finditer(text), enough))


def detect_clipping(root: etree._Element) -> tuple[SplitRule, etree._Element] | None:
    """A split rule and the element holding all the items, when the page is a clipping page."""
    body = root.find("body")
    if body is None or date_then_name_count(body) < MIN_ITEMS:
        return None  # the common case, decided by one scan of the page's text
    blocks = element_blocks(body)
    dates = [i for i, b in enumerate(blocks) if DATE_OUTLET.match(b.text)]
    if len(dates) < MIN_ITEMS:
        return None
    # An item is a date line followed by prose; an archive list or a timeline has none.
    items = 0
    for k, i in enumerate(dates):
        end = dates[k + 1] if k + 1 < len(dates) else len(blocks)
        prose = sum(len(b.text) for b in blocks[i + 1:end] if not _MARKER_SHAPE.match(b.text))
        items += prose >= MIN_ITEM_PROSE
    if items < MIN_ITEMS:
        return None
    counts = Counter(b.text for b in blocks if _MARKER_SHAPE.match(b.text))
    markers = [m for m, n in counts.items() if n >= max(MIN_ITEMS, len(dates) // 2)]
    owners = []
    for node in _TEXTS(root):
        if DATE_OUTLET.match(" ".join(str(node).split())):
            owner = node.getparent()
            if owner is not None and node.is_tail:  # type: ignore[attr-defined]
                owner = owner.getparent()
            if owner is not None:
                owners.append(owner)
    container = _common_ancestor(owners) if owners else None
    if container is None:
        return None
    separator = _SEPARATOR if len(_SEPARATOR(container)) >= len(dates) - 1 else None
    if not markers and separator is None:
        return None
    marker = re.compile("^(?:" + "|".join(re.escape(m) for m in markers) + ")$") if markers else None
    rule = SplitRule(separator=separator, date_line=DATE_OUTLET, marker=marker, comment_prefix="※",
                     outlets=())
    return rule, container


def _common_ancestor(els: list[etree._Element]) -> etree._Element | None:
    chains = [[el, *el.iterancestors()] for el in els]
    common = set(chains[0])
    for ch in chains[1:]:
        common &= set(ch)
    for el in chains[0]:
        if el in common:
            return el
    return None
