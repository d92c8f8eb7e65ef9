"""The library entry points: clean a page held in memory or saved on disk."""

from __future__ import annotations

import os
from typing import cast

from kirinuki.pipelines.cleaner import clean as _clean_page
from kirinuki.pipelines.page import Page
from kirinuki.pipelines.profiles import Profile, ProfileSet, load_profiles
from kirinuki.pipelines.record import Record


def _profiles(profiles: ProfileSet | None) -> ProfileSet:
    return profiles if profiles is not None else load_profiles()


def clean(html: str | bytes, url: str | None = None, *, content_type: str | None = None,
          profile: str | Profile | None = None, fetched_at: str | None = None,
          profiles: ProfileSet | None = None, generic_only: bool = False) -> list[Record]:
    """Clean one page into its records (a clipping page gives several).

    `html` as `str` is taken as already decoded; as `bytes` it is decoded like a fetched page
    (`content_type`'s charset, then BOM, `<meta>`, detection). `profile` forces a site profile by
    name (a mirror, a copy); else the URL's host picks one, else the generic path runs.
    Raises `kirinuki.Rejected` (with `.reason`) when the page holds no article.
    """
    name = profile.name if isinstance(profile, Profile) else profile
    page = Page(url=url, body=html, content_type=content_type, fetched_at=fetched_at, profile=name)
    return cast(list[Record], _clean_page(page, _profiles(profiles), generic_only=generic_only))


def clean_file(path: str | os.PathLike[str], url: str | None = None, *,
               profile: str | None = None, profiles: ProfileSet | None = None) -> list[Record]:
    """Clean a saved page (`.html`, `.htm`, `.gz`), reading a sidecar `.json` when there is one.

    The URL comes from `url`, the sidecar, or the page itself (canonical link, `og:url`, a
    browser's saved-from comment). Each record's `input_file` is `path`, as `kirinuki clean`
    sets it.
    """
    from kirinuki.inputs import load_page

    page = load_page(os.fspath(path), url=url, profile=profile)
    records = _clean_page(page, _profiles(profiles))
    for r in records:
        r["input_file"] = os.fspath(path)
    return cast(list[Record], records)
