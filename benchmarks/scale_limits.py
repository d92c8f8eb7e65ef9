"""The two shared limits of cluster mode, measured on real servers (figures for docs/SCALE.md).

    python benchmarks/scale_limits.py [--requests 20000] [--records 2000] [--writers 1 4]

1. Redis memory per queued request: `--requests` article requests, built as our spider builds
   them (URL, callback, errback, priority, our `meta`), pushed through scrapy-redis's own
   request queue (`scrapy_redis.queue.PriorityQueue`, its default: a sorted set of pickled
   request dicts) into a real redis-server; `MEMORY USAGE` of the key and the `used_memory`
   delta of `INFO memory`, divided by the count. The same for the duplicate filter (one SHA1
   fingerprint per request in a set, `scrapy_redis.dupefilter.RFPDupeFilter`).
2. State write rate: records/s of `Store.emit` (a record line, its article row and its URL row in
   one transaction, as the item pipeline writes each article) with `--writers` processes
   writing at once: on the embedded SQLite state (one writer: it is single-process by design) and
   on PostgreSQL (a real server, `open_store("postgresql://...")`). The record is a real cleaned
   article (a shipped fixture), its key and URL made unique per write.

Servers come from tests/servers.py (temp dirs, free ports, stopped at the end). PostgreSQL runs
with fsync off there (a throwaway test cluster); the PostgreSQL rows are measured that way and
again with fsync, synchronous_commit and full_page_writes on (ALTER SYSTEM + reload), as a real
server runs: every commit waits for its WAL flush on this machine's disk. The last column is
the 1-minute load average (the machine may be shared: a load above its CPU count slows
every row).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FIXTURE = REPO / "fixtures" / "newsweekjapan" / "2017-10-10_putin-north-korea.html"


def _spider():
    from scrapy import Spider

    class Bench(Spider):
        name = "kirinuki"

        def parse_article(self, response):  # pragma: no cover - never called
            pass

        def on_error(self, failure):  # pragma: no cover - never called
            pass

    return Bench()


def _request(spider, i: int):
    """An article request as `KirinukiSpider._article_request` makes it (same meta keys)."""
    from scrapy import Request

    url = f"https://www.example-news.co.jp/articles/2025/03/{i // 1000:04d}/news-{i:08d}.html"
    return Request(url, callback=spider.parse_article, errback=spider.on_error, dont_filter=True,
                   priority=10, meta={
                       "kirinuki_source": f"source{i % 1000:04d}", "kirinuki_kind": "article",
                       "kirinuki_url": url, "download_slot": "www.example-news.co.jp",
                       "download_timeout": 30.0, "handle_httpstatus_list": [304],
                       "autothrottle_dont_adjust_delay": False,
                       "kirinuki_hints": (f"見出し{i}：市議会が新年度予算案を可決、子育て支援に重点",
                                          "2025-03-01T10:00:00+09:00")})


def redis_bytes(url: str, n: int) -> dict[str, float]:
    import redis
    from scrapy_redis.dupefilter import RFPDupeFilter
    from scrapy_redis.queue import PriorityQueue

    r = redis.Redis.from_url(url)
    r.flushall()
    spider = _spider()
    q = PriorityQueue(r, spider, "bench:requests")
    before = r.info("memory")["used_memory"]
    sizes = 0
    for i in range(n):
        req = _request(spider, i)
        sizes += len(q._encode_request(req))
        q.push(req)
    after = r.info("memory")["used_memory"]
    queue_key = r.memory_usage("bench:requests", samples=0)
    df = RFPDupeFilter(r, "bench:dupefilter")
    before_df = r.info("memory")["used_memory"]
    for i in range(n):
        df.request_seen(_request(spider, i))
    after_df = r.info("memory")["used_memory"]
    df_key = r.memory_usage("bench:dupefilter", samples=0)
    assert len(q) == n and r.scard("bench:dupefilter") == n
    return {"pickled": sizes / n, "queue_key": queue_key / n, "queue_info": (after - before) / n,
            "dupefilter_key": df_key / n, "dupefilter_info": (after_df - before_df) / n}


def _record_line() -> str:
    import kirinuki

    [rec] = kirinuki.clean_file(str(FIXTURE))
    return json.dumps(rec, ensure_ascii=False)


def _write(target: str | Path, worker: int, count: int, line: str, run_id: str, out: Path,
           barrier: Any = None) -> float:
    """One writer: `count` emits, each its own transaction; returns seconds spent. With a
    barrier, all writers open their store (schema checks) before any of them writes."""
    from kirinuki.scraper import state

    store = (state.open_store(target) if hasattr(state, "open_store")  # pgstate (issue 12)
             else state.Store(target))
    if worker == 0:
        store.start_run(run_id, out)
    if barrier is not None:
        barrier.wait()
    t = time.perf_counter()
    for i in range(count):
        url = f"https://www.example-news.co.jp/articles/w{worker}/news-{i:08d}.html"
        e = state.Emit(key=url, version=1, source=f"source{i % 50}", url=url,
                 content_hash=f"{worker:04d}{i:012d}", fetched_at="2025-03-01T10:00:00+00:00",
                 line=line.replace(str(FIXTURE.stem), f"w{worker}-{i}"))
        store.emit(run_id, [e], [(url, e.source, "article")], etag=None, last_modified=None,
                   fetched_at="2025-03-01T10:00:00+00:00")
    elapsed = time.perf_counter() - t
    store.close()
    return elapsed


def _writer_main(args: tuple) -> float:
    return _write(*args)


def emit_rate(target: str | Path, writers: int, per_writer: int, line: str, out: Path) -> float:
    """Records/s of `writers` processes emitting at once (wall clock over all of them)."""
    run_id = f"bench-{writers}-{os.getpid()}"
    if writers == 1:
        return per_writer / _write(target, 0, per_writer, line, run_id, out)
    # The run row first (emit's foreign key), then the writers together.
    _write(target, 0, 0, line, run_id, out)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(writers) as pool:
        barrier = manager.Barrier(writers)
        seconds = pool.map(_writer_main, [(target, w + 1, per_writer, line, run_id, out, barrier)
                                          for w in range(writers)])
    return writers * per_writer / max(seconds)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--records", type=int, default=2000, help="emits per writer process")
    ap.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()

    from tests.servers import start_redis

    print(f"CPUs {os.cpu_count()}")
    with start_redis() as redis_srv:
        b = redis_bytes(redis_srv.url, args.requests)
        info = redis_srv.url
    print(f"Redis ({info.rsplit(':', 1)[0]}), {args.requests} article requests:")
    print(f"  queue (scrapy_redis PriorityQueue): {b['pickled']:.0f} B pickled per request, "
          f"{b['queue_key']:.0f} B per request by MEMORY USAGE, {b['queue_info']:.0f} B by "
          f"INFO used_memory")
    print(f"  duplicate filter (RFPDupeFilter set): {b['dupefilter_key']:.0f} B per fingerprint by "
          f"MEMORY USAGE, {b['dupefilter_info']:.0f} B by INFO used_memory")

    line = _record_line()
    print(f"State writes: Store.emit of a {len(line.encode())} B record line, one transaction each")
    print(f"  {'state':<28} {'writers':>7} {'records':>8} {'records/s':>10} {'load':>5}")
    with tempfile.TemporaryDirectory(prefix="scalelimits-") as tmp:
        out = Path(tmp) / "out"
        rate = emit_rate(Path(tmp) / "state.sqlite", 1, args.records, line, out)
        print(f"  {'SQLite (embedded)':<28} {1:>7} {args.records:>8} {rate:>10.0f} "
              f"{os.getloadavg()[0]:>5.1f}", flush=True)
        for durable in (False, True):
            with _postgres(durable) as pg:
                for w in args.writers:
                    rate = emit_rate(pg.create_database(f"emit{w}"), w, args.records, line, out)
                    label = "PostgreSQL (" + ("fsync on" if durable else "fsync off") + ")"
                    print(f"  {label:<28} {w:>7} {w * args.records:>8} {rate:>10.0f} "
                          f"{os.getloadavg()[0]:>5.1f}", flush=True)
    return 0


@contextlib.contextmanager
def _postgres(durable: bool) -> Iterator[Any]:
    """tests/servers.py's PostgreSQL; `durable`: without its fsync/synchronous_commit/
    full_page_writes=off options, so every commit waits for its WAL flush, as on a real server."""
    from tests import servers

    if not durable:
        with servers.start_postgres() as pg:
            yield pg
        return

    class Durable(servers.PostgresServer):
        def _command(self) -> tuple[list[str], dict]:
            cmd, extra = super()._command()
            out: list[str] = []
            for arg in cmd:
                if arg in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                    out.pop()  # its "-c"
                else:
                    out.append(arg)
            return out, extra

    root = servers._temp_root("kirinuki-pg-durable-")
    pg = Durable(root)
    try:
        yield pg.start()
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
