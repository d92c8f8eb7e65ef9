"""Markup repairs around the HTML parse: what libxml2 would otherwise lose without a word.

- Control characters (NUL, \\x01...) inside paragraphs are no text, and trafilatura discards
  every paragraph holding one: they go before the parse.
- libxml2 stops at nesting depth 2,048 (ERR_RESOURCE_LIMIT) and drops the rest of the page. The
  page is parsed again with the tags beyond `MAX_DEPTH` open elements removed (their text kept).
- A frameset page keeps its article in `<noframes>`, which the parser reads as raw text: that
  text is parsed and becomes the page's body.
"""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree

# C0 controls but tab, newline, form feed and carriage return (HTML whitespace), and DEL.
_CONTROLS = "".join(map(chr, [*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F]))
_CONTROLS_RE = re.compile(f"[{re.escape(_CONTROLS)}]+")
MAX_DEPTH = 1000  # open elements kept when flattening; libxml2's limit is 2,048
# The flattening pass is a Python loop over tags; past this size the page is flagged only.
FLATTEN_MAX_CHARS = 16 * 1024 * 1024
_TAG_RE = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)[^<>]*>")
_VOID = frozenset(
    "area base br col embed hr img input keygen link meta param source track wbr frame basefont "
    "bgsound isindex".split()
)
_RAW_TEXT = frozenset("script style textarea title xmp iframe noembed noframes plaintext".split())


def strip_controls(text: str) -> str:
    """The text without C0 control characters (other than HTML whitespace) and DEL.

    Most pages hold none: one substring search per character (C speed) tells, where the regex
    scan cost more than the parse itself (2.4 ms on a 330 KB page, issue 10)."""
    if not any(c in text for c in _CONTROLS):
        return text
    return _CONTROLS_RE.sub("", text)


_CONTROL_BYTES = tuple(bytes([ord(c)]) for c in _CONTROLS)


def utf8_has_controls(data: bytes) -> bool:
    """Whether UTF-8 `data` holds a character `strip_controls` removes: they are ASCII, and in
    UTF-8 a byte under 0x80 is always its ASCII character. A byte search (memchr) is three
    times faster than the search of the decoded `str` (issue 10)."""
    return any(b in data for b in _CONTROL_BYTES)


def too_deep(parser: etree.HTMLParser) -> bool:
    """Whether the parser's last run stopped at libxml2's nesting limit."""
    return any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log)


def flatten_nesting(text: str, max_depth: int = MAX_DEPTH) -> str:
    """`text` with every tag that would open an element deeper than `max_depth` removed.

    A tag stack as the parser would keep it, roughly: void elements never open, an end tag
    closes up to its matching open element (unmatched ones are ignored), and the end tag of a
    removed start tag is removed too. Comments and raw-text elements (script, style...) are
    skipped whole. Linear: one pass, each tag looked at once.
    """
    out: list[str] = []
    stack: list[str] = []
    open_count: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    pos = copied = 0  # scanned up to / copied to `out` up to
    n = len(text)
    while pos < n:
        i = text.find("<", pos)
        if i < 0:
            break
        if text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            pos = n if j < 0 else j + 3
            continue
        m = _TAG_RE.match(text, i)
        if m is None:
            pos = i + 1
            continue
        closing, name = m.group(1), m.group(2).lower()
        start, pos = m.span()
        if closing:
            if removed[name]:
                removed[name] -= 1
                out.append(text[copied:start])
                copied = pos
            elif open_count[name]:
                while stack:
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
        elif name in _RAW_TEXT:
            close = re.compile(rf"</{re.escape(name)}\b", re.I).search(text, pos)
            pos = n if close is None else close.start()
        elif name in _VOID or m.group(0).endswith("/>"):
            pass
        elif len(stack) >= max_depth:
            removed[name] += 1
            out.append(text[copied:start])
            copied = pos
        else:
            stack.append(name)
            open_count[name] += 1
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


def graft_noframes(root: etree._Element, parse) -> bool:
    """Give a frameset page the body its `<noframes>` holds (parsed with `parse`); True if done.

    Only for a page without a body of its own: the frameset is replaced by the parsed body.
    """
    if root.find("body") is not None:
        return False
    frameset = root.find("frameset")
    if frameset is None:
        return False
    raw = "".join((nf.text or "") for nf in frameset.iter("noframes"))
    if not raw.strip():
        return False
    body = parse(raw).find("body")
    if body is None or not "".join(body.itertext()).strip():
        return False
    frameset.getparent().replace(frameset, body)
    return True
