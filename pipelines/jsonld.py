"""JSON-LD: the article object a page publishes about itself (NewsArticle, BlogPosting...)."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

ARTICLE_TYPES = frozenset({
    "article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
    "opinionnewsarticle", "backgroundnewsarticle", "reviewnewsarticle", "liveblogposting",
    "socialmediaposting", "techarticle", "scholarlyarticle", "report", "posting",
})


def _walk(obj: Any, out: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 20:  # real JSON-LD nests a few levels; a pathological script is not followed
        return
    if isinstance(obj, list):
        for o in obj:
            _walk(o, out, depth + 1)
    elif isinstance(obj, dict):
        out.append(obj)
        if "@graph" in obj:
            _walk(obj["@graph"], out, depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type", [])
    if isinstance(t, str):
        t = [t]
    return {str(x).lower() for x in t if isinstance(x, str)}


def parse_jsonld(root: etree._Element) -> list[dict[str, Any]]:
    """All JSON-LD objects of the page, article-like ones first; broken scripts are skipped."""
    objs: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            try:  # common breakage: raw newlines / trailing commas; one lenient retry
                data = json.loads(raw.replace("\n", " ").replace(",}", "}").replace(",]", "]"))
            except (ValueError, RecursionError):
                continue
        _walk(data, objs)
    articles = [o for o in objs if _types(o) & ARTICLE_TYPES]
    others = [o for o in objs if not (_types(o) & ARTICLE_TYPES)]
    return articles + others


def article_objects(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if _types(o) & ARTICLE_TYPES]


def resolve(obj: Any, path: list[str]) -> list[Any]:
    """Values at a dotted path; lists fan out (author.name over several authors)."""
    if not path:
        return obj if isinstance(obj, list) else [obj]
    if isinstance(obj, list):
        out: list[Any] = []
        for o in obj:
            out.extend(resolve(o, path))
        return out
    if isinstance(obj, dict) and path[0] in obj:
        return resolve(obj[path[0]], path[1:])
    return []


def is_person(obj: Any) -> bool:
    return isinstance(obj, dict) and "person" in _types(obj)
