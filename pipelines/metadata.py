"""Article metadata: profile sources first, then JSON-LD, OpenGraph/meta, and htmldate."""

from __future__ import annotations

import html
import re
from datetime import UTC, timedelta, timezone
from typing import TYPE_CHECKING, Any

from kirinuki.pipelines.jadates import JST, parse_date
from kirinuki.pipelines.jsonld import article_objects, is_person, resolve
from kirinuki.pipelines.normalize import http_url, normalize_field, normalize_text
from kirinuki.pipelines.profiles import FieldSource, Profile, parse_source
from lxml import etree

if TYPE_CHECKING:
    from kirinuki.pipelines.doc import Doc, MetaIndex

# Generic sources, tried after the profile's own (a profile only lists what differs).
_DEFAULTS: dict[str, list[str]] = {
    "title": ["jsonld:headline", "meta:og:title", "meta:twitter:title", "h1", "title"],
    "subtitle": [],
    "published": [
        "jsonld:datePublished", "meta:article:published_time", "meta:og:published_time",
        "meta:pubdate", "meta:publishdate", "meta:date", "meta:dc.date", "meta:DC.date.issued",
        "meta:sailthru.date", "meta:parsely-pub-date", "time[pubdate]@datetime",
    ],
    "modified": ["jsonld:dateModified", "meta:article:modified_time", "meta:og:updated_time"],
    "authors": ["jsonld:author", "meta:author", "meta:article:author", "meta:cXenseParse:author",
                "meta:parsely-author", "meta:sailthru.author"],
    "section": ["meta:article:section", "jsonld:articleSection"],
    "tags": ["meta:article:tag", "jsonld:keywords", "meta:news_keywords"],
    "site_name": ["meta:og:site_name", "jsonld:publisher.name", "meta:application-name"],
    "canonical": ["link[rel=canonical]@href", "meta:og:url"],
}
_DEFAULT_SOURCES = {k: [parse_source("<defaults>", k, v) for v in vs] for k, vs in _DEFAULTS.items()}
_MULTI = {"authors", "tags"}
_TAG_SEPARATOR_RE = re.compile(r"[,、]")
_DATELINE_RE = re.compile(r"^【([^】=]{1,40})=([^】]{1,40})】")
_TRAILING_BYLINE_RE = re.compile(r"^\((?:[^()=]{0,20}=)?(?:編集委員|論説委員|特別編集委員|記者)?\s*([^()=、,]{2,20})\)$")
_AUTHOR_PREFIX = re.compile(
    r"^(?:(?:written|words|story|reporting)\s+by|by|von|par|por|door|av|text|autor|autorin|author|文|写真|取材・文|文・写真|筆者|著者|記者)(?:\s*[:/:]\s*|\s+)",
    re.I)
# A printed byline run together with a label before it ("Capital Von Jemima Kelly").
_INNER_BY_RE = re.compile(r"^.{1,30}?\s(?:By|Von|Par|Por|Door|Av)\s+(?=\S)")


def _jsonld_values(objs: list[dict[str, Any]], path: str) -> list[Any]:
    for obj in article_objects(objs) or objs:
        vals = resolve(obj, path.split("."))
        vals = [v for v in vals if v not in (None, "", [], {})]
        if vals:
            return vals
    return []


def _css_values(root: etree._Element, src: FieldSource) -> list[str]:
    out = []
    for el in src.selector(root):  # type: ignore[misc]
        if src.attr == "owntext":
            # The element's own text nodes only (a name followed by a <span> with the blog title).
            v = "".join([el.text or ""] + [c.tail or "" for c in el])
        elif src.attr:
            v = el.get(src.attr)
        else:
            v = " ".join(el.itertext())
        if v and v.strip():
            out.append(v.strip())
    return out


def _links_by_text(root: etree._Element, src: FieldSource) -> list[str]:
    """`text:REGEX`: the href of every link whose text matches (a pager renamed by a redesign
    still says 次のページ)."""
    out = []
    for a in root.iter("a"):
        href = a.get("href")
        if href and src.match is not None and src.match.search(normalize_text(" ".join(a.itertext()))):
            out.append(href.strip())
    return out


