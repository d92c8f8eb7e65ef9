"""`OUT/report.html`: one static page a person opens after an unattended run.

Alerts first (what needs a look, with the URLs), then held versions, then one card per source: its
last run, its counters, failures by reason, and two small charts over its last runs (articles per
run, median text length) so a drift shows at a glance. Self-contained on purpose: inline CSS and
inline SVG, no script, no web font, no external URL, so it opens from a mail attachment or a file
share as well as from disk. The data is the state's health history (`scraper.history`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from kirinuki.scraper.health import ALERT_KINDS
from kirinuki.scraper.history import Held, History, SourceRun, open_readonly
from kirinuki.scraper.statedb import is_database_url

RUNS_CHARTED = 30
COUNTERS = ("discovered", "fetched", "new", "updated", "unchanged", "not_modified", "held",
            "failed", "rejected")
URLS_SHOWN = 5

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans JP","Hiragino Sans",sans-serif;
margin:0;background:#f4f5f7;color:#1d2330;font-size:14px}
header{background:#1d2330;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c5cad3;font-size:13px}
main{padding:16px 24px;max-width:1180px}
h2{font-size:16px;margin:22px 0 8px}
.ok{background:#e3f4e8;border:1px solid #9fd4ae;padding:10px 14px;border-radius:6px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid #e1e4ea;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kind{display:inline-block;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:600;
color:#fff;white-space:nowrap}
.source_failed{background:#b42318}.no_articles{background:#c4320a}.profile_missed{background:#b54708}
.short_text{background:#7a2e98}.fields_missing{background:#175cd3}
.urls{margin:4px 0 0;padding-left:18px;font-size:12px;color:#475467;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
.card{background:#fff;border:1px solid #dfe2e8;border-radius:8px;padding:12px 14px}
.card.bad{border-color:#e8a29b;box-shadow:0 0 0 2px #fbe3e0}
.card h3{margin:0 0 4px;font-size:15px}.meta{color:#667085;font-size:12px;margin-bottom:8px}
.counts{display:flex;flex-wrap:wrap;gap:4px 6px;margin:2px 0 4px}
.counts span{background:#f2f4f7;border-radius:4px;padding:2px 7px;font-size:12px;color:#475467}
.counts b{color:#1d2330;font-variant-numeric:tabular-nums}.counts .hot{background:#fde7e5}
.chart{margin-top:8px}.chart .t{font-size:12px;color:#475467;margin-bottom:2px}
.reasons{font-size:12px;color:#475467;margin-top:6px}
"""


def write_report(db: Any, path: Path, title: str = "kirinuki run report",
                 now: datetime | None = None) -> Path:
    """Render the report from an open state connection and write it atomically."""
    history = History(db)
    runs = {name: history.source_runs(name, RUNS_CHARTED) for name in history.sources()}
    html = render_report(runs, history.held(), title, now or datetime.now(UTC))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def render_report(runs: dict[str, list[SourceRun]], held: Sequence[Held], title: str,
                  now: datetime) -> str:
    """The page (pure): `runs` is each source's last runs, oldest first."""
    latest = {name: rs[-1] for name, rs in runs.items() if rs}
    alerts = [(name, a) for name, run in latest.items() for a in run.alerts]
    order = {k: i for i, k in enumerate(ALERT_KINDS)}
    alerts.sort(key=lambda x: (order.get(x[1].get("kind"), 99), x[0]))
    last = max((r.started_at for r in latest.values()), default=None)
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><p>{len(latest)} source(s) · last run {escape(last or '-')}"
        f" · generated {escape(now.isoformat(timespec='seconds'))} · "
        f"{len(alerts)} alert(s), {len(held)} held version(s)</p></header><main>",
        _alerts(alerts), _held(held), "<h2>Sources</h2><div class=\"cards\">",
    ]
    bad_first = sorted(latest, key=lambda n: (not latest[n].alerts, n))
    parts += [_card(name, runs[name]) for name in bad_first]
    parts.append("</div></main></body></html>\n")
    return "".join(parts)


