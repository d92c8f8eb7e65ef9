"""The hostile set: every reliability promise of `kirinuki clean` and `kirinuki crawl`, tried.

Run it as a user would (real commands, real files, loopback servers, a small tmpfs for a full
disk when run as root) and print one row per case: the promise, whether it held, seconds and the
peak RSS of the command under test; then a closing line with cases held / tried, records lost,
duplicates, off-site requests and the worst page's seconds and MB.

    python benchmarks/reliability.py                # all cases
    python benchmarks/reliability.py --only clean   # cases whose name contains "clean"
    python benchmarks/reliability.py --json out.json

Nothing here is timed against a threshold in CI: the figures go into README.md's reliability
section. Each case also has a unit or end-to-end test in tests/ that fails if the promise breaks.
Outputs go to temp dirs only; nothing is written to a device path except the case that checks a
device node made inside the temp dir is left a device node.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import signal
import socketserver
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
PAGE_LIMIT_S = 20.0
PAGE_LIMIT_MB = 1536.0
CASE_TIMEOUT_S = 180.0


# -- running a command and measuring it ----------------------------------------------------------

@dataclass
class Run:
    rc: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


# The command runs under a small Python parent that reports its peak RSS: measured straight from
# this (large) harness, Linux would count the harness's own memory high-water mark into the
# child's, since it survives the fork and exec.
_MEASURE = """
import json, os, signal, subprocess, sys
for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *a: None)   # the process group's signal is for the command
p = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as fh:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "kb": usage.ru_maxrss}, fh)
"""


def run(cmd: list[str], *, timeout: float = CASE_TIMEOUT_S, cwd: str | None = None,
        stdin: bytes | None = None, env: dict[str, str] | None = None,
        during: Callable[[subprocess.Popen], None] | None = None) -> Run:
    """Run to completion (or kill the group at `timeout`), with the command's peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json") as meas:
        t0 = time.monotonic()
        proc = subprocess.Popen([PY, "-c", _MEASURE, meas.name, *cmd], cwd=cwd, stdout=out,
                                stderr=err,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, start_new_session=True)
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(stdin)
            proc.stdin.close()
        if during:
            during(proc)
        try:
            proc.wait(timeout=max(0.1, timeout - (time.monotonic() - t0)))
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        seconds = time.monotonic() - t0
        rc, kb = None, 0
        with contextlib.suppress(OSError, ValueError):
            m = json.loads(Path(meas.name).read_text() or "{}")
            rc, kb = m.get("rc"), m.get("kb", 0)
        out.seek(0)
        err.seek(0)
        return Run(None if timed_out else rc, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), seconds, kb / 1024)


def command_pid(proc: subprocess.Popen) -> int | None:
    """The measured command's pid (the child of the measuring parent)."""
    kids = _children(proc.pid)
    return kids[0] if kids else None


def kirinuki(*args: str, **kw) -> Run:
    return run([PY, "-m", "kirinuki.cli", *args], **kw)


def traceback_in(r: Run) -> bool:
    return "Traceback (most recent call last)" in r.stderr


def records_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


# -- loopback sites -------------------------------------------------------------------------------

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Site:
    """One loopback HTTP server; `routes` maps a path to (status, headers, body) or a handler."""

    host: str = "127.0.0.1"
    routes: dict[str, object] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    server: socketserver.BaseServer | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> Site:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                site.hits[path] += 1
                route = site.routes.get(path)
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found")
                elif callable(route):
                    route(self)
                else:
                    self._send(*route)

            def _send(self, status: int, headers: dict, body: bytes) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((self.host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@contextlib.contextmanager
def sites(*hosts: str) -> Iterator[list[Site]]:
    started = [Site(host=h).start() for h in hosts]
    try:
        yield started
    finally:
        for s in started:
            s.stop()


HTML = "text/html; charset=utf-8"
WORDS = ("river bridge council budget harbour station rail school market vote energy coast "
         "farmers museum library season weather report mayor board plan water").split()


def article_html(n: int, extra_head: str = "") -> bytes:
    words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(400)]
    paras = "".join(f"<p>Article {n} paragraph {k}: {' '.join(words[k * 40:(k + 1) * 40])}.</p>"
                    for k in range(10))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Story {n}</title>"
            f"{extra_head}</head><body><nav><a href=/>Home</a></nav><article><h1>Story {n}</h1>"
            f"{paras}</article><footer>footer</footer></body></html>").encode()


