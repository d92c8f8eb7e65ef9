from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"
# KIRINUKI_BENCHMARKS (as in benchmarks/eval_full.sh) serves worktrees that have no ../shared.
BENCHMARKS = Path(os.environ.get("KIRINUKI_BENCHMARKS") or SHARED / "benchmarks")


def profile_error(path: Path, text: str) -> str:
    """The `ProfileError` message for a profile file holding `text` (written to `path`)."""
    from kirinuki.pipelines.profiles import ProfileError, load_profile_file

    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as exc:
        load_profile_file(path)
    return str(exc.value)


@pytest.fixture(scope="session")
def profiles():
    from kirinuki.pipelines import load_profiles

    return load_profiles()


# Tests that run Scrapy: `pytest -m scrapy` (CI runs them again at the Scrapy floor, .ci/run).
_SCRAPY_MODULES = ("test_crawl", "test_scrapy", "test_cleaner_pool")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module is not None and item.module.__name__.split(".")[-1].startswith(_SCRAPY_MODULES):
            item.add_marker(pytest.mark.scrapy)
