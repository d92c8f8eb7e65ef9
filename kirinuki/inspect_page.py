"""`kirinuki inspect PAGE -o inspect.html`: what each rule does to one page, for profile authors.

Every text block of the page is listed in order and marked kept (its text is in the record),
removed (with the rule that removed it: the profile's noise selector or text rule, the global
vocabulary, or a line rule) or not extracted (the body selector or the generic path left it out).
The header says which profile and extraction path were used and which flags the record got. The
output is one self-contained HTML file (no scripts, no external files).
"""

from __future__ import annotations

import argparse
import html
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from kirinuki.inputs import load_page
from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.blocks import enclosing_block, text_of
from kirinuki.pipelines.cleaner import _body_elements, _line_rules
from kirinuki.pipelines.doc import prepare
from kirinuki.pipelines.noise import _TEXT_NODES, _squash, line_kind, load_vocabulary
from kirinuki.pipelines.normalize import normalize_text
from kirinuki.pipelines.profiles import ProfileError, load_profiles

_LEAF_BLOCKS = frozenset("p h1 h2 h3 h4 h5 h6 li td th dd dt blockquote pre figcaption caption".split())
_CONTAINERS = frozenset("div section article aside nav header footer main ul ol dl table tr form".split())
TEXT_LIMIT = 400


@dataclass(slots=True)
class Entry:
    where: str  # tag.class#id
    text: str
    status: str  # kept | removed | skipped
    rule: str | None = None


def _label(el: etree._Element) -> str:
    out = str(el.tag)
    if el.get("id"):
        out += "#" + el.get("id")
    if el.get("class"):
        out += "." + ".".join(el.get("class").split())
    return out


def _rules(doc: Any) -> dict[etree._Element, str]:
    """Which element each removal rule hits on the untouched page (first rule wins)."""
    hits: dict[etree._Element, str] = {}
    profile = doc.profile
    bodies = set(_body_elements(doc))
    if profile:
        for kind, sels in profile.noise.items():
            for sel in sels:
                for el in sel(doc.root):
                    if el not in bodies:
                        hits.setdefault(el, f"profile noise.{kind}: {sel.css}")
        for node in _TEXT_NODES(doc.root):
            text = _squash(str(node))
            rule = next((r for r in profile.text_rules if r.match.search(text)), None)
            if rule is None:
                continue
            owner = node.getparent()
            if owner is not None and node.is_tail:
                owner = owner.getparent()
            target = enclosing_block(owner)
            for _ in range(rule.up):
                if target is not None and target.getparent() is not None:
                    target = target.getparent()
            if target is not None and target not in bodies:
                hits.setdefault(target, f"profile noise.text.{rule.kind}: {rule.match.pattern}")
    for el, kind in load_vocabulary().matcher.find(doc.root):
        hits.setdefault(el, f"vocabulary {kind}")
    return hits


def inspect(page: Page, profiles: Any = None) -> tuple[dict[str, Any] | None, list[Entry], str | None]:
    """The record (or None), the page's blocks with their fate, and a rejection message."""
    profiles = profiles if profiles is not None else load_profiles()
    try:
        records = clean(page, profiles)
        error = None
    except Rejected as exc:
        records, error = [], f"{exc.reason}: {exc.message}"
    kept = {b["text"] for r in records for b in r["blocks"]}
    doc = prepare(page, profiles)
    hits = _rules(doc)
    lines = _line_rules(doc.profile)
    body = doc.root.find("body")
    entries: list[Entry] = []
    if body is None:
        return (records[0] if records else None), entries, error

    def walk(el: etree._Element) -> None:
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "noscript", "template"):
            return
        text = normalize_text(text_of(el))
        if not text:
            return
        if el in hits:
            entries.append(Entry(_label(el), text[:TEXT_LIMIT], "removed", hits[el]))
            return
        children = [c for c in el if isinstance(c.tag, str) and (c.tag in _LEAF_BLOCKS or c.tag in _CONTAINERS)]
        if el.tag in _LEAF_BLOCKS or not children:
            if text in kept or any(k in text for k in kept if len(k) > 20):
                entries.append(Entry(_label(el), text[:TEXT_LIMIT], "kept"))
            else:
                kind = line_kind(text, lines)
                rule = f"line rule {kind}" if kind else None
                entries.append(Entry(_label(el), text[:TEXT_LIMIT], "removed" if kind else "skipped", rule))
            return
        for c in el:
            walk(c)

    walk(body)
    return (records[0] if records else None), entries, error