def news_site(site: Site, n: int, prefix: str = "/a/") -> None:
    urls = "".join(f"<url><loc>{site.origin}{prefix}{i}.html</loc></url>" for i in range(n))
    site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml"},
                                   f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/'
                                   f'schemas/sitemap/0.9">{urls}</urlset>'.encode())
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    for i in range(n):
        site.routes[f"{prefix}{i}.html"] = (200, {"Content-Type": HTML}, article_html(i))


def sources_toml(path: Path, site: Site, *, name: str = "site", extra: str = "",
                 crawl: str = "") -> Path:
    path.write_text(
        f"[crawl]\ndownload_delay = 0\nautothrottle = false\nconcurrent_requests = 8\n"
        f"max_articles = 100000\nretry_times = 0\n{crawl}\n"
        f"[[sources]]\nname = \"{name}\"\nsitemaps = [\"{site.origin}/sitemap.xml\"]\n"
        f"article_pattern = '^{site.origin}/a/'\n{extra}\n", encoding="utf-8")
    return path


def crawl(sources: Path, out: Path, *extra: str, **kw) -> Run:
    return run([PY, "-m", "kirinuki.cli", "crawl", "--sources", str(sources), "-o", str(out),
                "--no-progress", *extra], **kw)


def run_records(out: Path) -> list[dict]:
    recs: list[dict] = []
    for p in sorted(out.glob("crawl-*.jsonl")):
        recs.extend(records_of(p))
    return recs


def lost_and_dups(recs: list[dict], expected_urls: set[str]) -> tuple[int, int]:
    seen = Counter((r.get("url"), r.get("content_hash")) for r in recs)
    urls = {r.get("url") for r in recs}
    return len(expected_urls - urls), sum(c - 1 for c in seen.values() if c > 1)


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path | None]:
    """A small tmpfs (root only): a real full disk. Yields None where it cannot be mounted."""
    d = Path(tempfile.mkdtemp(prefix="kirinuki-tmpfs-"))
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(d)],
                        capture_output=True).returncode == 0
    try:
        yield d if ok else None
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)
        with contextlib.suppress(OSError):
            d.rmdir()


# -- the cases ------------------------------------------------------------------------------------

@dataclass
class Outcome:
    held: bool | None  # None: could not be tried here (e.g. not root)
    detail: str
    seconds: float = 0.0
    peak_mb: float = 0.0
    lost: int = 0
    dups: int = 0
    offsite: int = 0
    page: bool = False  # a per-page cost case: counts for "worst page"


@dataclass
class Case:
    name: str
    promise: str
    fn: Callable[[Path], Outcome]


CASES: list[Case] = []


def case(name: str, promise: str):
    def deco(fn: Callable[[Path], Outcome]) -> Callable[[Path], Outcome]:
        CASES.append(Case(name, promise, fn))
        return fn
    return deco


def one_page(tmp: Path, name: str = "page.html", body: bytes | None = None) -> Path:
    p = tmp / name
    p.write_bytes(body if body is not None else article_html(1))
    return p


# clean: output safety

@case("clean-o-device", "-o to a device node leaves it a device node")
def _c_device(tmp: Path) -> Outcome:
    dev = tmp / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        return Outcome(None, "mknod needs root")
    r = kirinuki("clean", str(one_page(tmp)), "-o", str(dev), "-q")
    kept = stat.S_ISCHR(os.lstat(dev).st_mode)
    return Outcome(kept and not traceback_in(r), f"rc={r.rc}, still a char device: {kept}",
                   r.seconds, r.peak_mb)


