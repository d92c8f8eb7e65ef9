"""The offline demo: the shipped fixtures served on loopback as small sites, then crawled.

Each fixture origin (e.g. https://www.newsweekjapan.jp) gets its own loopback port with the
fixture pages at their original paths, absolute links rewritten to the loopback origin, and
generated discovery documents: an RSS feed, a sitemap index with a Google News sitemap, paged
listing pages and a robots.txt. The generated sources name each source's profile explicitly, so
the loopback host is cleaned exactly like the real site.

`python -m kirinuki.demo` serves the sites in the foreground on their fixed ports and
`python -m kirinuki.demo --print-sources` prints the matching sources file
(`sources.fixtures.toml`).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kirinuki.demo import sitegen
from kirinuki.demo.server import Resource, SiteServer
from kirinuki.inputs import discover, read_bytes, read_sidecar_file, sidecar_path
from kirinuki.pipelines import Rejected
from kirinuki.scraper.config import SourcesConfig, parse_sources

BASE_PORT = 8701
DEMO_PREFIX = "/kirinuki-demo"


@dataclass(frozen=True)
class DemoPage:
    site: str
    url: str
    body: bytes
    content_type: str | None
    profile: str | None
    title: str | None
    published: datetime | None
    fetched_at: datetime | None


@dataclass
class DemoSite:
    name: str
    origin: str  # the real site, e.g. https://www.newsweekjapan.jp
    fixtures: list[DemoPage]
    profile: str | None = None
    articles: list[DemoPage] | None = None  # page-1 fixtures (later pages only reached by links)


def default_fixtures_dir() -> Path:
    """The fixtures shipped inside the package (a wheel: `kirinuki/demo/fixtures/`), else the
    repository's top-level `fixtures/` (a source checkout or an editable install)."""
    here = Path(__file__).resolve().parent
    for cand in (here / "fixtures", here.parent.parent / "fixtures"):
        if cand.is_dir():
            return cand
    return Path.cwd() / "fixtures"


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else None


def load_fixtures(fixtures_dir: Path) -> list[DemoPage]:
    """The saved pages under `fixtures_dir/<site>/` that have a sidecar naming their URL."""
    out = []
    for html in discover([str(fixtures_dir)]):
        meta_path = sidecar_path(html)
        if meta_path is None or Path(html).parent.parent != Path(fixtures_dir):
            continue
        try:
            data = read_sidecar_file(meta_path)
            src = data["source"]
            url = src["url"]
            body = read_bytes(html)
        except (OSError, ValueError, KeyError, TypeError, Rejected):
            continue
        expected = (data.get("expected") or [{}])[0] or {}
        fields = ((data.get("checks") or {}).get("records") or [{}])[0].get("fields", {})
        title = expected.get("title") or fields.get("title")
        published = _when(expected.get("published_at") or fields.get("published_at"))
        out.append(DemoPage(meta_path.parent.name, url, body, src.get("content_type"),
                            src.get("profile"), title, published, _when(src.get("fetched_at"))))
    return out


def plan_sites(fixtures: list[DemoPage], profiles: Any = None) -> list[DemoSite]:
    """Group fixtures by origin; work out each site's profile and which pages are page 1."""
    groups: dict[str, list[DemoPage]] = {}
    for f in fixtures:
        parts = urlsplit(f.url)
        groups.setdefault(f"{parts.scheme}://{parts.netloc}", []).append(f)
    sites = []
    used: set[str] = set()
    for origin_url in sorted(groups):
        fx = groups[origin_url]
        name = fx[0].site if fx[0].site not in used else urlsplit(origin_url).hostname or fx[0].site
        used.add(name)
        profile = next((f.profile for f in fx if f.profile), None)
        if profile is None and profiles is not None:
            p = profiles.for_url(fx[0].url)
            profile = p.name if p is not None else None
        later = _continuations(fx, profiles)
        articles = [f for f in fx if f.url not in later]
        sites.append(DemoSite(name, origin_url, fx, profile, articles))
    return sites


