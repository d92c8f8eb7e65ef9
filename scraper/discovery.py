"""Finding article URLs: feeds (RSS 1.0/2.0, Atom), sitemaps (index, urlset, Google News), links.

Pure functions over bytes, no Scrapy, so they are unit-tested directly. XML from the network is
parsed with entity expansion, DTD loading and network access off: an entity bomb in a feed must
end as a counted failure, not as gigabytes of text.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kirinuki.pipelines.normalize import safe_urljoin
from lxml import etree
from lxml import html as lxml_html

MAX_XML_BYTES = 50 * 1024 * 1024  # the sitemap protocol's own limit for one file
_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|yclid|mc_cid|mc_eid|_ga|ocid|cmpid)$", re.I)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)


class DiscoveryError(Exception):
    """A feed or sitemap that cannot be used; `reason` is counted in the run summary."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Entry:
    """One discovered URL with what the feed/sitemap said about it (kept as record fallbacks)."""

    url: str
    title: str | None = None
    published: str | None = None  # ISO 8601 with offset, or None
    updated: str | None = None  # lastmod / atom:updated, ISO 8601


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap: either child sitemaps (an index) or page entries (a url set)."""

    children: tuple[Entry, ...] = ()
    entries: tuple[Entry, ...] = ()


# Longer links are skipped: the sitemap protocol caps <loc> at 2,048 characters and browsers
# at a few thousand; a site-made 1 MB "URL" would only cost pattern matching and state rows.
MAX_URL_CHARS = 4096


def _join(base: str, href: str | None) -> str | None:
    """One malformed link (`http://[bad/`, a port of `abc`) is skipped, not the whole document."""
    url = safe_urljoin(base, href)
    if url is None or len(url) > MAX_URL_CHARS:
        return None
    try:
        _ = urlsplit(url).port  # raises on a malformed port
    except ValueError:
        return None
    return url


def normalize_url(url: str) -> str:
    """Canonical form used as the state key: lower-case host, no fragment, no tracking params."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep the URL as given; fetching it fails, counted
        return url.strip()
    netloc = host
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = parts.query
    if query:
        pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)]
        query = urlencode(pairs, doseq=True)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def rewrite_origin(url: str, mirror_of: str | None, local_origin: str) -> str:
    """Map a link to the mirrored site (e.g. absolute links in a saved page) onto the mirror."""
    if mirror_of and url.lower().startswith(mirror_of.lower()):
        rest = url[len(mirror_of):]
        if not rest or rest[0] in "/?#":
            return local_origin + rest
    return url


def to_iso(value: str | None) -> str | None:
    """RFC 2822 / W3C datetime from a feed or sitemap -> ISO 8601; None if it has no time zone."""
    dt = parse_feed_datetime(value)
    if dt is None or dt.tzinfo is None or not value or len(value.strip()) <= 10:
        return None
    return dt.isoformat()


def parse_feed_datetime(value: str | None) -> datetime | None:
    """Lenient date parse for freshness comparisons (a date alone counts as midnight UTC)."""
    if not value:
        return None
    v = value.strip()
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}", v):
            v2 = v.replace("Z", "+00:00")
            if len(v2) == 10:
                return datetime.fromisoformat(v2).replace(tzinfo=UTC)
            return datetime.fromisoformat(v2)
        return parsedate_to_datetime(v)
    except (ValueError, TypeError, IndexError):
        return None


def is_newer(lastmod: str | None, fetched_at: str | None) -> bool:
    """True when a discovery date says the page changed after we fetched it."""
    a, b = parse_feed_datetime(lastmod), parse_feed_datetime(fetched_at)
    if a is None or b is None:
        return False
    if a.tzinfo is None:
        a = a.replace(tzinfo=UTC)
    if b.tzinfo is None:
        b = b.replace(tzinfo=UTC)
    return a > b


