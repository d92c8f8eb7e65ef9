"""`kirinuki held list|release|drop`: the degraded versions a crawl kept out of its output.

A version is held when an article we know as healthy comes back failing a health check (see
`scraper.hold`). Only a person can tell a broken template from a real edit, so only this command
lets one through: `release` emits it as the article's next version (into its own JSONL file, with
the same commit-then-write order as a crawl) and makes it the reference the next checks compare
against; `drop` discards it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from kirinuki.scraper.command import EXIT_CONFIG, EXIT_OK
from kirinuki.scraper.health import RecordStats
from kirinuki.scraper.history import Held, History, open_readonly
from kirinuki.scraper.state import Emit, JsonlWriter, Store
from kirinuki.scraper.state_cmd import open_existing_state
from kirinuki.scraper.statedb import is_database_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "release", "drop"])
    parser.add_argument("which", nargs="*", metavar="URL",
                        help="held articles to release or drop (URL or article key)")
    parser.add_argument("--all", action="store_true", help="release or drop every held version")
    parser.add_argument("--state", default="out/state.sqlite", metavar="FILE",
                        help="SQLite state file (default out/state.sqlite)")
    parser.add_argument("-o", "--out", default=None, metavar="DIR",
                        help="where release writes release-<UTC>.jsonl (default: beside --state)")
    parser.add_argument("--json", action="store_true", help="list as JSON")


def run(args: argparse.Namespace) -> int:
    state = args.state if is_database_url(args.state) else Path(args.state)
    if args.action == "list":
        db = open_readonly(state)
        held = History(db).held() if db is not None else []
        if args.json:
            print(json.dumps([{"url": h.url, "key": h.key, "source": h.source, "run_id": h.run_id,
                               "held_at": h.held_at, "flags": list(h.flags), "detail": h.detail}
                              for h in held], ensure_ascii=False, indent=2))
        else:
            for h in held:
                print(f"{h.source}\t{h.url}\t{','.join(h.flags)}\t{h.held_at}\t{h.detail}")
            print(f"{len(held)} held version(s) in {state}", file=sys.stderr)
        return EXIT_OK
    if not args.all and not args.which:
        print(f"kirinuki held {args.action}: name the URLs, or pass --all", file=sys.stderr)
        return EXIT_CONFIG
    store = open_existing_state(state, "kirinuki held")
    if isinstance(store, int):
        return store
    try:
        history = History(store.db)
        chosen = history.held(() if args.all else args.which)
        missing = set(args.which) - {h.url for h in chosen} - {h.key for h in chosen}
        for m in sorted(missing):
            print(f"kirinuki held: nothing held for {m}", file=sys.stderr)
        if args.action == "drop":
            for h in chosen:
                history.unhold(h.key)
            print(f"dropped {len(chosen)} held version(s)")
            return EXIT_CONFIG if missing else EXIT_OK
        out = Path(args.out) if args.out else (Path(".") if isinstance(state, str)
                                               else state.parent)
        path = release(store, history, chosen, out) if chosen else None
        print(f"released {len(chosen)} held version(s)" + (f" -> {path}" if path else ""))
        return EXIT_CONFIG if missing else EXIT_OK
    finally:
        store.close()


def release(store: Store, history: History, chosen: list[Held], out: Path) -> Path:
    """Emit held versions as their articles' next versions; return the JSONL file written."""
    now = datetime.now(UTC)
    run_id = now.strftime("release-%Y%m%dT%H%M%SZ")
    n = 1
    while (out / f"{run_id}.jsonl").exists():
        n += 1
        run_id = now.strftime("release-%Y%m%dT%H%M%SZ") + f"-{n}"
    writer = JsonlWriter(out / f"{run_id}.jsonl")
    at = now.isoformat(timespec="seconds")
    store.start_run(run_id, writer.path)
    try:
        for h in chosen:
            prev = store.article(h.key)
            version = 1 if prev is None else prev[1] + 1
            emit = Emit(h.key, version, h.source, h.url or h.key, h.content_hash or "",
                        at, h.record)
            for done in store.emit(run_id, [emit], [], etag=None, last_modified=None,
                                   fetched_at=at):
                writer.write(done.line)
            rec = json.loads(h.record)
            # A person judged this version real: it is the reference from now on.
            stats = RecordStats.of({**rec, "flags": []})
            history.note(h.key, h.source, h.url, run_id, at, stats)
            history.unhold(h.key)
        store.finish_run(run_id, {"released": len(chosen)})
    finally:
        writer.close()
    return writer.path
