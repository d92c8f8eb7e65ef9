"""Cluster scaling: pages/s of 1, 2, 4 and 8 `kirinuki worker` processes on a 100 ms loopback site.

    python benchmarks/cluster_bench.py [--hosts 40] [--pages-per-host 30] [--workers 1 2 4 8]
                                       [--concurrency 2] [--latency 0.1] [--delay 0.25]
                                       [--no-embedded] [--keep DIR]

The site: `--hosts` loopback hosts (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8
to lo), one source per host, each host serving robots.txt, a sitemap and `--pages-per-host` small
article pages, every response held `--latency` seconds (a threaded server: one thread per
connection, so waiting and not the server bounds the crawl). The server logs when each request
arrives, per host: the minimum gap between two requests to one host is the server-side check that
the host's `download_delay` held across the whole cluster.

The crawlers: the embedded default (`kirinuki crawl`, SQLite + files, one process) and then cluster
mode (a real redis-server and PostgreSQL started in temp dirs by tests/servers.py; `kirinuki
crawl` with `[cluster]` seeds the run and waits while N `kirinuki worker --until-idle` processes,
already started and idle as in a real cluster, drain it; then it writes the run's JSONL from the
shared state). Every crawler process gets the
same fixed number of concurrent requests (`--concurrency`) and cleans in-process (`--workers 0`),
so one process is bound by waiting on the 100 ms responses, not by this machine's CPUs; the CPU
seconds column (user + system of the crawler processes, their children included) shows how far
from the CPU bound each row is.

Columns: mode, worker processes, pages (article records written); wall seconds from the first
command to the last process's exit, pages/s over it and its scaling (/ the 1-worker row); the
crawl window (first to last request the site saw: start-up and the final drain left out),
pages/s over it and its scaling; the largest peak RSS of one worker process (MB); CPU seconds
of the crawler processes (user + system, the seeder and cleaning children included) and per
page (ms); CPU seconds of the redis-server and PostgreSQL processes during the row; the 1-minute load average
when the row finished (the machine is shared: a load above the CPU count means the crawlers
were fighting other jobs for CPU); per host the smallest gap between two requests seen by the
server, robots.txt included ("gap all") and left out ("gap pg"), and whether it held the floor:
half the delay for the embedded crawl (Scrapy randomizes a slot's delay to 0.5-1.5x) and the
whole delay in cluster mode (the Redis lease spaces a site's request starts by the delay).
Everything is written under a temp dir that is removed at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kirinuki.demo import sitegen, to_toml  # noqa: E402
from kirinuki.demo.server import Resource, SiteHandler, SiteServer  # noqa: E402

KIRINUKI = [sys.executable, "-c", "import sys; from kirinuki.cli import main; sys.exit(main())"]

SENTENCES = [
    "市議会は{d}日、{h}地区の防災計画の見直し案を賛成多数で可決した。避難所の数を増やし、備蓄を拡充する。",
    "市の担当者は「{h}地区の住民の声を反映した」と説明した。計画は来年度から段階的に実施される見通しだ。",
    "一方、野党会派は財源の裏付けが不十分だと批判した。{h}地区の負担が増えるとの懸念も根強い。",
    "専門家は、{h}地区のような沿岸部では早めの避難が重要だと指摘している。訓練の回数も増やす方針だ。",
]


def article_page(host: int, n: int) -> bytes:
    """A small news page (~1.5 KB): its own title and text, so every page is a distinct record."""
    h = f"第{host}区{n}号"
    paras = "".join(f"<p>{s.format(d=(n + k) % 28 + 1, h=h)}</p>" for k, s in enumerate(SENTENCES))
    title = f"{h}の防災計画を可決"
    return (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>{title} | 例新聞</title>'
            f'<meta property="article:published_time" content="2025-03-{n % 28 + 1:02d}T09:00:00+09:00">'
            f'</head><body><nav><a href="/">トップ</a> <a href="/news/">ニュース</a></nav><article>'
            f"<h1>{title}</h1>{paras}</article><footer>© 例新聞</footer></body></html>").encode()


class _TimedHandler(SiteHandler):
    def _serve(self, head: bool) -> None:
        # Arrival time, before the site's latency: the gap between two arrivals is what a
        # site's operator sees of our politeness. list.append is atomic under the GIL.
        self.server.arrivals.append((time.monotonic(), self.path))
        super()._serve(head)


class SlowHost(SiteServer):
    """One loopback host: a `SiteServer` that logs arrival times and holds every response."""

    def __init__(self, host: str, latency: float) -> None:
        super().__init__(host=host, delay=latency)
        self.RequestHandlerClass = _TimedHandler
        self.arrivals: list[tuple[float, str]] = []


@dataclass
class Site:
    hosts: list[SlowHost]
    pages_per_host: int
    log_since: list[int] = field(default_factory=list)

    def sources(self, delay: float) -> list[dict]:
        return [{"name": f"host{i:03d}", "sitemaps": [h.url("/sitemap.xml")],
                 "download_delay": delay, "concurrent_requests": 1, "autothrottle": False}
                for i, h in enumerate(self.hosts)]

    def mark(self) -> None:
        """Start a new measurement: later `min_gaps()` looks only at requests after this."""
        self.log_since = [len(h.arrivals) for h in self.hosts]

    def _since(self, i: int) -> list[tuple[float, str]]:
        return self.hosts[i].arrivals[self.log_since[i]:]

    def span(self, t0: float) -> tuple[float, float]:
        """Seconds from `t0` to the first and to the last request the site saw."""
        times = [t for i in range(len(self.hosts)) for t, _ in self._since(i)]
        return (min(times) - t0, max(times) - t0) if times else (float("nan"), float("nan"))

    def save(self, path: Path, t0: float) -> None:
        """The arrival log (host, seconds from `t0`, path), sorted by time: for --keep."""
        hits = sorted((t - t0, i, p) for i in range(len(self.hosts)) for t, p in self._since(i))
        path.write_text("".join(f"{self.hosts[i].server_address[0]}\t{t:.3f}\t{p}\n"
                                for t, i, p in hits))

    def min_gaps(self, robots: bool = True) -> list[tuple[float, str, str]]:
        """Per host, the smallest gap between two consecutive requests and their paths."""
        out = []
        for i in range(len(self.hosts)):
            hits = sorted(h for h in self._since(i) if robots or h[1] != "/robots.txt")
            out.append(min(((b[0] - a[0], a[1], b[1]) for a, b in itertools.pairwise(hits)),
                           default=(float("inf"), "", "")))
        return out


def start_site(n_hosts: int, pages_per_host: int, latency: float) -> Site:
    hosts = []
    for i in range(n_hosts):
        srv = SlowHost(f"127.0.0.{2 + i}", latency)
        urls = []
        for n in range(pages_per_host):
            path = f"/news/{i:03d}-{n:04d}.html"
            srv.resources[path] = Resource(article_page(i, n))
            urls.append(sitegen.Item(srv.url(path), f"記事{n}"))
        srv.resources["/sitemap.xml"] = Resource(sitegen.urlset(urls), "application/xml")
        srv.resources["/robots.txt"] = Resource(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        hosts.append(srv.start())
    return Site(hosts, pages_per_host)


@dataclass
class Proc:
    """A crawler process and, once it exits, what the kernel accounted to it (wait4)."""

    popen: subprocess.Popen
    cpu_s: float = 0.0
    maxrss_mb: float = 0.0
    status: int | None = None


def spawn(args: Sequence[str], log: Path, profile: Path | None = None) -> Proc:
    """`kirinuki ARGS...` in the background (under cProfile, written to `profile`, if given)."""
    cmd = [*KIRINUKI, *args] if profile is None else [
        sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "kirinuki.cli", *args]
    with open(log, "ab") as fh:
        p = subprocess.Popen(cmd, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    return Proc(p)


def reap(proc: Proc) -> Proc:
    """Wait for the process; its CPU time includes its waited-for children (the cleaners)."""
    _, status, ru = os.wait4(proc.popen.pid, 0)
    proc.popen.returncode = os.waitstatus_to_exitcode(status)
    proc.status = proc.popen.returncode
    proc.cpu_s = ru.ru_utime + ru.ru_stime
    proc.maxrss_mb = ru.ru_maxrss / 1024  # KB on Linux
    return proc


def reap_all(procs: list[Proc]) -> list[Proc]:
    threads = [threading.Thread(target=reap, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return procs


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a running process and its reaped children (/proc/PID/stat): a server's
    own work, PostgreSQL's backends included once their connections closed."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    mode: str
    workers: int
    pages: int
    seconds: float
    procs: list[Proc]
    gaps: list[tuple[float, str, str]]  # robots.txt included
    page_gaps: list[tuple[float, str, str]]  # robots.txt left out
    span: tuple[float, float] = (float("nan"), float("nan"))  # first, last request (s)
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # others share the CPUs
    server_cpu_s: float = 0.0  # redis-server + PostgreSQL during the row
    seeder: Proc | None = None  # cluster mode: the seeding `kirinuki crawl` (CPU counted too)

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def count_records(out: Path) -> int:
    n = 0
    for f in out.rglob("*.jsonl"):
        with open(f, encoding="utf-8") as fh:
            n += sum(1 for line in fh if line.strip())
    return n


def crawl_config(site: Site, args: argparse.Namespace) -> dict:
    return {"crawl": {"concurrent_requests_total": args.concurrency, "workers": 0,
                      "retry_backoff": 0.2, "autothrottle": False},
            "sources": site.sources(args.delay)}


def run_embedded(site: Site, work: Path, args: argparse.Namespace) -> Row:
    """The same crawl on the single-process default: `kirinuki crawl`, SQLite state and files."""
    d = work / "embedded"
    d.mkdir()
    (d / "sources.toml").write_text(to_toml(crawl_config(site, args)))
    site.mark()
    t = time.monotonic()
    proc = reap(spawn(["crawl", "--sources", str(d / "sources.toml"), "-o", str(d / "out"),
                       "--no-progress"], d / "crawl.log"))
    wall = time.monotonic() - t
    site.save(d / "arrivals.tsv", t)
    if proc.status not in (0, 1):
        raise SystemExit(f"embedded crawl failed ({proc.status}): see {d / 'crawl.log'}")
    return Row("embedded", 1, count_records(d / "out"), wall, [proc], site.min_gaps(),
               site.min_gaps(robots=False), site.span(t))


def wait_started(procs: list[Proc], timeout: float = 90.0) -> None:
    """Until every process has finished starting (imports, connections): its CPU time stands
    still for a second. Workers run for ever in a real cluster (systemd), so a run is seeded
    into workers that are already up; their start-up is not part of a run's time."""
    deadline = time.monotonic() + timeout
    last = [tree_cpu_s(p.popen.pid) for p in procs]
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = [tree_cpu_s(p.popen.pid) for p in procs]
        if any(p.popen.poll() is not None for p in procs):
            return  # one exited already: the caller reports it
        if all(b - a < 0.05 for a, b in zip(last, now, strict=True)):
            return
        last = now


