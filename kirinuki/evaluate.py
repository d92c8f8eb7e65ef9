"""`kirinuki eval`: token precision/recall/F1 of our records against a gold manifest.

Every report is side by side with bare `trafilatura.extract(html, include_comments=False)` on the
same pages in the same process, so a noisy machine changes both columns alike (issue 3). Ours
is timed on the full record path (charset decoding, `clean()`, JSON dumps of each record);
trafilatura is given the page already decoded to `str` by our decoder, outside its timer (so it
is never handicapped by guessing a Japanese charset, and never charged for decoding).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.encoding import decode
from kirinuki.pipelines.profiles import ProfileError, ProfileSet, load_profiles
from kirinuki.pipelines.record import dumps

_WORD_RE = re.compile(r"\w+")
_CHAR_RE = re.compile(r"[^\W_]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_CJK_RE = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003ffff]"
)
SYSTEMS = ("kirinuki", "trafilatura")


def fold(text: str) -> str:
    """What scoring compares: NFKC then case folding, applied to gold and both predictions."""
    return unicodedata.normalize("NFKC", text or "").casefold()


def is_mostly_cjk(gold: str) -> bool:
    """More than half of the gold's letters are Han, Hiragana, Katakana or Hangul."""
    letters = _LETTER_RE.findall(fold(gold))
    if not letters:
        return False
    return sum(1 for c in letters if _CJK_RE.match(c)) * 2 > len(letters)


def tokens(text: str, cjk: bool) -> Counter[str]:
    """The one tokenizer of both systems: words (`\\w+`), or single characters on a CJK page."""
    folded = fold(text)
    return Counter(_CHAR_RE.findall(folded) if cjk else _WORD_RE.findall(folded))


def prf(pred: Counter[str], gold: Counter[str]) -> tuple[float, float, float]:
    """Bag-of-tokens overlap (multiset intersection): precision, recall, F1."""
    if not pred and not gold:
        return 1.0, 1.0, 1.0
    if not pred or not gold:
        return 0.0, 0.0, 0.0
    common = sum((pred & gold).values())
    p = common / sum(pred.values())
    r = common / sum(gold.values())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(slots=True)
class Entry:
    id: str
    url: str | None
    html: Path
    body: str
    content_type: str | None = None


def read_manifest(path: str | Path) -> list[Entry]:
    """`gold.jsonl`: one object per line with id, url, html (relative, gzip allowed), body."""
    path = Path(path)
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                out.append(Entry(str(obj["id"]), obj.get("url"), path.parent / obj["html"],
                                 obj.get("body") or "", obj.get("content_type")))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not a manifest line ({exc}); needs id, html, body") from None
    return out


