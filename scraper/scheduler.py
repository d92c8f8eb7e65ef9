"""`kirinuki schedule`: the long-running form of `kirinuki crawl --due`.

One loop per state file: it sleeps until the next source is due, then runs `kirinuki crawl --due`
as a child process and waits for it, so there is never more than one run at a time (the state
lock would refuse a second one anyway: exit 3). A run is a child process because a Twisted reactor
cannot be restarted, and because a run that crashes must not take the scheduler with it: whatever
a run exits with is logged and the loop goes on. The sources file is re-read when it changes (a
broken edit is reported and the last good file kept). SIGTERM or SIGINT: the child gets one
SIGTERM (Scrapy then finishes the requests in flight and closes the run; records are committed to
the state before they are written, so nothing is left half-written), the loop waits for it and
exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kirinuki.scraper.command import EXIT_CONFIG, EXIT_OK
from kirinuki.scraper.config import SourcesConfig, SourcesError, load_sources, with_cluster
from kirinuki.scraper.history import History, open_readonly
from kirinuki.scraper.schedule import Schedule, due, next_due, parse_schedule
from kirinuki.scraper.statedb import state_errors

logger = logging.getLogger(__name__)

POLL_S = 0.5  # how often the loop looks at the clock, the stop flag and the sources file
RETRY_S = 30.0  # wait after a run that could not start (busy state, bad config)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sources", default="sources.toml", metavar="FILE",
                        help="sources file; every source needs a schedule (or [crawl] schedule)")
    parser.add_argument("-o", "--out", default="out", metavar="DIR", help="output directory")
    parser.add_argument("--state", default=None, metavar="FILE",
                        help="SQLite state file; default <out>/state.sqlite")
    parser.add_argument("--crawl-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for each `kirinuki crawl --due` run "
                             "(repeat: --crawl-arg=--log-file --crawl-arg=/var/log/k.log)")
    parser.add_argument("--max-runs", type=int, default=None, metavar="N",
                        help="stop after N runs (tests, one-off catch-up)")
    from kirinuki.scraper.cluster.worker import add_cluster_arguments

    add_cluster_arguments(parser)  # cluster mode: each run seeds the cluster (`kirinuki worker`)


def schedules_of(config: SourcesConfig) -> dict[str, Schedule]:
    """Every source's schedule; SourcesError naming a source that has none."""
    out = {}
    for src in config.sources:
        if not src.schedule:
            raise SourcesError(
                f"{config.path}: source {src.name!r}: key 'schedule': required by "
                "`kirinuki schedule` (give it one, or a default in [crawl])")
        out[src.name] = parse_schedule(src.schedule)
    return out


class Scheduler:
    """The loop; `stop()` (from a signal handler) ends it after the run in hand."""

    def __init__(self, sources: Path, out: Path, state: Path, crawl_args: list[str],
                 max_runs: int | None = None) -> None:
        self.sources = sources
        self.out = out
        self.state = state
        self.crawl_args = crawl_args
        self.max_runs = max_runs
        self.runs = 0
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._mtime: float | None = None
        self.schedules: dict[str, Schedule] = {}

    def stop(self, *_: object) -> None:
        if not self._stop.is_set():
            self._stop.set()
            child = self._child
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)  # once: a second one would force Scrapy

    def reload(self) -> bool:
        """Re-read the sources file when it changed; keep the last good one on an error."""
        try:
            mtime = self.sources.stat().st_mtime_ns
        except OSError as exc:
            if not self.schedules:
                raise SourcesError(f"{self.sources}: {exc}") from None
            logger.error("sources file %s unreadable (%s); keeping the last good one",
                         self.sources, exc)
            return False
        if mtime == self._mtime:
            return False
        try:
            schedules = schedules_of(load_sources(self.sources))
        except SourcesError as exc:
            if not self.schedules:
                raise
            logger.error("%s; keeping the last good sources file", exc)
            self._mtime = mtime
            return False
        first = self._mtime is None
        self._mtime = mtime
        self.schedules = schedules
        if not first:
            logger.warning("sources file %s changed: %d source(s) now", self.sources,
                           len(schedules))
        return True

    def last_started(self) -> dict[str, str] | None:
        """source -> last run start, from the state; None when the state cannot be read now."""
        try:
            db = open_readonly(self.state)
            if db is None:
                return {}
            try:
                return History(db).last_started()
            finally:
                db.close()
        except state_errors() as exc:
            logger.warning("cannot read %s now (%s); trying again", self.state, exc)
            return None

    def run_forever(self) -> int:
        self.reload()
        while not self._stop.is_set():
            self.reload()
            last = self.last_started()
            if last is None:
                self._stop.wait(POLL_S)
                continue
            now = datetime.now(UTC)
            names = due(self.schedules, last, now)
            if names:
                code = self.run_once()
                self.runs += 1
                if self.max_runs is not None and self.runs >= self.max_runs:
                    break
                after = self.last_started() or {}
                if code not in (0, 1) or all(after.get(n) == last.get(n) for n in names):
                    # could not run, crashed, or ran nothing: never a hot loop on a due source
                    logger.warning("run exited %d without running %s; next try in %.0fs",
                                   code, ", ".join(names), RETRY_S)
                    self._stop.wait(RETRY_S)
                continue
            when, name = next_due(self.schedules, last)
            wait = POLL_S if when is None else (when - now).total_seconds()
            logger.info("next run: %s at %s", name, when)
            self._stop.wait(min(max(wait, 0.05), POLL_S))
        return EXIT_OK

    def run_once(self) -> int:
        cmd = [sys.executable, "-m", "kirinuki.scraper", "--due", "--no-progress",
               "--sources", str(self.sources), "-o", str(self.out), "--state", str(self.state),
               *self.crawl_args]
        started = time.monotonic()
        # Own session: a terminal's Ctrl-C reaches the scheduler only, which forwards one SIGTERM.
        self._child = subprocess.Popen(cmd, start_new_session=True)
        if self._stop.is_set():
            self._child.send_signal(signal.SIGTERM)
        code = self._child.wait()
        self._child = None
        level = logging.INFO if code in (0, 1) else logging.ERROR
        logger.log(level, "run exited %d after %.1fs", code, time.monotonic() - started)
        return code


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    state = Path(args.state) if args.state else out / "state.sqlite"
    sched = Scheduler(Path(args.sources), out, state, list(args.crawl_arg), args.max_runs)
    try:
        sched.reload()
    except SourcesError as exc:
        print(f"kirinuki schedule: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    shown: object = state
    redis_url, database_url = getattr(args, "redis", None), getattr(args, "database", None)
    try:
        cluster = with_cluster(load_sources(args.sources), redis_url, database_url).cluster
    except SourcesError as exc:
        print(f"kirinuki schedule: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if cluster is not None:
        from kirinuki.scraper.cluster.seed import redact

        # Cluster mode: the runs' history is in the shared database; each run seeds it.
        sched.state = cluster.database  # type: ignore[assignment]
        shown = redact(cluster.database)
        for flag, value in (("--redis", redis_url), ("--database", database_url)):
            if value is not None:
                sched.crawl_args += [flag, value]
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, sched.stop)
    print(f"kirinuki schedule: {len(sched.schedules)} source(s) from {args.sources}, "
          f"state {shown}, pid {os.getpid()}", file=sys.stderr)
    return sched.run_forever()
