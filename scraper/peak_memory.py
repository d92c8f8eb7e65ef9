"""Peak resident memory of this process, where the platform reports it.

`resource` is POSIX-only: on Windows the crawl runs the same and its summary says `null` for
peak memory instead of failing at import.
"""

from __future__ import annotations

import sys

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]


def peak_rss_kb() -> int | None:
    """Peak resident set size in KiB, or None where the platform does not say."""
    if resource is None:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # macOS reports bytes, Linux KiB
