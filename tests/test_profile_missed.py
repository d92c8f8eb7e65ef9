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


CURATION = FIXTURES / "curation" / "2025-03-01_us-russia-relations"
# what the redesign kept: the body and header classes (the boxes inside were renamed)
BODY_KEPT = {"entry-content", "entry-title", "subtitle", "entry-date", "updated", "author-name"}


def _curation(keep: set[str] = frozenset()) -> tuple[Page, dict, dict]:
    meta = json.loads(CURATION.with_suffix(".json").read_text(encoding="utf-8"))
    html = CURATION.with_suffix(".html").read_text(encoding="utf-8")

    def rename(m: re.Match[str]) -> str:
        return f'{m.group(1)}="' + " ".join(t if t in keep else "v2-" + t for t in m.group(2).split()) + '"'

    src = meta["source"]
    page = Page(url=src["url"], body=re.sub(r'\b(class|id)="([^"]*)"', rename, html).encode(),
                fetched_at=src["fetched_at"])
    good = clean(Page(url=src["url"], body=html.encode(), fetched_at=src["fetched_at"]))[0]
    return page, good, meta["checks"]


def test_renamed_curation_page_is_flagged_keeps_its_text_and_leaks_no_noise():
    page, good, checks = _curation()
    rec = clean(page)[0]
    assert "profile_missed" in rec["flags"] and rec["extraction"]["method"] == "generic"
    kept = [p for p in good["text"].split("\n\n") if p in rec["text"]]
    assert sum(map(len, kept)) >= 0.95 * sum(len(p) for p in good["text"].split("\n\n"))
    leaks = [s for s in checks["all"]["absent"] if s in rec["text"]]
    assert leaks == []
    # the cited sources are still found, by their link text
    assert set(good["citations"]) <= set(rec["citations"])


def test_renamed_boxes_inside_a_matching_body_are_caught_by_their_words():
    """The issue's case: the pager box got another class, the body did not."""
    page, good, checks = _curation(BODY_KEPT)
    rec = clean(page)[0]
    assert rec["extraction"]["method"] == "profile" and "profile_missed" not in rec["flags"]
    assert [s for s in checks["all"]["absent"] if s in rec["text"]] == []
    assert rec["text"] == good["text"]
    assert rec["removed"]["pager"] >= 1 and rec["removed"]["citation"] >= 2


def test_next_page_link_found_by_its_text_after_a_rename():
    from kirinuki.pipelines import continuation_urls

    page, _, _ = _curation()
    assert continuation_urls(page) == ["https://www.trend-matome.example.jp/politics/us-russia-2025/2/"]
