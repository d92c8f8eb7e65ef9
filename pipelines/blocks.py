"""Turn an HTML subtree into typed text blocks (paragraph, heading, quote, list_item)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kirinuki.pipelines.normalize import normalize_text
from lxml import etree

_BLOCK_TAGS = frozenset(
    "p div section article main header footer aside center h1 h2 h3 h4 h5 h6 blockquote li ul ol "
    "dl dt dd table tbody thead tfoot tr td th figure pre address details summary form fieldset "
    "hr nav menu caption".split()
)
# Furigana (`rt`, `rp`) never reach the text; captions belong to images, not to the text.
_SKIP_TAGS = frozenset(
    "script style noscript template svg rt rp iframe button input select option textarea object "
    "embed canvas video audio head title meta link figcaption map area math".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# Phrasing elements a text node may sit in below its paragraph (`enclosing_block` walks past them).
INLINE_TAGS = frozenset("span a strong em b i u font small mark time".split())
# All the text of a subtree in one libxml2 call (faster than joining itertext()).
text_of = etree.XPath("string()")


@dataclass(frozen=True, slots=True)
class Block:
    type: str
    text: str
    # What a profile's role selector says this text is (a clipping's comment...); not output.
    role: str | None = None

    def as_dict(self) -> dict[str, str]:  # noqa: D102 - role stays internal
        return {"type": self.type, "text": self.text}


def _kind_for(tag: str, outer: str) -> str:
    if tag in _HEADINGS:
        return "heading"
    if tag == "li" or tag == "dd" or tag == "dt":
        return "list_item"
    if tag == "blockquote":
        return "quote"
    return outer


class BlockBuffer:
    """Inline text collected until a block boundary, then emitted as one normalized Block.

    Shared by the HTML walker here and the walker over trafilatura's output (generic.py): they
    differ in which tags end a block, not in how text becomes blocks."""

    __slots__ = ("out", "_parts")

    def __init__(self) -> None:
        self.out: list[Block] = []
        self._parts: list[str] = []

    def add(self, text: str | None) -> None:
        if text:
            self._parts.append(text)

    def flush(self, kind: str, role: str | None = None) -> None:
        if self._parts:
            text = normalize_text("".join(self._parts))
            self._parts.clear()
            if text:
                self.out.append(Block(kind, text, role))

    def walk_children(self, node: etree._Element, kind: str,
                      walk: Callable[[etree._Element, str], None]) -> None:
        """The node's text, then each child (through `walk`) and its tail, in document order."""
        self.add(node.text)
        for child in node:
            walk(child, kind)
            self.add(child.tail)


def element_blocks(root: etree._Element, roles: Mapping[etree._Element, str] | None = None) -> list[Block]:
    """Blocks of one subtree; every `<br>`, block element and role element ends a block."""
    buf = BlockBuffer()
    roles = roles or {}
    role_stack: list[str | None] = [None]

    def flush(kind: str) -> None:
        buf.flush(kind, role_stack[-1])

    def walk(node: etree._Element, kind: str) -> None:
        role = roles.get(node)
        if role is not None:
            flush(kind)
            role_stack.append(role)
            try:
                _walk(node, kind)
                flush(kind)
            finally:
                role_stack.pop()
            return
        _walk(node, kind)

    def _walk(node: etree._Element, kind: str) -> None:
        tag = node.tag
        if not isinstance(tag, str):
            return
        tag = tag.lower() if "}" not in tag else tag.rsplit("}", 1)[1].lower()
        if tag in _SKIP_TAGS:
            return
        if tag == "br":
            flush(kind)
            return
        is_block = tag in _BLOCK_TAGS
        if is_block:
            flush(kind)
            kind = _kind_for(tag, kind)
        buf.walk_children(node, kind, walk)
        if is_block:
            flush(kind)

    walk(root, "paragraph")
    flush("paragraph")
    return buf.out


def blocks_text(blocks: list[Block]) -> str:
    return "\n\n".join(b.text for b in blocks)


def enclosing_block(el: etree._Element | None) -> etree._Element | None:
    """`el` or its nearest ancestor that is not an inline (phrasing) element."""
    while el is not None and el.tag in INLINE_TAGS:
        el = el.getparent()
    return el
