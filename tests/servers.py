"""Real Redis and PostgreSQL servers on loopback, for cluster tests and benchmarks.

Cluster mode is only as good as its behaviour against the real engines (queue semantics,
transactions, a server that goes away), so nothing here is a fake: each server is Debian's own
binary, started in a temp dir on a free port, with its own data directory, and stopped at the end.
PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (Popen's `user=`,
which execs the server directly, so `.proc` is the server itself and signals reach it).

Benchmarks import this module too (`benchmarks/cluster_bench.py`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path


class ServerMissing(RuntimeError):
    """The server binary is not installed (`.ci/run` installs it as root)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 30.0
               ) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-5:])
    except OSError:
        return "(no log)"


class Server:
    """One server process: `.url` to connect, `.stop()`, `.start()`, `.restart()`, `.kill()`."""

    name = "server"

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.root / f"{self.name}.log"

    @property
    def url(self) -> str:
        raise NotImplementedError

    def _command(self) -> tuple[list[str], dict]:
        raise NotImplementedError

    def start(self) -> Server:
        cmd, extra = self._command()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, **extra)
        _wait_port(self.port, self.proc, self.name, self.log)
        self._ready()
        return self

    def _ready(self) -> None:
        """Wait until the server answers real requests, not only accepts connections."""

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM/SIGINT as the server wants), then SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(self._stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    _stop_signal = signal.SIGTERM

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as on a crash or an OOM kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer(Server):
    """redis-server with an append-only file, so a restart keeps the queue (as a real deployment
    must: a Redis that forgets its queue on restart loses the run's pending requests)."""

    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> tuple[list[str], dict]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            raise ServerMissing("redis-server is not installed (apt-get install redis-server)")
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
                "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
                "--protected-mode", "no", "--daemonize", "no", "--logfile", ""], {}

    def _ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on {self.port} does not answer PING: {_tail(self.log)}")
            time.sleep(0.05)


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise ServerMissing("PostgreSQL is not installed (apt-get install postgresql)")


class PostgresServer(Server):
    """A throwaway PostgreSQL cluster: trust auth on loopback only, no fsync (tests and
    benchmarks only: the data is thrown away, and durability is not what they measure)."""

    name = "postgres"
    _stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, exit

    def __init__(self, root: Path, port: int | None = None) -> None:
        super().__init__(root, port)
        self.bin = _postgres_bin()
        self.data = self.root / "pgdata"
        self._as: dict = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.log.touch()
            os.chown(self.log, pw.pw_uid, pw.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                           check=True, capture_output=True, cwd=self.root, **self._as)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self) -> tuple[list[str], dict]:
        return [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200"], {"cwd": self.root, **self._as}

    def _ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            probe = subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p",
                                    str(self.port), "-U", "postgres"], capture_output=True)
            if probe.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres on {self.port} is not ready: {_tail(self.log)}")
            time.sleep(0.1)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database on this server; returns its URL."""
        import psycopg

        name = name or "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name


def _temp_root(prefix: str) -> Path:
    # Not pytest's tmp_path: its parents are 0700 root, which the postgres user cannot enter.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


@contextlib.contextmanager
def _running(kind: type[Server], prefix: str, root: Path | None) -> Iterator[Server]:
    """A started server of `kind`, stopped (and its own temp dir removed) at the end."""
    own = root is None
    root = root or _temp_root(prefix)
    server = kind(root)
    try:
        yield server.start()
    finally:
        server.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


def start_redis(root: Path | None = None) -> contextlib.AbstractContextManager[RedisServer]:
    """A running redis-server, stopped (and its temp dir removed) at the end."""
    return _running(RedisServer, "kirinuki-redis-", root)


def start_postgres(root: Path | None = None) -> contextlib.AbstractContextManager[PostgresServer]:
    """A running PostgreSQL, stopped (and its temp dir removed) at the end."""
    return _running(PostgresServer, "kirinuki-pg-", root)
