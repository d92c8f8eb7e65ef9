"""Records as files people read or load: JSON Lines, plain text, Markdown, CSV (and Parquet).

One place for every output format, used by `kirinuki clean --format`, `kirinuki export` and any
caller with records in hand (the crawl, a notebook): `RecordWriter(out, fmt)` writes records one
at a time to anything with a `write(str)` (a `kirinuki.safe_output.OutputFile`, `sys.stdout`,
`io.StringIO`). Text and Markdown are built from the record's `blocks`, so headings, list items
and quotes keep their shape.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from typing import Any, Protocol

from kirinuki.pipelines.record import dumps
from kirinuki.safe_output import open_output

FORMATS = ("jsonl", "text", "markdown", "csv")
# The file suffix each format is written with (`crawl --format` names its extra file by it).
FORMAT_SUFFIX = {"jsonl": ".jsonl", "text": ".txt", "markdown": ".md", "csv": ".csv"}
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": "text", ".md": "markdown",
            ".markdown": "markdown", ".csv": "csv", ".parquet": "parquet"}
# One row per record: the scalar fields, lists joined by "; ", the text last but one.
CSV_COLUMNS = ("url", "canonical_url", "source", "site_name", "title", "subtitle", "authors",
               "published_at", "modified_at", "section", "tags", "language", "content_hash",
               "fetched_at", "profile", "method", "paywall_truncated", "flags", "version",
               "input_file", "text")
_LIST_SEP = "; "
RECORD_SEPARATOR_TEXT = "\f\n"  # plain text: a form feed line between records
RECORD_SEPARATOR_MARKDOWN = "\n---\n\n"  # Markdown: a thematic break between records


class TextSink(Protocol):
    def write(self, data: str) -> Any: ...


def format_for(path: str | os.PathLike[str] | None, requested: str | None,
               default: str = "jsonl") -> str:
    """The format asked for, else the one the output's suffix names, else `default`."""
    if requested:
        return requested
    if path is not None and os.fspath(path) != "-":
        name = os.fspath(path).lower()
        if name.endswith(".gz"):
            name = name[:-3]
        return SUFFIXES.get(os.path.splitext(name)[1], default)
    return default


def to_text(record: dict[str, Any]) -> str:
    """Title, subtitle, then the blocks (list items as `- `, quotes as `> `), blank-line separated."""
    parts = [p for p in (record.get("title"), record.get("subtitle")) if p]
    for b in record.get("blocks") or []:
        t = b["text"]
        parts.append({"list_item": "- " + t, "quote": "> " + t}.get(b["type"], t))
    if not record.get("blocks") and record.get("text"):
        parts.append(record["text"])
    return "\n\n".join(parts) + "\n"


