"""Saved pages on disk (or stdin) turned into `Page`s, with their URL found where it can be."""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from kirinuki.pipelines import Page, Rejected
from kirinuki.shown import file_kind

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml", ".html.gz", ".htm.gz", ".xhtml.gz")
_CHUNK = 1024 * 1024


def is_html_name(name: str) -> bool:
    return name.lower().endswith(HTML_SUFFIXES)


def input_limit() -> int:
    """The largest page the cleaner takes (its `MAX_BYTES`): reading stops one byte past it."""
    from kirinuki.pipelines.doc import MAX_BYTES

    return MAX_BYTES


def discover(paths: Iterable[str], skipped: list[tuple[str, str]] | None = None) -> Iterator[str]:
    """Files named on the command line as given; directories walked for HTML files, sorted.

    A FIFO, socket or device met while walking (even behind an `.html` name or a symlink) would
    block or never end a read: it is left out and appended to `skipped` as (path, what it is).
    Files named explicitly are yielded as they are; `read_bytes` refuses the non-regular ones.
    """
    for p in paths:
        if p == "-":
            yield p
        elif os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for f in sorted(filenames):
                    if not is_html_name(f):
                        continue
                    full = os.path.join(dirpath, f)
                    try:
                        mode = os.stat(full).st_mode
                    except OSError:
                        yield full  # a dangling link: reported as unreadable by name
                        continue
                    if stat.S_ISREG(mode):
                        yield full
                    elif skipped is not None:
                        skipped.append((full, file_kind(mode)))
        else:
            yield p


def sidecar_path(path: str | os.PathLike[str]) -> Path | None:
    """The JSON beside a saved page: `<stem>.json` (`a.html`, `a.html.gz` -> `a.json`), else
    `<name>.json`; None when there is none."""
    p = Path(path)
    name = p.name
    for suffix in (".gz",):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    for cand in (p.with_name(stem + ".json"), p.with_name(p.name + ".json")):
        if cand.is_file():
            return cand
    return None


def read_sidecar_file(sidecar: str | os.PathLike[str]) -> dict[str, Any]:
    """A whole sidecar document (a fixture's also holds `checks` and `expected`).

    Raises OSError or ValueError (bad JSON, not an object): the goldens must not pass over a
    broken fixture; `read_sidecar` treats it as no sidecar."""
    data = json.loads(Path(sidecar).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{sidecar}: not a JSON object")
    return data


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sidecar's source: `{"source": {"url", "content_type", "fetched_at", "profile"}}`
    (the fixture format; a bare source object is accepted too)."""
    sc = sidecar_path(path)
    if sc is None:
        return {}
    try:
        data = read_sidecar_file(sc)
    except (OSError, ValueError):
        return {}
    src = data.get("source", data)
    return src if isinstance(src, dict) else {}


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """A file's bytes, gunzipped when they are gzip; errors become Rejected with a reason.

    At most `limit` + 1 bytes are read, and a gzip stream is inflated only that far (from a file,
    stdin, or a symlink to an endless device alike), so memory stays bounded by the page limit.
    Only regular files and `-` (stdin) are read: opening a FIFO would wait for a writer forever.
    """
    limit = input_limit() if limit is None else limit
    try:
        if path == "-":
            return _read_stream(sys.stdin.buffer, limit)
        # O_NONBLOCK: opening a FIFO returns at once (and is then refused) instead of blocking.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            os.close(fd)
            raise
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise Rejected("not_regular", f"it is {file_kind(mode)}; only regular files and - "
                                          "are read")
        with os.fdopen(fd, "rb") as fh:
            return _read_stream(fh, limit)
    except OSError as exc:
        raise Rejected("unreadable", exc.strerror or str(exc)) from None


def _read_stream(fh: BinaryIO, limit: int) -> bytes:
    first = fh.read(min(_CHUNK, limit + 1))
    if first[:2] == b"\x1f\x8b":
        return _gunzip(first, fh, limit)
    chunks, total = [first], len(first)
    while first and total <= limit:
        first = fh.read(min(_CHUNK, limit + 1 - total))
        chunks.append(first)
        total += len(first)
    if total > limit:
        raise Rejected("too_large", f"over the {limit} byte limit (reading stopped there)")
    return b"".join(chunks)


def _gunzip(chunk: bytes, fh: BinaryIO, limit: int) -> bytes:
    """Inflate one gzip member, never holding more than `limit` + 1 bytes in or out."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    read, total = len(chunk), 0
    try:
        while True:
            piece = d.decompress(chunk, limit + 1 - total)
            out.append(piece)
            total += len(piece)
            if total > limit:
                raise Rejected("too_large", f"gzip expands past the {limit} byte limit")
            if d.eof:
                return b"".join(out)
            if d.unconsumed_tail:
                chunk = d.unconsumed_tail
                continue
            chunk = fh.read(_CHUNK)
            read += len(chunk)
            if not chunk:
                raise Rejected("bad_gzip", "truncated gzip stream")
            if read > limit + 1:
                raise Rejected("too_large", f"gzip stream over the {limit} byte limit")
    except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
        raise Rejected("bad_gzip", f"corrupt gzip: {exc}") from None


def load_page(path: str, url: str | None = None, content_type: str | None = None,
              profile: str | None = None, *, body: bytes | None = None) -> Page:
    """The page saved at `path` (or `body` already read from it, e.g. stdin read by a parent)."""
    if body is None:
        body = read_bytes(path)
    sc = read_sidecar(path) if path != "-" else {}
    fetched_at = sc.get("fetched_at")
    if not fetched_at and path != "-":
        try:
            fetched_at = datetime.fromtimestamp(os.stat(path).st_mtime, UTC).isoformat(timespec="seconds")
        except OSError:
            fetched_at = None
    return Page(
        url=url or sc.get("url"),
        body=body,
        content_type=content_type if content_type is not None else sc.get("content_type"),
        fetched_at=fetched_at,
        profile=profile or sc.get("profile"),
        source=sc.get("source_name"),
    )
