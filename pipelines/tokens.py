"""Words and CJK characters: the one tokenizer of the cleaner's checks and of `kirinuki eval`.

CJK text has no spaces between words, so it is compared character by character; other text word
by word (`\\w+`). Text is NFKC-normalized and case-folded first, as the scorer has always done
(the cleaner's blocks are NFKC already, so for them folding is only case folding).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_WORD_RE = re.compile(r"\w+")
_CHAR_RE = re.compile(r"[^\W_]")
_LETTER_RE = re.compile(r"[^\W\d_]")
# Hangul Jamo, Hiragana, Katakana (and its extensions, half-width forms), CJK ideographs
# (unified, extension A, compatibility, supplementary planes), Hangul syllables.
CJK_RE = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)


def fold(text: str) -> str:
    """What comparisons see: NFKC then case folding."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def is_mostly_cjk(text: str) -> bool:
    """More than half of the letters are Han, Hiragana, Katakana or Hangul."""
    if not text or text.isascii():  # no CJK letter, before or after folding: the common case, settled in C
        return False
    letters = "".join(_LETTER_RE.findall(fold(text)))
    return len(CJK_RE.findall(letters)) * 2 > len(letters)


def units(text: str, cjk: bool) -> list[str]:
    """The folded text as a sequence of words, or of characters for CJK text."""
    folded = fold(text)
    return _CHAR_RE.findall(folded) if cjk else _WORD_RE.findall(folded)


def tokens(text: str, cjk: bool) -> Counter[str]:
    """Bag of words (or CJK characters)."""
    return Counter(units(text, cjk))


def bigrams(text: str, cjk: bool) -> Counter[tuple[str, str]]:
    """Bag of adjacent pairs: common single words overlap any text, pairs do not."""
    u = units(text, cjk)
    return Counter(zip(u, u[1:], strict=False))