def read_html(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


@dataclass(slots=True)
class Outcome:
    text: str
    seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    message: str | None = None


def run_ours(page: Page, profiles: ProfileSet, generic_only: bool) -> Outcome:
    """`kirinuki clean --url` on one page, timed from bytes to JSON lines."""
    start = time.perf_counter()
    try:
        records = clean(page, profiles, generic_only=generic_only)
        for r in records:
            dumps(r)
    except Rejected as exc:
        return Outcome("", time.perf_counter() - start, reason=exc.reason, message=exc.message)
    except RecursionError:
        return Outcome("", time.perf_counter() - start, reason="too_deep", message="document nesting too deep")
    except Exception as exc:  # scored as an empty page, named in the report
        return Outcome("", time.perf_counter() - start, reason="error", message=f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return Outcome("\n\n".join(r["text"] for r in records), elapsed, records)


def run_trafilatura(html: str) -> Outcome:
    """Bare trafilatura, library defaults apart from comments off (its dedup is off by default)."""
    from trafilatura import extract

    start = time.perf_counter()
    try:
        text = extract(html, include_comments=False) or ""
    except Exception as exc:
        return Outcome("", time.perf_counter() - start, reason="error", message=f"{type(exc).__name__}: {exc}")
    return Outcome(text, time.perf_counter() - start)


def _mean(rows: list[tuple[float, float, float]]) -> dict[str, float | int]:
    n = len(rows)
    if not n:
        return {"n": 0, "p": 0.0, "r": 0.0, "f1": 0.0}
    return {"n": n, "p": sum(r[0] for r in rows) / n, "r": sum(r[1] for r in rows) / n,
            "f1": sum(r[2] for r in rows) / n}


def select(entries: list[Entry], every: int = 1, offset: int = 0, limit: int | None = None) -> list[Entry]:
    """A fixed slice of the manifest (every Nth page from `offset`), so CI runs are reproducible."""
    picked = entries[offset::max(every, 1)]
    return picked[:limit] if limit else picked


def evaluate(
    entries: list[Entry],
    profiles: ProfileSet | None = None,
    *,
    generic_only: bool = False,
    repeat: int = 1,
    out: Any = None,
) -> dict[str, Any]:
    """Score both systems on every entry; write one JSON line per page to `out` if given."""
    profiles = profiles if profiles is not None else load_profiles()
    rows: dict[str, dict[str, list[tuple[float, float, float]]]] = {
        s: {"all": [], "cjk": [], "non_cjk": []} for s in SYSTEMS
    }
    seconds = dict.fromkeys(SYSTEMS, 0.0)
    rejected: Counter[str] = Counter()
    warmed = False
    for n, e in enumerate(entries):
        body = read_html(e.html)
        page = Page(url=e.url, body=body, content_type=e.content_type)
        try:
            html = decode(body, e.content_type).text
        except Exception:  # our decoder refusing is our failure, not trafilatura's
            html = body.decode("utf-8", errors="replace")
        if not warmed:  # first calls load language profiles, schemas, imports: not per-page costs
            run_ours(page, profiles, generic_only)
            run_trafilatura(html)
            warmed = True
        ours = traf = None
        for i in range(max(repeat, 1)):
            # Alternate which system runs first (page by page, run by run): cache warmth and the
            # machine's other load then favour neither.
            ours_first = (n + i) % 2 == 0
            pair = ((run_ours, (page, profiles, generic_only)), (run_trafilatura, (html,)))
            res = [fn(*a) for fn, a in (pair if ours_first else pair[::-1])]
            o, t = res if ours_first else res[::-1]
            ours = o if ours is None or o.seconds < ours.seconds else ours
            traf = t if traf is None or t.seconds < traf.seconds else traf
        assert ours is not None and traf is not None
        seconds["kirinuki"] += ours.seconds
        seconds["trafilatura"] += traf.seconds
        if ours.reason:
            rejected[ours.reason] += 1
        cjk = is_mostly_cjk(e.body)
        gold = tokens(e.body, cjk)
        scores = {}
        for name, res in (("kirinuki", ours), ("trafilatura", traf)):
            s = prf(tokens(res.text, cjk), gold)
            scores[name] = s
            rows[name]["all"].append(s)
            rows[name]["cjk" if cjk else "non_cjk"].append(s)
        if out is not None:
            out.write(json.dumps(_page_line(e, ours, traf, cjk, scores), ensure_ascii=False) + "\n")
    n = len(entries)
    report: dict[str, Any] = {"pages": n, "generic_only": generic_only, "rejected": dict(sorted(rejected.items()))}
    for s in SYSTEMS:
        report[s] = {g: _mean(v) for g, v in rows[s].items()}
        report[s]["seconds"] = seconds[s]
        report[s]["pages_per_s"] = n / seconds[s] if seconds[s] else 0.0
    return report


def _page_line(e: Entry, ours: Outcome, traf: Outcome, cjk: bool, scores: dict[str, tuple]) -> dict[str, Any]:
    line: dict[str, Any] = {"id": e.id, "text": ours.text}
    if ours.records:
        rec = dict(ours.records[0])
        rec.pop("text", None)
        line.update(rec)
        if len(ours.records) > 1:
            line["record_count"] = len(ours.records)
    else:
        line.update(url=e.url, rejected={"reason": ours.reason, "message": ours.message})
    line["eval"] = {
        "cjk": cjk,
        **{name: dict(zip(("p", "r", "f1"), (round(x, 4) for x in sc), strict=True)) for name, sc in scores.items()},
        "seconds": {"kirinuki": round(ours.seconds, 4), "trafilatura": round(traf.seconds, 4)},
    }
    return line


def format_report(report: dict[str, Any], title: str = "") -> str:
    """A fixed-width side-by-side table plus the differences that the issue's targets are about."""
    k, t = report["kirinuki"], report["trafilatura"]
    lines = []
    if title:
        lines.append(title)
    lines.append(f"{report['pages']} pages ({k['cjk']['n']} CJK, {k['non_cjk']['n']} non-CJK), "
                 f"profiles {'off (--generic-only)' if report['generic_only'] else 'on'}")
    head = f"{'system':<12} {'F1':>6} {'P':>6} {'R':>6} | {'CJK F1':>6} {'P':>6} {'R':>6} | {'nonCJK F1':>9} {'P':>6} {'R':>6} | {'pages/s':>7}"
    lines.append(head)
    def cells(g: dict[str, Any], width: int = 6, sign: str = "") -> str:
        if not g["n"]:
            return f"{'-':>{width}} {'-':>6} {'-':>6}"
        return f"{g['f1']:{sign}{width}.4f} {g['p']:{sign}6.4f} {g['r']:{sign}6.4f}"

    for name, s in (("kirinuki", k), ("trafilatura", t)):
        lines.append(f"{name:<12} {cells(s['all'])} | {cells(s['cjk'])} | {cells(s['non_cjk'], 9)} | "
                     f"{s['pages_per_s']:7.2f}")
    ratio = k["pages_per_s"] / t["pages_per_s"] if t["pages_per_s"] else 0.0
    diff = {g: {"n": k[g]["n"], **{m: k[g][m] - t[g][m] for m in ("f1", "p", "r")}} for g in ("all", "cjk", "non_cjk")}
    lines.append(f"{'difference':<12} {cells(diff['all'], sign='+')} | {cells(diff['cjk'], sign='+')} | "
                 f"{cells(diff['non_cjk'], 9, '+')} | {ratio:6.2f}x")
    rejected = ", ".join(f"{r}={c}" for r, c in report["rejected"].items()) or "none"
    lines.append(f"kirinuki rejected: {rejected}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", help="gold manifest (JSON Lines: id, url, html, body[, title, content_type])")
    p.add_argument("--out", help="write one JSON line per page (our record, scores) to this file")
    p.add_argument("--generic-only", action="store_true", help="switch site profiles off (the generic path alone)")
    p.add_argument("--every", type=int, default=1, help="score every Nth page only (a fixed slice, default 1)")
    p.add_argument("--offset", type=int, default=0, help="first page of the slice (default 0)")
    p.add_argument("--limit", type=int, help="at most this many pages")
    p.add_argument("--repeat", type=int, default=1,
                   help="time each page this many times and keep the fastest (default 1; quality is unchanged)")
    p.add_argument("--json", metavar="PATH", help="also write the summary as JSON to PATH (- for stdout)")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")


def run(args: argparse.Namespace) -> int:
    try:
        entries = select(read_manifest(args.manifest), args.every, args.offset, args.limit)
        profiles = load_profiles(args.profiles_dir)
    except (OSError, ValueError, ProfileError) as exc:
        print(f"kirinuki eval: {exc}", file=sys.stderr)
        return 2
    if not entries:
        print(f"kirinuki eval: {args.manifest}: no pages selected", file=sys.stderr)
        return 2
    missing = [e.html for e in entries if not e.html.is_file()]
    if missing:
        print(f"kirinuki eval: {len(missing)} html files missing, e.g. {missing[0]}", file=sys.stderr)
        return 2
    out, tmp = _open(args.out)
    try:
        report = evaluate(entries, profiles, generic_only=args.generic_only, repeat=args.repeat, out=out)
    finally:
        if out is not None:
            out.close()
    if tmp:
        os.replace(tmp, args.out)
    report["manifest"] = str(args.manifest)
    print(format_report(report, f"kirinuki eval {args.manifest}"))
    if args.json:
        text = json.dumps(report, indent=2, sort_keys=True)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


def _open(path: str | None):
    if not path:
        return None, None
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kirinuki-eval-", suffix=".jsonl", dir=directory)
    return os.fdopen(fd, "w", encoding="utf-8"), tmp

