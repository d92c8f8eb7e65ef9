"""Names and messages made safe to print: a file name cannot forge lines on a terminal or log.

A path may hold a newline, an escape sequence or undecodable bytes (surrogate-escaped by Python);
printed raw, `evil\\nkirinuki clean: 0 files` would read as a second summary line. Every message
that carries a name or page-controlled text goes through `shown()`.
"""

from __future__ import annotations

import os
import stat
import unicodedata


def shown(text: str | os.PathLike[str] | bytes) -> str:
    """`text` with control, format and line-separator characters escaped (`\\n`, `\\x1b`, `\\u2028`).

    Backslashes are doubled so that an escape in the output always means an escaped character.
    Non-ASCII letters (a Japanese file name) stay as they are.
    """
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    text = os.fspath(text)
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif "\udc80" <= ch <= "\udcff":  # an undecodable byte of a file name
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
        else:
            out.append(ch)
    return "".join(out)


def file_kind(mode: int) -> str:
    """What a non-regular file is (from its `st_mode`), for messages."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"
