"""Noise removal: elements by selector (profile + global vocabulary) and short boilerplate lines.

Every removal is counted by kind into the record's `removed`, so a run report shows what was
stripped and a selector that starts eating articles shows up in the goldens.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree
from lxml.cssselect import CSSSelector

from pipelines.blocks import Block

VOCABULARY_FILE = Path(__file__).with_name("noise_vocabulary.toml")
SHORT_LINE = 80
_PROTECTED_TAGS = frozenset({"html", "body", "main"})


@dataclass(frozen=True, slots=True)
class Vocabulary:
    selectors: Mapping[str, tuple[CSSSelector, ...]]
    lines: tuple[tuple[str, re.Pattern[str]], ...]


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    with open(VOCABULARY_FILE, "rb") as fh:
        data = tomllib.load(fh)
    selectors = {k: tuple(CSSSelector(s) for s in v) for k, v in data.get("selectors", {}).items()}
    lines = tuple((k, re.compile(r)) for k, v in data.get("lines", {}).items() for r in v)
    return Vocabulary(selectors, lines)


def drop_element(el: etree._Element) -> None:
    """Remove an element but keep its tail text in the document."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _contains_any(el: etree._Element, protected: Iterable[etree._Element]) -> bool:
    for p in protected:
        node = p
        while node is not None:
            if node is el:
                return True
            node = node.getparent()
    return False


def remove_noise(
    root: etree._Element,
    selectors: Mapping[str, tuple[CSSSelector, ...]],
    removed: Counter[str],
    protected: Iterable[etree._Element] = (),
    max_share: float | None = None,
) -> None:
    """Remove matching elements, counting by kind.

    Elements holding a protected element (the profile's body) are kept; with `max_share`, so is
    any element holding more than that share of the page's text (a generic selector that hit a
    wrapper).
    """
    protected = list(protected)
    total = len("".join(root.itertext())) if max_share else 0
    for kind, sels in selectors.items():
        for sel in sels:
            for el in sel(root):
                if el.getparent() is None or not isinstance(el.tag, str):
                    continue
                if el.tag.lower() in _PROTECTED_TAGS or _contains_any(el, protected):
                    continue
                if max_share and total and len("".join(el.itertext())) > max_share * total:
                    continue
                drop_element(el)
                removed[kind] += 1


def line_kind(text: str, rules: Iterable[tuple[str, re.Pattern[str]]]) -> str | None:
    if len(text) > SHORT_LINE:
        return None
    for kind, pattern in rules:
        if pattern.match(text):
            return kind
    return None


def filter_lines(
    blocks: list[Block], rules: Iterable[tuple[str, re.Pattern[str]]], removed: Counter[str]
) -> list[Block]:
    """Drop short boilerplate lines and paragraphs repeated by widgets."""
    rules = list(rules)
    kept: list[Block] = []
    seen: set[str] = set()
    for b in blocks:
        kind = line_kind(b.text, rules)
        if kind:
            removed[kind] += 1
            continue
        if b.text in seen and len(b.text) > 1:
            removed["duplicate"] += 1
            continue
        seen.add(b.text)
        kept.append(b)
    return kept
