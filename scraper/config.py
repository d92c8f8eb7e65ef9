"""The sources file (TOML): what to crawl and how politely, validated once at load.

A wrong file fails before any request is sent, with a message naming the source and the key, so a
typo never turns into a silent half-crawl. No Scrapy here: the CLI and the demo build `Source`s too.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import re2
import regex
from kirinuki.pipelines.toml_check import compile_regex, did_you_mean, read_toml, unknown_key

from kirinuki.formats import FORMATS

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; kirinuki/0.1; +https://github.com/kirinuki/kirinuki)"


class SourcesError(ValueError):
    """The sources file is wrong; the message names the file, the source and the key."""


class UrlPattern(Protocol):
    """A compiled URL pattern (RE2): `search(url)` is truthy when the URL matches."""

    def search(self, text: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Run-wide knobs (`[crawl]` table); per-source politeness keys override the first four."""

    download_delay: float = 1.0
    concurrent_requests: int = 2
    autothrottle: bool = True
    download_timeout: float = 30.0
    user_agent: str = DEFAULT_USER_AGENT
    max_response_size: int = 10 * 1024 * 1024
    retry_times: int = 2
    retry_backoff: float = 1.0
    max_redirects: int = 5
    max_pages_per_article: int = 10
    max_listing_pages: int = 20
    max_articles: int | None = None
    max_attempts: int = 3
    concurrent_requests_total: int = 16
    workers: int | None = None
    profiles_dirs: tuple[str, ...] = ()
    # Unattended runs (issue 8): a default schedule and re-check for sources that give none, and
    # how many run files to keep (None: all).
    schedule: str | None = None
    recheck_after: str | None = None
    recheck_limit: int = 20
    keep_runs: int | None = None
    keep_days: float | None = None
    # Also write each run as crawl-<run>.<txt|md|csv> (the JSONL is always written).
    format: str = "jsonl"


@dataclass(frozen=True, slots=True)
class Source:
    """One configured source: how its articles are discovered and how politely it is fetched."""

    name: str
    profile: str | None = None
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    start_urls: tuple[str, ...] = ()
    article_pattern: UrlPattern | None = None
    follow_pattern: UrlPattern | None = None
    sitemap_pattern: UrlPattern | None = None
    allowed_domains: tuple[str, ...] = ()
    mirror_of: str | None = None
    max_articles: int | None = None
    max_listing_pages: int = 20
    download_delay: float = 1.0
    concurrent_requests: int = 2
    autothrottle: bool = True
    download_timeout: float = 30.0
    schedule: str | None = None  # cron expression or interval (scraper.schedule)
    recheck_after: str | None = None  # re-fetch known articles older than this (conditionally)
    recheck_limit: int = 20  # at most this many re-checks per run

    def seed_urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.start_urls

    def hosts(self) -> frozenset[str]:
        """Network locations this source may fetch from (seed hosts plus `allowed_domains`)."""
        hosts = {urlsplit(u).netloc.lower() for u in self.seed_urls()}
        hosts.update(d.lower() for d in self.allowed_domains)
        return frozenset(hosts)


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """`[cluster]`: where the shared queue (Redis) and the shared state (PostgreSQL) live.

    Present (in the file or as `--redis URL --database URL`), it turns `kirinuki crawl` into the
    seeder of a cluster run and lets `kirinuki worker` drain it (scraper.cluster)."""

    redis: str
    database: str
    # A worker whose heartbeat is older than this is dead: its in-flight requests are re-queued.
    lease_timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class SourcesConfig:
    sources: tuple[Source, ...]
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    path: str = "<memory>"
    cluster: ClusterSettings | None = None


