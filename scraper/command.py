"""`kirinuki crawl`: arguments and the run (sources -> Scrapy crawl -> JSONL + SQLite + summary).

`kirinuki/cli.py` calls `add_arguments(subparser)` and `run(args)`; `python -m kirinuki.scraper` does the
same without the CLI. Scrapy is imported only inside `run`, so other subcommands stay light.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kirinuki.scraper.config import (
    SourcesConfig,
    SourcesError,
    check_profiles,
    load_sources,
    with_cluster,
    with_max_articles,
)
from kirinuki.scraper.health import fails, parse_fail_on

from kirinuki.formats import FORMATS, convert_jsonl
from kirinuki.safe_output import OutputError, write_json_atomic

logger = logging.getLogger(__name__)

# Exit codes (documented in README "Crawl" and "Run it as a scheduled job"): 0 done and healthy,
# 1 an alert of a --fail-on kind, 2 usage/config error or unusable state, 3 another crawl holds
# the state, 4 the output could not be written (run left unfinished).
EXIT_OK = 0
EXIT_ALERT = 1
EXIT_CONFIG = 2
EXIT_BUSY = 3
EXIT_WRITE_ERROR = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", default="sources.toml", metavar="FILE",
                        help="sources file (TOML, see sources.example.toml); default sources.toml")
    parser.add_argument("-o", "--out", default=None, metavar="DIR",
                        help="output directory for <run>.jsonl files; default out/ "
                             "(out/demo/ with --demo)")
    parser.add_argument("--state", default=None, metavar="FILE",
                        help="SQLite state file (default <out>/state.sqlite), or a "
                             "postgresql:// URL")
    parser.add_argument("--demo", action="store_true",
                        help="serve the shipped fixtures on 127.0.0.1 (feeds, sitemaps, listings, "
                             "robots.txt) and crawl them: no network needed")
    parser.add_argument("--fixtures", default=None, metavar="DIR",
                        help="fixtures directory for --demo (default: the repository's fixtures/)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="also write each run as crawl-<run>.txt, .md or .csv beside its "
                             "JSONL (made from it at the end of the run); default: [crawl] "
                             "format in the sources file, else jsonl only")
    parser.add_argument("--max-articles", type=int, default=None, metavar="N",
                        help="fetch at most N new articles per source in this run")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="cleaning processes (default: CPUs - 1; 0 = clean in-process)")
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default WARNING")
    parser.add_argument("--log-file", default=None, metavar="FILE",
                        help="log to FILE (rotated at 10 MB, 5 kept) instead of stderr")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="text (default) or json: one object per line for log shippers")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on a terminal")
    parser.add_argument("--due", action="store_true",
                        help="crawl only the sources due now by their schedule (never run, or "
                             "past their slot; a source with no schedule is always due): "
                             "the form for cron and systemd timers")
    parser.add_argument("--fail-on", default="all", metavar="KIND,...",
                        help="alert kinds that make the exit status 1 (default all; none = never): "
                             "source_failed, no_articles, profile_missed, short_text, "
                             "fields_missing")
    parser.add_argument("--rebuild-state", action="store_true",
                        help="the state file is new, empty or was moved away but the output "
                             "directory holds earlier runs: rebuild the state from their "
                             "files instead of refusing to run")
    from kirinuki.scraper.cluster.worker import add_cluster_arguments

    add_cluster_arguments(parser)
    parser.add_argument("--local-workers", type=int, default=0, metavar="N",
                        help="cluster mode: also start N `kirinuki worker` processes on this "
                             "machine for the run (default 0: workers run elsewhere)")


def run(args: argparse.Namespace) -> int:
    """Run one crawl; return the exit status (0 healthy, 1 alert, 2 usage/config, 3 busy)."""
    from kirinuki.scraper.logs import configure_logging

    configure_logging(args.log_level, getattr(args, "log_file", None),
                      getattr(args, "log_format", "text"))
    out = Path(args.out or ("out/demo" if args.demo else "out"))
    servers: list[Any] = []
    try:
        fail_on = parse_fail_on(getattr(args, "fail_on", None))
    except ValueError as exc:
        print(f"kirinuki crawl: --fail-on: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        from kirinuki import pipelines

        try:
            if args.demo:
                from kirinuki.demo import demo_config

                profiles = pipelines.load_profiles()
                config, servers = demo_config(Path(args.fixtures) if args.fixtures else None,
                                              profiles, ports_file=out / ".demo-ports.json")
            else:
                config = load_sources(args.sources)
                profiles = pipelines.load_profiles(extra_dirs=config.crawl.profiles_dirs)
            check_profiles(config, profiles.names())
            config = with_max_articles(config, args.max_articles)
            config = with_cluster(config, getattr(args, "redis", None),
                                  getattr(args, "database", None))
        except (SourcesError, FileNotFoundError) as exc:
            print(f"kirinuki crawl: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        state = _state_target(args.state, out)
        if config.cluster is not None:
            state = config.cluster.database
        if getattr(args, "due", False):
            config = due_config(config, state)
            if not config.sources:
                print("kirinuki crawl: no source is due", file=sys.stderr)
                return EXIT_OK
        if config.cluster is not None:
            from kirinuki.scraper.cluster.seed import cluster_crawl

            text = None if args.demo else Path(args.sources).read_text(encoding="utf-8")
            return cluster_crawl(config, out, args, fail_on, text)
        return _crawl(config, out, state, args, fail_on)
    finally:
        for s in servers:
            s.stop()


def _state_target(state: str | None, out: Path) -> Any:
    """--state: a SQLite file (default <out>/state.sqlite) or a postgresql:// URL, kept whole."""
    from kirinuki.scraper.statedb import is_database_url

    if state and is_database_url(state):
        return state
    return Path(state) if state else out / "state.sqlite"


