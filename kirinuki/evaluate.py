"""`kirinuki eval`: token precision/recall/F1 of our records against one or more gold manifests.

Every report is side by side with bare `trafilatura.extract(html, include_comments=False)` and
(when installed: the `eval` extra) readability-lxml on the same pages in the same process, so a noisy machine changes both columns alike (issue 3). Ours
is timed on the full record path (charset decoding, `clean()`, JSON dumps of each record);
trafilatura is given the page already decoded to `str` by our decoder, outside its timer (so it
is never handicapped by guessing a Japanese charset, and never charged for decoding).
Several manifests give one table: each set, all pages pooled, and the CJK pages of all sets.
Lines that carry metadata gold (`authors`, as fundus's do) also score title, date and authors
against trafilatura's `extract_metadata` (issue 10).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.encoding import decode
from kirinuki.pipelines.language import load_models
from kirinuki.pipelines.profiles import ProfileError, ProfileSet, load_profiles
from kirinuki.pipelines.record import dumps
from kirinuki.pipelines.tokens import is_mostly_cjk, tokens
from kirinuki.safe_output import OutputError, open_output, write_text_atomic

SYSTEMS = ("kirinuki", "trafilatura", "readability")
META_FIELDS = ("title", "published", "authors")
WORSE_BY = 0.10  # a page this far under trafilatura's F1 is listed (issue 10's per-page bar)


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
    set: str = ""
    meta: dict[str, Any] | None = None  # gold title/published/authors, on lines that carry authors


def set_name(path: str | Path) -> str:
    """A manifest's set name: its folder (`.../fundus/gold.jsonl` -> fundus) or its file stem."""
    path = Path(path)
    return path.parent.name if path.stem == "gold" and path.parent.name else path.stem


def read_manifest(path: str | Path) -> list[Entry]:
    """`gold.jsonl`: one object per line with id, url, html (relative, gzip allowed), body."""
    path = Path(path)
    name = set_name(path)
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                meta = ({k: obj.get(k) for k in META_FIELDS} if "authors" in obj else None)
                out.append(Entry(str(obj["id"]), obj.get("url"), path.parent / obj["html"],
                                 obj.get("body") or "", obj.get("content_type"), name, meta))
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


def readability_available() -> bool:
    try:
        import readability  # noqa: F401
    except ImportError:
        return False
    return True


_READABILITY_BLOCKS = frozenset("p div h1 h2 h3 h4 h5 h6 li tr td th pre blockquote br dd dt figcaption".split())


def run_readability(html: str) -> Outcome:
    """readability-lxml's summary as text: its block elements end a line, inline ones do not."""
    from lxml import html as lxml_html
    from readability import Document

    start = time.perf_counter()
    try:
        summary = Document(html).summary(html_partial=True)
        root = lxml_html.fromstring(summary) if summary.strip() else None
        if root is not None:
            for el in root.iter():
                if isinstance(el.tag, str) and el.tag in _READABILITY_BLOCKS:
                    el.tail = "\n" + (el.tail or "")
        text = root.text_content() if root is not None else ""
    except Exception as exc:
        return Outcome("", time.perf_counter() - start, reason="error", message=f"{type(exc).__name__}: {exc}")
    return Outcome(text, time.perf_counter() - start)