def source_values(doc: Doc, src: FieldSource, field: str) -> list[Any]:
    """What one profile source (`meta:`, `jsonld:` or a CSS selector) reads from the page."""
    if src.kind == "defaults":
        return []
    if src.kind == "meta":
        vals: list[Any] = doc.meta_values(src.expr)
    elif src.kind == "jsonld":
        vals = _jsonld_values(doc.jsonld, src.expr)
        if field == "authors":
            vals = _author_names(vals)
    elif src.kind == "text":
        vals = _links_by_text(doc.root, src)
    else:
        vals = _css_values(doc.root, src)
    if src.pattern is not None:
        out = []
        for v in vals:
            if isinstance(v, str):
                m = src.pattern.search(v)
                if m:
                    out.append(m.group(1) if m.groups() else m.group(0))
        vals = out
    return vals


def _author_names(vals: list[Any]) -> list[str]:
    out = []
    for v in vals:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            # An Organization as author (Nikkei's 日本経済新聞社) is not a byline.
            if "@type" in v and not is_person(v):
                continue
            name = v.get("name")
            if not isinstance(name, str) or not name.strip():
                # schema.org lets a Person be named by its parts only (derStandard's three authors)
                parts = [v.get(k) for k in ("givenName", "additionalName", "familyName")]
                name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
            if name:
                out.append(name)
    return out


def read_field(doc: Doc, profile: Profile | None, field: str) -> list[Any]:
    # A profile that lists a field owns it: the generic sources are added back only when the
    # list ends with "@defaults" (Nikkei's meta author is the company, not a byline).
    if profile and field in profile.fields:
        sources = [s for s in profile.fields[field] if s.expr != "@defaults"]
        if any(s.expr == "@defaults" for s in profile.fields[field]):
            sources += _DEFAULT_SOURCES.get(field, [])
    else:
        sources = list(_DEFAULT_SOURCES.get(field, []))
    for src in sources:
        vals = source_values(doc, src, field)
        if vals:
            return vals
    return []


_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|、|;|\||/| and | und | et | y | og | och | e | ja |&)\s*")
_EMAIL_RE = re.compile(r"\S+@\S+\.\w+")
_DOMAIN_RE = re.compile(r"^(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}$", re.I)
_URL_PAREN_RE = re.compile(r"\s*\((?:https?://|www\.)[^)]*\)|\s*(?:https?://|www\.)\S+")
_CREDIT_RE = re.compile(r"^\(|\b(?:image|photo|foto|bild|picture|credit|getty)s?\s*:", re.I)
# A job title after a name ("TOM KRISHER;AP Auto Writer"), never a name itself.
_JOB_RE = re.compile(
    r"\b(?:writer|correspondent|editor|reporter|columnist|contributor|journalist|producer|"
    r"redakteur|redakteurin|korrespondent|korrespondentin|chefredakt\w*|rédact\w*|"
    r"corresponsal|redactor|redactora|giornalista|inviat[oa])\b", re.I)
_CJK_NAME_RE = re.compile(r"^[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{1,4}$")
# Who else worked on the piece, printed after the writer ("Written by X<br>Edited by Y"): not authors.
_OTHER_CREDIT_RE = re.compile(
    r"\s*\b(?:with\s+)?(?:edited|reviewed|fact[- ]checked|translated|illustrated|photographed|produced|"
    r"additional reporting|redigiert|bearbeitet|übersetzt)\s+(?:by|von)\b.*$", re.I)
# A CMS identifier in an author field (people.cn's `L_104485`): one word holding a digit or `_`.
_ID_RE = re.compile(r"^\S*[\d_]\S*$")


def _author_part(part: str, cjk_page: bool) -> str | None:
    """One candidate name, or None when it is not the name of whoever wrote the piece."""
    part = _INNER_BY_RE.sub("", _URL_PAREN_RE.sub("", part))
    part = re.sub(r"\s+\d+$", "", part).strip(" 　・:-–—()")
    if not part or len(part) > 60 or _EMAIL_RE.search(part) or _DOMAIN_RE.match(part):
        return None
    if _CREDIT_RE.search(part) or not re.search(r"[^\W\d_]", part) or _ID_RE.match(part):
        return None
    if not cjk_page and _CJK_NAME_RE.match(part):  # a lone kanji pair on a Latin page
        return None
    return part