def _continuations(fixtures: list[DemoPage], profiles: Any) -> set[str]:
    """URLs that are later pages of another fixture (listed nowhere; reached via page 1)."""
    if profiles is None:
        return set()
    try:
        from kirinuki import pipelines
    except ImportError:
        return set()
    later: set[str] = set()
    for f in fixtures:
        page = pipelines.Page(f.url, f.body, f.content_type, profile=f.profile)
        try:
            later.update(pipelines.continuation_urls(page, profiles))
        except Exception:  # noqa: BLE001 - a demo must not die on one odd fixture
            continue
    return later


def site_resources(site: DemoSite, local_origin: str) -> dict[str, Resource]:
    """The fixture pages plus generated feed, sitemaps, listings and robots.txt of one site."""
    res: dict[str, Resource] = {}
    real = urlsplit(site.origin)
    swaps = [(f"{real.scheme}://{real.netloc}".encode(), local_origin.encode()),
             (f"https://{real.netloc}".encode(), local_origin.encode()),
             (f"http://{real.netloc}".encode(), local_origin.encode())]

    def local(url: str) -> str:
        parts = urlsplit(url)
        return local_origin + parts.path + (f"?{parts.query}" if parts.query else "")

    for f in site.fixtures:
        body = f.body
        for a, b in swaps:
            body = body.replace(a, b)
        parts = urlsplit(f.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        res[path] = Resource(body, f.content_type or "text/html",
                             last_modified=f.fetched_at.timestamp() if f.fetched_at else None)
    arts = sorted(site.articles or [], key=lambda f: (f.published.timestamp() if f.published else 0.0, f.url),
                  reverse=True)
    items = [sitegen.Item(local(f.url), f.title or urlsplit(f.url).path, f.published,
                          f.fetched_at) for f in arts]
    home = local_origin + "/"
    res[f"{DEMO_PREFIX}/feed.xml"] = Resource(sitegen.rss2(site.name, home, items),
                                              "application/rss+xml; charset=utf-8")
    res[f"{DEMO_PREFIX}/sitemap-news.xml"] = Resource(
        sitegen.urlset(items, news=site.name), "application/xml")
    res[f"{DEMO_PREFIX}/sitemap_index.xml"] = Resource(
        sitegen.sitemap_index([(local_origin + f"{DEMO_PREFIX}/sitemap-news.xml", None)]),
        "application/xml")
    per_page = 3
    chunks = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    for n, chunk in enumerate(chunks, 1):
        path = f"{DEMO_PREFIX}/list/" if n == 1 else f"{DEMO_PREFIX}/list/?page={n}"
        nxt = local_origin + f"{DEMO_PREFIX}/list/?page={n + 1}" if n < len(chunks) else None
        res[path] = Resource(sitegen.listing(f"{site.name} 記事一覧 {n}",
                                             [(it.url, it.title) for it in chunk], nxt))
    res["/robots.txt"] = Resource(
        sitegen.robots([f"{DEMO_PREFIX}/private/"], [local_origin + f"{DEMO_PREFIX}/sitemap_index.xml"]),
        "text/plain")
    return res


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def serve_sites(sites: list[DemoSite], fixed_ports: bool = True,
                ports_file: Path | None = None) -> list[SiteServer]:
    """Start one loopback server per site on a stable port, so state keys match across runs.

    The article URLs (and so the crawl state's keys) carry the port: a second `crawl --demo` on
    other ports would find every article new again. Each site takes the port it had last time
    (`ports_file`, kept beside the output), else 8701+i, else any free port, and the choice is
    written back for the next run.
    """
    remembered: dict[str, int] = {}
    if ports_file is not None:
        try:
            loaded = json.loads(ports_file.read_text(encoding="utf-8"))
            remembered = {k: v for k, v in loaded.items() if isinstance(v, int)}
        except (OSError, ValueError, AttributeError):
            remembered = {}
    servers = []
    try:
        for i, site in enumerate(sites):
            port = 0
            for candidate in (remembered.get(site.name), BASE_PORT + i if fixed_ports else None):
                if candidate and _free(candidate):
                    port = candidate
                    break
            srv = SiteServer(port=port)
            srv.resources.update(site_resources(site, srv.origin))
            servers.append(srv.start())
    except BaseException:
        for s in servers:
            s.stop()
        raise
    if ports_file is not None:
        try:
            ports_file.parent.mkdir(parents=True, exist_ok=True)
            ports_file.write_text(json.dumps({site.name: srv.server_address[1] for site, srv in
                                              zip(sites, servers, strict=True)}), encoding="utf-8")
        except OSError:
            pass  # only a hint for the next run's ports
    return servers


def sources_document(sites: list[DemoSite], origins: list[str]) -> dict[str, Any]:
    srcs = []
    for site, local_origin in zip(sites, origins, strict=True):
        paths = sorted({urlsplit(f.url).path for f in site.articles or []})
        pattern = "^" + re.escape(local_origin) + "(" + "|".join(re.escape(p) for p in paths) + r")$"
        src: dict[str, Any] = {
            "name": site.name,
            "feeds": [local_origin + f"{DEMO_PREFIX}/feed.xml"],
            "sitemaps": [local_origin + f"{DEMO_PREFIX}/sitemap_index.xml"],
            "start_urls": [local_origin + f"{DEMO_PREFIX}/list/"],
            "article_pattern": pattern,
            "follow_pattern": re.escape(f"{DEMO_PREFIX}/list/"),
            "mirror_of": site.origin,
            "download_delay": 0.0,
            "concurrent_requests": 2,
        }
        if site.profile:
            src["profile"] = site.profile
        srcs.append(src)
    return {"crawl": {"download_timeout": 10.0, "retry_backoff": 0.2}, "sources": srcs}


def demo_config(fixtures_dir: Path | None = None, profiles: Any = None,
                fixed_ports: bool = True, ports_file: Path | None = None,
                ) -> tuple[SourcesConfig, list[SiteServer]]:
    """Serve the fixtures and return the sources config that crawls them (caller stops servers)."""
    fdir = fixtures_dir or default_fixtures_dir()
    fixtures = load_fixtures(fdir)
    if not fixtures:
        raise FileNotFoundError(f"no fixtures under {fdir} (pass --fixtures DIR)")
    sites = plan_sites(fixtures, profiles)
    servers = serve_sites(sites, fixed_ports, ports_file)
    doc = sources_document(sites, [s.origin for s in servers])
    return parse_sources(doc, "<demo>"), servers


def to_toml(doc: dict[str, Any]) -> str:
    """Just enough TOML for a sources document."""
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, str) and "'" not in v and "\n" not in v:
            return f"'{v}'"
        return json.dumps(v, ensure_ascii=False)

    lines = ["[crawl]"] + [f"{k} = {val(v)}" for k, v in doc.get("crawl", {}).items()]
    for src in doc["sources"]:
        lines += ["", "[[sources]]"] + [f"{k} = {val(v)}" for k, v in src.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kirinuki.demo", description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures", type=Path, default=None)
    ap.add_argument("--print-sources", action="store_true",
                    help="print the sources file for the fixed ports and exit")
    args = ap.parse_args(argv)
    from kirinuki import pipelines

    profiles = pipelines.load_profiles()
    fixtures = load_fixtures(args.fixtures or default_fixtures_dir())
    sites = plan_sites(fixtures, profiles)
    if args.print_sources:
        origins = [f"http://127.0.0.1:{BASE_PORT + i}" for i in range(len(sites))]
        header = ("# Crawls the shipped fixtures offline. Generated by "
                  "`python -m kirinuki.demo --print-sources`.\n# Serve them first: "
                  "`python -m kirinuki.demo` (or just run `kirinuki crawl --demo`).\n")
        sys.stdout.write(header + to_toml(sources_document(sites, origins)))
        return 0
    servers = serve_sites(sites, fixed_ports=True)
    for site, srv in zip(sites, servers, strict=True):
        print(f"{site.name:16} {site.origin} -> {srv.origin} (profile {site.profile})")
    print("serving; Ctrl-C to stop")
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.stop()
    return 0