def _badge(kind: str) -> str:
    return f"<span class=\"kind {escape(kind)}\">{escape(kind)}</span>"


def _alerts(alerts: list[tuple[str, dict[str, Any]]]) -> str:
    if not alerts:
        return "<h2>Alerts</h2><p class=\"ok\">No alerts: every source's last run was healthy.</p>"
    rows = []
    for name, a in alerts:
        urls = a.get("urls") or []
        more = f"<li>… {len(urls) - URLS_SHOWN} more</li>" if len(urls) > URLS_SHOWN else ""
        items = "".join(f"<li>{escape(u)}</li>" for u in urls[:URLS_SHOWN]) + more
        rows.append(f"<tr><td>{_badge(a.get('kind', '?'))}</td><td>{escape(name)}</td>"
                    f"<td>{escape(a.get('detail') or '')}"
                    + (f"<ul class=\"urls\">{items}</ul>" if items else "") + "</td></tr>")
    return ("<h2>Alerts</h2><table><tr><th>kind</th><th>source</th><th>detail</th></tr>"
            + "".join(rows) + "</table>")


def _held(held: Sequence[Held]) -> str:
    if not held:
        return ""
    rows = "".join(
        f"<tr><td>{escape(h.source)}</td><td>{escape(h.url or h.key)}</td>"
        f"<td>{' '.join(_badge(f) for f in h.flags)}</td><td>{escape(h.detail or '')}</td>"
        f"<td>{escape(h.held_at or '')}</td></tr>" for h in held)
    return ("<h2>Held versions</h2><p>Not emitted: release with <code>kirinuki held release URL"
            "</code> once the change is judged real.</p><table><tr><th>source</th><th>url</th>"
            f"<th>flags</th><th>detail</th><th>held at</th></tr>{rows}</table>")


def _card(name: str, runs: list[SourceRun]) -> str:
    run = runs[-1]
    c = run.counters
    badges = " ".join(_badge(a.get("kind", "?")) for a in run.alerts)
    hot = ' class="hot"'
    counts = "".join(
        f"<span{hot if k in ('held', 'failed') and c.get(k) else ''}>"
        f"<b>{int(c.get(k, 0) or 0)}</b> {escape(k.replace('_', ' '))}</span>" for k in COUNTERS)
    reasons = []
    for group in ("failed", "rejected"):
        rs = c.get(f"{group}_reasons") or {}
        if rs:
            reasons.append(f"{group}: " + ", ".join(f"{escape(k)} {v}" for k, v in rs.items()))
    articles = [_emitted(r.counters) for r in runs]
    held = [int(r.counters.get("held", 0) or 0) for r in runs]
    lengths = [r.median_len for r in runs]
    return (
        f"<section class=\"card{' bad' if run.alerts else ''}\"><h3>{escape(name)} {badges}</h3>"
        f"<div class=\"meta\">last run {escape(run.started_at)} ({escape(run.run_id)}) · "
        f"{len(runs)} run(s) charted</div>"
        f"<div class=\"counts\">{counts}</div>"
        + (f"<div class=\"reasons\">{'<br>'.join(reasons)}</div>" if reasons else "")
        + "<div class=\"chart\"><div class=\"t\">articles per run (new + updated; held in red)"
        f"</div>{bar_chart(articles, held, [r.started_at for r in runs])}</div>"
        "<div class=\"chart\"><div class=\"t\">median text length (characters)</div>"
        f"{line_chart(lengths, [r.started_at for r in runs])}</div></section>"
    )


def _emitted(c: dict[str, Any]) -> int:
    return int(c.get("new", 0) or 0) + int(c.get("updated", 0) or 0)


W, H, PAD = 340, 74, 18  # chart box and left padding for the axis label