def _norm(value: Any) -> str:
    """NFKC, invisible format characters (soft hyphens, zero-width spaces) out, spaces folded:
    both systems are scored on naming the right title, not on their Unicode normalization."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    return " ".join("".join(c for c in text if unicodedata.category(c) != "Cf").split())


def _same_day(pred: str | None, gold: str | None) -> bool:
    """The day a date names as written, or its UTC day, equals the gold's UTC day.

    A date-only value names a day, not an instant; a full timestamp is compared both ways as
    gold sets convert local times to UTC (a 00:30+02:00 story is the day before in UTC).
    """
    from datetime import UTC, datetime

    if not pred or not gold:
        return False
    try:
        g = datetime.fromisoformat(gold)
        g = g.astimezone(UTC) if g.tzinfo else g
        days = {pred[:10]}
        p = datetime.fromisoformat(pred)
        if p.tzinfo:
            days.add(p.astimezone(UTC).date().isoformat())
    except ValueError:
        return False
    return g.date().isoformat() in days


def meta_scores(pred: dict[str, Any], gold: dict[str, Any]) -> dict[str, bool]:
    """Title exact (NFKC, invisible characters and spaces folded), published the same day, authors exact (as a set).

    A field absent from the gold (None) is not scored; an empty gold author list is, so a
    byline invented where the publisher names nobody counts as wrong.
    """
    out: dict[str, bool] = {}
    if gold.get("title"):
        out["title"] = _norm(pred.get("title")) == _norm(gold["title"])
    if gold.get("published"):
        out["published"] = _same_day(pred.get("published"), str(gold["published"]))
    if gold.get("authors") is not None:
        out["authors"] = sorted(map(_norm, pred.get("authors") or [])) == sorted(map(_norm, gold["authors"]))
    return out


def ours_meta(records: list[dict[str, Any]]) -> dict[str, Any]:
    r = records[0] if records else {}
    return {"title": r.get("title"), "published": r.get("published_at"), "authors": r.get("authors") or []}


def trafilatura_meta(html: str, url: str | None) -> dict[str, Any]:
    """trafilatura's `extract_metadata` (library defaults), its `A; B` author string split."""
    from trafilatura import extract_metadata

    try:
        m = extract_metadata(html, default_url=url)
    except Exception:
        return {"title": None, "published": None, "authors": []}
    authors = [a.strip() for a in (m.author or "").split(";") if a.strip()]
    return {"title": m.title, "published": m.date, "authors": authors}


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


def _groups() -> dict[str, list[tuple[float, float, float]]]:
    return {"all": [], "cjk": [], "non_cjk": []}


def evaluate(
    entries: list[Entry],
    profiles: ProfileSet | None = None,
    *,
    generic_only: bool = False,
    repeat: int = 1,
    out: Any = None,
    readability: bool | None = None,
) -> dict[str, Any]:
    """Score every system on every entry; write one JSON line per page to `out` if given.

    The report keeps the pooled figures at its top level (`report["kirinuki"]["all"]`), one
    entry per set under `sets`, and metadata accuracy under `metadata` when any line has gold.
    """
    profiles = profiles if profiles is not None else load_profiles()
    use_readability = readability_available() if readability is None else readability
    systems = [s for s in SYSTEMS if s != "readability" or use_readability]
    rows = {s: _groups() for s in systems}
    per_set: dict[str, dict[str, Any]] = {}
    # Pages that came out through a site profile, by profile (template): what a profile buys
    # over the generic path shows here, next to trafilatura on the same pages.
    per_profile: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    seconds = dict.fromkeys(systems, 0.0)
    rejected: Counter[str] = Counter()
    meta_hits: dict[str, dict[str, list[bool]]] = {s: {f: [] for f in META_FIELDS} for s in ("kirinuki", "trafilatura")}
    warmed = False
    for n, e in enumerate(entries):
        body = read_html(e.html)
        page = Page(url=e.url, body=body, content_type=e.content_type)
        try:
            html = decode(body, e.content_type).text
        except Exception:  # our decoder refusing is our failure, not trafilatura's
            html = body.decode("utf-8", errors="replace")
        if not warmed:  # first calls load language profiles, schemas, imports: not per-page costs
            load_models()  # also those the first page does not need (langdetect's 55 profiles)
            run_ours(page, profiles, generic_only)
            run_trafilatura(html)
            if use_readability:
                run_readability(html)
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
        results = {"kirinuki": ours, "trafilatura": traf}
        if use_readability:  # untimed against ours: its speed is not a target
            results["readability"] = run_readability(html)
        if ours.reason:
            rejected[ours.reason] += 1
        cjk = is_mostly_cjk(e.body)
        gold = tokens(e.body, cjk)
        st = per_set.setdefault(e.set, {"rows": {s: _groups() for s in systems},
                                         "seconds": dict.fromkeys(systems, 0.0), "worse": []})
        scores = {}
        for name, res in results.items():
            s = prf(tokens(res.text, cjk), gold)
            scores[name] = s
            seconds[name] += res.seconds
            st["seconds"][name] += res.seconds
            for target in (rows[name], st["rows"][name]):
                target["all"].append(s)
                target["cjk" if cjk else "non_cjk"].append(s)
        if scores["kirinuki"][2] < scores["trafilatura"][2] - WORSE_BY:
            st["worse"].append(e.id)
        extraction = ours.records[0].get("extraction") or {} if ours.records else {}
        if extraction.get("method") == "profile" and extraction.get("profile"):
            by = per_profile.setdefault(extraction["profile"], {s: [] for s in systems})
            for name, sc in scores.items():
                by[name].append(sc)
        meta = None
        if e.meta is not None:
            meta = {"kirinuki": meta_scores(ours_meta(ours.records), e.meta),
                    "trafilatura": meta_scores(trafilatura_meta(html, e.url), e.meta)}
            for name, hits in meta.items():
                for f, ok in hits.items():
                    meta_hits[name][f].append(ok)
        if out is not None:
            out.write(json.dumps(_page_line(e, results, cjk, scores, meta), ensure_ascii=False) + "\n")
    n = len(entries)
    report: dict[str, Any] = {"pages": n, "generic_only": generic_only, "systems": systems,
                              "rejected": dict(sorted(rejected.items()))}
    for s in systems:
        report[s] = {g: _mean(v) for g, v in rows[s].items()}
        report[s]["seconds"] = seconds[s]
        report[s]["pages_per_s"] = n / seconds[s] if seconds[s] else 0.0
    report["sets"] = {}
    for name, st in per_set.items():
        k = len(st["rows"]["kirinuki"]["all"])
        rep: dict[str, Any] = {"pages": k, "worse_than_trafilatura": st["worse"]}
        for s in systems:
            rep[s] = {g: _mean(v) for g, v in st["rows"][s].items()}
            rep[s]["pages_per_s"] = k / st["seconds"][s] if st["seconds"][s] else 0.0
        report["sets"][name] = rep
    report["profiles"] = {
        name: {"pages": len(by["kirinuki"]), **{s: {"all": _mean(v)} for s, v in by.items()}}
        for name, by in sorted(per_profile.items())}
    if any(meta_hits["kirinuki"][f] for f in META_FIELDS):
        report["metadata"] = {
            name: {f: {"n": len(v), "accuracy": sum(v) / len(v) if v else 0.0} for f, v in hits.items()}
            for name, hits in meta_hits.items()}
    return report