def clean_authors(values: list[Any], cjk_page: bool = True) -> list[str]:
    """Names of the people or organisations that wrote the piece (issue 10): e-mail addresses,
    bare domains, URLs after an outlet's name, photo credits, job titles after a separator,
    numbers, and (on a page not written in CJK) lone CJK fragments are not names."""
    out: list[str] = []
    for v in values:
        if not isinstance(v, str):
            continue
        v = normalize_text(v)
        if not v or v.startswith("http") or len(v) > 80:
            continue
        if _CREDIT_RE.search(v):
            continue
        v = _AUTHOR_PREFIX.sub("", _OTHER_CREDIT_RE.sub("", _URL_PAREN_RE.sub("", v)))
        for i, raw in enumerate(_AUTHOR_SPLIT_RE.split(v)):
            part = _author_part(raw, cjk_page)
            if part and i and _JOB_RE.search(part):
                continue  # "TOM KRISHER;AP Auto Writer": the title after a name
            if part and part not in out:
                out.append(part)
    return out


# Where a printed byline can be: trafilatura's author XPaths look at these markers (class, id,
# rel, itemprop, data attributes naming an author or byline). `class` and `id` are compared with
# the capitals of "author" and "byline" folded, as the XPath `translate()` this replaces did.
_MARKER_FOLD = str.maketrans("ABHILNORTUY", "abhilnortuy")


def byline_marked(root: etree._Element) -> bool:
    """Whether any element carries a byline marker. A loop that stops at the first one: the
    XPath it replaces folded the case of every class and id of the page, 13 ms a page (issue 10)."""
    for el in root.iter():
        get = el.get
        if get("rel") == "author":
            return True
        cls = get("class")
        if cls and ("writer" in cls or "autor" in cls or "auteur" in cls):
            return True
        for value in (cls, get("id")):
            if value:
                folded = value.translate(_MARKER_FOLD)
                if "author" in folded or "byline" in folded:
                    return True
        for name, word in (("itemprop", "author"), ("data-testid", "author"), ("data-component", "byline")):
            value = get(name)
            if value and word in value:
                return True
    return False


def byline_authors(doc: Doc, cjk_page: bool) -> list[str]:
    """The byline printed in the page (trafilatura's author XPaths: `rel=author`, `.byline`,
    `itemprop=author`...), for pages whose metadata names nobody or only the outlet."""
    from kirinuki.pipelines.byline_xpaths import extract_author

    if "large_page" in doc.flags or not byline_marked(doc.root):
        return []  # not for nothing, nor on a huge page
    try:
        found = extract_author(doc.root)
    except Exception:  # a byline is never worth a page
        return []
    return clean_authors([found], cjk_page) if found else []


