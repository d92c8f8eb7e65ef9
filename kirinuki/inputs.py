"""Saved pages on disk (or stdin) turned into `Page`s, with their URL found where it can be."""

from __future__ import annotations

import gzip
import json
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirinuki.pipelines import Page, Rejected

HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml", ".html.gz", ".htm.gz", ".xhtml.gz")
MAX_GZIP_OUTPUT = 256 * 1024 * 1024


def is_html_name(name: str) -> bool:
    return name.lower().endswith(HTML_SUFFIXES)


def discover(paths: Iterable[str]) -> Iterator[str]:
    """Files named on the command line as given; directories walked for HTML files, sorted."""
    for p in paths:
        if p == "-":
            yield p
        elif os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for f in sorted(filenames):
                    if is_html_name(f):
                        yield os.path.join(dirpath, f)
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


def read_bytes(path: str) -> bytes:
    """Read a file, gunzipping `.gz` (by name or magic); errors become Rejected with a reason."""
    try:
        if path == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        raise Rejected("unreadable", exc.strerror or str(exc)) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(raw, MAX_GZIP_OUTPUT)
            if d.unconsumed_tail:
                raise Rejected("too_large", f"gzip expands past {MAX_GZIP_OUTPUT} bytes")
            if not d.eof:
                raise Rejected("bad_gzip", "truncated gzip stream")
            return out
        except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
            raise Rejected("bad_gzip", f"corrupt gzip: {exc}") from None
    return raw


def load_page(path: str, url: str | None = None, content_type: str | None = None,
              profile: str | None = None) -> Page:
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
