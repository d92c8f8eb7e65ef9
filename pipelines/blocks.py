"""Turn an HTML subtree into typed text blocks (paragraph, heading, quote, list_item)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
# Headings below the page title: an article's subheads (or a teaser's headline).
SUBHEADINGS = HEADINGS - {"h1"}
# Phrasing elements a text node may sit in below its paragraph (`enclosing_block` walks past them).
INLINE_TAGS = frozenset("span a strong em b i u font small mark time".split())


def text_of(el: etree._Element) -> str:
    """All the text of a subtree in one libxml2 call (faster than joining itertext()).

    The XPath `string()` of the element: lxml's text serialisation and XPath's string value both
    read it with libxml2's `xmlBufGetNodeContent`. This way is half the cost a call of the XPath
    (no XPath context, no "smart" string holding the element), on the few thousand elements a
    page's checks measure."""
    return etree.tostring(el, method="text", encoding=str, with_tail=False)


def link_chars(el: etree._Element, read: Callable[[str], str] = str.strip) -> tuple[int, int]:
    """(link characters, all characters) of a subtree, each text read through `read`: how much
    of a list or a line is links. `str.strip` counts inner white space (a list's line breaks);
    a fold of white space to single spaces counts text as it reads."""
    return (sum(len(read(text_of(a))) for a in el.iter("a")), len(read(text_of(el))))


@dataclass(frozen=True, slots=True)
class Block:
    type: str
    text: str
    # What a profile's role selector says this text is (a clipping's comment...); not output.
    role: str | None = None

    def as_dict(self) -> dict[str, str]:  # noqa: D102 - role stays internal
        return {"type": self.type, "text": self.text}


def _kind_for(tag: str, outer: str) -> str:
    if tag in HEADINGS:
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


def element_blocks(root: etree._Element, roles: Mapping[etree._Element, str] | None = None,
                   max_blocks: int | None = None) -> list[Block]:
    """Blocks of one subtree; every `<br>`, block element and role element ends a block.

    An explicit stack, not recursion: a tree may nest 2,000 levels (libxml2's limit), three
    Python frames a level past the interpreter's recursion limit. With `max_blocks`, the walk
    stops once that many blocks are out (a bound on huge pages, bounds.py).
    """
    buf = BlockBuffer()
    roles = roles or {}
    role_stack: list[str | None] = [None]
    # one frame per open element: its children, kind, block or not, outer kind if a role, tail
    frames: list[tuple[Iterator[etree._Element], str, bool, str | None, str | None]] = []

    def enter(node: etree._Element, kind: str) -> bool:
        """Open a node: True when it has a frame (its tail then waits for its end)."""
        role = roles.get(node)
        outer = None
        if role is not None:
            buf.flush(kind, role_stack[-1])
            role_stack.append(role)
            outer = kind
        tag = node.tag
        if isinstance(tag, str):
            tag = tag.lower() if "}" not in tag else tag.rsplit("}", 1)[1].lower()
        if not isinstance(tag, str) or tag in _SKIP_TAGS or tag == "br":
            if tag == "br":
                buf.flush(kind, role_stack[-1])
            if outer is not None:
                buf.flush(outer, role_stack[-1])
                role_stack.pop()
            return False
        is_block = tag in _BLOCK_TAGS
        if is_block:
            buf.flush(kind, role_stack[-1])
            kind = _kind_for(tag, kind)
        buf.add(node.text)
        frames.append((iter(node), kind, is_block, outer, node.tail if node is not root else None))
        return True

    enter(root, "paragraph")
    while frames:
        if max_blocks is not None and len(buf.out) >= max_blocks:
            break
        children, kind, is_block, outer, tail = frames[-1]
        child = next(children, None)
        if child is not None:
            if not enter(child, kind):
                buf.add(child.tail)
            continue
        frames.pop()
        if is_block:
            buf.flush(kind, role_stack[-1])
        if outer is not None:
            buf.flush(outer, role_stack[-1])
            role_stack.pop()
        buf.add(tail)  # the tail follows the element's end
    buf.flush("paragraph", role_stack[-1])
    return buf.out


def blocks_text(blocks: list[Block]) -> str:
    return "\n\n".join(b.text for b in blocks)


def enclosing_block(el: etree._Element | None) -> etree._Element | None:
    """`el` or its nearest ancestor that is not an inline (phrasing) element."""
    while el is not None and el.tag in INLINE_TAGS:
        el = el.getparent()
    return el