@case("clean-o-fifo", "-o to a FIFO writes into it, FIFO kept")
def _c_fifo(tmp: Path) -> Outcome:
    fifo = tmp / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    r = kirinuki("clean", str(one_page(tmp)), "-o", str(fifo), "-q", timeout=60)
    t.join(5)
    if t.is_alive():  # unblock the reader if nothing ever opened the FIFO for writing
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
    kept = stat.S_ISFIFO(os.lstat(fifo).st_mode)
    n = len(got[0].splitlines()) if got else 0
    return Outcome(kept and n == 1 and r.rc == 0, f"rc={r.rc}, FIFO kept: {kept}, lines read: {n}",
                   r.seconds, r.peak_mb)


@case("clean-o-symlink", "-o to a symlink writes its target, link kept; new files follow umask")
def _c_symlink(tmp: Path) -> Outcome:
    target = tmp / "target.jsonl"
    target.write_text("")
    link = tmp / "link.jsonl"
    link.symlink_to(target)
    r = kirinuki("clean", str(one_page(tmp)), "-o", str(link), "-q")
    new = tmp / "new.jsonl"
    r2 = run(["sh", "-c", f"umask 022; {PY} -m kirinuki.cli clean {one_page(tmp)} -o {new} -q"])
    mode = stat.S_IMODE(os.stat(new).st_mode) if new.exists() else 0
    ok = link.is_symlink() and len(records_of(target)) == 1 and mode == 0o644
    return Outcome(ok, f"rc={r.rc}/{r2.rc}, link kept: {link.is_symlink()}, target records: "
                   f"{len(records_of(target))}, new file mode {oct(mode)}", r.seconds, r.peak_mb)


@case("clean-full-disk", "full disk under -o: clear error, non-zero exit, no temp file left")
def _c_full(tmp: Path) -> Outcome:
    pages = tmp / "pages"
    pages.mkdir()
    for i in range(120):
        one_page(pages, f"p{i}.html", article_html(i))
    with tmpfs("64k") as fs:
        if fs is None:
            return Outcome(None, "tmpfs needs root")
        r = kirinuki("clean", str(pages), "-o", str(fs / "out.jsonl"), "-q")
        left = [p.name for p in fs.iterdir() if p.name != "out.jsonl"]
        ok = r.rc not in (0, None) and not traceback_in(r) and not left
        last = (r.stderr.strip().splitlines() or [""])[-1][:90]
        return Outcome(ok, f"rc={r.rc}, temp files left: {left}, says: {last!r}", r.seconds, r.peak_mb)


# clean: bounded input

@case("clean-dev-zero", "the zero device (as a symlinked file or as stdin) is never read whole")
def _c_zero(tmp: Path) -> Outcome:
    link = tmp / "zero.html"
    link.symlink_to("/dev/zero")
    r = kirinuki("clean", str(link), "-o", str(tmp / "o.jsonl"), timeout=60)
    refused = r.rc == 1 and ("too_large" in r.stderr or "not_regular" in r.stderr)
    r2 = run(["sh", "-c", f"{PY} -m kirinuki.cli clean - -o {tmp / 'o2.jsonl'} < /dev/zero"],
             timeout=60)
    capped = r2.rc == 1 and "too_large" in r2.stderr
    ok = refused and capped and max(r.peak_mb, r2.peak_mb) < 400
    return Outcome(ok, f"file rc={r.rc} refused: {refused}; stdin rc={r2.rc} too_large: {capped}",
                   r.seconds + r2.seconds, max(r.peak_mb, r2.peak_mb), page=True)


