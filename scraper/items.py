"""Items: the pages a spider hands to the cleaner, and our own crawl's record items.

Accepted page items (`page_args` reads them through `itemadapter`, so any Scrapy item type works):

- `PageItem(url, body, headers=..., profile=..., fetched_at=..., source=...)`, e.g.
  `yield PageItem.from_response(response)` in a callback;
- a `dict` (or `scrapy.Item`, dataclass, attrs item) with `url` and `body` (bytes or str) or
  `html` (str), and optionally `headers` (a dict or Scrapy `Headers`), `content_type`,
  `profile` (force a site profile by name), `fetched_at` (ISO 8601) and `source`.

Anything else (an item without `url` + `body`/`html`) is not a page and passes through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kirinuki.scraper.cleaning import PageArgs

# Response headers the cleaner reads (charset, language, dates); others are not shipped to workers.
KEEP_HEADERS = ("content-type", "content-language", "last-modified", "etag", "date")


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class PageItem:
    """A fetched page to clean into article records (one per article on the page)."""

    url: str
    body: bytes | str
    headers: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    fetched_at: str | None = None
    source: str | None = None

    @classmethod
    def from_response(cls, response: Any, *, profile: str | None = None,
                      source: str | None = None) -> PageItem:
        """The page item of a Scrapy `Response` (final URL, raw body, the headers that matter)."""
        return cls(url=response.url, body=response.body, headers=header_dict(response.headers),
                   profile=profile, fetched_at=utcnow(), source=source)


def header_dict(headers: Any) -> dict[str, str]:
    """Lower-cased `name -> value` for the headers the cleaner reads (Scrapy `Headers` or a dict)."""
    out: dict[str, str] = {}
    if not headers:
        return out
    for name in KEEP_HEADERS:
        value = headers.get(name)
        if value is None and hasattr(headers, "items") and not hasattr(headers, "getlist"):
            value = next((v for k, v in headers.items() if str(k).lower() == name), None)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if value is not None:
            out[name] = str(value)
    return out


def page_args(item: Any) -> PageArgs | None:
    """The cleaner's input for a page item (see the module docstring), or None if not a page."""
    from itemadapter import ItemAdapter

    if not ItemAdapter.is_item(item):
        return None
    a = ItemAdapter(item)
    url = a.get("url")
    body = a.get("body") if a.get("body") is not None else a.get("html")
    if not isinstance(url, str) or not isinstance(body, bytes | str):
        return None
    headers = header_dict(a.get("headers"))
    if a.get("content_type"):
        headers["content-type"] = str(a.get("content_type"))
    content_type = headers.get("content-type")
    if isinstance(body, str):  # decoded text: stored as UTF-8 and labelled so (as kirinuki.clean)
        body = body.encode("utf-8", "surrogatepass")
        content_type = headers["content-type"] = "text/html; charset=utf-8"
    return (url, body, content_type, a.get("fetched_at") or utcnow(), a.get("source"),
            a.get("profile"), headers)


# -- our own crawl ----------------------------------------------------------------------------

@dataclass(eq=False)
class PageGroup:
    """The records cleaned from one article (its pages), settled together in the state.

    The pages are marked done in the same transaction as the last record to be written, or by
    the last record to be settled when none was written (unchanged, invalid)."""

    source: str
    url: str  # normalized request URL (the state key)
    final_url: str  # after redirects
    pages: list[tuple[str, str, str]]  # (url, source, kind) of every page merged in
    hints: tuple[str | None, str | None] = (None, None)  # (title, published) from discovery
    fetched_at: str = ""
    etag: str | None = None
    last_modified: str | None = None
    pending: int = 0  # records not yet settled
    valid: int = 0
    keys: set[str] = field(default_factory=set)
    first_hash: str | None = None
    pages_done: bool = False
    held: int = 0  # records held back by the health check
    lease: Any = None  # cluster mode: the queue lease of the article's request (scraper.cluster)


@dataclass(eq=False)
class RecordItem:
    """One cleaned record of our crawl on its way through Validate -> Dedup -> Write.

    The Write pipeline returns the bare record, so `FEEDS` exports records, nothing else."""

    record: dict[str, Any]
    group: PageGroup
    index: int = 0
    key: str | None = None  # article key (item_pipelines.article_key)
    emit: Any = None  # state.Emit once classified new/updated
