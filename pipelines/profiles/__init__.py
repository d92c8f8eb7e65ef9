"""Site profiles: declarative TOML data (selectors for fields and noise, paywall signals, pagers).

Profiles are validated and compiled at load: a bad key, selector or regex fails with the file and
the key named, so a typo never silently turns a site over to the generic path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kirinuki.pipelines.hosts import on_domain
from kirinuki.pipelines.toml_check import compile_regex, read_toml, unknown_key
from lxml.cssselect import CSSSelector, SelectorError

PROFILE_DIR = Path(__file__).parent
NOISE_KINDS = (
    "navigation", "ranking", "recommendation", "paywall", "share", "comment", "promo",
    "newsletter", "pager", "ad", "related", "caption", "citation", "boilerplate",
)
FIELDS = (
    "title", "subtitle", "published", "modified", "authors", "section", "tags", "site_name",
    "canonical",
)


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class FieldSource:
    """One place to read a field from: `meta:NAME`, `jsonld:PATH`, or a CSS selector (`@attr`)."""

    kind: str  # "meta" | "jsonld" | "css" | "text"
    expr: str
    attr: str | None = None
    pattern: re.Pattern[str] | None = None
    selector: CSSSelector | None = None
    # `text:REGEX`: the href of each link whose text matches (a pager found by its words)
    match: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class TextRule:
    """Noise found by its words, not its markup: the block holding a text that matches `match`
    (climbed `up` more levels) is removed, so a renamed class does not let known noise through."""

    kind: str
    match: re.Pattern[str]
    up: int = 0


@dataclass(frozen=True, slots=True)
class JsonFlag:
    selector: CSSSelector
    path: tuple[str, ...]
    sets: str  # "detected" | "truncated"


@dataclass(frozen=True, slots=True)
class SplitRule:
    """How one page holding many clippings is cut into records (fixtures/clipping-blog/)."""

    separator: CSSSelector | None
    date_line: re.Pattern[str]
    marker: re.Pattern[str] | None
    comment_prefix: str | None
    outlets: tuple[str, ...]
    # elements holding the clipper's own comments (kept apart from the quoted text, in `notes`)
    comment: CSSSelector | None = None
    # a trailing part label on an original headline, e.g. "(2)" linking to the second article
    title_suffix: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    path: str
    domains: tuple[str, ...]
    description: str = ""
    site_name: str | None = None
    timezone: str | None = None
    fields: dict[str, tuple[FieldSource, ...]] = field(default_factory=dict)
    body: tuple[CSSSelector, ...] = ()
    body_end: tuple[CSSSelector, ...] = ()
    # Which elements inside the body are text blocks; None = all text in the body.
    blocks: CSSSelector | None = None
    images: tuple[tuple[CSSSelector, CSSSelector | None], ...] = ()
    citations: tuple[FieldSource, ...] = ()
    noise: dict[str, tuple[CSSSelector, ...]] = field(default_factory=dict)
    lines: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    text_rules: tuple[TextRule, ...] = ()
    paywall_detected: tuple[CSSSelector, ...] = ()
    paywall_truncated: tuple[CSSSelector, ...] = ()
    paywall_json: tuple[JsonFlag, ...] = ()
    paywall_boundary: tuple[re.Pattern[str], ...] = ()
    next_pages: tuple[FieldSource, ...] = ()
    split: SplitRule | None = None
    # "inline": the site prints readings after names (ruby with <rp> parentheses); "drop" (default)
    furigana: str = "drop"
    # Template versions (Fundus's versioned parsers): this profile's own template is `version`;
    # `versions` are the others, each valid for pages of a date range (see for_date).
    version: str | None = None
    versions: tuple[ProfileVersion, ...] = ()

    @property
    def label(self) -> str:
        """The name a record carries: `id`, or `id@version` for a versioned profile."""
        return f"{self.name}@{self.version}" if self.version else self.name

    def for_date(self, when: str | None) -> Profile:
        """The template version valid on `when` (an ISO date or datetime): the first listed
        version whose [from, until) range holds it, else this profile's own template."""
        day = (when or "")[:10]
        if not self.versions or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            return self
        for v in self.versions:
            if (v.start is None or v.start <= day) and (v.end is None or day < v.end):
                return v.profile
        return self


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    """An older (or newer) template of a site: valid for pages dated in [start, end)."""

    name: str
    start: str | None  # YYYY-MM-DD, inclusive
    end: str | None  # YYYY-MM-DD, exclusive
    profile: Profile