@case("clean-sparse-4g", "a 4 GB sparse file is refused without reading it")
def _c_sparse(tmp: Path) -> Outcome:
    big = tmp / "big.html"
    with open(big, "wb") as fh:
        fh.truncate(4 * 1024 ** 3)
    r = kirinuki("clean", str(big), "-o", str(tmp / "o.jsonl"), timeout=60)
    ok = r.rc == 1 and "too_large" in r.stderr and r.peak_mb < 400
    return Outcome(ok, f"rc={r.rc}, too_large: {'too_large' in r.stderr}", r.seconds, r.peak_mb,
                   page=True)


@case("clean-fifo-in-dir", "a FIFO inside an input directory is skipped by name, no hang")
def _c_fifo_in(tmp: Path) -> Outcome:
    d = tmp / "in"
    d.mkdir()
    one_page(d, "good.html")
    os.mkfifo(d / "trap.html")
    r = kirinuki("clean", str(d), "-o", str(tmp / "o.jsonl"), timeout=60)
    n = len(records_of(tmp / "o.jsonl"))
    ok = r.rc is not None and n == 1 and "trap.html" in r.stderr
    return Outcome(ok, f"rc={r.rc}, records {n}, FIFO named: {'trap.html' in r.stderr}",
                   r.seconds, r.peak_mb)


def page_case(tmp: Path, name: str, body: bytes, want_record: bool = True) -> Outcome:
    p = one_page(tmp, name, body)
    out = tmp / "o.jsonl"
    r = kirinuki("clean", str(p), "-o", str(out), timeout=120)
    recs = records_of(out)
    bounded = r.rc is not None and r.seconds < PAGE_LIMIT_S and r.peak_mb < PAGE_LIMIT_MB
    ok = bounded and not traceback_in(r) and (bool(recs) if want_record else True)
    why = (r.stderr.strip().splitlines() or [""])[-1][:70]
    return Outcome(ok, f"rc={r.rc}, {len(recs)} record(s); {why}", r.seconds, r.peak_mb, page=True)


@case("clean-keywords-spaces", "150,000 spaces in news_keywords: linear, not quadratic")
def _c_keywords(tmp: Path) -> Outcome:
    meta = '<meta name="news_keywords" content="a' + " " * 150_000 + 'b">'
    return page_case(tmp, "kw.html", article_html(1, meta))


@case("clean-12mb-paragraphs", "12 MB of small paragraphs within the per-page bound")
def _c_12mb(tmp: Path) -> Outcome:
    return page_case(tmp, "p12.html", small_paragraphs(12))


@case("clean-60mb-paragraphs", "60 MB (under the 64 MB limit) within the per-page bound")
def _c_60mb(tmp: Path) -> Outcome:
    return page_case(tmp, "p60.html", small_paragraphs(60), want_record=False)


@case("clean-200k-links", "a page of 200,000 links within the per-page bound")
def _c_links(tmp: Path) -> Outcome:
    links = "".join(f'<li><a href="/l/{i}">link number {i}</a></li>' for i in range(200_000))
    body = article_html(1).replace(b"<footer>", f"<ul>{links}</ul><footer>".encode())
    return page_case(tmp, "links.html", body, want_record=False)


def small_paragraphs(mb: int) -> bytes:
    para = b"<p>A short paragraph of a long page, with a few words.</p>\n"
    n = mb * 1024 * 1024 // len(para)
    return b"<!doctype html><html><head><title>Big</title></head><body><article>" + para * n + \
        b"</article></body></html>"


# clean: workers and signals

