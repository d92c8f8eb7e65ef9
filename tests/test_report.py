"""The run report (issue 8): self-contained HTML, alerts first, charts; rendered in Chromium."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kirinuki.scraper.history import SourceRun

from kirinuki.demo.server import SiteServer
from kirinuki.report import render_report
from tests.crawl_server import paragraphs, run_crawl, write_sources
from tests.unattended_sites import FeedSite, write_profile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--hide-scrollbars"]


def _run(i: int, new: int, median: float | None, alerts=()) -> SourceRun:
    counters = {"discovered": new, "fetched": new, "new": new, "failed": 0,
                "failed_reasons": {"feed:http_503": 1} if alerts else {}}
    return SourceRun(f"crawl-{i}", "s", f"2026-03-0{i}T10:00:00+00:00", counters, median,
                     tuple(alerts))


def test_report_is_self_contained_with_alerts_first():
    alert = {"kind": "short_text", "source": "b", "detail": "1 record(s)",
             "urls": ["http://b.test/a<1>.html"]}
    runs = {"a": [_run(1, 5, 900.0), _run(2, 3, 950.0)],
            "b": [_run(1, 4, 1000.0), _run(2, 0, None), _run(3, 2, 120.0, [alert])]}
    html = render_report(runs, [], "report", datetime(2026, 3, 3, tzinfo=UTC))
    assert "<script" not in html and "@import" not in html and "@font-face" not in html
    for attr in ("src=", "href="):
        assert attr not in html  # nothing fetched from anywhere
    assert html.index("Alerts") < html.index("Sources")
    assert html.index("<h3>b ") < html.index("<h3>a ")  # a source with alerts comes first
    assert "http://b.test/a&lt;1&gt;.html" in html  # escaped
    assert html.count("<svg") == 4 and html.count("<rect x=") >= 5
    assert "feed:http_503 1" in html


def _png_colors(path: Path) -> set[tuple[int, int, int]]:
    """Distinct RGB colours of a PNG (stdlib only: Chromium writes 8-bit RGBA, filtered rows)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 6
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colors = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colors.update(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return colors


def screenshot(html: Path, png: Path, tmp: Path, size: str = "1280,1300") -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed (.ci/run installs Debian's chromium)")
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
           f"--window-size={size}", f"--screenshot={png}", html.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.exists(), res.stderr[-2000:]


@pytest.mark.e2e
def test_report_after_drifting_runs_renders_in_chromium(tmp_path):
    with SiteServer() as s1, SiteServer() as s2, SiteServer() as s3, SiteServer() as s4:
        news, drift = FeedSite(s1, "news", 6), FeedSite(s2, "drift", 4, profiled=True)
        down, steady = FeedSite(s3, "down", 3), FeedSite(s4, "steady", 4)
        profiles = write_profile(tmp_path / "profiles").parent
        sources = write_sources(
            tmp_path / "sources.toml",
            [news.source(), drift.source(), down.source(), steady.source()],
            crawl={"profiles_dirs": [str(profiles)], "workers": 0})
        out = tmp_path / "out"
        steps = [
            lambda: None,
            lambda: (news.add(2), drift.add(2), steady.add(1)),
            lambda: (news.add(3), drift.add(1)),
            lambda: (news.add(2), drift.add(2, body_class="content-v2"), steady.add(1)),
            lambda: (news.add(3, paras=paragraphs(1, "速報")[:1]),
                     news.change(4, news.page(4, paras=paragraphs(1, "切り詰め")[:1])),
                     drift.add(1, body_class="content-v2"), s3.stop(), steady.add(1)),
        ]
        for step in steps:
            step()
            res = run_crawl(sources, out)
            assert res.returncode in (0, 1), res.stderr[-2000:]
        assert res.returncode == 1
        report = out / "report.html"
        html = report.read_text(encoding="utf-8")
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert html.index("source_failed") < html.index("<h2>Sources")
    for kind in ("source_failed", "profile_missed", "short_text"):
        assert f"<span class=\"kind {kind}\">" in html
    assert html.count("<svg") == 8
    png = tmp_path / "report.png"
    screenshot(report, png, tmp_path)
    colors = _png_colors(png)
    assert (0x2E, 0x6F, 0xD8) in colors  # the bars of "articles per run"
    assert (0x12, 0x80, 0x5C) in colors  # the median-length line and its dots
    assert (0xD9, 0x2D, 0x20) in colors  # the held version stacked in red
    assert (0xB4, 0x23, 0x18) in colors  # the source_failed badge
    if os.environ.get("KIRINUKI_REPORT_SCREENSHOT"):  # how docs/report.png is made
        shutil.copy(png, os.environ["KIRINUKI_REPORT_SCREENSHOT"])
        shutil.copy(report, Path(os.environ["KIRINUKI_REPORT_SCREENSHOT"]).with_suffix(".html"))
