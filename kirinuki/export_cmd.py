"""`kirinuki export`: the latest version of every article in a crawl's state, as one file.

The crawl writes one JSON Lines file per run, each holding only what was new or changed in that
run; `export` gives the whole collection as it stands (one record per article, its latest
version, `version` set) in JSON Lines, CSV or Parquet. It reads the state without locking it, so
it can run beside a crawl.
"""

from __future__ import annotations

import argparse
import sys

from kirinuki.formats import RecordWriter, format_for, write_parquet
from kirinuki.safe_output import OutputError, open_output
from kirinuki.shown import shown

EXPORT_FORMATS = ("jsonl", "csv", "parquet")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Write the latest version of every article in a crawl state to one file."
    p.add_argument("--state", required=True, metavar="FILE", help="the crawl's SQLite state file, or its postgresql:// URL (cluster)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output file (- for stdout)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default=None,
                   help="jsonl (default), csv or parquet (needs pyarrow); else from the -o suffix")


def run(args: argparse.Namespace) -> int:
    from kirinuki.scraper.state import latest_records
    from kirinuki.scraper.statedb import open_readonly, state_errors

    fmt = format_for(args.output, args.format)
    if fmt not in EXPORT_FORMATS:
        print(f"kirinuki export: format {fmt} is not one of {', '.join(EXPORT_FORMATS)} "
              "(use --format)", file=sys.stderr)
        return 2
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            print("kirinuki export: Parquet needs pyarrow, which is not installed "
                  "(pip install pyarrow); --format jsonl or csv work without it", file=sys.stderr)
            return 2
    try:
        db = open_readonly(args.state)
        if db is None:
            print(f"kirinuki export: {shown(args.state)}: no such state file", file=sys.stderr)
            return 2
        records = latest_records(db)
        out = open_output(args.output)
        try:
            if fmt == "parquet":
                n = write_parquet(records, out)
            else:
                writer = RecordWriter(out, fmt)
                for rec in records:
                    writer.write(rec)
                writer.close()
                n = writer.count
        except BaseException:
            out.discard()
            raise
        out.commit()
    except state_errors() as exc:
        print(f"kirinuki export: {shown(args.state)}: not a readable crawl state ({exc})",
              file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"kirinuki export: {exc}", file=sys.stderr)
        return 1
    print(f"kirinuki export: {n} articles -> {shown(args.output)}", file=sys.stderr)
    return 0