def _fixture_copies(tmp: Path, n: int) -> Path:
    d = tmp / "many"
    d.mkdir()
    for i in range(n):
        one_page(d, f"p{i:04d}.html", article_html(i))
    return d


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@case("clean-worker-killed", "-j 2 with a worker killed: other results kept, page named")
def _c_worker(tmp: Path) -> Outcome:
    d = _fixture_copies(tmp, 400)
    out = tmp / "o.jsonl"

    def kill_one(proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pid = command_pid(proc)
            if pid and len(_children(pid)) >= 2:
                time.sleep(1.0)
                with contextlib.suppress(ProcessLookupError, IndexError):
                    os.kill(_children(pid)[0], signal.SIGKILL)
                return
            time.sleep(0.05)

    r = kirinuki("clean", str(d), "-o", str(out), "-j", "2", during=kill_one)
    n = len(records_of(out))
    ok = r.rc is not None and n >= 390 and not traceback_in(r)
    return Outcome(ok, f"rc={r.rc}, {n}/400 records, worker_died named: "
                   f"{'worker_died' in r.stderr}", r.seconds, r.peak_mb, lost=max(0, 399 - n))


@case("clean-sigint", "SIGINT stops -j 2 within 5 s, exit 130, no temp file left")
def _c_sigint(tmp: Path) -> Outcome:
    d = _fixture_copies(tmp, 2000)
    outdir = tmp / "outdir"
    outdir.mkdir()
    sent: list[float] = []

    def interrupt(proc: subprocess.Popen) -> None:
        time.sleep(3.0)
        sent.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group

    r = kirinuki("clean", str(d), "-o", str(outdir / "o.jsonl"), "-j", "2", during=interrupt)
    stop_s = (r.seconds - 3.0) if sent else float("nan")
    left = [p.name for p in outdir.iterdir() if p.name != "o.jsonl"]
    ok = r.rc == 130 and stop_s < 5 and not left
    return Outcome(ok, f"rc={r.rc}, stopped {stop_s:.1f} s after SIGINT, temp files: {left}",
                   r.seconds, r.peak_mb)


# clean: wrong output

@case("clean-utf8-one-bad-byte", "declared UTF-8 with one bad byte stays UTF-8, flagged")
def _c_badbyte(tmp: Path) -> Outcome:
    text = ("Der Gemeinderat von Zürich hat am Dienstag den Haushalt für das kommende Jahr "
            "beschlossen. Bürgermeisterin Müller sprach von einem schwierigen Kompromiss. ") * 6
    body = (f"<html><head><meta charset=utf-8><title>Haushalt in Zürich</title></head><body>"
            f"<article><h1>Haushalt in Zürich</h1><p>{text}</p><p>{text}</p></article></body>"
            f"</html>").encode()
    body = body.replace(b"Kompromiss", b"Kompro\xffmiss", 1)
    p = one_page(tmp, "bad.html", body)
    out = tmp / "o.jsonl"
    r = kirinuki("clean", str(p), "-o", str(out))
    recs = records_of(out)
    kept = bool(recs) and "Zürich" in recs[0]["text"] and "Müller" in recs[0]["text"]
    flags = recs[0]["flags"] if recs else None
    ok = kept and bool(flags) and any("replace" in f for f in flags)
    return Outcome(ok, f"rc={r.rc}, UTF-8 kept: {kept}, flags {flags}", r.seconds, r.peak_mb)


@case("clean-nul-controls", "NUL and control characters inside paragraphs: text kept")
def _c_nul(tmp: Path) -> Outcome:
    body = article_html(3).replace(b"paragraph 2:", b"paragraph\x00 2:\x01\x02\x0b")
    return page_case(tmp, "nul.html", body)


@case("clean-noframes", "a frameset page's <noframes> article is kept")
def _c_noframes(tmp: Path) -> Outcome:
    inner = article_html(4).split(b"<body>")[1].split(b"</body>")[0]
    body = (b"<html><head><title>Frames</title></head><frameset cols='50%,50%'><frame src=a.html>"
            b"<noframes><body>" + inner + b"</body></noframes></frameset></html>")
    return page_case(tmp, "frames.html", body)


@case("clean-deep-nesting", "nesting deeper than 2,046 levels: text after it kept or flagged")
def _c_deep(tmp: Path) -> Outcome:
    inner = article_html(5).split(b"<article>")[1].split(b"</article>")[0]
    body = (b"<html><head><title>Deep</title></head><body>" + b"<div>" * 3000 + b"x"
            + b"</div>" * 3000 + b"<article>" + inner + b"</article></body></html>")
    o = page_case(tmp, "deep.html", body)
    recs = records_of(tmp / "o.jsonl")
    kept = bool(recs) and "paragraph 9" in recs[0]["text"]
    flagged = bool(recs) and any("nest" in f for f in recs[0]["flags"])
    o.held = o.held and (kept or flagged)
    o.detail += f"; tail kept: {kept}, flagged: {flagged}"
    return o


@case("clean-newline-filename", "a file name with a newline cannot forge summary lines")
def _c_newline(tmp: Path) -> Outcome:
    d = tmp / "in"
    d.mkdir()
    (d / "x.html\nkirinuki clean: 999 files, 999 records").write_bytes(b"")
    r = kirinuki("clean", str(d), "-o", str(tmp / "o.jsonl"))
    forged = any(line.startswith("kirinuki clean: 999 files") for line in r.stderr.splitlines())
    return Outcome(not forged and r.rc is not None, f"rc={r.rc}, forged line: {forged}",
                   r.seconds, r.peak_mb)


# crawl

@case("crawl-disk-full", "JSONL disk full mid-crawl: run fails non-zero, next run repairs, 0 lost")
def _k_full(tmp: Path) -> Outcome:
    n = 600
    with sites("127.0.0.1") as (site,), tmpfs("160k") as fs:
        if fs is None:
            return Outcome(None, "tmpfs needs root")
        news_site(site, n)
        src = sources_toml(tmp / "s.toml", site)
        state = tmp / "state.sqlite"
        r1 = crawl(src, fs, "--state", str(state))
        # Free the disk (the user clears space) and run again: recovery must repair every run.
        subprocess.run(["mount", "-o", "remount,size=64m", str(fs)], check=False)
        r2 = crawl(src, fs, "--state", str(state))
        recs = run_records(fs)
        lost, dups = lost_and_dups(recs, {f"{site.origin}/a/{i}.html" for i in range(n)})
        ok = r1.rc not in (0, None) and r2.rc is not None and lost == 0 and dups == 0
        return Outcome(ok, f"rc first={r1.rc} second={r2.rc}, records {len(recs)}",
                       r1.seconds + r2.seconds, max(r1.peak_mb, r2.peak_mb), lost, dups)


def _twice_with_state(tmp: Path, damage: Callable[[Path], None]) -> tuple[Run, Run, int, int]:
    n = 60
    with sites("127.0.0.1") as (site,):
        news_site(site, n)
        src = sources_toml(tmp / "s.toml", site)
        out = tmp / "out"
        r1 = crawl(src, out)
        damage(out / "state.sqlite")
        r2 = crawl(src, out)
        lost, dups = lost_and_dups(run_records(out), {f"{site.origin}/a/{i}.html" for i in range(n)})
        return r1, r2, lost, dups


@case("crawl-empty-state", "a 0-byte state next to earlier runs: clear message, no duplicates")
def _k_empty(tmp: Path) -> Outcome:
    r1, r2, lost, dups = _twice_with_state(tmp, lambda p: p.write_bytes(b""))
    ok = r1.rc == 0 and dups == 0 and lost == 0 and not traceback_in(r2)
    said = (r2.stderr.strip().splitlines() or [""])[-1][:80]
    return Outcome(ok, f"rc={r2.rc}: {said!r}", r1.seconds + r2.seconds, r2.peak_mb, lost, dups)


@case("crawl-corrupt-state", "a corrupt state file: exit 2 with a message, no traceback")
def _k_corrupt(tmp: Path) -> Outcome:
    r1, r2, lost, dups = _twice_with_state(tmp, lambda p: p.write_bytes(os.urandom(8192)))
    ok = r2.rc == 2 and not traceback_in(r2) and dups == 0
    said = (r2.stderr.strip().splitlines() or [""])[-1][:80]
    return Outcome(ok, f"rc={r2.rc}: {said!r}", r2.seconds, r2.peak_mb, lost, dups)


@case("crawl-evil-pattern", "article_pattern (a+)+$ on site URLs: no hang")
def _k_pattern(tmp: Path) -> Outcome:
    with sites("127.0.0.1") as (site,):
        news_site(site, 5)
        evil = "/a/" + "a" * 40 + "!.html"
        site.routes[evil] = (200, {"Content-Type": HTML}, article_html(9))
        sm = site.routes["/sitemap.xml"][2].replace(
            b"</urlset>", f"<url><loc>{site.origin}{evil}</loc></url></urlset>".encode())
        site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, sm)
        src = tmp / "s.toml"
        src.write_text(f"[crawl]\ndownload_delay = 0\nautothrottle = false\n[[sources]]\n"
                       f"name = \"s\"\nsitemaps = [\"{site.origin}/sitemap.xml\"]\n"
                       f"article_pattern = '(a+)+$'\n", encoding="utf-8")
        r = crawl(src, tmp / "out", timeout=90)
        ok = r.rc is not None and r.seconds < 60 and not traceback_in(r)
        return Outcome(ok, f"rc={r.rc}", r.seconds, r.peak_mb)


