"""Where `clean()` spends its time, stage by stage, on a gold manifest (issue 3 speed work).

    python benchmarks/clean_speed.py ../shared/benchmarks/fundus/gold.jsonl [--generic-only]
        [--every N] [--profile out.prof]

Each stage function imported by `pipelines.cleaner` is wrapped with a timer (nested stages are
counted in their caller too), so the table says which stage to make faster; bare trafilatura on
the same decoded pages is timed alongside for the ratio. `--profile` writes a cProfile dump.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kirinuki.pipelines import Page, Rejected, clean, cleaner, load_profiles  # noqa: E402
from kirinuki.pipelines.encoding import decode  # noqa: E402
from kirinuki.pipelines.record import dumps  # noqa: E402

from kirinuki.evaluate import read_html, read_manifest, select  # noqa: E402

STAGES = (
    "detect_paywall", "extract_metadata", "remove_noise",
    "generic_extract", "filter_lines", "htmldate_fallback", "detect_language", "make_record",
    "_settle", "finish", "extract", "drafts", "prepare",
)
DOC_STAGES = ("sniff", "decode", "parse_html", "meta_index", "page_timezone", "parse_jsonld")
TIMES: dict[str, float] = defaultdict(float)


GENERIC_STAGES = ("_trafilatura", "drop_link_teasers", "merge_body_chunks", "paragraph_chars")
REFINE_STAGES = ("find_lead", "vote_article_body", "trim_tail", "drop_edge_lines", "drop_headline", "add_lead")


def _wrap(name: str, module=cleaner, label: str | None = None):
    fn = getattr(module, name)

    def timed(*a, **kw):
        start = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            TIMES[label or name] += time.perf_counter() - start

    setattr(module, name, timed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest")
    ap.add_argument("--generic-only", action="store_true")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--profile", help="write a cProfile dump of our runs here")
    args = ap.parse_args()
    entries = select(read_manifest(args.manifest), args.every)
    pages = [Page(e.url, read_html(e.html), e.content_type) for e in entries]
    texts = [decode(p.body, p.content_type).text for p in pages]
    profiles = load_profiles()
    from trafilatura import extract

    clean(pages[0], profiles, generic_only=args.generic_only)  # warm-up (imports, models)
    extract(texts[0], include_comments=False)

    start = time.perf_counter()
    for t in texts:
        extract(t, include_comments=False)
    traf = time.perf_counter() - start

    for name in STAGES:
        if hasattr(cleaner, name):
            _wrap(name)
    from kirinuki.pipelines import doc, generic, refine

    for name in DOC_STAGES:
        _wrap(name, doc)

    for name in GENERIC_STAGES:
        _wrap(name, generic, "  generic." + name)
    for name in REFINE_STAGES:
        _wrap(name, refine, "  refine." + name)
    prof = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    for p in pages:
        try:
            for r in clean(p, profiles, generic_only=args.generic_only):
                dumps(r)
        except Rejected:
            pass
    if prof:
        prof.disable()
        prof.dump_stats(args.profile)
    ours = time.perf_counter() - start
    n = len(pages)
    print(f"{n} pages: kirinuki {n / ours:.1f} pages/s, bare trafilatura {n / traf:.1f} pages/s, "
          f"ratio {traf / ours:.2f}x")
    print(f"{'stage':<20} {'ms/page':>8} {'share':>6}")
    for name, secs in sorted(TIMES.items(), key=lambda kv: -kv[1]):
        print(f"{name:<20} {1000 * secs / n:8.2f} {secs / ours:6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
