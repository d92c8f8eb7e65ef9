"""Small loopback sites for the unattended-run tests: an Atom feed plus article pages whose
template or text can be changed between two crawls (a drifting site, a truncated article)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from tests import sites
from tests.crawl_server import T0, paragraphs

# A profile for the "profiled" test host: its body lives in div.story-body.
PROFILE_TOML = """\
id = "drifttest"
description = "test profile for the unattended-run tests (template drift)"
domains = ["drift.invalid"]

[extract]
title = ["h1.headline"]
body = ["div.story-body"]
"""


def write_profile(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "drifttest.toml"
    path.write_text(PROFILE_TOML, encoding="utf-8")
    return path


def profiled_article(title: str, paras: list[str], body_class: str = "story-body") -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paras)
    return (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}'
            f'</title><meta property="article:published_time" content="{T0.isoformat()}"></head>'
            f'<body><nav><a href="/">ホーム</a></nav><main><h1 class="headline">{escape(title)}</h1>'
            f'<div class="{body_class}">{body}</div></main><footer><p>Copyright © Drift</p></footer>'
            "</body></html>").encode()


@dataclass
class FeedSite:
    """`/atom.xml` listing `/a<N>.html`; `change()` swaps a page and bumps its feed date."""

    server: SiteServer
    name: str
    n: int
    profiled: bool = False
    lastmod: dict[int, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i in range(1, self.n + 1):
            self.lastmod[i] = T0 + timedelta(hours=i)
            self.server.resources[self.path(i)] = Resource(self.page(i))
        self.server.resources["/robots.txt"] = Resource(sitegen.robots(), "text/plain")
        self._feed()

    def path(self, i: int) -> str:
        return f"/a{i:02d}.html"

    def url(self, i: int) -> str:
        return self.server.origin + self.path(i)

    def title(self, i: int) -> str:
        return f"{self.name}の記事{i:02d} 経済対策の行方"

    def page(self, i: int, *, body_class: str = "story-body", paras: list[str] | None = None) -> bytes:
        paras = paras if paras is not None else paragraphs(5, f"{self.name}{i:02d}")
        if self.profiled:
            return profiled_article(self.title(i), paras, body_class)
        return sites.article(self.title(i), paras, published=T0 + timedelta(hours=i))

    def change(self, i: int, body: bytes) -> None:
        self.server.resources[self.path(i)] = Resource(body)
        self.lastmod[i] = datetime.now(UTC) + timedelta(minutes=5)  # after our last fetch
        self._feed()

    def add(self, k: int, paras: list[str] | None = None, body_class: str = "story-body") -> None:
        """Publish `k` more articles (with these paragraphs or template, when given)."""
        for i in range(self.n + 1, self.n + k + 1):
            self.lastmod[i] = datetime.now(UTC)
            self.server.resources[self.path(i)] = Resource(
                self.page(i, paras=paras, body_class=body_class))
        self.n += k
        self._feed()

    def _feed(self) -> None:
        items = [sitegen.Item(self.url(i), self.title(i), T0 + timedelta(hours=i), self.lastmod[i])
                 for i in range(1, self.n + 1)]
        self.server.resources["/atom.xml"] = Resource(
            sites.atom(self.name, self.server.origin + "/", items), "application/atom+xml")

    def source(self, **over: object) -> dict[str, object]:
        src: dict[str, object] = {"name": self.name, "feeds": [self.server.url("/atom.xml")],
                                  "download_delay": 0.0, "concurrent_requests": 4}
        if self.profiled:
            src["profile"] = "drifttest"
        src.update(over)
        return src