def run_cluster(site: Site, work: Path, args: argparse.Namespace, n: int, redis_url: str,
                database_url: str) -> Row:
    """`n` `kirinuki worker --until-idle` processes wait for work; `kirinuki crawl` seeds one run
    into Redis and waits while they drain it (state in PostgreSQL), then writes the run's JSONL.
    The time runs from the seeding command's start to the last process's exit."""
    d = work / f"cluster{n}"
    d.mkdir()
    sources = str(d / "sources.toml")
    (d / "sources.toml").write_text(to_toml(crawl_config(site, args)) + (  # to_toml: no [cluster]
        f"\n[cluster]\nredis = '{redis_url}'\ndatabase = '{database_url}'\n"))
    workers = [spawn(["worker", "--sources", sources, "--until-idle", "--idle-wait", "300",
                      "--workers", "0"], d / f"worker{k}.log",
                     args.profile / f"worker{n}-{k}.prof" if args.profile else None)
               for k in range(n)]
    wait_started(workers)
    site.mark()
    t = time.monotonic()
    seed = spawn(["crawl", "--sources", sources, "-o", str(d / "out"), "--no-progress"],
                 d / "seed.log")
    reap_all([seed, *workers])
    wall = time.monotonic() - t
    site.save(d / "arrivals.tsv", t)
    if seed.status not in (0, 1):
        raise SystemExit(f"the seeding crawl failed ({seed.status}): see {d / 'seed.log'}")
    bad = [w.status for w in workers if w.status != 0]
    if bad:
        raise SystemExit(f"{len(bad)} worker(s) failed ({bad}): see {d}/worker*.log")
    return Row("cluster", n, count_records(d / "out"), wall, workers, site.min_gaps(),
               site.min_gaps(robots=False), site.span(t), seeder=seed)