def _page_line(e: Entry, results: dict[str, Outcome], cjk: bool, scores: dict[str, tuple],
               meta: dict[str, dict[str, bool]] | None = None) -> dict[str, Any]:
    ours = results["kirinuki"]
    line: dict[str, Any] = {"id": e.id, "set": e.set, "text": ours.text}
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
        "seconds": {name: round(r.seconds, 4) for name, r in results.items()},
    }
    if meta is not None:
        line["eval"]["metadata"] = meta
    return line


def format_report(report: dict[str, Any], title: str = "") -> str:
    """One fixed-width table: F1 of each system per set, pooled and on the CJK pages of all sets,
    our P/R, our margins, the speed ratio, pages far under trafilatura; then metadata accuracy."""
    systems = report.get("systems", ["kirinuki", "trafilatura"])
    has_r = "readability" in systems
    lines = [title] if title else []
    lines.append(f"{report['pages']} pages in {len(report.get('sets', {})) or 1} set(s), "
                 f"profiles {'off (--generic-only)' if report['generic_only'] else 'on'}; mean per-page token F1")
    head = (f"{'set (pages)':<32} {'kirinuki':>8} {'P':>6} {'R':>6} {'trafil.':>8}"
            + (f" {'readab.':>8}" if has_r else "") + f" {'k-t':>7}" + (f" {'k-r':>7}" if has_r else "")
            + f" {'speed k/t':>9} {'<t-0.1':>6}")
    lines.append(head)

    def row(label: str, rep: dict[str, Any], group: str, worse: int | None, speed: float | None) -> str:
        k, t = rep["kirinuki"][group], rep["trafilatura"][group]
        if not k["n"]:
            return ""
        cells = f"{label:<32} {k['f1']:8.4f} {k['p']:6.4f} {k['r']:6.4f} {t['f1']:8.4f}"
        if has_r:
            cells += f" {rep['readability'][group]['f1']:8.4f}"
        cells += f" {k['f1'] - t['f1']:+7.4f}"
        if has_r:
            cells += f" {k['f1'] - rep['readability'][group]['f1']:+7.4f}"
        cells += f" {speed:8.2f}x" if speed is not None else f" {'':>9}"
        cells += f" {worse:6d}" if worse is not None else f" {'':>6}"
        return cells

    def ratio(rep: dict[str, Any]) -> float:
        t = rep["trafilatura"].get("pages_per_s") or 0.0
        return rep["kirinuki"].get("pages_per_s", 0.0) / t if t else 0.0

    sets = report.get("sets", {})
    for name, rep in sets.items():
        lines.append(row(f"{name} ({rep['pages']}; {rep['kirinuki']['cjk']['n']} CJK)", rep, "all",
                         len(rep["worse_than_trafilatura"]), ratio(rep)))
    worse = sum(len(r["worse_than_trafilatura"]) for r in sets.values()) if sets else None
    k = report["kirinuki"]
    lines.append(row(f"pooled ({report['pages']})", report, "all", worse, ratio(report)))
    lines.append(row(f"CJK pages pooled ({k['cjk']['n']})", report, "cjk", None, None))
    lines.append(row(f"non-CJK pages pooled ({k['non_cjk']['n']})", report, "non_cjk", None, None))
    for name, rep in report.get("profiles", {}).items():
        lines.append(row(f"  profile {name} ({rep['pages']})", rep, "all", None, None))
    lines = [x for x in lines if x]
    rejected = ", ".join(f"{r}={c}" for r, c in report["rejected"].items()) or "none"
    lines.append(f"kirinuki rejected: {rejected}; pages/s kirinuki {k['pages_per_s']:.2f}, "
                 f"trafilatura {report['trafilatura']['pages_per_s']:.2f}")
    if "metadata" in report:
        m = report["metadata"]
        n = max(v["n"] for v in m["kirinuki"].values())
        lines.append(f"metadata against gold ({n} pages with gold authors/date/title)")
        lines.append(f"{'field':<32} {'kirinuki':>8} {'trafil.':>8} {'n':>5}")
        for f, label in (("title", "title exact"), ("published", "published same day"), ("authors", "authors exact")):
            lines.append(f"{label:<32} {m['kirinuki'][f]['accuracy']:8.4f} {m['trafilatura'][f]['accuracy']:8.4f} "
                         f"{m['kirinuki'][f]['n']:5d}")
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", nargs="+",
                   help="gold manifest(s) (JSON Lines: id, url, html, body[, title, authors, published, "
                        "content_type]); several give one table, per set and pooled")
    p.add_argument("--out", help="write one JSON line per page (our record, scores) to this file")
    p.add_argument("--generic-only", action="store_true", help="switch site profiles off (the generic path alone)")
    p.add_argument("--every", type=int, default=1, help="score every Nth page only (a fixed slice, default 1)")
    p.add_argument("--offset", type=int, default=0, help="first page of the slice (default 0)")
    p.add_argument("--limit", type=int, help="at most this many pages")
    p.add_argument("--repeat", type=int, default=1,
                   help="time each page this many times and keep the fastest (default 1; quality is unchanged)")
    p.add_argument("--json", metavar="PATH", help="also write the summary as JSON to PATH (- for stdout)")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("--no-readability", action="store_true",
                   help="leave the readability-lxml column out (it is also left out when not installed)")


def run(args: argparse.Namespace) -> int:
    try:
        entries = [e for m in args.manifest for e in select(read_manifest(m), args.every, args.offset, args.limit)]
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
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    try:
        out = open_output(args.out) if args.out else None
    except OutputError as exc:
        print(f"kirinuki eval: {exc}", file=sys.stderr)
        return 2
    try:
        report = evaluate(entries, profiles, generic_only=args.generic_only, repeat=args.repeat, out=out,
                          readability=False if args.no_readability else None)
    except BaseException:
        if out is not None:
            out.discard()
        raise
    if out is not None:
        out.commit()
    report["manifests"] = [str(m) for m in args.manifest]
    print(format_report(report, f"kirinuki eval {' '.join(args.manifest)}"))
    if args.json:
        text = json.dumps(report, indent=2, sort_keys=True)
        if args.json == "-":
            print(text)
        else:
            write_text_atomic(args.json, text + "\n")
    return 0