_SOURCE_KEYS = {
    "name", "profile", "feeds", "sitemaps", "start_urls", "article_pattern", "follow_pattern",
    "sitemap_pattern", "allowed_domains", "mirror_of", "max_articles", "max_listing_pages",
    "download_delay", "concurrent_requests", "autothrottle", "download_timeout",
    "schedule", "recheck_after", "recheck_limit",
}
_CRAWL_KEYS = set(CrawlSettings.__dataclass_fields__)
_TOP_KEYS = {"sources", "crawl", "cluster"}
_CLUSTER_KEYS = {"redis", "database", "lease_timeout"}
REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_SCHEMES = ("postgresql", "postgres")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.I)


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate a sources file; raise `SourcesError` naming source and key."""
    p = Path(path)
    data = read_toml(p, SourcesError, missing=f"no such sources file (copy sources.example.toml "
                                               f"to {p.name}, or pass --sources)")
    return parse_sources(data, str(p))


def parse_sources(data: dict[str, Any], where: str = "<memory>") -> SourcesConfig:
    """Validate an already-parsed sources document (the demo builds one in memory)."""
    _check_keys(data, _TOP_KEYS, f"{where}: top level")
    crawl = _parse_crawl(data.get("crawl", {}), f"{where}: [crawl]")
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise SourcesError(f"{where}: no [[sources]] table; add at least one source")
    sources: list[Source] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_sources, 1):
        src = _parse_source(raw, crawl, where, i)
        if src.name in names:
            raise SourcesError(f"{where}: [[sources]] #{i} {src.name!r}: key 'name': duplicate name")
        names.add(src.name)
        sources.append(src)
    cluster = None
    if "cluster" in data:
        cluster = parse_cluster(data["cluster"], f"{where}: [cluster]")
    return SourcesConfig(tuple(sources), crawl, where, cluster)


def parse_cluster(raw: Any, where: str = "[cluster]") -> ClusterSettings:
    """`[cluster]` (or the `--redis`/`--database` options as a dict), validated."""
    if not isinstance(raw, dict):
        raise SourcesError(f"{where}: must be a table")
    _check_keys(raw, _CLUSTER_KEYS, where)
    for key in ("redis", "database"):
        if key not in raw:
            raise SourcesError(f"{where}: key {key!r}: required (cluster mode needs both "
                               "'redis' and 'database')")
    redis_url = check_service_url(raw["redis"], where, "redis", REDIS_SCHEMES)
    db_url = check_service_url(raw["database"], where, "database", DATABASE_SCHEMES)
    kw: dict[str, Any] = {}
    if "lease_timeout" in raw:
        kw["lease_timeout"] = _number(raw["lease_timeout"], where, "lease_timeout", 1.0, 3600.0)
    return ClusterSettings(redis_url, db_url, **kw)


def check_service_url(v: Any, label: str, key: str, schemes: tuple[str, ...]) -> str:
    """A server URL with one of `schemes` (unix sockets name a path, the others a host)."""
    parts = urlsplit(v) if isinstance(v, str) else None
    ok = parts is not None and parts.scheme in schemes and (
        bool(parts.path) if parts.scheme == "unix" else bool(parts.hostname))
    if not ok:
        raise SourcesError(f"{label}: key {key!r}: not a {'/'.join(schemes)} URL "
                           f"({schemes[0]}://host:port/...): {v!r}")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise SourcesError(f"{label}: key {key!r}: bad port in {v!r}") from None
    return v


def with_cluster(config: SourcesConfig, redis_url: str | None, database_url: str | None
                 ) -> SourcesConfig:
    """Apply `--redis URL --database URL` (each overrides `[cluster]`; both or none is cluster
    mode unless the file has `[cluster]`)."""
    if redis_url is None and database_url is None:
        return config
    have = config.cluster
    raw: dict[str, Any] = {}
    if have is not None:
        raw = {"redis": have.redis, "database": have.database,
               "lease_timeout": have.lease_timeout}
    if redis_url is not None:
        raw["redis"] = redis_url
    if database_url is not None:
        raw["database"] = database_url
    return replace(config, cluster=parse_cluster(raw, "--redis/--database"))


def check_profiles(config: SourcesConfig, known: set[str] | list[str]) -> None:
    """Fail on a `profile` that names no loaded profile (a typo would fall back silently)."""
    for src in config.sources:
        if src.profile is not None and src.profile not in known:
            hint = did_you_mean(src.profile, known)
            raise SourcesError(
                f"{config.path}: source {src.name!r}: key 'profile': unknown profile "
                f"{src.profile!r}{hint} (known: {', '.join(sorted(known))})"
            )


def with_max_articles(config: SourcesConfig, limit: int | None) -> SourcesConfig:
    """Apply a command-line `--max-articles` cap to every source."""
    if limit is None:
        return config
    srcs = tuple(
        replace(s, max_articles=limit if s.max_articles is None else min(limit, s.max_articles))
        for s in config.sources
    )
    return replace(config, sources=srcs)


def _parse_crawl(raw: Any, where: str) -> CrawlSettings:
    if not isinstance(raw, dict):
        raise SourcesError(f"{where}: must be a table")
    _check_keys(raw, _CRAWL_KEYS, where)
    d = CrawlSettings()
    kw: dict[str, Any] = {}
    # Each [crawl] key read with its checker (a table, like the per-source overrides below).
    for key, check in _CRAWL_CHECKS:
        if key in raw:
            kw[key] = check(raw[key], where, key)
    if "user_agent" in raw:
        ua = raw["user_agent"]
        if not isinstance(ua, str) or not ua.strip():
            raise SourcesError(f"{where}: key 'user_agent': must be a non-empty string")
        kw["user_agent"] = ua
    if "max_response_size" in raw:
        kw["max_response_size"] = _size(raw["max_response_size"], where, "max_response_size")
    if "profiles_dirs" in raw:
        kw["profiles_dirs"] = _str_list(raw["profiles_dirs"], where, "profiles_dirs")
    return replace(d, **kw)


def _at_least(minimum: int) -> Callable[[Any, str, str], int]:
    return lambda v, label, key: _int(v, label, key, minimum=minimum)


def _non_negative(v: Any, label: str, key: str) -> float:
    return _number(v, label, key, minimum=0.0)


def _int_in(lo: int, hi: int) -> Callable[[Any, str, str], int]:
    return lambda v, label, key: _int(v, label, key, minimum=lo, maximum=hi)


def _float_in(lo: float, hi: float) -> Callable[[Any, str, str], float]:
    return lambda v, label, key: _number(v, label, key, minimum=lo, maximum=hi)


# Limits: a value that switches a limit off (a 0 timeout or size, which Scrapy reads as "none"),
# a negative delay, inf/nan, or one so large that it is no limit at all is a config error.
# Shared by [crawl] and the per-source overrides: one bound per key.
_LIMITS: dict[str, Callable[[Any, str, str], Any]] = {
    "download_delay": _float_in(0.0, 3600.0),
    "download_timeout": _float_in(0.1, 3600.0),
    "retry_backoff": _float_in(0.0, 3600.0),
    "concurrent_requests": _int_in(1, 64),
    "retry_times": _int_in(0, 20),
    "max_redirects": _int_in(1, 30),
    "max_pages_per_article": _int_in(1, 200),
    "max_listing_pages": _int_in(1, 100_000),
    "max_attempts": _int_in(1, 100),
    "concurrent_requests_total": _int_in(1, 512),
    "max_articles": _at_least(0),  # 0 fetches nothing; absent means no cap
    "workers": _int_in(0, 256),
}
MIN_RESPONSE_SIZE = 1024
MAX_RESPONSE_SIZE = 1024**3


_CRAWL_CHECKS: tuple[tuple[str, Callable[[Any, str, str], Any]], ...] = (
    *_LIMITS.items(),
    ("schedule", lambda v, label, key: _schedule(v, label, key)),
    ("recheck_after", lambda v, label, key: _duration(v, label, key)),
    ("recheck_limit", _at_least(0)),
    ("keep_runs", _at_least(1)),
    ("keep_days", _non_negative),
    ("autothrottle", lambda v, label, key: _bool(v, label, key)),
    ("format", lambda v, label, key: _one_of(v, label, key, FORMATS)),
)


def _parse_source(raw: Any, crawl: CrawlSettings, where: str, index: int) -> Source:
    label = f"{where}: [[sources]] #{index}"
    if not isinstance(raw, dict):
        raise SourcesError(f"{label}: must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name or ""):
        raise SourcesError(
            f"{label}: key 'name': required, letters/digits/_.- only, got {name!r}"
        )
    label = f"{where}: source {name!r}"
    _check_keys(raw, _SOURCE_KEYS, label)
    kw: dict[str, Any] = {"name": name}
    if "profile" in raw:
        if not isinstance(raw["profile"], str) or not raw["profile"]:
            raise SourcesError(f"{label}: key 'profile': must be a profile name (string)")
        kw["profile"] = raw["profile"]
    for key in ("feeds", "sitemaps", "start_urls"):
        if key in raw:
            urls = _str_list(raw[key], label, key)
            for u in urls:
                _check_url(u, label, key)
            kw[key] = urls
    if not (kw.get("feeds") or kw.get("sitemaps") or kw.get("start_urls")):
        raise SourcesError(
            f"{label}: no discovery: give at least one of 'feeds', 'sitemaps', 'start_urls'"
        )
    for key in ("article_pattern", "follow_pattern", "sitemap_pattern"):
        if key in raw:
            kw[key] = _regex(raw[key], label, key)
    if kw.get("start_urls") and "article_pattern" not in kw:
        raise SourcesError(
            f"{label}: key 'article_pattern': required with 'start_urls' (a regex for article links)"
        )
    if "allowed_domains" in raw:
        kw["allowed_domains"] = _str_list(raw["allowed_domains"], label, "allowed_domains")
    if "mirror_of" in raw:
        _check_url(raw["mirror_of"], label, "mirror_of")
        parts = urlsplit(raw["mirror_of"])
        kw["mirror_of"] = f"{parts.scheme}://{parts.netloc}"
    # Per-source overrides of the [crawl] defaults: each read with its checker, else inherited.
    for key, check in _SOURCE_OVERRIDES:
        kw[key] = check(raw[key], label, key) if key in raw else getattr(crawl, key)
    return Source(**kw)


def _check_keys(raw: dict[str, Any], allowed: set[str], label: str) -> None:
    found = unknown_key(raw, allowed)
    if found:
        raise SourcesError(f"{label}: {found[1]}")


_SOURCE_OVERRIDES: tuple[tuple[str, Callable[[Any, str, str], Any]], ...] = (
    ("max_articles", _LIMITS["max_articles"]),
    ("max_listing_pages", _LIMITS["max_listing_pages"]),
    ("download_delay", _LIMITS["download_delay"]),
    ("download_timeout", _LIMITS["download_timeout"]),
    ("concurrent_requests", _LIMITS["concurrent_requests"]),
    ("autothrottle", lambda v, label, key: _bool(v, label, key)),
    ("schedule", lambda v, label, key: _schedule(v, label, key)),
    ("recheck_after", lambda v, label, key: _duration(v, label, key)),
    ("recheck_limit", lambda v, label, key: _int(v, label, key, minimum=0)),
)


def _schedule_text(v: Any, label: str, key: str, parser: str) -> str:
    """A schedule (`parse_schedule`) or duration (`parse_duration`) string, checked, kept as text."""
    from kirinuki.scraper import schedule

    try:
        getattr(schedule, parser)(v)
    except ValueError as exc:
        raise SourcesError(f"{label}: key {key!r}: {exc}") from None
    return v


def _schedule(v: Any, label: str, key: str) -> str:
    return _schedule_text(v, label, key, "parse_schedule")


def _duration(v: Any, label: str, key: str) -> str:
    return _schedule_text(v, label, key, "parse_duration")


def _number(v: Any, label: str, key: str, minimum: float, maximum: float = math.inf) -> float:
    if (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
            or not minimum <= v <= maximum):
        bound = f">= {minimum:g}" if maximum == math.inf else f"from {minimum:g} to {maximum:g}"
        raise SourcesError(f"{label}: key {key!r}: must be a number {bound}, got {v!r}")
    return float(v)


def _int(v: Any, label: str, key: str, minimum: int, maximum: int | None = None) -> int:
    if (isinstance(v, bool) or not isinstance(v, int) or v < minimum
            or (maximum is not None and v > maximum)):
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise SourcesError(f"{label}: key {key!r}: must be an integer {bound}, got {v!r}")
    return v


def _bool(v: Any, label: str, key: str) -> bool:
    if not isinstance(v, bool):
        raise SourcesError(f"{label}: key {key!r}: must be true or false, got {v!r}")
    return v


def _one_of(v: Any, label: str, key: str, choices: tuple[str, ...]) -> str:
    if v not in choices:
        raise SourcesError(f"{label}: key {key!r}: must be one of {', '.join(choices)}, got {v!r}")
    return v


def _str_list(v: Any, label: str, key: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise SourcesError(f"{label}: key {key!r}: must be a list of strings, got {v!r}")
    return tuple(v)


def _check_url(u: Any, label: str, key: str) -> None:
    parts = urlsplit(u) if isinstance(u, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourcesError(f"{label}: key {key!r}: not an absolute http(s) URL: {u!r}")


# A pattern RE2 cannot run (lookaround, backreferences) gets this long per URL, then no match.
PATTERN_TIMEOUT = 0.05


class _TimedPattern:
    """A backtracking pattern (the `regex` module) that gives up on a URL after a deadline."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled = regex.compile(pattern)

    def search(self, text: str) -> Any:
        try:
            return self._compiled.search(text, timeout=PATTERN_TIMEOUT)
        except TimeoutError:
            logger.warning("URL pattern %r gave up on %.200s after %gs", self.pattern, text,
                           PATTERN_TIMEOUT)
            return None


