"""`kirinuki clean`: the cleaning pipeline over files on disk, one JSON record per line.

Pages are cleaned in worker processes (`kirinuki.page_workers`), so that a page past its deadline
or a worker killed for memory costs that page only (`timeout`, `worker_died`) and never the run.
The output is written through `kirinuki.safe_output`: replaced in one step when the run ends (or
is interrupted: the records of the pages done so far are kept), left untouched when a write
fails; a FIFO or device is written in place.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from kirinuki.formats import FORMATS, RecordWriter, format_for
from kirinuki.inputs import discover, load_page, read_bytes
from kirinuki.page_workers import InitRefused, supervised_map
from kirinuki.pipelines import Rejected
from kirinuki.safe_output import OutputError, open_output
from kirinuki.shown import shown

if TYPE_CHECKING:  # the worker imports the profiles (and lxml, cssselect...); the parent never
    from kirinuki.pipelines.profiles import ProfileSet

DEFAULT_PAGE_TIMEOUT = 60.0
# Cleaning a page makes tens of thousands of short-lived objects (lxml element proxies, blocks):
# at Python's default first threshold (700) the collector ran 266 times over the 185 fundus pages,
# 10% of the worker's CPU time, scanning the models and modules loaded at start each time. A
# worker collects less often, and what the first page loaded is frozen out of the scans (issue 10).
GC_THRESHOLD = (10_000, 10, 10)

_PROFILES: ProfileSet | None = None
_OPTS: dict[str, Any] = {}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["-"], help="HTML files (.html, .htm, gzipped), directories, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="jsonl (default), text, markdown or csv; else taken from the -o suffix "
                        "(.jsonl .txt .md .csv)")
    p.add_argument("--url", help="URL of the page (single input only)")
    p.add_argument("--content-type", help="HTTP Content-Type of the page (single input only)")
    p.add_argument("--profile", help="force this site profile (single input only)")
    p.add_argument("--generic-only", action="store_true", help="switch site profiles off")
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--page-timeout", type=float, default=DEFAULT_PAGE_TIMEOUT, metavar="SECONDS",
                   help=f"stop a page after this much CPU time and report it as `timeout` "
                        f"(default {DEFAULT_PAGE_TIMEOUT:g}; 0: no limit)")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _init(extra_dirs: list[str], opts: dict[str, Any]) -> None:
    global _PROFILES, _OPTS
    _PROFILES = _checked_profiles(extra_dirs, opts.get("profile"))
    _OPTS = dict(opts)
    gc.set_threshold(*GC_THRESHOLD)


def _checked_profiles(extra_dirs: list[str], forced: str | None) -> ProfileSet:
    """The profiles, loaded and checked (a forced profile must exist), or `InitRefused` saying why.

    The worker checks them as it loads them: the parent loading them too cost 0.1 s of every run
    (its imports and the TOML files, issue 10). A run with no page for a worker checks here in
    the parent, so a bad profile directory is an error whatever the inputs.
    """
    from kirinuki.pipelines.profiles import ProfileError, load_profiles

    try:
        profiles = load_profiles(extra_dirs)
        if forced:
            profiles.get(forced)
    except ProfileError as exc:
        raise InitRefused(str(exc)) from None
    return profiles


Result = tuple[str, list[dict[str, Any]], str | None, str | None]


def clean_file(task: tuple[str, bytes | None]) -> Result:
    """Worker: (path, records, reject reason, message). Never raises for a bad page.

    `task` is (path, None) for a file the worker reads, (path, bytes) for stdin read by the parent.
    """
    from kirinuki.pipelines import clean
    from kirinuki.pipelines.profiles import ProfileError

    path, body = task
    try:
        page = load_page(path, _OPTS.get("url"), _OPTS.get("content_type"), _OPTS.get("profile"),
                         body=body)
        records = clean(page, _PROFILES, generic_only=_OPTS.get("generic_only", False))
        for r in records:  # traceable to its file; `version` stays null (no history here)
            r["input_file"] = path
        if not _OPTS.get("frozen"):  # imports, models, schema: loaded by now, kept for good
            gc.freeze()
            _OPTS["frozen"] = True
        return path, records, None, None
    except Rejected as exc:
        return path, [], exc.reason, exc.message
    except ProfileError as exc:
        return path, [], "bad_profile", str(exc)
    except RecursionError:
        return path, [], "too_deep", "document nesting too deep"
    except Exception as exc:  # one broken page never stops a run; it is reported by name
        return path, [], "error", f"{type(exc).__name__}: {exc}"


def _failed(task: tuple[str, bytes | None], reason: str, message: str) -> Result:
    return task[0], [], reason, message


def run(args: argparse.Namespace) -> int:
    skipped: list[tuple[str, str]] = []
    paths = list(discover(args.paths, skipped))
    single = [a for a in ("url", "content_type", "profile") if getattr(args, a)]
    if single and len(paths) != 1:
        print(f"kirinuki clean: --{single[0].replace('_', '-')} needs exactly one input file", file=sys.stderr)
        return 2
    opts = {"url": args.url, "content_type": args.content_type, "profile": args.profile,
            "generic_only": args.generic_only}
    show = not args.quiet and sys.stderr.isatty()
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    for path, kind in skipped:
        counts["not_regular"] += 1
        print(f"kirinuki clean: {shown(path)}: not_regular: skipped, it is {kind}", file=sys.stderr)
    try:
        out = open_output(args.output)
    except OutputError as exc:
        print(f"kirinuki clean: {exc}", file=sys.stderr)
        return 2

    writer = RecordWriter(out, format_for(args.output, args.format))
    records = files = 0
    interrupted = False
    results = _results(paths, args.jobs, args.profiles_dir, opts, args.page_timeout or None)
    bar = None
    try:
        if show and len(paths) > 1:
            from tqdm import tqdm

            bar = tqdm(total=len(paths), unit="page", file=sys.stderr)
        for path, recs, reason, message in results:
            files += 1
            if reason:
                counts[reason] += 1
                print(f"kirinuki clean: {shown(path)}: {reason}: {shown(message or '')}",
                      file=sys.stderr)
            if recs:  # one write per page: an interrupt never leaves half a page behind
                writer.write_many(recs)
            records += len(recs)
            if bar:
                bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    except InitRefused as exc:  # the profiles, checked by the worker as it loads them
        out.discard()
        print(f"kirinuki clean: {shown(str(exc))}", file=sys.stderr)
        return 2
    except OutputError as exc:
        out.discard()
        print(f"kirinuki clean: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        out.discard()
        raise
    finally:
        results.close()  # stops the workers at once when the loop did not finish
        if bar:
            bar.close()
    try:
        writer.close()
        out.commit()
    except OutputError as exc:
        print(f"kirinuki clean: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    if interrupted:
        print(f"kirinuki clean: interrupted after {files} of {len(paths)} files; "
              f"{records} records kept in {shown(args.output)}", file=sys.stderr)
        return 130
    if not args.quiet:
        failed = sum(counts.values())
        rejected = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
        print(
            f"kirinuki clean: {len(paths) + len(skipped)} files, {records} records, {failed} rejected ({rejected}), "
            f"{elapsed:.2f} s, {len(paths) / elapsed if elapsed else 0:.1f} pages/s",
            file=sys.stderr,
        )
    return 1 if counts else 0


def _results(paths: list[str], jobs: int, extra_dirs: list[str], opts: dict[str, Any],
             deadline: float | None):
    """Results in input order; stdin is read here (bounded) and handed to a worker as bytes."""
    tasks: list[tuple[str, bytes | None]] = []
    early: dict[int, Result] = {}
    for i, p in enumerate(paths):
        if p == "-":
            try:
                tasks.append((p, read_bytes(p)))
            except Rejected as exc:
                early[i] = (p, [], exc.reason, exc.message)
                continue
        else:
            tasks.append((p, None))
    if not tasks:  # no worker will load the profiles: check them here
        _checked_profiles(extra_dirs, opts.get("profile"))
    mapped = supervised_map(clean_file, tasks, jobs=max(1, jobs), failed=_failed,
                            deadline=deadline, initializer=_init, initargs=(extra_dirs, opts))
    try:
        for i in range(len(paths)):
            yield early[i] if i in early else next(mapped)
    finally:
        mapped.close()