def parse_xml(body: bytes, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML: gunzip within a size cap, refuse entity declarations, no DTD/network."""
    body = maybe_gunzip(body, max_bytes)
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise DiscoveryError("empty", "no bytes")
    if _ENTITY_DECL.search(body[: 1024 * 1024]):
        # Billion laughs / external entities: no real feed or sitemap declares entities.
        raise DiscoveryError("xml_entities", "document declares XML entities (refused)")
    if not stripped.startswith(b"<"):
        raise DiscoveryError("not_xml", "does not start with '<'")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        recover=True, remove_comments=True, remove_pis=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError("not_xml", str(exc)) from None
    if root is None:
        raise DiscoveryError("not_xml", "no root element")
    if _local(root) == "html":
        # e.g. a feed URL answering with an HTML page (Newsweek Japan does, to some User-Agents)
        raise DiscoveryError("not_xml", "an HTML page, not XML")
    return root


def maybe_gunzip(body: bytes, max_bytes: int = MAX_XML_BYTES) -> bytes:
    """Decompress `.xml.gz` bodies (served as files, not Content-Encoding) within a size cap."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
            out = f.read(max_bytes + 1)
    except (OSError, EOFError) as exc:
        raise DiscoveryError("bad_gzip", str(exc)) from None
    if len(out) > max_bytes:
        raise DiscoveryError("too_large", f"decompressed size over {max_bytes} bytes")
    return out


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower() if "}" in tag else tag.lower()


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if _local(c) == name:
            return c
    return None


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    t = "".join(el.itertext()).strip()
    return t or None


def parse_feed(body: bytes, base_url: str) -> list[Entry]:
    """Entries of an RSS 1.0, RSS 2.0 or Atom feed, in feed order."""
    root = parse_xml(body)
    kind = _local(root)
    if kind == "rss":
        channel = _child(root, "channel")
        items = [c for c in (channel if channel is not None else root) if _local(c) == "item"]
        return _dedupe([e for e in (_rss_item(i, base_url) for i in items) if e])
    if kind == "rdf":
        items = [c for c in root if _local(c) == "item"]
        return _dedupe([e for e in (_rss_item(i, base_url) for i in items) if e])
    if kind == "feed":
        base = root.get("{http://www.w3.org/XML/1998/namespace}base") or base_url
        base = _join(base_url, base) or base_url
        entries = [c for c in root if _local(c) == "entry"]
        return _dedupe([e for e in (_atom_entry(x, base) for x in entries) if e])
    raise DiscoveryError("not_a_feed", f"root element <{kind or '?'}> is not rss, RDF or feed")


def _rss_item(item: etree._Element, base_url: str) -> Entry | None:
    link = _text(_child(item, "link"))
    if not link:
        guid = _child(item, "guid")
        if guid is not None and (guid.get("isPermaLink") or "true").lower() != "false":
            link = _text(guid)
    if not link:
        about = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        link = about
    if not link:
        return None
    url = _join(base_url, link)
    if not url or not url.startswith(("http://", "https://")):
        return None
    date = _text(_child(item, "pubdate")) or _text(_child(item, "date"))
    return Entry(url, _text(_child(item, "title")), to_iso(date), _iso_or_raw(date))


def _atom_entry(entry: etree._Element, base: str) -> Entry | None:
    href = None
    for c in entry:
        if _local(c) == "link" and (c.get("rel") or "alternate") == "alternate":
            href = c.get("href")
            if href and (c.get("type") or "text/html").startswith(("text/html", "application/xhtml")):
                break
    if not href:
        return None
    url = _join(base, href)
    if not url:
        return None
    published = _text(_child(entry, "published")) or _text(_child(entry, "issued"))
    updated = _text(_child(entry, "updated")) or published
    return Entry(url, _text(_child(entry, "title")), to_iso(published or updated), _iso_or_raw(updated))


def _located(root: etree._Element, tag: str, base_url: str) -> Iterator[tuple[etree._Element, str]]:
    """The `<tag>` children of a sitemap root with their absolute `<loc>` (others skipped)."""
    for el in root:
        if _local(el) != tag:
            continue
        loc = _text(_child(el, "loc"))
        url = _join(base_url, loc) if loc else None
        if url:
            yield el, url


def parse_sitemap(body: bytes, base_url: str) -> Sitemap:
    """A sitemap index (children) or url set (entries, with Google News date and title)."""
    root = parse_xml(body)
    kind = _local(root)
    if kind == "sitemapindex":
        children = [Entry(url, updated=_text(_child(sm, "lastmod")))
                    for sm, url in _located(root, "sitemap", base_url)]
        return Sitemap(children=tuple(_dedupe(children)))
    if kind == "urlset":
        entries = []
        for u, url in _located(root, "url", base_url):
            title = published = None
            news = _child(u, "news")
            if news is not None:
                title = _text(_child(news, "title"))
                published = _text(_child(news, "publication_date"))
            lastmod = _text(_child(u, "lastmod"))
            entries.append(Entry(url, title, to_iso(published), lastmod or published))
        return Sitemap(entries=tuple(_dedupe(entries)))
    raise DiscoveryError("not_a_sitemap", f"root element <{kind or '?'}> is not urlset or sitemapindex")


def extract_links(html_text: str, base_url: str) -> list[str]:
    """Absolute http(s) links of a listing page, in document order, without duplicates."""
    try:
        doc = lxml_html.fromstring(html_text) if html_text.strip() else None
    except (etree.ParserError, ValueError):
        return []
    if doc is None:
        return []
    base = base_url
    for b in doc.iter("base"):
        if b.get("href"):
            base = _join(base_url, b.get("href")) or base_url
            break
    out: list[str] = []
    seen: set[str] = set()
    for a in doc.iter("a", "area"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = (_join(base, href) or "").split("#", 1)[0]
        if url.startswith(("http://", "https://")) and url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _iso_or_raw(v: str | None) -> str | None:
    dt = parse_feed_datetime(v)
    return dt.isoformat() if dt else None


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen: set[str] = set()
    out = []
    for e in entries:
        if e.url not in seen:
            seen.add(e.url)
            out.append(e)
    return out