def _md_escape(line: str) -> str:
    """Keep a paragraph a paragraph: a leading `#`, `>`, `-`, `+`, `*`, `1.` is escaped."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped[:1] in ("#", ">", "-", "+", "*", "=", "|"):
        return indent + "\\" + stripped
    digits = _leading_digits(stripped)
    if 0 < digits < 10 and stripped[digits:digits + 1] in (".", ")"):  # `1.` is a list item
        return indent + stripped[:digits] + "\\" + stripped[digits:]
    return line


def _leading_digits(s: str) -> int:
    i = 0
    while i < len(s) and s[i].isascii() and s[i].isdigit():
        i += 1
    return i


def to_markdown(record: dict[str, Any]) -> str:
    """`# title`, an italic subtitle, a source line, then the blocks as Markdown."""
    out: list[str] = []
    if record.get("title"):
        out.append("# " + record["title"].replace("\n", " "))
    if record.get("subtitle"):
        out.append("*" + record["subtitle"].replace("*", "\\*") + "*")
    meta = [m for m in (record.get("site_name"), ", ".join(record.get("authors") or []),
                        record.get("published_at")) if m]
    if record.get("url"):
        meta.append(f"<{record['url']}>")
    if meta:
        out.append(" · ".join(meta))
    items: list[str] = []
    for b in record.get("blocks") or []:
        t = b["text"]
        if b["type"] == "list_item":
            items.append("- " + t.replace("\n", " "))
            continue
        if items:
            out.append("\n".join(items))
            items = []
        if b["type"] == "heading":
            out.append("## " + t.replace("\n", " "))
        elif b["type"] == "quote":
            out.append("\n".join("> " + line for line in t.split("\n")))
        else:
            out.append("\n".join(_md_escape(line) for line in t.split("\n")))
    if items:
        out.append("\n".join(items))
    return "\n\n".join(out) + "\n"


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    """The flat row of `CSV_COLUMNS` (lists joined by `; `, extraction and paywall unpacked)."""
    ext = record.get("extraction") or {}
    row: dict[str, Any] = {}
    for col in CSV_COLUMNS:
        if col in ("profile", "method"):
            row[col] = ext.get(col)
        elif col == "paywall_truncated":
            row[col] = bool((record.get("paywall") or {}).get("truncated"))
        else:
            v = record.get(col)
            row[col] = _LIST_SEP.join(v) if isinstance(v, list) else v
    return row


class RecordWriter:
    """Writes records in one format to a text sink; `close()` ends the output (nothing to close
    for most formats, but a caller should not need to know which)."""

    def __init__(self, sink: TextSink, fmt: str = "jsonl") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        self.sink = sink
        self.fmt = fmt
        self.count = 0
        self._csv_buf = io.StringIO()
        self._csv = csv.DictWriter(self._csv_buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")

    def write_many(self, records: Iterable[dict[str, Any]]) -> None:
        """Several records in one `write()` on the sink (a page's records land together)."""
        self.sink.write("".join(self._render(r) for r in records))

    def write(self, record: dict[str, Any]) -> None:
        self.sink.write(self._render(record))

    def _render(self, record: dict[str, Any]) -> str:
        first = self.count == 0
        self.count += 1
        if self.fmt == "jsonl":
            return dumps(record) + "\n"
        if self.fmt == "text":
            return ("" if first else RECORD_SEPARATOR_TEXT) + to_text(record)
        if self.fmt == "markdown":
            return ("" if first else RECORD_SEPARATOR_MARKDOWN) + to_markdown(record)
        if first:
            self._csv.writeheader()
        self._csv.writerow(to_row(record))
        text = self._csv_buf.getvalue()
        self._csv_buf.seek(0)
        self._csv_buf.truncate()
        return text

    def close(self) -> None:
        if self.fmt == "csv" and self.count == 0:
            self._csv.writeheader()
            self.sink.write(self._csv_buf.getvalue())
            self._csv_buf.seek(0)
            self._csv_buf.truncate()


def convert_jsonl(src: str | os.PathLike[str], fmt: str) -> tuple[str, int]:
    """Write a JSON Lines file's records in `fmt` beside it (`<stem><FORMAT_SUFFIX>`), atomically.

    The crawl keeps its JSONL as the crash-safe record of a run (recovery counts whole lines) and
    makes the other formats from it at the end: returns (the new file, records written).
    Raises `kirinuki.safe_output.OutputError` when the file cannot be written.
    """
    src = os.fspath(src)
    dst = os.path.splitext(src)[0] + FORMAT_SUFFIX[fmt]
    with open(src, encoding="utf-8") as lines, open_output(dst) as out:
        writer = RecordWriter(out, fmt)
        for line in lines:
            if line.strip():
                writer.write(json.loads(line))
        writer.close()
    return dst, writer.count


def write_parquet(records: Iterable[dict[str, Any]], sink: Any) -> int:
    """The `CSV_COLUMNS` table as Parquet bytes on `sink` (authors, tags, flags as lists; blocks
    as JSON text). Needs pyarrow; raises `ImportError` with a hint when it is missing."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Parquet needs pyarrow (pip install pyarrow); "
                          "or use --format jsonl or csv") from None
    rows = []
    for r in records:
        row = to_row(r)
        for col in ("authors", "tags", "flags"):
            row[col] = list(r.get(col) or [])
        row["blocks"] = json.dumps(r.get("blocks") or [], ensure_ascii=False)
        rows.append(row)
    table = pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in CSV_COLUMNS})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    sink.write(buf.getvalue())
    return len(rows)
