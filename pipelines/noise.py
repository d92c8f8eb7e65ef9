"""Noise removal: elements by selector (profile + global vocabulary) and short boilerplate lines.

Every removal is counted by kind into the record's `removed`, so a run report shows what was
stripped and a selector that starts eating articles shows up in the goldens.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kirinuki.pipelines.blocks import Block, enclosing_block, text_of
from lxml import etree
from lxml.cssselect import CSSSelector

VOCABULARY_FILE = Path(__file__).with_name("noise_vocabulary.toml")
SHORT_LINE = 80
_PROTECTED_TAGS = frozenset({"html", "body", "main"})
# All text under an element, concatenated in C (twice as fast as joining itertext()).


# One compound selector without combinators: `tag`, `.cls`, `#id`, `[attr]`, `[attr OP "v"]`.
_SIMPLE_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9-]*)?((?:[.#][\w-]+|\[[\w-]+(?:[~^$*|]?=(?:\"[^\"]*\"|'[^']*'|[^\]]*))?\])*)$")
_PART_RE = re.compile(r"([.#])([\w-]+)|\[([\w-]+)(?:([~^$*|]?=)(\"[^\"]*\"|'[^']*'|[^\]]*))?\]")


@dataclass(frozen=True, slots=True)
class _Simple:
    """A compound selector checked in Python, so one tree walk serves the whole vocabulary."""

    order: int
    kind: str
    tag: str | None
    classes: frozenset[str]
    attrs: tuple[tuple[str, str | None, str], ...]  # (name, op or None for presence, value)

    def matches(self, el: etree._Element, tokens: frozenset[str] | set[str]) -> bool:
        if self.tag is not None and el.tag != self.tag:
            return False
        if self.classes and not self.classes <= tokens:
            return False
        for name, op, value in self.attrs:
            v = el.get(name)
            if v is None:
                return False
            if op is None:
                continue
            if not (
                (op == "=" and v == value)
                or (op == "^=" and value and v.startswith(value))
                or (op == "*=" and value and value in v)
                or (op == "$=" and value and v.endswith(value))
                or (op == "~=" and value in v.split())
                or (op == "|=" and (v == value or v.startswith(value + "-")))
            ):
                return False
        return True


def _value_ok(sel: _Simple, value: str) -> bool:
    """Whether an attribute-only selector could match this attribute value (a cheap pre-check)."""
    for name, op, want in sel.attrs:
        if name != "id" or op is None:
            continue
        if op == "^=" and not value.startswith(want) or op == "*=" and want not in value:
            return False
        if op == "$=" and not value.endswith(want) or op == "=" and value != want:
            return False
    return True


def _parse_simple(css: str, order: int, kind: str) -> _Simple | None:
    css = css.strip()
    m = _SIMPLE_RE.match(css)
    if not m or not css:
        return None
    classes, attrs = set(), []
    for dot, name, attr, op, value in _PART_RE.findall(m.group(2)):
        if dot == ".":
            classes.add(name)
        elif dot == "#":
            attrs.append(("id", "=", name))
        else:
            attrs.append((attr.lower(), op or None, value.strip("\"'")))
    return _Simple(order, kind, m.group(1).lower() if m.group(1) else None, frozenset(classes), tuple(attrs))


class Matcher:
    """Many selectors, one scan: candidates are found by tag, class tokens and id in one XPath.

    Running some fifty CSSSelectors meant fifty XPath scans of the whole tree (about 20 ms a page
    on news pages, issue 3); one scan plus a dictionary lookup per candidate costs about 1 ms.
    Selectors with combinators or pseudo-classes keep their XPath and are merged in page order.
    """

    def __init__(self, selectors: Mapping[str, tuple[CSSSelector, ...]]) -> None:
        self.by_tag: dict[str, list[_Simple]] = {}
        self.by_class: dict[str, list[_Simple]] = {}
        self.by_id: dict[str, list[_Simple]] = {}
        self.by_attr: dict[str, list[_Simple]] = {}
        self.complex: list[tuple[int, str, CSSSelector]] = []
        order = 0
        for kind, sels in selectors.items():
            for sel in sels:
                simple = _parse_simple(getattr(sel, "css", ""), order, kind)
                if simple is None:
                    self.complex.append((order, kind, sel))
                elif simple.classes:
                    self.by_class.setdefault(min(simple.classes), []).append(simple)
                elif any(a[0] == "id" and a[1] == "=" for a in simple.attrs):
                    key = next(a[2] for a in simple.attrs if a[0] == "id" and a[1] == "=")
                    self.by_id.setdefault(key, []).append(simple)
                elif simple.tag is not None:
                    self.by_tag.setdefault(simple.tag, []).append(simple)
                else:
                    self.by_attr.setdefault(simple.attrs[0][0], []).append(simple)
                order += 1
        self.attr_names = tuple(self.by_attr)
        # The nodes that can start a match, in document order, from one XPath: attribute values
        # are screened as strings, so only candidates ever become Python element objects.
        scan = [f"//{tag}" for tag in self.by_tag]
        scan += ["//@class"] if self.by_class else []
        scan += ["//@id"] if self.by_id else []
        scan += [f"//@{name}" for name in self.by_attr if not (name == "id" and self.by_id)]
        self._scan = etree.XPath(" | ".join(scan)) if scan else None
        self._class_keys = frozenset(self.by_class)

    def _candidates(self, root: etree._Element) -> list[etree._Element]:
        out: list[etree._Element] = []
        seen: set[etree._Element] = set()
        keys, by_id, by_attr = self._class_keys, self.by_id, self.by_attr
        for item in self._scan(root) if self._scan is not None else ():
            if isinstance(item, str):
                name = item.attrname  # type: ignore[attr-defined]
                if name == "class":
                    if keys.isdisjoint(item.split()):
                        continue
                elif name == "id" and item not in by_id and not any(
                    _value_ok(c, item) for c in by_attr.get("id", ())
                ):
                    continue
                el = item.getparent()  # type: ignore[attr-defined]
            else:
                el = item
            if el not in seen:
                seen.add(el)
                out.append(el)
        return out

    def find(self, root: etree._Element) -> list[tuple[etree._Element, str]]:
        """(element, kind) for every match in document order; an element's first kind wins."""
        found: list[tuple[etree._Element, str]] = []
        complex_hits: dict[etree._Element, tuple[int, str]] = {}
        for order, kind, sel in self.complex:
            for el in sel(root):
                if el not in complex_hits or complex_hits[el][0] > order:
                    complex_hits[el] = (order, kind)
        by_tag, by_class, by_id, by_attr = self.by_tag, self.by_class, self.by_id, self.by_attr
        empty: frozenset[str] = frozenset()
        elements = self._candidates(root)
        if complex_hits:
            simple_hits = set(elements)
            elements = [el for el in root.iter(etree.Element) if el in complex_hits or el in simple_hits]
        for el in elements:
            best: _Simple | None = None
            cands = by_tag.get(el.tag)
            cls = el.get("class")
            tokens = set(cls.split()) if cls else empty
            if tokens and by_class:
                for t in tokens:
                    more = by_class.get(t)
                    if more:
                        cands = (cands or []) + more
            if by_id:
                i = el.get("id")
                if i is not None and i in by_id:
                    cands = (cands or []) + by_id[i]
            for name in self.attr_names:
                if el.get(name) is not None:
                    cands = (cands or []) + by_attr[name]
            if cands:
                for c in cands:
                    if (best is None or c.order < best.order) and c.matches(el, tokens):
                        best = c
            hit = complex_hits.get(el) if complex_hits else None
            if hit is not None and (best is None or hit[0] < best.order):
                found.append((el, hit[1]))
            elif best is not None:
                found.append((el, best.kind))
        return found


