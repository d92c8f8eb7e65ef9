"""The checks both TOML files users write share: site profiles and the sources file.

Each fails with one message naming the file and the key; the caller's own exception type
(`ProfileError`, `SourcesError`) carries it, so a typo never silently changes what runs.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable
from typing import Any


def read_toml(path: str | os.PathLike[str], error: type[Exception],
              missing: str | None = None) -> dict[str, Any]:
    """The parsed file; `error("<path>: ...")` when it is missing, unreadable or not TOML."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise error(f"{path}: {missing or f'cannot read: {exc}'}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc}") from None


def unknown_key(data: dict[str, Any], allowed: Iterable[str], *, list_allowed: bool = False) -> tuple[str, str] | None:
    """The first key of `data` not in `allowed`, with the message that says so (a close match
    suggested, and with `list_allowed` every allowed key); None when all are known."""
    allowed = sorted(allowed)
    for key in data:
        if key not in allowed:
            msg = f"unknown key {key!r}{did_you_mean(key, allowed)}"
            if list_allowed:
                msg += f"; allowed: {', '.join(allowed)}"
            return key, msg
    return None


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest known name, else empty."""
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def compile_regex(value: str) -> re.Pattern[str]:
    """`re.compile`, with a ValueError whose message says which pattern is bad and why."""
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
