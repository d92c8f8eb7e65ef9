"""`kirinuki`: one command, subcommands clean | profiles | fixtures | eval | crawl."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kirinuki import clean_cmd


def _profiles(args: argparse.Namespace) -> int:
    from kirinuki.pipelines.profiles import ProfileError, load_profile_file, profile_dirs

    if args.action == "check":
        if not args.dir:
            print("kirinuki profiles check: give the directory to check", file=sys.stderr)
            return 2
        from kirinuki.profiles_check import check_dir

        return check_dir(args.dir)

    rows, bad = [], 0
    for d in profile_dirs(args.profiles_dir):
        if not d.is_dir():
            print(f"kirinuki profiles: {d}: no such directory", file=sys.stderr)
            bad += 1
            continue
        for f in sorted(d.glob("*.toml")):
            try:
                p = load_profile_file(f)
                rows.append({"name": p.name, "domains": list(p.domains), "file": str(f), "ok": True})
            except ProfileError as exc:
                rows.append({"name": f.stem, "domains": [], "file": str(f), "ok": False, "error": str(exc)})
                bad += 1
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            status = "ok" if r["ok"] else f"ERROR {r['error']}"
            print(f"{r['name']:<16} {', '.join(r['domains']) or '-':<40} {r['file']}  {status}")
    return 1 if bad else 0


def _fixtures(args: argparse.Namespace) -> int:
    from kirinuki.goldens import (
        check_records,
        diff_expected,
        find_fixtures,
        gold_failures,
        load_meta,
        regen,
        run_fixture,
    )

    fixtures = find_fixtures(args.dir)
    if args.only:
        fixtures = [f for f in fixtures if any(o in str(f.html) or o in str(f.meta) for o in args.only)]
    bad = 0
    for fx in fixtures:
        if fx.external and not fx.html.exists():
            print(f"skip {fx.meta} (its page {fx.html} is not here)")
            continue
        try:
            if args.action == "regen":
                ok, failures = regen(fx)
                print(f"{'wrote' if ok else 'REFUSED'} {fx.meta}")
            else:
                records = run_fixture(fx)
                meta = load_meta(fx)
                failures = check_records(records, meta.get("checks", {})) + gold_failures(fx, records)
                if not failures and records != meta.get("expected"):
                    failures = ["expected records differ:\n" + diff_expected(fx, records, meta.get("expected", []))]
                print(f"{'ok' if not failures else 'FAIL'} {fx.html}")
        except AssertionError as exc:
            failures = [str(exc)]
            print(f"FAIL {fx.html}")
        for f in failures:
            print(f"    {f}")
        bad += bool(failures)
    print(f"{len(fixtures) - bad} passed, {bad} failed")
    return 1 if bad else 0


class _Version(argparse.Action):
    """argparse's `version` action, the version looked up only when asked: importlib.metadata
    was 25 ms of every start (issue 10)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        from kirinuki import __version__

        print(f"kirinuki {__version__}")  # to stdout, as argparse's own action prints it
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` (the subcommand being run), the other subcommands'
    modules are not imported (`crawl` pulls in Scrapy): `kirinuki clean` starts 0.13 s sooner."""
    parser = argparse.ArgumentParser(prog="kirinuki", description="Turn noisy news pages into clean article JSON.")
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("clean", help="clean saved HTML files into JSON Lines records")
    clean_cmd.add_arguments(p)
    p.set_defaults(func=clean_cmd.run)

    p = sub.add_parser("profiles", help="list the site profiles and check that each loads; "
                       "`profiles check DIR` validates a profile directory and runs its fixtures")
    p.add_argument("action", nargs="?", choices=["list", "check"], default="list")
    p.add_argument("dir", nargs="?", help="with check: the profile directory (its fixtures below it)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--profiles-dir", action="append", default=[], help="extra profile directory")
    p.set_defaults(func=_profiles)

    p = sub.add_parser("fixtures", help="check golden fixtures or regenerate their expected records")
    p.add_argument("action", choices=["check", "regen"])
    p.add_argument("--dir", default=str(Path("fixtures")), help="fixtures directory (default fixtures/)")
    p.add_argument("--only", nargs="*", help="only fixtures whose path contains one of these")
    p.set_defaults(func=_fixtures)

    for name, module, help_ in (
        ("eval", "kirinuki.evaluate", "measure extraction quality on a gold manifest"),
        ("inspect", "kirinuki.inspect_page",
         "write an HTML view of a page's blocks: kept, or removed and by which rule"),
        ("crawl", "kirinuki.scraper.command", "crawl configured sources"),
        ("schedule", "kirinuki.scraper.scheduler",
         "run each source when its schedule says (long-running; one run at a time)"),
        ("worker", "kirinuki.scraper.cluster.worker",
         "cluster mode: drain runs seeded by `kirinuki crawl` from Redis into the shared state"),
        ("report", "kirinuki.report", "write OUT/report.html from the state (alerts, charts)"),
        ("state", "kirinuki.scraper.state_cmd", "prune old run files, vacuum the state file"),
        ("export", "kirinuki.export_cmd",
         "write the latest version of every article in a crawl state (JSONL, CSV, Parquet)"),
        ("held", "kirinuki.scraper.held_cmd",
         "list, release or drop article versions a crawl held back as degraded"),
    ):
        p = sub.add_parser(name, help=help_)
        if only is not None and name != only:
            continue
        try:
            mod = __import__(module, fromlist=["add_arguments", "run"])
        except ImportError as exc:
            if name == only:
                # Its options are unknown without the module: say why now, not "unrecognized
                # arguments" (a venv installed before a new dependency, e.g. google-re2).
                raise SystemExit(_missing(name, exc)) from None
            p.set_defaults(func=lambda _a, exc=exc, n=name: _missing(n, exc))
            continue
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def _missing(name: str, exc: Exception) -> int:
    print(f"kirinuki {name}: not available: {exc}", file=sys.stderr)
    return 2


def _command(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first word that is no option), if any."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: list[str] | None = None) -> int:
    from kirinuki.scraper.logs import configure_logging

    args = build_parser(_command(sys.argv[1:] if argv is None else argv)).parse_args(argv)
    configure_logging(args.log_level)  # one handler; `crawl` re-configures with its own flags
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
