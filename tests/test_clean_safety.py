"""`kirinuki clean` against hostile inputs, outputs and faults (issue 7 items 2, 4, 5, 6, 8, 9, 16).

Device nodes, FIFOs, sockets and the small tmpfs are made under the test's own temp dir only.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO


def page(n: int = 0, size: int = 30) -> str:
    return ("<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>"
            f"<article><h1>見出し{n}</h1><p>" + f"本文の段落{n}です。" * size
            + "</p></article></body></html>")


def run(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kirinuki.cli", "clean", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=timeout, **kw)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    p = tmp_path / "in" / "good.html"
    p.parent.mkdir()
    p.write_text(page(), encoding="utf-8")
    return p


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# -- item 2: the output path is never replaced by something else ----------------------------------

def test_output_fifo_is_written_in_place(good, tmp_path):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = run(str(good), "-o", str(fifo), timeout=120)
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert len(records(got[0].decode())) == 1


def test_output_device_node_is_written_in_place(good, tmp_path):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("cannot make a device node here")
    proc = run(str(good), "-o", str(dev))
    assert proc.returncode == 0, proc.stderr
    st = os.lstat(dev)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_symlink_target_is_written_and_keeps_its_mode(good, tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    proc = run(str(good), "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(records(real.read_text())) == 1
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_new_output_follows_the_umask(good, tmp_path):
    out = tmp_path / "new.jsonl"
    proc = run(str(good), "-o", str(out), preexec_fn=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_output_directory_is_refused_with_a_message(good, tmp_path):
    proc = run(str(good), "-o", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "it is a directory" in proc.stderr


# -- item 4: a full disk ------------------------------------------------------------------------

def test_write_error_leaves_old_output_and_no_temp_file(good, tmp_path, monkeypatch, capsys):
    """A full disk, injected: os.write refuses every write to a file under the output dir."""
    from kirinuki import cli

    outdir = tmp_path / "outdir"
    outdir.mkdir()
    out = outdir / "out.jsonl"
    out.write_text("earlier run\n")
    real_write = os.write

    def full_disk(fd, data):
        try:
            where = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            where = ""
        if where.startswith(str(outdir)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    rc = cli.main(["clean", str(good), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.strip().count("\n") == 0 and "No space left on device" in err, err
    assert sorted(p.name for p in outdir.iterdir()) == ["out.jsonl"]
    assert out.read_text() == "earlier run\n"


def test_full_tmpfs_leaves_old_output_and_no_temp_file(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        src = tmp_path / "pages"
        src.mkdir()
        for i in range(12):
            (src / f"p{i:02}.html").write_text(page(i, 400), encoding="utf-8")
        out = mnt / "out.jsonl"
        out.write_text("earlier run\n")
        proc = run(str(src), "-o", str(out), "-q")
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr and "No space left on device" in proc.stderr
        assert sorted(p.name for p in mnt.iterdir()) == ["out.jsonl"]
        assert out.read_text() == "earlier run\n"
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# -- item 5: reads are bounded by the page limit -----------------------------------------------

class Zeros(io.RawIOBase):
    """An endless-looking stream that counts what was read from it."""

    def __init__(self, total: int, head: bytes = b"") -> None:
        self.left, self.head, self.read_bytes = total, head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        chunk = (self.head + b"\0" * n)[:n]
        self.head = self.head[n:]
        b[:n] = chunk
        self.left -= n
        self.read_bytes += n
        return n


def test_stdin_read_stops_past_the_limit(monkeypatch):
    from kirinuki.pipelines import Rejected

    from kirinuki.inputs import read_bytes

    raw = Zeros(50 * 1024 * 1024, b"<html>")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(raw)))
    monkeypatch.setattr("kirinuki.inputs.input_limit", lambda: 100_000)
    with pytest.raises(Rejected) as exc:
        read_bytes("-")
    assert exc.value.reason == "too_large"
    assert raw.read_bytes < 2 * 1024 * 1024  # buffered reads may go a little past, not 50 MB


def test_gzip_is_inflated_only_up_to_the_limit(tmp_path, monkeypatch):
    from kirinuki.pipelines import Rejected

    from kirinuki.inputs import read_bytes

    p = tmp_path / "bomb.html.gz"
    p.write_bytes(gzip.compress(b"<html>" + b" " * (20 * 1024 * 1024)))
    monkeypatch.setattr("kirinuki.inputs.input_limit", lambda: 1_000_000)
    with pytest.raises(Rejected) as exc:
        read_bytes(str(p))
    assert exc.value.reason == "too_large"
    small = tmp_path / "ok.html.gz"
    small.write_bytes(gzip.compress(b"<html>" + b" " * 1000))
    assert read_bytes(str(small)).startswith(b"<html>")


def test_sparse_file_over_the_limit_is_rejected_without_reading_it(tmp_path):
    from kirinuki.inputs import input_limit

    p = tmp_path / "sparse.html"
    with open(p, "wb") as fh:
        fh.write(b"<html>")
        fh.truncate(input_limit() * 64)  # 4 GB that take no disk

    def two_gb_address_space() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    proc = run(str(p), timeout=120, preexec_fn=two_gb_address_space)
    assert proc.returncode == 1 and "too_large" in proc.stderr, proc.stderr
    assert "MemoryError" not in proc.stderr


# -- item 6: non-regular files never hang a run ----------------------------------------------------

def test_fifo_and_socket_in_a_directory_are_skipped_by_name(tmp_path):
    d = tmp_path / "pages"
    d.mkdir()
    (d / "a.html").write_text(page(1), encoding="utf-8")
    os.mkfifo(d / "b.html")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "c.html"))
    try:
        (d / "z.html").symlink_to(d / "b.html")
        proc = run(str(d), timeout=120)
    finally:
        sock.close()
    assert proc.returncode == 1
    assert len(records(proc.stdout)) == 1
    for name, kind in (("b.html", "a FIFO"), ("c.html", "a socket"), ("z.html", "a FIFO")):
        assert f"{d / name}: not_regular: skipped, it is {kind}" in proc.stderr


def test_explicit_fifo_is_refused_with_a_reason(tmp_path):
    fifo = tmp_path / "x.html"
    os.mkfifo(fifo)
    proc = run(str(fifo), timeout=120)
    assert proc.returncode == 1
    assert "not_regular: it is a FIFO" in proc.stderr


# -- item 16: names cannot forge lines ----------------------------------------------------------------

def test_control_characters_in_names_are_escaped(tmp_path):
    d = tmp_path / "pages"
    d.mkdir()
    forged = "x\nkirinuki clean: 0 files, 0 records, 0 rejected (none)\x1b[2K.html"
    (d / forged).write_bytes(b"")
    proc = run(str(d))
    lines = proc.stderr.splitlines()
    assert not any(line.startswith("kirinuki clean: 0 files") for line in lines), proc.stderr
    assert "x\\nkirinuki clean: 0 files" in proc.stderr and "\\x1b[2K" in proc.stderr
    assert "\x1b" not in proc.stderr


def test_shown_keeps_letters_and_escapes_controls():
    from kirinuki.shown import shown

    assert shown("記事\u2028a\\b\t") == "記事\\u2028a\\\\b\\t"
    assert shown(os.fsdecode(b"a\xffb")) == "a\\xffb"


# -- items 8 and 9: a page past its deadline, a dead worker, an interrupt ------------------------------

def slow_or_fatal(task: str) -> str:
    """A worker function for the pool tests (importable by spawned workers)."""
    if task == "hang":  # spins: the deadline counts CPU time
        while True:
            pass
    if task == "block":  # waits without spending CPU
        time.sleep(600)
    if task == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return task.upper()


def _failed(task: str, reason: str, message: str) -> str:
    return f"{task}:{reason}"


@pytest.mark.e2e
def test_worker_pool_survives_hangs_and_deaths_in_order():
    from kirinuki.page_workers import supervised_map

    tasks = ["a", "hang", "b", "die", "c", "d", "die", "e"]
    start = time.monotonic()
    got = list(supervised_map(slow_or_fatal, tasks, jobs=2, failed=_failed, deadline=3))
    assert got == ["A", "hang:timeout", "B", "die:worker_died", "C", "D", "die:worker_died", "E"]
    assert time.monotonic() - start < 60


def mark_started(task: str) -> str:
    """A worker function that leaves a file named by its task when it starts it."""
    Path(task).write_text("started")
    return task


def test_next_page_goes_out_before_the_records_are_handed_back(tmp_path):
    # The worker cleans the next page while the caller writes the last one's records (issue 10):
    # while the caller holds the first result, the worker has already started the second task.
    from kirinuki.page_workers import supervised_map

    tasks = [str(tmp_path / "first"), str(tmp_path / "second")]
    results = supervised_map(mark_started, tasks, jobs=1, failed=_failed, deadline=30)
    try:
        assert next(results) == tasks[0]
        waited = time.monotonic() + 30
        while not (tmp_path / "second").exists() and time.monotonic() < waited:
            time.sleep(0.05)
        assert (tmp_path / "second").exists()
        assert list(results) == tasks[1:]
    finally:
        results.close()


@pytest.mark.e2e
def test_a_page_blocked_without_cpu_is_stopped_by_the_wall_clock():
    from kirinuki.page_workers import WALL_FACTOR, supervised_map

    start = time.monotonic()
    got = list(supervised_map(slow_or_fatal, ["block", "a"], jobs=1, failed=_failed, deadline=0.5))
    assert got == ["block:timeout", "A"]
    assert time.monotonic() - start < 0.5 * WALL_FACTOR + 30


@pytest.mark.e2e
def test_killed_worker_costs_one_page_not_the_run(tmp_path):
    n = 60
    d = _pages_dir(tmp_path, n, 200)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "kirinuki.cli", "clean", str(d), "-o", str(out),
                             "-j", "2"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        for pid in _workers_of(proc.pid):
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
    _, err = proc.communicate(timeout=300)
    assert killed is not None, "no worker seen"
    assert "BrokenProcessPool" not in err and "Traceback" not in err, err
    recs = records(out.read_text())
    died = err.count(": worker_died: ")
    assert len(recs) + died == n and died <= 1
    assert proc.returncode == (1 if died else 0)


def _pages_dir(tmp_path: Path, n: int, size: int) -> Path:
    """`n` generated pages of `size` paragraphs' worth in tmp_path/pages."""
    d = tmp_path / "pages"
    d.mkdir()
    for i in range(n):
        (d / f"p{i:03}.html").write_text(page(i, size), encoding="utf-8")
    return d


def _workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmd:
            found.append(int(entry.name))
    return found


@pytest.mark.e2e
def test_sigint_stops_fast_keeps_complete_records_and_no_temp_file(tmp_path):
    n = 400
    d = _pages_dir(tmp_path, n, 300)
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "out.jsonl"
    # A run started in the background by a shell without job control (`.ci/run &`) inherits
    # SIGINT ignored, and Python then keeps it ignored: give the command the default, as a
    # terminal would, or the signal is lost and the run simply finishes.
    proc = subprocess.Popen([sys.executable, "-m", "kirinuki.cli", "clean", str(d), "-o", str(out),
                             "-j", "2"], cwd=REPO, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.stat().st_size > 0 for p in outdir.iterdir()):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < 5, took
    assert "Traceback" not in err
    assert sorted(p.name for p in outdir.iterdir()) == ["out.jsonl"]
    recs = records(out.read_text())
    assert 0 < len(recs) < n