@dataclass(frozen=True, slots=True)
class Vocabulary:
    selectors: Mapping[str, tuple[CSSSelector, ...]]
    lines: tuple[tuple[str, re.Pattern[str]], ...]
    matcher: Matcher | None = None
    # regexes used in one place only by the generic path (trailing prompts, teaser labels...)
    positional: Mapping[str, re.Pattern[str]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    with open(VOCABULARY_FILE, "rb") as fh:
        data = tomllib.load(fh)
    selectors = {k: tuple(CSSSelector(s) for s in v) for k, v in data.get("selectors", {}).items()}
    lines = tuple((k, re.compile(r)) for k, v in data.get("lines", {}).items() for r in v)
    positional = {k: re.compile(v, re.I) for k, v in data.get("positional", {}).items()}
    return Vocabulary(selectors, lines, Matcher(selectors), positional)


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


def has_ancestor_in(el: etree._Element, nodes: set[etree._Element]) -> bool:
    """Whether a proper ancestor of `el` is one of `nodes` (a set: one walk up, no pairs)."""
    return bool(nodes) and any(a in nodes for a in el.iterancestors())


def outermost(elements: list[etree._Element]) -> list[etree._Element]:
    """The elements not nested in another one of the list (a selector may hit nested ones)."""
    nodes = set(elements)
    return [el for el in elements if not has_ancestor_in(el, nodes)]


def _guarded(protected: Iterable[etree._Element]) -> set[etree._Element]:
    """Protected elements and all their ancestors: removing any of them would remove the body."""
    out: set[etree._Element] = set()
    for p in protected:
        out.add(p)
        out.update(p.iterancestors())
    return out


def remove_noise(
    root: etree._Element,
    selectors: Mapping[str, tuple[CSSSelector, ...]] | Matcher,
    removed: Counter[str],
    protected: Iterable[etree._Element] = (),
    max_share: float | None = None,
) -> None:
    """Remove matching elements, counting by kind.

    Elements holding a protected element (the profile's body) are kept; with `max_share`, so is
    any element holding more than that share of the page's text (a generic selector that hit a
    wrapper).
    """
    guarded = _guarded(protected)
    total = len(text_of(root)) if max_share else 0
    if isinstance(selectors, Matcher):
        # One walk in document order: a match inside an already removed element is not counted.
        dropped: set[etree._Element] = set()
        for el, kind in selectors.find(root):
            if el.tag.lower() in _PROTECTED_TAGS or has_ancestor_in(el, dropped) or el in guarded:
                continue
            if max_share and total and len(text_of(el)) > max_share * total:
                continue
            drop_element(el)
            dropped.add(el)
            removed[kind] += 1
        return
    for kind, sels in selectors.items():
        for sel in sels:
            for el in sel(root):
                if el.getparent() is None or not isinstance(el.tag, str):
                    continue
                if el.tag.lower() in _PROTECTED_TAGS or el in guarded:
                    continue
                if max_share and total and len(text_of(el)) > max_share * total:
                    continue
                drop_element(el)
                removed[kind] += 1


TEXT_RULE_MAX_CHARS = 600  # a text rule never removes more than a box's worth of text
_TEXT_NODES = etree.XPath("//body//text()[normalize-space()][not(ancestor::script)][not(ancestor::style)]")


def _squash(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def remove_by_text(
    root: etree._Element,
    rules: Iterable[Any],
    removed: Counter[str],
    protected: Iterable[etree._Element] = (),
) -> None:
    """Remove the block holding each text that a profile's `[noise.text]` rule matches.

    Each text node is matched on its own (NFKC, spaces folded), so `^次のページを読む` finds the
    pager's link whatever its class; its enclosing block, climbed `up` levels, goes unless that
    holds the body or more than TEXT_RULE_MAX_CHARS of text.
    """
    rules = list(rules)
    if not rules:
        return
    guarded = _guarded(protected)
    dropped: set[etree._Element] = set()
    for node in _TEXT_NODES(root):
        text = _squash(str(node))
        rule = next((r for r in rules if r.match.search(text)), None)
        if rule is None:
            continue
        owner = node.getparent()
        if owner is None:
            continue
        if node.is_tail:  # type: ignore[attr-defined]
            owner = owner.getparent()
        target = enclosing_block(owner)
        for _ in range(rule.up):
            if target is None or target.getparent() is None:
                break
            target = target.getparent()
        if (target is None or target.getparent() is None or target in guarded
                or target.tag in _PROTECTED_TAGS or target in dropped or has_ancestor_in(target, dropped)):
            continue
        if len(text_of(target)) > TEXT_RULE_MAX_CHARS:
            continue
        drop_element(target)
        dropped.add(target)
        removed[rule.kind] += 1


def line_kind(text: str, rules: Iterable[tuple[str, re.Pattern[str]]]) -> str | None:
    if len(text) > SHORT_LINE:
        return None
    for kind, pattern in rules:
        if pattern.match(text):
            return kind
    return None


def structural_repeats(blocks: list[Block], min_chars: int, max_widgets: int) -> set[tuple[str, str]]:
    """Long texts whose repeats are the article's own structure, not a widget's copy.

    A pull quote or a teaser repeats one paragraph once. A text printed three times or more
    (an interviewer's recurring question, "Eat every 2-3 hours" in a meal plan), or repeats of
    more than `max_widgets` different texts on one page (the same dishes in each day's plan),
    are how the article is written (issue 10: a plan page lost a quarter of its text).
    """
    counts = Counter((b.type, b.text) for b in blocks if len(b.text) >= min_chars)
    repeated = {k: n for k, n in counts.items() if n > 1}
    if len(repeated) > max_widgets:
        return set(repeated)
    return {k for k, n in repeated.items() if n > 2}


def filter_lines(
    blocks: list[Block], rules: Iterable[tuple[str, re.Pattern[str]]], removed: Counter[str],
    min_duplicate: int = 2, max_widget_repeats: int | None = None,
) -> list[Block]:
    """Drop short boilerplate lines and paragraphs repeated by widgets.

    Only a repeat of at least `min_duplicate` characters counts as a widget's copy: the generic
    path keeps short repeats, which there are mostly structure (recipe steps, table headers).
    With `max_widget_repeats`, repeats that are the text's own structure stay
    (`structural_repeats`).
    """
    rules = list(rules)
    kept: list[Block] = []
    # Same text in the same role twice is a widget's copy; a heading repeating a
    # table-of-contents item is not.
    seen: set[tuple[str, str]] = set()
    structure = (structural_repeats(blocks, min_duplicate, max_widget_repeats)
                 if max_widget_repeats is not None else set())
    for b in blocks:
        kind = line_kind(b.text, rules)
        if kind:
            removed[kind] += 1
            continue
        key = (b.type, b.text)
        if key in seen and len(b.text) >= min_duplicate and key not in structure:
            removed["duplicate"] += 1
            continue
        seen.add(key)
        kept.append(b)
    return kept