class ProfileSet:
    """The loaded profiles, looked up by name or by a page's host."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._by_name: dict[str, Profile] = {}
        for p in profiles:
            # A user's directory comes after the shipped one: same name overrides.
            self._by_name[p.name] = p

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __iter__(self):
        return iter(self._by_name[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Profile:
        try:
            return self._by_name[name]
        except KeyError:
            raise ProfileError(
                f"unknown profile {name!r}; known: {', '.join(self.names())}"
            ) from None

    def for_url(self, url: str | None) -> Profile | None:
        if not url:
            return None
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
        best: tuple[int, Profile] | None = None
        for p in self._by_name.values():
            for d in p.domains:
                # the most specific domain wins (a blog host's subdomain over its parent)
                if on_domain(host, d) and (best is None or len(d) > best[0]):
                    best = (len(d), p)
        return best[1] if best else None


# ---------------------------------------------------------------- loading and validation

_TOP_KEYS = {"id", "description", "domains", "site_name", "timezone", "extract", "noise",
             "paywall", "pages", "split", "furigana", "version", "versions"}
_VERSION_KEYS = {"name", "from", "until", "extract", "noise", "paywall", "pages", "split", "furigana"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXTRACT_KEYS = set(FIELDS) | {"body", "body_end", "blocks", "images", "citations"}
_PAYWALL_KEYS = {"detected", "truncated", "json", "boundary"}
_SPLIT_KEYS = {"separator", "date_line", "marker", "comment_prefix", "outlets", "comment", "title_suffix"}


def _fail(path: str, key: str, msg: str) -> ProfileError:
    return ProfileError(f"{path}: [{key}] {msg}")


def _css(path: str, key: str, value: Any) -> CSSSelector:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"expected a CSS selector string, got {value!r}")
    try:
        return CSSSelector(value)
    except (SelectorError, Exception) as exc:  # cssselect raises several types
        raise _fail(path, key, f"bad CSS selector {value!r}: {exc}") from None


def _regex(path: str, key: str, value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise _fail(path, key, f"expected a regex string, got {value!r}")
    try:
        return compile_regex(value)
    except ValueError as exc:
        raise _fail(path, key, str(exc)) from None


def _list(path: str, key: str, value: Any) -> list[Any]:
    if isinstance(value, (str, dict)):
        return [value]
    if not isinstance(value, list):
        raise _fail(path, key, f"expected a list, got {type(value).__name__}")
    return value


def parse_source(path: str, key: str, value: Any) -> FieldSource:
    pattern = None
    if isinstance(value, dict):
        unknown = set(value) - {"from", "pattern"}
        if unknown or "from" not in value:
            raise _fail(path, key, f"a source table needs 'from' (and optional 'pattern'), got {sorted(value)}")
        if "pattern" in value:
            pattern = _regex(path, key, value["pattern"])
        value = value["from"]
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"expected a source string, got {value!r}")
    if value == "@defaults":
        return FieldSource("defaults", "@defaults", pattern=pattern)
    if value.startswith("meta:"):
        return FieldSource("meta", value[5:], pattern=pattern)
    if value.startswith("jsonld:"):
        return FieldSource("jsonld", value[7:], pattern=pattern)
    if value.startswith("text:"):
        return FieldSource("text", value[5:], pattern=pattern, match=_regex(path, key, value[5:]))
    expr, attr = value, None
    m = re.match(r"^(.*?)@([A-Za-z_:][\w:.-]*)$", value)
    if m and "]" not in m.group(2):
        expr, attr = m.group(1).strip(), m.group(2)
    if expr.startswith("css:"):
        expr = expr[4:]
    return FieldSource("css", expr, attr=attr, pattern=pattern, selector=_css(path, key, expr))


def _check_keys(path: str, section: str, data: dict[str, Any], allowed: set[str]) -> None:
    found = unknown_key(data, allowed, list_allowed=True)
    if found:
        k, msg = found
        raise _fail(path, f"{section}.{k}" if section else k, msg)


def _version_date(path: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    day = str(value)[:10]  # a TOML date or a "YYYY-MM-DD" string
    if not _DATE_RE.match(day):
        raise _fail(path, key, f"expected a date like 2021-04-01, got {value!r}")
    return day


def _parse_versions(data: dict[str, Any], path: str) -> tuple[ProfileVersion, ...]:
    """Each `[[versions]]` entry is the base profile with its tables' keys overridden."""
    raw = data.get("versions", [])
    if not isinstance(raw, list):
        raise _fail(path, "versions", "expected [[versions]] tables")
    out = []
    for i, v in enumerate(raw):
        key = f"versions[{i}]"
        if not isinstance(v, dict):
            raise _fail(path, key, "expected a table")
        _check_keys(path, key, v, _VERSION_KEYS)
        if not isinstance(v.get("name"), str) or not v["name"]:
            raise _fail(path, f"{key}.name", "each version needs a name")
        start = _version_date(path, f"{key}.from", v.get("from"))
        end = _version_date(path, f"{key}.until", v.get("until"))
        if start is None and end is None:
            raise _fail(path, key, "a version needs 'from' and/or 'until'")
        if start and end and start >= end:
            raise _fail(path, key, f"'from' {start} is not before 'until' {end}")
        merged = {k: val for k, val in data.items() if k not in ("versions", "version")}
        for table in ("extract", "noise", "paywall", "pages", "split"):
            if table in v:
                if not isinstance(v[table], dict):
                    raise _fail(path, f"{key}.{table}", "expected a table")
                merged[table] = {**data.get(table, {}), **v[table]}
        if "furigana" in v:
            merged["furigana"] = v["furigana"]
        merged["version"] = v["name"]
        out.append(ProfileVersion(v["name"], start, end, parse_profile(merged, f"{path} {key}")))
    return tuple(out)