def _regex(v: Any, label: str, key: str) -> UrlPattern:
    """URL patterns run on site-controlled URLs in the reactor thread, so none may backtrack
    without bound: `(a+)+$` would hang the crawl where no signal can stop it. Compiled with
    RE2 (linear time); a pattern RE2 cannot run (lookbehind, backreferences) runs on the
    `regex` module with a per-URL timeout instead."""
    if not isinstance(v, str) or not v:
        raise SourcesError(f"{label}: key {key!r}: must be a regular expression string")
    try:
        compile_regex(v)  # Python's syntax check first: its messages are the clearer ones
    except ValueError as exc:
        raise SourcesError(f"{label}: key {key!r}: {exc}") from None
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(v, options=options)
    except re2.error:
        pass
    try:
        return _TimedPattern(v)
    except regex.error as exc:
        raise SourcesError(f"{label}: key {key!r}: bad regular expression {v!r}: {exc}") from None


def _size(v: Any, label: str, key: str) -> int:
    """Bytes, or a size like "10MB"; 0 (Scrapy: no cap) and absurd sizes are refused."""
    if isinstance(v, int) and not isinstance(v, bool):
        n = v
    else:
        m = _SIZE_RE.match(v) if isinstance(v, str) else None
        if not m:
            raise SourcesError(
                f"{label}: key {key!r}: must be bytes or a size like \"10MB\", got {v!r}")
        unit = (m.group(2) or "b").lower()[0]
        mult = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
        n = int(float(m.group(1)) * mult)
    if not MIN_RESPONSE_SIZE <= n <= MAX_RESPONSE_SIZE:
        raise SourcesError(
            f"{label}: key {key!r}: must be from 1KB to 1GB (0 would switch the cap off), "
            f"got {v!r}")
    return n
