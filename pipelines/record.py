"""The record every command writes: fixed keys, content hash, JSON Schema validation."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from kirinuki.pipelines.page import Rejected

if TYPE_CHECKING:  # imported where used: `dumps` alone (the parent of `kirinuki clean`) needs
    # neither lxml nor importlib.metadata (issue 10 start-up)
    from kirinuki.pipelines.blocks import Block

SCHEMA_FILE = Path(__file__).with_name("record.schema.json")
KEYS = (
    "url", "canonical_url", "source", "site_name", "title", "subtitle", "authors", "published_at",
    "modified_at", "section", "tags", "language", "text", "blocks", "images", "citations",
    "paywall", "content_hash", "fetched_at", "extraction", "removed", "source_outlet", "notes",
    "flags", "version", "input_file",
)


class Record(TypedDict):
    """One article as every command writes it (`record.schema.json` is the contract).

    Records stay plain dicts so that they serialize as they are; this type names their keys for
    type checkers and readers.
    """

    url: str | None
    canonical_url: str | None
    source: str | None
    site_name: str | None
    title: str | None
    subtitle: str | None
    authors: list[str]
    published_at: str | None
    modified_at: str | None
    section: str | None
    tags: list[str]
    language: str | None
    text: str
    blocks: list[dict[str, str]]
    images: list[dict[str, Any]]
    citations: list[str]
    paywall: dict[str, Any] | None
    content_hash: str
    fetched_at: str | None
    extraction: dict[str, Any]
    removed: dict[str, int]
    source_outlet: str | None
    notes: list[dict[str, str]]
    flags: list[str]
    # The article's version in the crawl state (1 when first seen, +1 per changed text); null
    # from `clean` and the library, which keep no history.
    version: int | None
    # The file `kirinuki clean` read the page from (as named, `-` for stdin); null from the crawl.
    input_file: str | None


_LIST_KEYS = {"authors", "tags", "blocks", "images", "citations", "notes", "flags"}


# Record keys a draft does not hold: computed in `Draft.record()`, or set outside the cleaner
# (`version` by the crawl state, `input_file` by `kirinuki clean`).
_NOT_DRAFTED = {"text", "blocks", "removed", "language", "content_hash", "version", "input_file"}


@dataclass(slots=True)
class Draft:
    """A record while the stages fill it: typed fields, text still as blocks.

    Stages and merges (clippings, multi-page articles) work on drafts; `Draft.record()` is the
    one place where the blocks are joined into `text`, and the caller gives the language of that
    text, so nothing is joined or detected twice.
    """

    url: str | None
    source: str | None
    fetched_at: str | None
    extraction: dict[str, Any]
    title: str | None = None
    subtitle: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    published_at: str | None = None
    modified_at: str | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    paywall: dict[str, bool] = field(default_factory=lambda: {"detected": False, "truncated": False})
    blocks: list[Block] = field(default_factory=list)
    removed: Counter[str] = field(default_factory=Counter)
    source_outlet: str | None = None
    notes: list[dict[str, str]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        from kirinuki.pipelines.blocks import blocks_text

        return blocks_text(self.blocks)

    def record(self, text: str, language: str | None) -> dict[str, Any]:
        """The finished, validated record (`text` is `self.text`, computed once by the caller)."""
        fields = {k: getattr(self, k) for k in KEYS if k not in _NOT_DRAFTED}
        fields.update(text=text, blocks=[b.as_dict() for b in self.blocks], language=language,
                      removed=dict(self.removed))
        return make_record(fields)


@lru_cache(maxsize=1)
def pipeline_version() -> str:
    """kirinuki and trafilatura versions: both decide the output (goldens record them)."""
    from importlib import metadata as importlib_metadata

    try:
        ours = importlib_metadata.version("kirinuki")
    except importlib_metadata.PackageNotFoundError:
        ours = "0+local"
    try:
        traf = importlib_metadata.version("trafilatura")
    except importlib_metadata.PackageNotFoundError:
        traf = "?"
    return f"kirinuki/{ours} trafilatura/{traf}"


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@lru_cache(maxsize=1)
def _fast_validator():
    """The same schema compiled to Python code: 20x faster than walking it (issue 3 speed work).

    It only says valid or not; a record it refuses is explained by jsonschema below, so error
    messages stay jsonschema's. jsonschema is imported for that alone (0.09 s of every worker's
    start, issue 10); the schema itself is checked against Draft 2020-12 by the tests.
    """
    import fastjsonschema

    return fastjsonschema.compile(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def validate_record(record: dict[str, Any]) -> None:
    from fastjsonschema import JsonSchemaException

    try:
        _fast_validator()(record)
        return
    except JsonSchemaException:
        pass
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "(record)"
        raise Rejected("invalid_record", f"{where}: {e.message}")


def make_record(fields: dict[str, Any]) -> dict[str, Any]:
    """Fill every key in schema order (null or [] when unknown) and validate."""
    record = {k: fields.get(k, [] if k in _LIST_KEYS else None) for k in KEYS}
    record["removed"] = dict(sorted((fields.get("removed") or {}).items()))
    record["content_hash"] = content_hash(record["text"] or "")
    validate_record(record)
    return record


def dumps(record: dict[str, Any]) -> str:
    """One JSON line (UTF-8 text, not escaped), keys in schema order: the one serializer of
    `clean`, `crawl` and the state, so the same record always gives the same bytes (also after
    a round trip through JSON). Keys the schema does not list follow, sorted."""
    ordered = {k: record[k] for k in KEYS if k in record}
    ordered.update(sorted(((k, v) for k, v in record.items() if k not in ordered), key=lambda kv: kv[0]))
    return json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
