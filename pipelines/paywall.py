"""Paywall detection from structured signals, then profile markers; never a bare word match.

Related-article lists on free pages also carry 有料/lock words, so text is only
used for a site's documented boundary (note's "ここから先は…").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kirinuki.pipelines.blocks import Block
from kirinuki.pipelines.jsonld import article_objects
from kirinuki.pipelines.profiles import Profile
from lxml import etree


@dataclass(slots=True)
class Paywall:
    detected: bool = False
    truncated: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"detected": self.detected, "truncated": self.truncated}


def _path(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return None
    return data


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return bool(v)


def detect_paywall(root: etree._Element, objs: list[dict[str, Any]], profile: Profile | None) -> Paywall:
    """Signals read from the untouched tree (noise removal deletes the paywall containers)."""
    pw = Paywall()
    for obj in article_objects(objs):
        free = obj.get("isAccessibleForFree")
        if free is not None and not _truthy(free):
            pw.detected = True
    if profile is None:
        return pw
    for flag in profile.paywall_json:
        for script in flag.selector(root):
            try:
                data = json.loads(script.text or "")
            except (ValueError, RecursionError):
                continue
            value = _path(data, flag.path)
            if value is not None:
                # The hydrate JSON exists on every article, locked or not: its presence alone
                # says the site has a paywall; its value says whether this copy is cut.
                pw.detected = True
                if flag.sets == "truncated" and _truthy(value):
                    pw.truncated = True
    if any(sel(root) for sel in profile.paywall_detected):
        pw.detected = True
    if any(sel(root) for sel in profile.paywall_truncated):
        pw.detected = pw.truncated = True
    return pw


def cut_at_boundary(blocks: list[Block], profile: Profile | None, pw: Paywall) -> list[Block]:
    """Drop the paid-boundary block and everything after it (note: 'ここから先は…')."""
    if profile is None or not profile.paywall_boundary:
        return blocks
    for i, b in enumerate(blocks):
        if len(b.text) <= 120 and any(p.search(b.text) for p in profile.paywall_boundary):
            pw.detected = pw.truncated = True
            return blocks[:i]
    return blocks
