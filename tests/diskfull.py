"""`python -m tests.diskfull LIMIT ARGS...`: `kirinuki crawl` whose JSONL output fills up.

Every `*.jsonl` file accepts LIMIT bytes, then a write gets ENOSPC after writing what still
fits (a torn line, as on a real full disk). The state file is elsewhere and keeps working.
"""

from __future__ import annotations

import errno
import os
import sys

from kirinuki.scraper import state
from kirinuki.scraper.command import main


def _install(limit: int) -> None:
    real = state.write_all
    written: dict[str, int] = {}

    def write_all(fd: int, data: bytes) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".jsonl"):
            room = limit - written.get(path, 0)
            if room < len(data):
                if room > 0:
                    real(fd, data[:room])
                written[path] = limit
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            written[path] = written.get(path, 0) + len(data)
        real(fd, data)

    state.write_all = write_all


if __name__ == "__main__":
    _install(int(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