def parse_profile(data: dict[str, Any], path: str) -> Profile:
    """Validate and compile one profile's data (as loaded from TOML)."""
    _check_keys(path, "", data, _TOP_KEYS)
    version = data.get("version")
    if version is not None and not (isinstance(version, str) and version):
        raise _fail(path, "version", f"expected the template's name, got {version!r}")
    versions = _parse_versions(data, path)
    if versions and version is None:
        version = "current"
    name = data.get("id")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name or ""):
        raise _fail(path, "id", f"expected a lowercase name like 'newsweekjapan', got {name!r}")
    domains = data.get("domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) and d for d in domains):
        raise _fail(path, "domains", "expected a list of host names")
    tz = data.get("timezone")
    if tz is not None and not (isinstance(tz, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", tz)):
        raise _fail(path, "timezone", f"expected an offset like '+09:00', got {tz!r}")

    furigana = data.get("furigana", "drop")
    if furigana not in ("drop", "inline"):
        raise _fail(path, "furigana", f"expected 'drop' or 'inline', got {furigana!r}")

    extract = data.get("extract", {})
    if not isinstance(extract, dict):
        raise _fail(path, "extract", "expected a table")
    _check_keys(path, "extract", extract, _EXTRACT_KEYS)
    fields = {
        f: tuple(parse_source(path, f"extract.{f}", v) for v in _list(path, f"extract.{f}", extract[f]))
        for f in FIELDS if f in extract
    }
    body = tuple(_css(path, "extract.body", v) for v in _list(path, "extract.body", extract.get("body", [])))
    body_end = tuple(_css(path, "extract.body_end", v) for v in _list(path, "extract.body_end", extract.get("body_end", [])))
    blocks = _css(path, "extract.blocks", extract["blocks"]) if "blocks" in extract else None
    images = []
    for v in _list(path, "extract.images", extract.get("images", [])):
        if isinstance(v, str):
            images.append((_css(path, "extract.images", v), None))
        elif isinstance(v, dict) and set(v) <= {"img", "caption"} and "img" in v:
            cap = _css(path, "extract.images.caption", v["caption"]) if "caption" in v else None
            images.append((_css(path, "extract.images.img", v["img"]), cap))
        else:
            raise _fail(path, "extract.images", f"expected a selector or {{img, caption}}, got {v!r}")
    citations = tuple(parse_source(path, "extract.citations", v)
                      for v in _list(path, "extract.citations", extract.get("citations", [])))

    noise_data = data.get("noise", {})
    if not isinstance(noise_data, dict):
        raise _fail(path, "noise", "expected a table")
    _check_keys(path, "noise", noise_data, set(NOISE_KINDS) | {"lines", "text"})
    noise = {k: tuple(_css(path, f"noise.{k}", s) for s in _list(path, f"noise.{k}", v))
             for k, v in noise_data.items() if k not in ("lines", "text")}
    text_data = noise_data.get("text", {})
    if not isinstance(text_data, dict):
        raise _fail(path, "noise.text", "expected a table of kind = [regex or {match, up}, ...]")
    _check_keys(path, "noise.text", text_data, set(NOISE_KINDS))
    text_rules = []
    for k, v in text_data.items():
        for r in _list(path, f"noise.text.{k}", v):
            if isinstance(r, dict):
                if set(r) - {"match", "up"} or "match" not in r or not isinstance(r.get("up", 0), int) or r.get("up", 0) < 0:
                    raise _fail(path, f"noise.text.{k}", f"expected {{match = REGEX, up = N >= 0}}, got {r!r}")
                text_rules.append(TextRule(k, _regex(path, f"noise.text.{k}", r["match"]), r.get("up", 0)))
            else:
                text_rules.append(TextRule(k, _regex(path, f"noise.text.{k}", r)))
    lines_data = noise_data.get("lines", {})
    if not isinstance(lines_data, dict):
        raise _fail(path, "noise.lines", "expected a table of kind = [regex, ...]")
    _check_keys(path, "noise.lines", lines_data, set(NOISE_KINDS))
    lines = {k: tuple(_regex(path, f"noise.lines.{k}", r) for r in _list(path, f"noise.lines.{k}", v))
             for k, v in lines_data.items()}

    pw = data.get("paywall", {})
    if not isinstance(pw, dict):
        raise _fail(path, "paywall", "expected a table")
    _check_keys(path, "paywall", pw, _PAYWALL_KEYS)
    pw_json = []
    for v in _list(path, "paywall.json", pw.get("json", [])):
        if not isinstance(v, dict) or set(v) - {"script", "path", "sets"} or not {"script", "path"} <= set(v):
            raise _fail(path, "paywall.json", "each entry needs script, path (and optional sets)")
        sets = v.get("sets", "truncated")
        if sets not in ("detected", "truncated"):
            raise _fail(path, "paywall.json.sets", f"expected 'detected' or 'truncated', got {sets!r}")
        pw_json.append(JsonFlag(_css(path, "paywall.json.script", v["script"]), tuple(str(v["path"]).split(".")), sets))

    pages = data.get("pages", {})
    if not isinstance(pages, dict):
        raise _fail(path, "pages", "expected a table")
    _check_keys(path, "pages", pages, {"next"})
    next_pages = tuple(parse_source(path, "pages.next", v) for v in _list(path, "pages.next", pages.get("next", [])))

    split = None
    if "split" in data:
        sd = data["split"]
        if not isinstance(sd, dict) or "date_line" not in sd:
            raise _fail(path, "split", "expected a table with at least date_line")
        _check_keys(path, "split", sd, _SPLIT_KEYS)
        split = SplitRule(
            separator=_css(path, "split.separator", sd["separator"]) if "separator" in sd else None,
            date_line=_regex(path, "split.date_line", sd["date_line"]),
            marker=_regex(path, "split.marker", sd["marker"]) if "marker" in sd else None,
            comment_prefix=sd.get("comment_prefix"),
            outlets=tuple(sd.get("outlets", [])),
            comment=_css(path, "split.comment", sd["comment"]) if "comment" in sd else None,
            title_suffix=_regex(path, "split.title_suffix", sd["title_suffix"]) if "title_suffix" in sd else None,
        )

    return Profile(
        name=name, path=path, domains=tuple(d.lower() for d in domains),
        description=str(data.get("description", "")), site_name=data.get("site_name"),
        timezone=tz, fields=fields, body=body, body_end=body_end, blocks=blocks, images=tuple(images),
        citations=citations, noise=noise, lines=lines, text_rules=tuple(text_rules),
        paywall_detected=tuple(_css(path, "paywall.detected", s) for s in _list(path, "paywall.detected", pw.get("detected", []))),
        paywall_truncated=tuple(_css(path, "paywall.truncated", s) for s in _list(path, "paywall.truncated", pw.get("truncated", []))),
        paywall_json=tuple(pw_json),
        paywall_boundary=tuple(_regex(path, "paywall.boundary", r) for r in _list(path, "paywall.boundary", pw.get("boundary", []))),
        next_pages=next_pages, split=split, furigana=furigana, version=version, versions=versions,
    )


def load_profile_file(path: Path) -> Profile:
    return parse_profile(read_toml(path, ProfileError), str(path))


def profile_dirs(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    dirs = [PROFILE_DIR]
    env = os.environ.get("KIRINUKI_PROFILES")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.extend(Path(d) for d in extra_dirs)
    return dirs


def load_profiles(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> ProfileSet:
    """Load the shipped profiles plus any user directories (later ones override by name)."""
    return _load(tuple(str(d) for d in profile_dirs(extra_dirs)))


@lru_cache(maxsize=8)
def _load(dirs: tuple[str, ...]) -> ProfileSet:
    profiles = []
    for d in dirs:
        p = Path(d)
        if not p.is_dir():
            raise ProfileError(f"{p}: profile directory does not exist")
        for f in sorted(p.glob("*.toml")):
            profiles.append(load_profile_file(f))
    return ProfileSet(profiles)
