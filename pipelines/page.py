"""The input of the cleaning pipeline: one fetched page, whatever fetched it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Page:
    """Raw bytes of one page plus what the fetcher knew about it.

    `fetched_at` comes from the caller (crawler clock or file mtime): the pipeline has no clock.
    `profile` forces a site profile by name; `source` is the configured source name.
    """

    url: str | None
    body: bytes
    content_type: str | None = None
    fetched_at: str | None = None
    source: str | None = None
    profile: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A caller holding decoded text (a notebook, a Scrapy `response.text`) may pass `str`:
        # it is stored as UTF-8 and labelled so, since the declared charset no longer applies.
        if isinstance(self.body, str):
            object.__setattr__(self, "body", self.body.encode("utf-8", "surrogatepass"))
            object.__setattr__(self, "content_type", "text/html; charset=utf-8")
        elif not isinstance(self.body, bytes):
            object.__setattr__(self, "body", bytes(self.body))


class Rejected(Exception):
    """A page that yields no record, with a machine-readable reason (counted in run summaries)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message