@case("crawl-robots-offsite", "a robots.txt redirecting to another host fetches nothing there")
def _k_robots(tmp: Path) -> Outcome:
    with sites("127.0.0.1", "127.0.0.2") as (site, other):
        news_site(site, 3)
        site.routes["/robots.txt"] = (302, {"Location": f"{other.origin}/robots.txt"}, b"")
        other.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\n")
        r = crawl(sources_toml(tmp / "s.toml", site), tmp / "out")
        off = sum(other.hits.values())
        return Outcome(off == 0 and r.rc is not None, f"rc={r.rc}, requests to the other host: {off}",
                       r.seconds, r.peak_mb, offsite=off)


@case("crawl-redirect-offsite", "an article redirecting to another host is not fetched there")
def _k_redirect(tmp: Path) -> Outcome:
    with sites("127.0.0.1", "127.0.0.2") as (site, other):
        news_site(site, 3)
        site.routes["/a/1.html"] = (302, {"Location": f"{other.origin}/a/1.html"}, b"")
        other.routes["/a/1.html"] = (200, {"Content-Type": HTML}, article_html(1))
        r = crawl(sources_toml(tmp / "s.toml", site), tmp / "out")
        off = sum(other.hits.values())
        return Outcome(off == 0, f"rc={r.rc}, requests to the other host: {off}", r.seconds,
                       r.peak_mb, offsite=off)


