"""`kirinuki state prune|vacuum`: retention by hand (a crawl prunes by itself with keep_*)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from kirinuki.scraper.command import EXIT_BUSY, EXIT_CONFIG, EXIT_OK
from kirinuki.scraper.history import History
from kirinuki.scraper.retention import prune, vacuum
from kirinuki.scraper.state import StateLocked, Store, open_store
from kirinuki.scraper.statedb import is_database_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["prune", "vacuum"],
                        help="prune: delete old and empty run files (and their rows); "
                             "vacuum: give the state's free pages back to the disk")
    parser.add_argument("--state", default="out/state.sqlite", metavar="FILE",
                        help="SQLite state file (default out/state.sqlite)")
    parser.add_argument("--keep-runs", type=int, default=None, metavar="N",
                        help="prune: keep the newest N runs that have records")
    parser.add_argument("--keep-days", type=float, default=None, metavar="D",
                        help="prune: delete runs that started more than D days ago")


def open_existing_state(state: Path | str, command: str) -> Store | int:
    """The state of a finished crawl opened for a maintenance command, or the exit code after
    saying why not (no such file: a typo must not create an empty state; busy: a crawl runs)."""
    if is_database_url(str(state)):
        return open_store(str(state))
    if not state.exists():
        print(f"{command}: {state}: no such state file", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return Store(state)
    except StateLocked as exc:
        print(f"{command}: busy: {exc}", file=sys.stderr)
        return EXIT_BUSY


def run(args: argparse.Namespace) -> int:
    if args.action == "prune" and args.keep_runs is None and args.keep_days is None:
        print("kirinuki state prune: give --keep-runs and/or --keep-days", file=sys.stderr)
        return EXIT_CONFIG
    state = args.state if is_database_url(args.state) else Path(args.state)
    store = open_existing_state(state, "kirinuki state")
    if isinstance(store, int):
        return store
    try:
        if args.action == "prune":
            History(store.db)  # its tables exist before prune touches them
            gone = prune(store.db, args.keep_runs, args.keep_days, datetime.now(UTC))
            print(f"pruned {len(gone)} run(s)")
        else:
            before, after = vacuum(store.db)
            print(f"vacuumed {state}: {before} -> {after} pages")
        return EXIT_OK
    finally:
        store.close()
