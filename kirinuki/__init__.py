"""kirinuki (切り抜き): noisy news pages in, clean normalized article records out.

The stable API, for notebooks and other programs::

    import kirinuki
    records = kirinuki.clean(html, url="https://www.example.com/news/1")
    records = kirinuki.clean_file("saved/page.html.gz")
    profiles = kirinuki.load_profiles(["my_profiles/"])

Each record is a plain `dict` (JSON-ready) with the keys of `kirinuki.Record`. A page that
yields no article raises `kirinuki.Rejected` with a machine-readable `reason`.
The cleaning core is `kirinuki.pipelines`; the crawler is `kirinuki.scraper`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kirinuki.api import clean, clean_file
    from kirinuki.pipelines.page import Page, Rejected
    from kirinuki.pipelines.profiles import Profile, ProfileSet, load_profiles
    from kirinuki.pipelines.record import Record

__all__ = [
    "Page", "Profile", "ProfileSet", "Record", "Rejected", "__version__", "clean", "clean_file",
    "load_profiles",
]

_LAZY = {
    "clean": "kirinuki.api",
    "clean_file": "kirinuki.api",
    "Page": "kirinuki.pipelines.page",
    "Rejected": "kirinuki.pipelines.page",
    "Record": "kirinuki.pipelines.record",
    "Profile": "kirinuki.pipelines.profiles",
    "ProfileSet": "kirinuki.pipelines.profiles",
    "load_profiles": "kirinuki.pipelines.profiles",
}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("kirinuki")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+local"


def __getattr__(name: str):
    # Lazy, so that `kirinuki --version` and the CLI's start-up do not load lxml and trafilatura;
    # the version too: importlib.metadata was 25 ms of each process of `kirinuki clean` (issue 10).
    if name == "__version__":
        return _version()
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kirinuki' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
