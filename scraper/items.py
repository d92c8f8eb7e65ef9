"""The item the spider yields: the cleaner's records for one article plus how they were fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kirinuki.scraper.state import Emit


@dataclass(slots=True)
class ArticleItem:
    source: str
    url: str  # normalized request URL (the state key)
    final_url: str  # after redirects
    pages: list[tuple[str, str, str]]  # (url, source, kind) of every page merged in
    records: list[dict[str, Any]]
    hints: tuple[str | None, str | None] = (None, None)  # (title, published) from discovery
    fetched_at: str = ""
    etag: str | None = None
    last_modified: str | None = None
    emits: list[Emit] = field(default_factory=list)
