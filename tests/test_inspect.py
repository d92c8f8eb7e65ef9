"""`kirinuki inspect`: each block of a page marked kept or removed, with the rule that removed it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import FIXTURES

CURATION = FIXTURES / "curation" / "2025-03-01_us-russia-relations.html"


def _inspect(tmp_path, *args):
    out = tmp_path / "inspect.html"
    res = subprocess.run([sys.executable, "-m", "kirinuki.cli", "inspect", str(CURATION), "-o", str(out), *args],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return out, out.read_text(encoding="utf-8")


def test_inspect_marks_blocks_with_their_rules(tmp_path):
    _, html = _inspect(tmp_path)
    assert "<script" not in html and "src=" not in html and "href=" not in html  # self-contained
    assert "<b>profile</b> trendmatome" in html and "<b>extraction path</b> profile" in html
    # a profile selector, the global vocabulary, and kept article text
    assert "profile noise.citation: div.source-link</span><div class='txt'>さらに読む" in html
    assert "profile noise.pager: div.next-page-box</span><div class='txt'>次のページを読む" in html
    assert "vocabulary navigation" in html
    assert "<div class='blk kept'><span class='where'>p</span><div class='txt'>トランプ大統領とプーチン大統領の電話会談から" in html


def test_inspect_shows_text_rules_and_the_generic_path_after_a_rename(tmp_path):
    import re

    page = tmp_path / "renamed.html"
    html = CURATION.read_text(encoding="utf-8")
    keep = {"entry-content", "entry-title"}
    page.write_text(re.sub(r'\bclass="([^"]*)"', lambda m: 'class="' + " ".join(
        t if t in keep else "v2-" + t for t in m.group(1).split()) + '"', html), encoding="utf-8")
    out = tmp_path / "inspect.html"
    res = subprocess.run([sys.executable, "-m", "kirinuki.cli", "inspect", str(page), "-o", str(out),
                          "--url", "https://www.trend-matome.example.jp/politics/us-russia-2025/"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert "profile noise.text.pager: ^次のページを読む" in text
    assert "profile noise.text.citation: ^さらに読む" in text


@pytest.mark.e2e
def test_inspect_page_renders_in_chromium(tmp_path):
    from tests.test_report import _png_colors, screenshot

    out, _ = _inspect(tmp_path)
    png = tmp_path / "inspect.png"
    screenshot(out, png, tmp_path, size="1100,1400")
    colors = _png_colors(png)
    # the kept (green) and removed (red) bars are drawn
    assert (0x2E, 0x9E, 0x44) in colors and (0xD4, 0x3C, 0x3C) in colors