_CSS = """
body{font:14px/1.5 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 8px}
.meta{background:#fff;border:1px solid #ddd;padding:10px 14px;margin-bottom:16px}
.meta b{display:inline-block;min-width:110px}
.legend span{margin-right:14px;padding:2px 8px}
.blk{background:#fff;margin:4px 0;padding:6px 10px;border-left:8px solid #bbb}
.kept{border-color:#2e9e44;background:#eefbf0}
.removed{border-color:#d43c3c;background:#fdeeee}
.skipped{border-color:#aaa;color:#777}
.where{font:12px monospace;color:#555}
.rule{font:12px monospace;color:#b00;margin-left:8px}
.txt{white-space:pre-wrap;word-break:break-all}
"""


def render(page: Page, record: dict[str, Any] | None, entries: list[Entry], error: str | None) -> str:
    e = html.escape
    ex = (record or {}).get("extraction", {})
    counts = {s: sum(1 for x in entries if x.status == s) for s in ("kept", "removed", "skipped")}
    rows = [
        ("URL", page.url or "(none)"),
        ("profile", ex.get("profile") or "(none: generic)"),
        ("extraction path", ex.get("method") or "(no record)"),
        ("flags", ", ".join((record or {}).get("flags", [])) or "-"),
        ("title", (record or {}).get("title") or "-"),
        ("published", (record or {}).get("published_at") or "-"),
        ("removed by kind", ", ".join(f"{k} {v}" for k, v in sorted((record or {}).get("removed", {}).items())) or "-"),
        ("blocks", f"{counts['kept']} kept, {counts['removed']} removed, {counts['skipped']} not extracted"),
    ]
    if error:
        rows.append(("rejected", error))
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>kirinuki inspect</title>",
           f"<style>{_CSS}</style></head><body><h1>kirinuki inspect</h1><div class='meta'>"]
    out += [f"<div><b>{e(k)}</b> {e(str(v))}</div>" for k, v in rows]
    out.append("<div class='legend'><span class='kept'>kept</span><span class='removed'>removed (rule)"
               "</span><span class='skipped'>not extracted</span></div></div>")
    for x in entries:
        rule = f"<span class='rule'>{e(x.rule)}</span>" if x.rule else ""
        out.append(f"<div class='blk {x.status}'><span class='where'>{e(x.where)}</span>{rule}"
                   f"<div class='txt'>{e(x.text)}</div></div>")
    out.append("</body></html>")
    return "\n".join(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("page", help="a saved page (.html, .htm, .gz)")
    p.add_argument("--url", help="the page's URL (picks the profile by host)")
    p.add_argument("--profile", help="force this profile")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("-o", "--output", default="inspect.html", help="HTML file to write (default inspect.html)")


def run(args: argparse.Namespace) -> int:
    try:
        profiles = load_profiles(args.profiles_dir)
        page = load_page(args.page, url=args.url, profile=args.profile)
        record, entries, error = inspect(page, profiles)
    except (ProfileError, OSError, Rejected) as exc:
        print(f"kirinuki inspect: {exc}", file=sys.stderr)
        return 2
    Path(args.output).write_text(render(page, record, entries, error), encoding="utf-8")
    kept = sum(1 for x in entries if x.status == "kept")
    removed = sum(1 for x in entries if x.status == "removed")
    print(f"{args.output}: {len(entries)} blocks, {kept} kept, {removed} removed; "
          f"path {((record or {}).get('extraction') or {}).get('method')}")
    return 0