@case("crawl-zero-size-cap", 'max_response_size = "0MB" is refused (it would disable the cap)')
def _k_zero_cap(tmp: Path) -> Outcome:
    with sites("127.0.0.1") as (site,):
        news_site(site, 1)
        r = crawl(sources_toml(tmp / "s.toml", site, crawl='max_response_size = "0MB"'), tmp / "out")
        ok = r.rc == 2 and "max_response_size" in r.stderr and not traceback_in(r)
        return Outcome(ok, f"rc={r.rc}", r.seconds, r.peak_mb)


@case("crawl-gzip-bomb", "a gzip bomb is cut at the size cap and labelled, memory bounded")
def _k_bomb(tmp: Path) -> Outcome:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(comp.compress(chunk) for _ in range(1024)) + comp.flush()  # 1 GiB inflated
    with sites("127.0.0.1") as (site,):
        news_site(site, 2)
        site.routes["/a/1.html"] = (200, {"Content-Type": HTML, "Content-Encoding": "gzip"}, bomb)
        out = tmp / "out"
        r = crawl(sources_toml(tmp / "s.toml", site), out)
        summ = _summary(out)
        reasons = json.dumps(summ.get("sources", {})) if summ else ""
        ok = r.rc is not None and r.peak_mb < 600 and "ignored" not in reasons
        label = [k for k in ("too_large", "decompression", "bomb", "max_size", "size") if k in reasons]
        return Outcome(ok, f"rc={r.rc}, reason labels: {label or reasons[:60]}", r.seconds, r.peak_mb)


