"""Test-only writers for generated sites: RSS 1.0 and Atom feeds, plain article pages.

The demo's writers (RSS 2.0, sitemaps, listings, robots.txt) are in kirinuki/demo/sitegen.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kirinuki.demo.sitegen import Item, _x, feed


def rss1(title: str, link: str, items: Sequence[Item]) -> bytes:
    def entry(it: Item) -> list[str]:
        return [f'<item rdf:about="{_x(it.url)}"><title>{_x(it.title)}</title><link>{_x(it.url)}</link>',
                *([f"<dc:date>{it.published.isoformat()}</dc:date>"] if it.published else []),
                "</item>"]

    head = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">',
            f'<channel rdf:about="{_x(link)}"><title>{_x(title)}</title><link>{_x(link)}</link>'
            "<items><rdf:Seq>"]
    head += [f'<rdf:li rdf:resource="{_x(it.url)}"/>' for it in items]
    head.append("</rdf:Seq></items></channel>")
    return feed(head, items, entry, "</rdf:RDF>")


def atom(title: str, link: str, items: Sequence[Item]) -> bytes:
    def entry(it: Item) -> list[str]:
        when = it.lastmod or it.published
        return [f'<entry><title>{_x(it.title)}</title><link rel="alternate" type="text/html" '
                f'href="{_x(it.url)}"/><id>{_x(it.url)}</id>',
                *([f"<published>{it.published.isoformat()}</published>"] if it.published else []),
                *([f"<updated>{when.isoformat()}</updated>"] if when else []),
                "</entry>"]

    return feed(['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
                 f'<title>{_x(title)}</title><link href="{_x(link)}"/><id>{_x(link)}</id>'],
                items, entry, "</feed>")


def article(title: str, paragraphs: Sequence[str], *, next_url: str | None = None,
            published: datetime | None = None, charset: str = "utf-8") -> bytes:
    """A plain news article page (the generic extraction path handles it)."""
    meta_pub = (f'<meta property="article:published_time" content="{published.isoformat()}">'
                if published else "")
    body = "\n".join(f"<p>{_x(p)}</p>" for p in paragraphs)
    nxt = f'<div class="pager"><a rel="next" href="{_x(next_url)}">次のページ</a></div>' if next_url else ""
    html = (f'<!DOCTYPE html><html lang="ja"><head><meta charset="{charset}"><title>{_x(title)}</title>'
            f'{meta_pub}</head><body><header><nav><a href="/">ホーム</a> <a href="/list/">記事一覧</a>'
            f'</nav></header><main><article><h1>{_x(title)}</h1>{body}</article>{nxt}</main>'
            f"<footer><p>Copyright © Example News. All rights reserved.</p></footer></body></html>")
    return html.encode(charset, errors="xmlcharrefreplace")