HEADER = (f"{'mode':<8} {'workers':>7} {'pages':>5} {'wall s':>6} {'p/s':>5} {'scale':>5} "
          f"{'crawl s':>7} {'p/s':>5} {'scale':>5} {'RSS MB':>6} {'CPU s':>6} {'ms/p':>5} "
          f"{'srv s':>5} "
          f"{'load':>4} {'gap all':>7} {'gap pg':>6} {'polite':>6}")


def print_row(row: Row, base: Row | None, delay: float) -> None:
    """One table row; `base` is the 1-worker row the scaling columns divide by."""
    # Scrapy randomizes a slot's delay to 0.5-1.5x; the cluster's Redis lease spaces a site's
    # request starts by the whole delay. 2% slack for the clocks.
    floor = (0.5 if row.mode == "embedded" else 1.0) * delay * 0.98
    worst = min(row.gaps)[0]
    worst_pages = min(row.page_gaps)[0]
    ok = "yes" if worst >= floor else "pages" if worst_pages >= floor else "NO"
    crawl_s = row.span[1] - row.span[0]
    crawl_rate = row.pages / crawl_s if crawl_s > 0 else 0.0
    base_crawl = base.pages / (base.span[1] - base.span[0]) if base else 0.0
    scale = f"{row.rate / base.rate:.2f}" if base else "-"
    scale_crawl = f"{crawl_rate / base_crawl:.2f}" if base else "-"
    rss = max(p.maxrss_mb for p in row.procs)
    cpu = sum(p.cpu_s for p in row.procs) + (row.seeder.cpu_s if row.seeder else 0.0)
    print(f"{row.mode:<8} {row.workers:>7} {row.pages:>5} {row.seconds:>6.1f} {row.rate:>5.1f} "
          f"{scale:>5} {crawl_s:>7.1f} {crawl_rate:>5.1f} {scale_crawl:>5} {rss:>6.0f} "
          f"{cpu:>6.1f} {cpu / max(1, row.pages) * 1000:>5.1f} {row.server_cpu_s:>5.1f} "
          f"{row.load:>4.1f} {worst:>7.3f} "
          f"{worst_pages:>6.3f} {ok:>6}", flush=True)
    if ok != "yes":  # NO: two page requests too close; pages: robots.txt then a page
        gap, first, second = min(row.page_gaps if ok == "NO" else row.gaps)
        print(f"  closest: {first} then {second}, {gap:.3f}s apart (floor {floor:.3f}s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=40, help="loopback hosts, one source each")
    ap.add_argument("--pages-per-host", type=int, default=30)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8],
                    help="worker process counts to run (cluster rows)")
    ap.add_argument("--concurrency", type=int, default=2,
                    help="concurrent requests per crawler process ([crawl] concurrent_requests_total)")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds each response is held")
    ap.add_argument("--delay", type=float, default=0.25, help="download_delay of every source")
    ap.add_argument("--no-embedded", action="store_true", help="skip the embedded-default row")
    ap.add_argument("--no-cluster", action="store_true", help="only the embedded-default row")
    ap.add_argument("--keep", type=Path, help="keep outputs and logs here")
    ap.add_argument("--profile", type=Path, metavar="DIR",
                    help="run each worker under cProfile, writing DIR/worker<N>-<k>.prof "
                         "(read with: python -m pstats FILE)")
    args = ap.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if not 1 <= args.hosts <= 250:
        ap.error("--hosts must be 1..250 (127.0.0.2 .. 127.0.0.251)")

    work = Path(tempfile.mkdtemp(prefix="clusterbench-", dir=args.keep))
    site = start_site(args.hosts, args.pages_per_host, args.latency)
    try:
        with contextlib.ExitStack() as servers:
            print(f"CPUs {os.cpu_count()}; {args.hosts} hosts x {args.pages_per_host} pages, "
                  f"{args.latency * 1000:.0f} ms a response, download_delay {args.delay}s per host "
                  f"(gap floor: embedded {0.5 * args.delay:.3f}s, cluster {args.delay:.3f}s), "
                  f"{args.concurrency} concurrent requests per process, cleaning in-process")
            print(HEADER, flush=True)
            if not args.no_embedded:
                print_row(run_embedded(site, work, args), None, args.delay)
            if not args.no_cluster:
                import redis

                from tests.servers import start_postgres, start_redis

                redis_srv = servers.enter_context(start_redis())
                pg_srv = servers.enter_context(start_postgres())
                base = None
                for n in args.workers:
                    redis.Redis.from_url(redis_srv.url).flushall()
                    db = pg_srv.create_database(f"bench{n}")
                    pids = [redis_srv.proc.pid, pg_srv.proc.pid]
                    before = sum(map(tree_cpu_s, pids))
                    row = run_cluster(site, work, args, n, redis_srv.url, db)
                    time.sleep(0.5)  # PostgreSQL reaps the closed connections' backends
                    row.server_cpu_s = sum(map(tree_cpu_s, pids)) - before
                    if base is None and n == 1:
                        base = row
                    print_row(row, base, args.delay)
    finally:
        for h in site.hosts:
            h.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
