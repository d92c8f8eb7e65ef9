"""Writing output files safely: the one temp-file-and-rename writer of the project.

What "safely" means here (issue 7):

- A regular file (or a path that does not exist yet) is written to a temp file next to it and
  renamed over it only when everything was written and synced: a full disk or an interrupted run
  leaves the earlier file as it was and no temp file behind.
- A symlink is followed: its target is replaced, the link stays a link.
- A FIFO or a character device (a terminal, the null device) is written in place, as a shell
  redirection would; it is never replaced by a regular file. Directories, sockets and block
  devices are refused with a message.
- A new file gets the mode the umask gives (0644 under umask 022), not mkstemp's 0600; a replaced
  file keeps its mode (and, for root, its owner).
- Every failure is an `OutputError` with a one-line message that names the file.

Bytes go out through `os.write` with a small buffer of our own, so that tests can inject a write
error (a full disk) without a real full disk.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
from typing import Any, BinaryIO

from kirinuki.shown import file_kind, shown

_BUFFER = 64 * 1024


class OutputError(Exception):
    """An output file that could not be opened, written or committed (message is one line)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputFile:
    """One output being written: `write()` text or bytes, then `commit()` (or `discard()`).

    As a context manager it commits on a clean exit and discards on an exception. `path` `-` is
    standard output (nothing to commit or discard).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.tmp: str | None = None
        self.target: str | None = None
        self.fd: int | None = None
        self.bytes_written = 0
        self._buf: list[bytes] = []
        self._buffered = 0
        self._mode = 0
        self._owner: tuple[int, int] | None = None
        if self.path == "-":
            sys.stdout.flush()
            self.fd = sys.stdout.fileno() if _has_fileno(sys.stdout) else None
            self._stream: BinaryIO | None = None if self.fd is not None else sys.stdout.buffer
            return
        self._stream = None
        target = os.path.realpath(self.path)  # a symlink's target is written, not the link
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise self._error(exc) from None
        if st is not None and not stat.S_ISREG(st.st_mode):
            if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
                try:
                    self.fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
                except OSError as exc:
                    raise self._error(exc) from None
                return
            raise OutputError(f"cannot write {shown(self.path)}: it is {file_kind(st.st_mode)}; "
                              "give a regular file, a FIFO, a character device or -")
        directory = os.path.dirname(target) or "."
        try:
            os.makedirs(directory, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp",
                                            dir=directory)
        except OSError as exc:
            raise self._error(exc) from None
        self.fd = fd
        self.target = target
        if st is not None:
            self._mode = stat.S_IMODE(st.st_mode)
            self._owner = (st.st_uid, st.st_gid)
        else:
            self._mode = 0o666 & ~_umask()

    def _error(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write {shown(self.path)}: {exc.strerror or exc}")

    def write(self, data: str | bytes) -> None:
        """Buffer `data` (text as UTF-8); an `OutputError` if the disk refuses it."""
        b = data.encode("utf-8") if isinstance(data, str) else data
        self._buf.append(b)
        self._buffered += len(b)
        if self._buffered >= _BUFFER:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        data = b"".join(self._buf)
        self._buf.clear()
        self._buffered = 0
        try:
            if self._stream is not None:
                self._stream.write(data)
                self._stream.flush()
            elif self.fd is not None:
                write_all(self.fd, data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._error(exc) from None
        self.bytes_written += len(data)

    def commit(self) -> None:
        """Everything written reaches the path: flush, sync, rename over the old file."""
        try:
            self.flush()
        except BaseException:
            self.discard()
            raise
        if self.tmp is None:
            self._close()
            return
        try:
            assert self.fd is not None and self.target is not None
            if hasattr(os, "fchmod"):
                os.fchmod(self.fd, self._mode)
            if self._owner is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
                try:
                    os.fchown(self.fd, *self._owner)
                except OSError:
                    pass
            os.fsync(self.fd)
            self._close()
            os.replace(self.tmp, self.target)
            self.tmp = None
        except OSError as exc:
            self.discard()
            raise self._error(exc) from None
        _sync_dir(os.path.dirname(self.target))

    def discard(self) -> None:
        """Drop what was written: the temp file goes, the old file stays as it was."""
        self._buf.clear()
        self._buffered = 0
        self._close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = None

    def _close(self) -> None:
        if self.fd is not None and self.path != "-":
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def open_output(path: str | os.PathLike[str]) -> OutputFile:
    """An `OutputFile` for `path` (`-` is standard output); raises `OutputError`."""
    return OutputFile(path)


def write_text_atomic(path: str | os.PathLike[str], text: str | bytes) -> None:
    """Replace `path` with `text` in one step (the rules of `OutputFile`)."""
    with OutputFile(path) as out:
        out.write(text)


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2,
                      sort_keys: bool = True) -> None:
    """Replace `path` with `data` as JSON (UTF-8 kept, trailing newline)."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent,
                                       sort_keys=sort_keys) + "\n")


def _has_fileno(stream: Any) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False


def write_all(fd: int, data: bytes) -> None:
    """os.write until all is written; a write that makes no progress is a full disk."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def _sync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["OutputError", "OutputFile", "open_output", "write_json_atomic",
           "write_text_atomic"]
