"""Decode page bytes to text: declared charsets first, then validated Japanese-aware candidates.

Detectors are weak on Japanese (charset_normalizer misreads cp932 with half-width kana and
returns gb18030 for cp932 text; fixtures/encoding/), so undeclared pages are tried strictly as
utf-8, cp932 and euc_jp, scored by their share of kana/kanji, and only then handed to a detector.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# WHATWG maps these labels to one decoder; pages labelled Shift_JIS routinely carry cp932-only
# characters (①, ㈱, NEC/IBM extensions) that a strict shift_jis codec rejects.
_ALIASES = {
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "windows-31j": "cp932",
    "cp932": "cp932",
    "x-euc-jp": "euc_jp",
    "euc-jp": "euc_jp",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_SINGLE_BYTE = frozenset({"cp1252", "iso8859-1", "iso8859-15", "iso8859-2", "cp1250", "cp1251", "koi8-r", "mac-roman"})
# One `<meta` tag at a time (`[^<>]`), and one way to read the spaces and quotes after `=`:
# `[^>]+?` across tags and `\s*["']?\s*` made 4 KB of `<meta ` and spaces take half a minute.
_META_RE = re.compile(
    rb"""<meta\b[^<>]*?charset\s*=[\s"']*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE
)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.\-]+)""")
_CT_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.\-]+)", re.IGNORECASE)
_JA_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\u3000-\u303f\uff01-\uff5e]")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    # how the encoding was chosen: "bom", "http", "meta", "detected", or "<http|meta>-overridden"
    # when a single-byte label was contradicted by valid UTF-8
    via: str
    replaced: bool = False


def normalize_label(label: str | None) -> str | None:
    """Map a charset label to a Python codec name, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    name = _ALIASES.get(label, label)
    try:
        return codecs.lookup(name).name if name not in ("cp932", "euc_jp") else name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _CT_RE.search(content_type)
    return m.group(1) if m else None


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _ja_score(text: str) -> float:
    sample = text[:20000]
    if not sample:
        return 0.0
    return len(_JA_RE.findall(sample)) / len(sample)


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode HTML bytes; never raises on bad bytes (falls back to replacement, flagged)."""
    for bom, enc in _BOMS:
        if body.startswith(bom):
            text = body[len(bom):].decode(enc, errors="replace")
            return Decoded(text, enc, "bom", "\ufffd" in text)

    head = body[:4096]
    failed: list[tuple[str, str]] = []
    for via, label in (
        ("http", charset_from_content_type(content_type)),
        ("meta", _first_group(_META_RE, head) or _first_group(_XML_DECL_RE, head)),
    ):
        enc = normalize_label(label)
        if not enc:
            continue
        if enc in _SINGLE_BYTE and not body.isascii():
            # A single-byte label decodes anything, so it can never be refuted by the bytes;
            # non-ASCII text that is valid UTF-8 is UTF-8 (a CMS template's stale Latin-1 meta).
            utf8 = _strict(body, "utf-8")
            if utf8 is not None:
                return Decoded(utf8, "utf-8", f"{via}-overridden")
        text = _strict(body, enc)
        if text is not None:
            return Decoded(text, enc, via)
        # A declared charset that fails strictly is often wrong (a UTF-8 page labelled
        # Shift_JIS): an encoding that reads the bytes without error wins over it ...
        failed.append((via, enc))
    found = _detect_strict(body)
    if found is not None:
        return found
    # ... but no such encoding: the label is right and the page has a few broken bytes (a
    # truncated multi-byte character). Keep it and flag the replacement; guessing a detector's
    # single-byte charset for the whole page turned one bad byte into mojibake.
    for via, enc in failed:
        text = body.decode(enc, errors="replace")
        if _few_replaced(text):
            return Decoded(text, enc, via, True)
    return _detect_fallback(body)


def _few_replaced(text: str) -> bool:
    """Whether the replaced characters are a few among many well-decoded non-ASCII ones.

    Text in the wrong charset breaks on most of its non-ASCII bytes; a right one breaks at a
    few places. Up to 2, or 1 in 100 of the good non-ASCII characters, is damage, not a mismatch.
    """
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return bad <= max(2, good // 100)


def _first_group(pattern: re.Pattern[bytes], data: bytes) -> str | None:
    m = pattern.search(data)
    return m.group(1).decode("ascii", "ignore") if m else None


def _detect_strict(body: bytes) -> Decoded | None:
    """UTF-8, or the Japanese encoding whose strict decoding reads most like Japanese."""
    utf8 = _strict(body, "utf-8")
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "detected")
    best: tuple[float, str, str] | None = None
    for enc in ("cp932", "euc_jp"):
        text = _strict(body, enc)
        if text is None:
            continue
        score = _ja_score(text)
        if best is None or score > best[0]:
            best = (score, enc, text)
    if best is not None and best[0] > 0.05:
        return Decoded(best[2], best[1], "detected")
    return None


def _detect_fallback(body: bytes) -> Decoded:
    """charset_normalizer's guess, else UTF-8 with replacement (always flagged as replaced)."""
    try:
        from charset_normalizer import from_bytes

        match = from_bytes(body[:200000]).best()
        if match is not None and match.encoding:
            enc = normalize_label(match.encoding) or match.encoding
            text = body.decode(enc, errors="replace")
            return Decoded(text, enc, "detected", "\ufffd" in text)
    except Exception:  # detector failures must not abort a run; we still replace below
        pass
    text = body.decode("utf-8", errors="replace")
    return Decoded(text, "utf-8", "detected", True)
