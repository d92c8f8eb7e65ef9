"""One page, many records: hand-made clipping blogs (fixtures/clipping-blog/).

Each clipping is the clipper's headline, a `date outlet` line, the original headline(s), a marker
such as 「記事内容」, the quoted article and optional `※` comments. The profile's `[split]` rule
says how to see those parts; nothing here knows a site.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timezone

from kirinuki.pipelines.blocks import Block
from kirinuki.pipelines.jadates import JST, parse_date
from kirinuki.pipelines.profiles import SplitRule

SPLIT_SENTINEL = "@@KIRINUKI-SPLIT@@"
_PART_MARK = re.compile(r"^\(\d{1,2}\)$")


@dataclass(slots=True)
class Clipping:
    title: str | None
    published_at: str | None
    outlet: str | None
    blocks: list[Block]
    notes: list[dict[str, str]] = field(default_factory=list)


def segments(blocks: list[Block], rule: SplitRule) -> list[list[Block]]:
    """Cut at separator sentinels when the profile names a separator, else at headline+date."""
    if rule.separator is not None:
        out: list[list[Block]] = [[]]
        for b in blocks:
            if b.text == SPLIT_SENTINEL:
                out.append([])
            else:
                out[-1].append(b)
        return [s for s in out if s]
    # No separator: a clipping starts at the line right before a date line that follows body text.
    starts = [i - 1 for i, b in enumerate(blocks) if i > 0 and rule.date_line.match(b.text)]
    out, prev = [], 0
    for s in starts:
        if s > prev:
            out.append(blocks[prev:s])
            prev = s
    out.append(blocks[prev:])
    return [s for s in out if s]


def outlet_of(rest: str, rule: SplitRule) -> str | None:
    rest = rest.strip()
    if not rest:
        return None
    known = [o for o in rule.outlets if o and o in rest]
    if known:
        return max(known, key=len)
    return rest.split()[-1]


def parse_clipping(seg: list[Block], rule: SplitRule, removed: Counter[str],
                   tz: timezone = JST) -> Clipping | None:
    date_idx = next((i for i, b in enumerate(seg) if rule.date_line.match(b.text)), None)
    if date_idx is None:
        removed["navigation"] += len(seg)
        return None
    m = rule.date_line.match(seg[date_idx].text)
    assert m is not None
    date_text = m.groupdict().get("date") or m.group(0)
    rest = m.groupdict().get("outlet") or seg[date_idx].text[m.end():]
    notes = [{"type": "headline", "text": b.text} for b in seg[:date_idx]]
    after = seg[date_idx + 1:]
    marker_idx = None
    if rule.marker is not None:
        marker_idx = next((i for i, b in enumerate(after) if rule.marker.match(b.text)), None)
    if marker_idx is None:
        head, body = after[:1], after[1:]
    else:
        head, body = after[:marker_idx], after[marker_idx + 1:]
    titles = [b.text for b in head if not rule.date_line.match(b.text) and not _PART_MARK.match(b.text)]
    if rule.title_suffix is not None:
        titles = [rule.title_suffix.sub("", t).strip() for t in titles]
    text_blocks: list[Block] = []
    for b in body:
        if rule.marker is not None and rule.marker.match(b.text):
            removed["boilerplate"] += 1
            continue
        if _PART_MARK.match(b.text):
            removed["boilerplate"] += 1
            continue
        if b.role == "comment" or (rule.comment_prefix and b.text.startswith(rule.comment_prefix)):
            notes.append({"type": "comment", "text": b.text})
            continue
        text_blocks.append(b)
    return Clipping(
        title=titles[0] if titles else None,
        published_at=parse_date(date_text, tz),
        outlet=outlet_of(rest, rule),
        blocks=text_blocks,
        notes=notes,
    )
