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


class Rejected(Exception):
    """A page that yields no record, with a machine-readable reason (counted in run summaries)."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message