def clean_tags(values: list[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        # Split on the separators alone and let normalize_text strip each part: `\s*[,、]\s*`
        # retried every start in a run of spaces (quadratic: a 150 KB keywords value took 104 s).
        parts = v if isinstance(v, list) else _TAG_SEPARATOR_RE.split(v) if isinstance(v, str) else []
        for p in parts:
            p = normalize_text(str(p)).lstrip("#")
            if p and p not in out:
                out.append(p)
    return out


def unescape_field(value: str | None) -> str | None:
    """Entities left in a metadata value (`zerst&ouml;ren`, `Kohberger&#8217;s`): pages escape
    meta content twice, and a title must never hold markup (issue 10)."""
    if not value or "&" not in value:
        return value
    return normalize_field(html.unescape(value))


SECTION_MAX_WORDS = 6


def clean_section(value: str | None) -> str | None:
    """A section name, not a tag list or a headline (issue 10): `Global,Innovation` is the
    section Global; three or more comma-separated names are tags; a long phrase is a headline."""
    value = unescape_field(normalize_field(value))
    if not value:
        return None
    parts = [p.strip() for p in re.split(r"[,、]", value) if p.strip()]
    if len(parts) >= 3 or not parts:
        return None
    value = parts[0]
    return value if len(value.split()) <= SECTION_MAX_WORDS and len(value) <= 60 else None


def strip_site_suffix(title: str | None, site_name: str | None) -> str | None:
    if not title or not site_name:
        return title
    for sep in (" - ", " | ", "｜", " | ", " – ", " — ", "|", " :: "):
        suffix = normalize_text(sep + site_name) if sep.strip() else sep + site_name
        if title.endswith(sep + site_name) or title.endswith(suffix):
            return title[: -len(sep + site_name)].strip() or title
    return title


_TITLE_SEGMENT_RE = re.compile(r"\s+[|\-–—·•]\s+|\s*[|｜]\s*|\s+::\s+")


def printed_headline_segment(title: str | None, root: etree._Element) -> str | None:
    """The segment of a decorated title ("DW | 28.04.2023 | Headline", "Headline | Outlet
    Zeitung") that the page prints as its <h1>: the rest is the site's decoration, whatever
    the site calls itself (issue 10)."""
    if not title or not _TITLE_SEGMENT_RE.search(title):
        return title
    segments = {normalize_text(s) for s in _TITLE_SEGMENT_RE.split(title)}
    for n, h1 in enumerate(root.iter("h1")):
        if n == 3:
            break
        text = normalize_text(h1.text_content())
        if text != title and len(text) >= 8 and text in segments:
            return text
    return title


def dateline_author(first_text: str) -> str | None:
    m = _DATELINE_RE.match(first_text)
    if m:
        name = m.group(2).strip()
        if 1 < len(name) <= 20 and not re.search(r"\d", name):
            return name
    return None


def trailing_byline(last_text: str) -> str | None:
    m = _TRAILING_BYLINE_RE.match(last_text)
    if m and ("=" in last_text or "委員" in last_text or "記者" in last_text):
        return m.group(1).strip()
    return None


_KANA_RE = re.compile(r"[\u3041-\u309f\u30a1-\u30fa]")


def tz_of(profile: Profile | None) -> timezone:
    if profile and profile.timezone:
        sign = 1 if profile.timezone[0] == "+" else -1
        h, m = profile.timezone[1:].split(":")
        return timezone(sign * timedelta(hours=int(h), minutes=int(m)))
    return JST


def page_timezone(profile: Profile | None, root: etree._Element, meta: MetaIndex,
                  text_sample: str) -> timezone:
    """Zone for dates written without an offset: the profile's, Japan time for a Japanese page,
    else UTC. Kana is the sign of Japanese (Chinese pages have none)."""
    if profile and profile.timezone:
        return tz_of(profile)
    lang = (root.get("lang") or root.get("xml:lang") or "").lower()
    locale = next(iter(meta.get("og:locale", ())), "").lower()
    if lang.startswith("ja") or locale.startswith("ja") or _KANA_RE.search(text_sample):
        return JST
    return UTC


_LABELLED_DATE_RE = re.compile(
    # Every `\s*` is followed by a required character, so a run of spaces is read one way only
    # (adjacent optional `\s*`s split a run in every possible way: cubic on unnormalized text).
    r"(?:(?P<label>公開日?|投稿日?|掲載日?|配信日?|発行日?|更新日?|作成日|最終更新日?)\s*(?:時\s*)?(?:[::]\s*)?"
    r"(?P<d1>(?:令和|平成|\d{4})[^\n]{3,24}))"
    r"|(?P<d2>\d{4}\s*[年./・-]\s*\d{1,2}\s*[月./・-]\s*\d{1,2}(?:\s*日)?(?:\s*\([^)]{1,3}\))?"
    r"(?:\s*\d{1,2}\s*[:時]\s*\d{2}(?:\s*分)?)?)\s*(?P<label2>公開|投稿|掲載|配信|発行|更新)"
)


def labelled_date(root: etree._Element, tz: timezone) -> str | None:
    """A date the page labels as its own (`公開日:2024/6/1`, `2024年6月2日 公開`), for pages
    with no date metadata; a publication label beats an update label."""
    body = root.find("body")
    parts: list[str] = []
    size = 0
    for t in (body if body is not None else root).itertext():  # the first 20,000 characters only
        parts.append(t)
        size += len(t) + 1
        if size > 20000:
            break
    text = normalize_text(" ".join(parts)[:20000])
    found: list[tuple[int, str]] = []
    for m in _LABELLED_DATE_RE.finditer(text):
        label = m.group("label") or m.group("label2") or ""
        raw = m.group("d1") or m.group("d2")
        d = parse_date(raw, tz)
        if d:
            found.append((1 if "更新" in label else 0, d))
    return min(found, key=lambda x: x[0])[1] if found else None


_TIME_RE = re.compile(r"\d\s*[:時]\s*\d{2}|T\d{2}|\d{10}")  # hh:mm, 12時30分, ISO T, epoch seconds


def has_time(value: str) -> bool:
    """Whether a date string gives a time of day; without one, `T00:00:00` is not a fact."""
    return bool(_TIME_RE.search(value))


def first_date_raw(values: list[Any], tz: timezone, target: timezone | None) -> tuple[str | None, str | None]:
    """The first parseable date and the string it came from (to tell whether it had a time)."""
    for v in values:
        d = parse_date(v if isinstance(v, str) else None, tz, target)
        if d:
            return d, v
    return None, None


def date_only_flags(dates: dict[str, tuple[str | None, str | None]]) -> list[str]:
    """`published_date_only` / `modified_date_only` for dates the page gave without a time: the
    record keeps ISO 8601 with an offset (midnight in the page's zone), and the flag says that
    the time and offset are not the publisher's (issue 10; README "Dates")."""
    return [f"{name}_date_only" for name, (d, raw) in dates.items() if d and raw and not has_time(raw)]


def extract_metadata(doc: Doc) -> dict[str, Any]:
    """Metadata read from the untouched page tree (before noise removal)."""
    profile, base_url, tz = doc.profile, doc.url, doc.tz
    target = tz if profile and profile.timezone else None
    site_name = profile.site_name if profile and profile.site_name else None
    if profile and "site_name" in profile.fields:
        site_name = normalize_field(next(iter(read_field(doc, profile, "site_name")), None)) or site_name
    if not site_name:
        site_name = normalize_field(next(iter(read_field(doc, None, "site_name")), None))
    title = unescape_field(normalize_field(next((v for v in read_field(doc, profile, "title") if isinstance(v, str)), None)))
    title = printed_headline_segment(strip_site_suffix(title, site_name), doc.root)
    subtitle = normalize_field(next((v for v in read_field(doc, profile, "subtitle") if isinstance(v, str)), None))
    canonical = next((v for v in read_field(doc, profile, "canonical") if isinstance(v, str)), None)
    canonical = http_url(base_url, canonical)
    published = first_date_raw(read_field(doc, profile, "published"), tz, target)
    modified = first_date_raw(read_field(doc, profile, "modified"), tz, target)
    section_vals = read_field(doc, profile, "section")
    section = None
    for v in section_vals:
        if isinstance(v, list):
            v = v[0] if v else None
        section = clean_section(v) if isinstance(v, str) else None
        if section:
            break
    return {
        "title": title,
        "subtitle": subtitle,
        "site_name": site_name,
        "canonical_url": canonical,
        "published_at": published[0],
        "modified_at": modified[0],
        "date_flags": date_only_flags({"published": published, "modified": modified}),
        "authors": _authors(doc, profile, title, site_name),
        "section": section,
        "tags": clean_tags(read_field(doc, profile, "tags")),
    }


_CJK_CHAR_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _authors(doc: Doc, profile: Profile | None, title: str | None, site_name: str | None) -> list[str]:
    lang = (doc.root.get("lang") or "").lower()[:2]
    cjk_page = lang in ("zh", "ja", "ko") or bool(title and _CJK_CHAR_RE.search(title))
    authors = clean_authors(read_field(doc, profile, "authors"), cjk_page)
    if profile and "authors" in profile.fields:
        return authors
    outlet = {x.casefold() for x in (site_name, doc.url and _host_name(doc.url)) if x}
    if not authors or all(a.casefold() in outlet for a in authors):
        return byline_authors(doc, cjk_page) or authors
    return authors


def _host_name(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return host.removeprefix("www.") or None


def htmldate_fallback(root: etree._Element, tz: timezone) -> str | None:
    """htmldate as the last resort for the publication date (it reads URLs, text and markup)."""
    try:
        from htmldate import find_date

        found = find_date(root, extensive_search=False, original_date=True)
    except Exception:  # htmldate must never abort cleaning
        return None
    return parse_date(found, tz) if found else None