@case("crawl-redirect-chain", "a 10-hop redirect chain is labelled as too many redirects")
def _k_chain(tmp: Path) -> Outcome:
    with sites("127.0.0.1") as (site,):
        news_site(site, 2)
        site.routes["/a/1.html"] = (302, {"Location": "/r/1"}, b"")
        for i in range(1, 11):
            site.routes[f"/r/{i}"] = (302, {"Location": f"/r/{i + 1}"}, b"")
        site.routes["/r/11"] = (200, {"Content-Type": HTML}, article_html(1))
        out = tmp / "out"
        r = crawl(sources_toml(tmp / "s.toml", site), out)
        reasons = json.dumps((_summary(out) or {}).get("sources", {}))
        ok = "redirect_loop" not in reasons and "redirect" in reasons
        return Outcome(ok, f"rc={r.rc}, labelled loop: {'redirect_loop' in reasons}", r.seconds,
                       r.peak_mb)


@case("crawl-javascript-urls", "javascript:/data: URLs never reach images or canonical_url")
def _k_js(tmp: Path) -> Outcome:
    head = ('<link rel="canonical" href="javascript:alert(1)">'
            '<meta property="og:image" content="data:image/png;base64,AAAA">')
    with sites("127.0.0.1") as (site,):
        news_site(site, 2)
        site.routes["/a/1.html"] = (200, {"Content-Type": HTML}, article_html(1, head).replace(
            b"<h1>", b'<img src="javascript:alert(2)"><h1>'))
        out = tmp / "out"
        r = crawl(sources_toml(tmp / "s.toml", site), out)
        dump = json.dumps(run_records(out))
        bad = any(s in dump for s in ("javascript:", "data:image"))
        return Outcome(not bad and r.rc is not None, f"rc={r.rc}, scheme leaked: {bad}", r.seconds,
                       r.peak_mb)


def _summary(out: Path) -> dict | None:
    files = sorted(out.glob("*.summary.json"))
    return json.loads(files[-1].read_text()) if files else None


# -- main -----------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[], help="cases whose name contains this")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    args = ap.parse_args()
    chosen = [c for c in CASES if not args.only or any(s in c.name for s in args.only)]
    rows = []
    print(f"{'case':<26} {'result':<7} {'s':>7} {'peak MB':>8}  promise / detail")
    for c in chosen:
        with tempfile.TemporaryDirectory(prefix="kirinuki-rel-") as d:
            try:
                o = c.fn(Path(d))
            except Exception as exc:  # the harness itself must not hide a case
                o = Outcome(False, f"harness error: {type(exc).__name__}: {exc}")
        result = {True: "held", False: "BROKEN", None: "skipped"}[o.held]
        print(f"{c.name:<26} {result:<7} {o.seconds:>7.1f} {o.peak_mb:>8.0f}  {c.promise}")
        print(f"{'':<51}{o.detail}", flush=True)
        rows.append({"case": c.name, "promise": c.promise, "result": result, **o.__dict__})
    tried = [r for r in rows if r["held"] is not None]
    pages = [r for r in rows if r["page"]] or [{"seconds": 0.0, "peak_mb": 0.0}]
    print(f"held {sum(bool(r['held']) for r in tried)} / {len(tried)} tried "
          f"({len(rows) - len(tried)} skipped); records lost {sum(r['lost'] for r in rows)}; "
          f"duplicates {sum(r['dups'] for r in rows)}; off-site requests "
          f"{sum(r['offsite'] for r in rows)}; worst page {max(r['seconds'] for r in pages):.1f} s, "
          f"{max(r['peak_mb'] for r in pages):.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0 if all(r["held"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