def bar_chart(values: Sequence[int], extra: Sequence[int], labels: Sequence[str]) -> str:
    """Inline SVG bars (`extra` stacked on top in red), one per run, oldest left."""
    n = max(len(values), 1)
    top = max([v + e for v, e in zip(values, extra, strict=False)] + [1])
    step = (W - PAD) / n
    bw = max(step * 0.7, 1.0)
    out = [_svg_open("articles per run")]
    for i, (v, e) in enumerate(zip(values, extra, strict=False)):
        x = PAD + i * step + (step - bw) / 2
        hv, he = (H - 14) * v / top, (H - 14) * e / top
        tip = f"{labels[i]}: {v} article(s)" + (f", {e} held" if e else "")
        out.append(f"<g><title>{escape(tip)}</title>"
                   f"<rect x=\"{x:.1f}\" y=\"{H - 2 - hv:.1f}\" width=\"{bw:.1f}\" "
                   f"height=\"{max(hv, 0.8 if v else 0):.1f}\" fill=\"#2e6fd8\"/>"
                   + (f"<rect x=\"{x:.1f}\" y=\"{H - 2 - hv - he:.1f}\" width=\"{bw:.1f}\" "
                      f"height=\"{he:.1f}\" fill=\"#d92d20\"/>" if e else "") + "</g>")
    out.append(_axis(top))
    out.append("</svg>")
    return "".join(out)


def line_chart(values: Sequence[float | None], labels: Sequence[str]) -> str:
    """Inline SVG line with dots; a run with no article leaves a gap."""
    n = max(len(values), 1)
    known = [v for v in values if v is not None]
    top = max(known + [1.0])
    step = (W - PAD) / n
    out = [_svg_open("median text length")]
    points: list[tuple[float, float]] = []
    segments: list[list[tuple[float, float]]] = []
    for i, v in enumerate(values):
        if v is None:
            if points:
                segments.append(points)
            points = []
            continue
        points.append((PAD + i * step + step / 2, H - 2 - (H - 14) * v / top))
    if points:
        segments.append(points)
    for seg in segments:
        if len(seg) > 1:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            out.append(f"<polyline points=\"{pts}\" fill=\"none\" stroke=\"#12805c\" "
                       "stroke-width=\"1.8\"/>")
    for idx, v in enumerate(values):
        if v is None:
            continue
        x, y = PAD + idx * step + step / 2, H - 2 - (H - 14) * v / top
        out.append(f"<circle cx=\"{x:.1f}\" cy=\"{y:.1f}\" r=\"2.6\" fill=\"#12805c\">"
                   f"<title>{escape(labels[idx])}: {v:.0f}</title></circle>")
    if not known:
        out.append(f"<text x=\"{W / 2:.0f}\" y=\"{H / 2:.0f}\" font-size=\"11\" fill=\"#98a2b3\" "
                   "text-anchor=\"middle\">no articles yet</text>")
    out.append(_axis(top))
    out.append("</svg>")
    return "".join(out)


def _svg_open(label: str) -> str:
    return (f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" "
            f"viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{escape(label)}\">"
            f"<rect width=\"{W}\" height=\"{H}\" fill=\"#fafbfc\"/>")


def _axis(top: float) -> str:
    return (f"<line x1=\"{PAD}\" y1=\"{H - 2}\" x2=\"{W}\" y2=\"{H - 2}\" stroke=\"#98a2b3\"/>"
            f"<text x=\"2\" y=\"11\" font-size=\"10\" fill=\"#667085\">{top:.0f}</text>"
            f"<text x=\"2\" y=\"{H - 3}\" font-size=\"10\" fill=\"#667085\">0</text>")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", default="out/state.sqlite", metavar="FILE",
                        help="SQLite state file (default out/state.sqlite)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="where to write (default report.html beside --state)")


def run(args: argparse.Namespace) -> int:
    """`kirinuki report`: (re)write the report without crawling (reads the state, no lock)."""
    url = is_database_url(args.state)
    state = Path(args.state)
    db = open_readonly(args.state)
    if db is None:
        print(f"kirinuki report: {state}: no such state file", file=sys.stderr)
        return 2
    try:
        default = Path("report.html") if url else state.parent / "report.html"
        path = write_report(db, Path(args.output) if args.output else default)
    finally:
        db.close()
    print(path)
    return 0
