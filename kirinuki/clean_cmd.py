"""`kirinuki clean`: the cleaning pipeline over files on disk, one JSON record per line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from kirinuki.inputs import discover, load_page
from kirinuki.pipelines import Rejected
from kirinuki.pipelines.profiles import ProfileError, ProfileSet, load_profiles
from kirinuki.pipelines.record import dumps

_PROFILES: ProfileSet | None = None
_OPTS: dict[str, Any] = {}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", default=["-"], help="HTML files (.html, .htm, gzipped), directories, or - for stdin")
    p.add_argument("-o", "--output", default="-", help="output JSON Lines file (default: stdout)")
    p.add_argument("--url", help="URL of the page (single input only)")
    p.add_argument("--content-type", help="HTTP Content-Type of the page (single input only)")
    p.add_argument("--profile", help="force this site profile (single input only)")
    p.add_argument("--generic-only", action="store_true", help="switch site profiles off")
    p.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _init(extra_dirs: list[str], opts: dict[str, Any]) -> None:
    global _PROFILES, _OPTS
    _PROFILES = load_profiles(extra_dirs)
    _OPTS = opts


def clean_file(path: str) -> tuple[str, list[str], str | None, str | None]:
    """Worker: (path, JSON lines, reject reason, message). Never raises for a bad page."""
    from kirinuki.pipelines import clean

    try:
        page = load_page(path, _OPTS.get("url"), _OPTS.get("content_type"), _OPTS.get("profile"))
        records = clean(page, _PROFILES, generic_only=_OPTS.get("generic_only", False))
        return path, [dumps(r) for r in records], None, None
    except Rejected as exc:
        return path, [], exc.reason, exc.message
    except ProfileError as exc:
        return path, [], "bad_profile", str(exc)
    except RecursionError:
        return path, [], "too_deep", "document nesting too deep"
    except Exception as exc:  # one broken page never stops a run; it is reported by name
        return path, [], "error", f"{type(exc).__name__}: {exc}"


def run(args: argparse.Namespace) -> int:
    paths = list(discover(args.paths))
    single = [a for a in ("url", "content_type", "profile") if getattr(args, a)]
    if single and len(paths) != 1:
        print(f"kirinuki clean: --{single[0].replace('_', '-')} needs exactly one input file", file=sys.stderr)
        return 2
    try:
        profiles = load_profiles(args.profiles_dir)
        if args.profile:
            profiles.get(args.profile)
    except ProfileError as exc:
        print(f"kirinuki clean: {exc}", file=sys.stderr)
        return 2
    del profiles
    opts = {"url": args.url, "content_type": args.content_type, "profile": args.profile,
            "generic_only": args.generic_only}
    show = not args.quiet and sys.stderr.isatty()
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    records = 0

    out, tmp = _open_output(args.output)
    try:
        results = _results(paths, args.jobs, args.profiles_dir, opts)
        bar = None
        if show and len(paths) > 1:
            from tqdm import tqdm

            bar = tqdm(total=len(paths), unit="page", file=sys.stderr)
        for path, lines, reason, message in results:
            if reason:
                counts[reason] += 1
                print(f"kirinuki clean: {path}: {reason}: {message}", file=sys.stderr)
            for line in lines:
                out.write(line + "\n")
            records += len(lines)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
    finally:
        if out is not sys.stdout:
            out.close()
    if tmp:
        os.replace(tmp, args.output)
    elapsed = time.perf_counter() - start
    if not args.quiet:
        failed = sum(counts.values())
        rejected = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
        print(
            f"kirinuki clean: {len(paths)} files, {records} records, {failed} rejected ({rejected}), "
            f"{elapsed:.2f} s, {len(paths) / elapsed if elapsed else 0:.1f} pages/s",
            file=sys.stderr,
        )
    return 1 if counts else 0


def _results(paths: list[str], jobs: int, extra_dirs: list[str], opts: dict[str, Any]):
    if jobs <= 1 or len(paths) < 2:
        _init(extra_dirs, opts)
        return map(clean_file, paths)
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(extra_dirs, opts))
    return _pooled(pool, paths)


def _pooled(pool: ProcessPoolExecutor, paths: list[str]):
    with pool:
        yield from pool.map(clean_file, paths, chunksize=4)


def _open_output(path: str):
    if path == "-":
        return sys.stdout, None
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kirinuki-", suffix=".jsonl", dir=directory)
    return os.fdopen(fd, "w", encoding="utf-8"), tmp
