"""A profile whose template changed: the page still comes out, through the generic path, flagged."""

from __future__ import annotations

import json
import re

from kirinuki.pipelines import Page, clean

from tests.conftest import FIXTURES

STORY = FIXTURES / "newsweekjapan" / "2017-10-10_putin-north-korea"


def renamed(html: str) -> str:
    """The same page after a redesign that renamed every class and id."""
    def rename(m: re.Match[str]) -> str:
        return f'{m.group(1)}="' + " ".join("v2-" + t for t in m.group(2).split()) + '"'
    return re.sub(r'\b(class|id)="([^"]*)"', rename, html)


def _page(html: str) -> Page:
    src = json.loads(STORY.with_suffix(".json").read_text(encoding="utf-8"))["source"]
    return Page(url=src["url"], body=html.encode("utf-8"), fetched_at=src["fetched_at"])


def test_profile_that_still_matches_is_not_flagged():
    rec = clean(_page(STORY.with_suffix(".html").read_text(encoding="utf-8")))[0]
    assert rec["extraction"]["method"] == "profile" and "profile_missed" not in rec["flags"]


def test_renamed_template_goes_generic_flagged_and_keeps_the_text():
    html = STORY.with_suffix(".html").read_text(encoding="utf-8")
    good = clean(_page(html))[0]
    rec = clean(_page(renamed(html)))[0]
    assert rec["extraction"] == {**good["extraction"], "method": "generic"}
    assert "profile_missed" in rec["flags"]
    kept = [p for p in good["text"].split("\n\n") if p in rec["text"]]
    assert sum(map(len, kept)) >= 0.95 * len(good["text"])
    # metadata from the profile's meta/JSON-LD sources is still applied
    assert rec["title"] == good["title"] and rec["published_at"] == good["published_at"]


def test_body_selector_hitting_a_fragment_counts_as_missed():
    html = STORY.with_suffix(".html").read_text(encoding="utf-8")
    # the redesign put the old body class on a one-line box; the article moved elsewhere
    html = renamed(html).replace('<p class="v2-', '<div class="entryDetailBodyCopy"><p>Teaser</p></div><p class="v2-', 1)
    rec = clean(_page(html))[0]
    assert "profile_missed" in rec["flags"] and rec["extraction"]["method"] == "generic"
    assert len(rec["text"]) > 500
