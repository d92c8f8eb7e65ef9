"""Worker processes for `kirinuki clean`: one page at a time each, watched by the parent.

`concurrent.futures.ProcessPoolExecutor` loses the whole run when one worker dies (an
out-of-memory kill raises `BrokenProcessPool` for every pending page) and cannot stop one page
that runs too long. Here each worker holds exactly one task; the parent waits on the workers'
pipes and process sentinels, so it knows which page a dead worker had in hand:

- a worker that dies turns its page into a `worker_died` failure and is replaced; the other pages
  go on;
- a page past its deadline has its worker killed, is reported as a `timeout` failure, and the
  worker is replaced. The deadline counts the worker's CPU time where the OS tells it (Linux
  /proc), so that a busy machine does not time out pages that are merely waiting for a core;
  a page that blocks without using CPU is stopped at `WALL_FACTOR` times the deadline in wall
  time. Where CPU time is unknown, wall time is the measure;
- results come back in input order (a bounded reorder window), so `-j N` writes the same file
  as `-j 1`;
- closing the generator (an interrupt, an error in the caller) kills the workers at once.

Workers start with the "spawn" method (the same on Linux, macOS and Windows; no fork of a parent
holding threads) and ignore SIGINT: the parent alone decides when they stop.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

_READY = "__ready__"
_INIT_FAILED = "__init_failed__"
_INIT_REFUSED = "__init_refused__"
WALL_FACTOR = 10  # a page that blocks without spending CPU is stopped at 10x the deadline
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_MAX_START_DEATHS = 5  # workers killed in a row before they were ready: give up


class InitRefused(Exception):
    """Raised by an initializer that refuses its settings (a bad profile directory): no task can
    run, and the caller reports the message as a usage error. `supervised_map` raises it again
    in the parent, so the check costs the parent nothing (the worker loads what it checks)."""


def _serve(conn: Connection, func: Callable[[Any], Any], initializer: Callable[..., None] | None,
           initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        try:
            initializer(*initargs)
        except InitRefused as exc:
            conn.send((_INIT_REFUSED, str(exc)))
            return
        except Exception as exc:  # reported to the parent, which stops: no page could run
            conn.send((_INIT_FAILED, f"{type(exc).__name__}: {exc}"))
            return
    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(func(task))


class _Worker:
    def __init__(self, ctx: Any, func: Callable[[Any], Any], initializer: Callable[..., None] | None,
                 initargs: tuple[Any, ...]) -> None:
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, func, initializer, initargs),
                                daemon=True)
        self.proc.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False
        self.index: int | None = None
        self.task: Any = None
        self.started = 0.0
        self.cpu_started: float | None = None

    def give(self, index: int, task: Any) -> None:
        self.index, self.task, self.started = index, task, time.monotonic()
        self.cpu_started = _cpu_seconds(self.proc.pid)
        self.conn.send(task)

    def spent(self) -> float:
        """Seconds the page in hand has cost: CPU time if known, else wall time."""
        wall = time.monotonic() - self.started
        if self.cpu_started is None:
            return wall
        cpu = _cpu_seconds(self.proc.pid)
        if cpu is None:
            return wall
        return max(cpu - self.cpu_started, wall / WALL_FACTOR)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc), else None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def _death(proc: Any) -> str:
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"worker process killed by {name}{hint}"
    return f"worker process exited with status {code}"


def supervised_map(
    func: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int,
    failed: Callable[[Any, str, str], Any], deadline: float | None = None,
    initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
) -> Iterator[Any]:
    """`func(task)` for each task in worker processes, yielded in task order.

    `failed(task, reason, message)` makes the result of a task whose worker died (`worker_died`)
    or ran past `deadline` seconds (`timeout`). `func`, `initializer` and the tasks must pickle.
    An initializer raising `InitRefused` makes this raise it (before any result).
    """
    ctx = multiprocessing.get_context("spawn")
    todo = deque(enumerate(tasks))
    window = 4 * jobs + 8  # results held back for ordering, at most
    done: dict[int, Any] = {}
    nxt = start_deaths = 0
    workers = [_Worker(ctx, func, initializer, initargs) for _ in range(max(1, min(jobs, len(todo))))]

    def hand_out() -> None:
        for w in workers:
            if w.ready and w.index is None and todo and todo[0][0] < nxt + window:
                w.give(*todo.popleft())

    try:
        while todo or any(w.index is not None for w in workers):
            hand_out()
            timeout = None
            if deadline is not None:
                ends = [deadline - w.spent() for w in workers if w.index is not None]
                # CPU time runs slower than the clock on a busy machine: look again within 1 s
                timeout = min(1.0, max(0.0, min(ends))) if ends else None
            ready = set(wait([w.conn for w in workers] + [w.proc.sentinel for w in workers],
                             timeout))
            for i, w in enumerate(workers):
                result: Any = None
                dead = False
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        dead = True
                    else:
                        if msg == _READY:
                            w.ready = True
                            start_deaths = 0
                            continue
                        if isinstance(msg, tuple) and msg and msg[0] == _INIT_REFUSED:
                            raise InitRefused(msg[1])
                        if isinstance(msg, tuple) and msg and msg[0] == _INIT_FAILED:
                            raise RuntimeError(f"kirinuki worker could not start: {msg[1]}")
                        result = msg
                elif w.proc.sentinel in ready:
                    dead = True
                elif (deadline is not None and w.index is not None
                      and w.spent() >= deadline):
                    result = failed(w.task, "timeout", f"page took over {deadline:g} s "
                                    "(CPU time); its worker was stopped")
                    w.kill()
                    workers[i] = _Worker(ctx, func, initializer, initargs)
                    done[w.index] = result
                    continue
                else:
                    continue
                if dead:
                    w.kill()
                    workers[i] = _Worker(ctx, func, initializer, initargs)
                    if w.index is None:
                        start_deaths += 0 if w.ready else 1
                        if start_deaths > _MAX_START_DEATHS:
                            raise RuntimeError(f"kirinuki workers keep dying before they start: "
                                               f"{_death(w.proc)}")
                        continue
                    result = failed(w.task, "worker_died", _death(w.proc))
                assert w.index is not None
                done[w.index] = result
                w.index = w.task = None
            # The next page goes out before this one's records are handed back: the worker cleans
            # while the caller writes, instead of waiting for it at every page (issue 10).
            hand_out()
            while nxt in done:
                yield done.pop(nxt)
                nxt += 1
        for w in workers:  # all done: let the workers leave on their own
            try:
                w.conn.send(None)
            except OSError:
                pass
        for w in workers:
            w.proc.join(timeout=5)
    finally:
        for w in workers:  # an interrupt or an error: stop at once, nothing is waited for
            w.kill()
