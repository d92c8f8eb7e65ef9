"""Writers for the discovery documents of a generated site: feeds, sitemaps, listings, robots.txt.

Used by the offline demo (around the shipped fixtures), the crawl tests and the benchmark, so all
three exercise the same discovery code the real sites do. Writers only the tests need (RSS 1.0,
Atom, article pages) are in tests/sites.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape


@dataclass(frozen=True, slots=True)
class Item:
    url: str
    title: str
    published: datetime | None = None  # aware datetime
    lastmod: datetime | None = None


def _x(s: str) -> str:
    return escape(s, quote=True)


def feed(head: Sequence[str], items: Sequence[Item], entry: Callable[[Item], list[str]],
         tail: str) -> bytes:
    """A feed document: its head lines, each item's entry lines, its closing line."""
    out = list(head)
    for it in items:
        out += entry(it)
    out.append(tail)
    return "\n".join(out).encode("utf-8")


def rss2(title: str, link: str, items: Sequence[Item]) -> bytes:
    def entry(it: Item) -> list[str]:
        return [f"<item><title>{_x(it.title)}</title><link>{_x(it.url)}</link>"
                f'<guid isPermaLink="true">{_x(it.url)}</guid>',
                *([f"<pubDate>{format_datetime(it.published)}</pubDate>"] if it.published else []),
                "<description><![CDATA[<p>" + it.title + "</p>]]></description></item>"]

    return feed(['<?xml version="1.0" encoding="UTF-8"?>', '<rss version="2.0"><channel>',
                 f"<title>{_x(title)}</title><link>{_x(link)}</link><description>{_x(title)}</description>"],
                items, entry, "</channel></rss>")


def sitemap_index(children: Sequence[tuple[str, datetime | None]]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, lastmod in children:
        lm = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
        out.append(f"<sitemap><loc>{_x(url)}</loc>{lm}</sitemap>")
    out.append("</sitemapindex>")
    return "\n".join(out).encode("utf-8")


def urlset(items: Sequence[Item], news: str | None = None, language: str = "ja") -> bytes:
    """A url set; with `news` (publication name) a Google News sitemap with dates and titles."""
    ns = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{ns}>']
    for it in items:
        out.append(f"<url><loc>{_x(it.url)}</loc>")
        if it.lastmod:
            out.append(f"<lastmod>{it.lastmod.isoformat()}</lastmod>")
        if news:
            pub = f"<news:publication_date>{it.published.isoformat()}</news:publication_date>" \
                if it.published else ""
            out.append(f"<news:news><news:publication><news:name>{_x(news)}</news:name>"
                       f"<news:language>{language}</news:language></news:publication>{pub}"
                       f"<news:title>{_x(it.title)}</news:title></news:news>")
        out.append("</url>")
    out.append("</urlset>")
    return "\n".join(out).encode("utf-8")


def listing(title: str, links: Sequence[tuple[str, str]], next_url: str | None = None,
            extra_links: Sequence[tuple[str, str]] = ()) -> bytes:
    """A listing page: article links, some navigation noise, and a "next page" link."""
    lis = "\n".join(f'<li><a href="{_x(u)}">{_x(t)}</a></li>' for u, t in links)
    extra = "\n".join(f'<a href="{_x(u)}">{_x(t)}</a>' for u, t in extra_links)
    nxt = f'<a class="next" rel="next" href="{_x(next_url)}">次のページ</a>' if next_url else ""
    return (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{_x(title)}</title>'
            f'</head><body><nav><a href="/">トップ</a> {extra}</nav><h1>{_x(title)}</h1>'
            f"<ul>{lis}</ul><div class=\"pager\">{nxt}</div></body></html>").encode()


def robots(disallow: Sequence[str] = (), sitemaps: Sequence[str] = (), agent: str = "*") -> bytes:
    lines = [f"User-agent: {agent}"]
    lines += [f"Disallow: {d}" for d in disallow] or ["Disallow:"]
    lines += [f"Sitemap: {s}" for s in sitemaps]
    return ("\n".join(lines) + "\n").encode("utf-8")