def _crawl(config: SourcesConfig, out: Path, state_path: Path, args: argparse.Namespace,
           fail_on: frozenset[str]) -> int:
    from kirinuki.scraper.context import CrawlContext
    from kirinuki.scraper.history import History
    from kirinuki.scraper.run_health import finish_health
    from kirinuki.scraper.settings import build_settings
    from kirinuki.scraper.spider import SourcesSpider
    from kirinuki.scraper.state import JsonlWriter, StateBusy, StateCorrupt, open_store
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.settings import Settings

    try:
        store = open_store(state_path)
    except StateBusy as exc:
        print(f"kirinuki crawl: busy: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except StateCorrupt as exc:
        print(f"kirinuki crawl: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    started = time.monotonic()
    writer = None
    try:
        if not _state_matches_output(store, state_path, out, args):
            return EXIT_CONFIG
        fmt = getattr(args, "format", None) or config.crawl.format
        for path, n in store.recover():
            print(f"kirinuki crawl: completed interrupted run {path} (+{n} records)", file=sys.stderr)
            _write_format(Path(path), fmt)
        run_id = new_run_id(out)
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        writer = JsonlWriter(out / f"{run_id}.jsonl")
        store.start_run(run_id, writer.path)
        progress = not getattr(args, "no_progress", False)
        rechecked = _recheck(config, store)
        ctx = CrawlContext(config, store, writer, run_id, progress=progress)
        settings = build_settings(config, log_level=args.log_level, progress=progress,
                                  workers=args.workers)
        # Our one handler (scraper.logs) takes Scrapy's lines too: no second root handler.
        settings["LOG_INSTALL_ROOT_HANDLER"] = False
        process = AsyncCrawlerProcess(Settings(settings))
        process.crawl(SourcesSpider, context=ctx)
        process.start()
        if ctx.fatal is not None:
            print(f"kirinuki crawl: {ctx.fatal}; stopped run {run_id} and left it unfinished "
                  "(the next run completes its file from the state)", file=sys.stderr)
            return EXIT_WRITE_ERROR
        writer.close()
        store.mark_checked(run_id, writer.path, writer.count)
        formatted = _write_format(writer.path, fmt)
        summary = ctx.summary(store.path, time.monotonic() - started,
                              extra={name: {"rechecked": n} for name, n in rechecked.items()})
        alerts = finish_health(History(store.db), run_id, started_at, summary["sources"],
                               complete=ctx.stats.get("finish_reason") == "finished")
        summary["alerts"] = [a.as_dict() for a in alerts]
        if formatted:
            summary["formatted"] = formatted
        store.finish_run(run_id, summary)
        if config.crawl.keep_runs is not None or config.crawl.keep_days is not None:
            from kirinuki.scraper.retention import prune

            summary["pruned_runs"] = len(prune(store.db, config.crawl.keep_runs,
                                               config.crawl.keep_days, datetime.now(UTC), run_id))
        write_json_atomic(out / f"{run_id}.summary.json", summary)
        _report(store, out)
        print_summary(summary)
        return EXIT_ALERT if fails(alerts, fail_on) else EXIT_OK
    except (OSError, OutputError) as exc:  # output or state not writable (disk full, permissions)
        print(f"kirinuki crawl: {_one_line(exc)}", file=sys.stderr)
        return EXIT_WRITE_ERROR
    finally:
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass  # already reported; recovery rewrites what is missing
        store.close()


def earlier_runs(out: Path) -> list[Path]:
    """Run files a crawl left in the output directory, oldest first."""
    return sorted(out.glob("crawl-*.jsonl"))


def _state_matches_output(store: Any, state_path: Path, out: Path,
                          args: argparse.Namespace) -> bool:
    """An empty state next to earlier run files means the state was lost (deleted, truncated,
    a wrong --state): crawling would emit every article again. Refuse, unless asked to rebuild
    the state from those files (`--rebuild-state`)."""
    rebuild = getattr(args, "rebuild_state", False)
    if not store.is_empty():
        if rebuild:
            print(f"kirinuki crawl: --rebuild-state: {state_path} is not empty; it is only "
                  "rebuilt into an empty or new file", file=sys.stderr)
            return False
        return True
    runs = earlier_runs(out)
    if not runs:
        return True  # a first run
    if not rebuild:
        print(f"kirinuki crawl: {state_path} knows no runs but {out} holds {len(runs)} run "
              "file(s); crawling would emit their articles again. Pass --rebuild-state to "
              "rebuild the state from them, or move them away to start afresh", file=sys.stderr)
        return False
    from kirinuki.scraper.item_pipelines import record_key

    n = store.rebuild(runs, record_key)
    print(f"kirinuki crawl: rebuilt {state_path} from {len(runs)} run file(s), {n} records",
          file=sys.stderr)
    return True


def _write_format(jsonl: Path, fmt: str) -> str | None:
    """The run also in `fmt`, beside its JSONL and made from it, so it holds exactly the run's
    records (a recovered run's file is made again). The JSONL stays the crash-safe record."""
    if fmt == "jsonl" or not jsonl.exists():
        return None
    return convert_jsonl(jsonl, fmt)[0]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _report(store: Any, out: Path) -> None:
    """OUT/report.html after each run; a report that cannot be made never fails the run."""
    from kirinuki.report import write_report

    try:
        write_report(store.db, out / "report.html")
    except Exception:  # noqa: BLE001 - the run's records and summary are already safe
        logger.warning("could not write %s", out / "report.html", exc_info=True)


def due_config(config: SourcesConfig, state: Path) -> SourcesConfig:
    """The sources due now (by their schedule and the last run of each in the state)."""
    from kirinuki.scraper.history import History, open_readonly
    from kirinuki.scraper.schedule import due, parse_schedule

    db = open_readonly(state)
    try:
        last = History(db).last_started() if db is not None else {}
    finally:
        if db is not None:
            db.close()
    schedules = {s.name: parse_schedule(s.schedule) if s.schedule else None
                 for s in config.sources}
    names = set(due(schedules, last, datetime.now(UTC)))
    return replace(config, sources=tuple(s for s in config.sources if s.name in names))


def _recheck(config: SourcesConfig, store: Any) -> dict[str, int]:
    """Requeue known articles older than each source's `recheck_after` (bounded per run)."""
    from kirinuki.scraper.schedule import parse_duration

    done = {}
    for src in config.sources:
        if src.recheck_after:
            before = datetime.now(UTC) - parse_duration(src.recheck_after)
            done[src.name] = store.recheck(src.name, before.isoformat(timespec="seconds"),
                                           src.recheck_limit)
    return done


def new_run_id(out: Path) -> str:
    stamp = datetime.now(UTC).strftime("crawl-%Y%m%dT%H%M%SZ")
    run_id, n = stamp, 1
    while (out / f"{run_id}.jsonl").exists():
        n += 1
        run_id = f"{stamp}-{n}"
    return run_id




COLUMNS = ("discovered", "known", "fetched", "new", "updated", "unchanged", "not_modified",
           "held", "failed", "rejected")
_HEADS = {"not_modified": "not_mod"}


def print_summary(summary: dict[str, Any], file: Any = None) -> None:
    """The run summary table (stdout): one row per source, then reasons for failures/rejections."""
    f = file or sys.stdout
    width = max([len("source")] + [len(n) for n in summary["sources"]])
    print(f"{'source':<{width}}  " + "  ".join(f"{_HEADS.get(c, c):>10}" for c in COLUMNS),
          file=f)
    for name, row in summary["sources"].items():
        print(f"{name:<{width}}  " + "  ".join(f"{row.get(c, 0):>10}" for c in COLUMNS), file=f)
        for group in ("failed", "rejected"):
            reasons = row.get(f"{group}_reasons") or {}
            if reasons:
                print(f"{'':<{width}}    {group}: "
                      + ", ".join(f"{k} {v}" for k, v in reasons.items()), file=f)
    t = summary["totals"]
    print(f"{summary['records']} records ({t.get('new', 0)} new, {t.get('updated', 0)} updated) "
          f"-> {summary['output']}; state {summary['state']}; {summary['elapsed_s']}s", file=f)
    for a in summary.get("alerts") or []:
        urls = f" ({len(a['urls'])} url(s), e.g. {a['urls'][0]})" if a.get("urls") else ""
        print(f"ALERT {a['kind']} {a['source']}: {a['detail']}{urls}", file=f)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kirinuki.scraper",
                                     description="Crawl the configured sources (kirinuki crawl).")
    add_arguments(parser)
    return run(parser.parse_args(argv))
