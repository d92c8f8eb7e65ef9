"""Pure cleaning: page bytes in, normalized article records out (no Scrapy, no network, no clock)."""

from __future__ import annotations

from kirinuki.pipelines.page import Page, Rejected

__all__ = ["Doc", "Page", "Rejected", "clean", "clean_pages", "continuation_urls", "load_profiles",
           "prepare"]


def __getattr__(name: str):
    # Lazy so that `from pipelines import Page` stays cheap for the crawler's workers.
    if name in {"clean", "clean_pages", "continuation_urls"}:
        from kirinuki.pipelines import cleaner as _clean

        return getattr(_clean, name)
    if name in {"Doc", "prepare"}:
        from kirinuki.pipelines import doc as _doc

        return getattr(_doc, name)
    if name == "load_profiles":
        from kirinuki.pipelines.profiles import load_profiles

        return load_profiles
    raise AttributeError(name)
