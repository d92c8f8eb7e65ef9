from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"
# KIRINUKI_BENCHMARKS (as in benchmarks/eval_full.sh) serves worktrees that have no ../shared.
BENCHMARKS = Path(os.environ.get("KIRINUKI_BENCHMARKS") or SHARED / "benchmarks")
# Derived data (py3langid's uncompressed model, pipelines/language_model.py) goes to a temporary
# directory for the session, inherited by the subprocesses tests start, not to ~/.cache.
if "KIRINUKI_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="kirinuki-test-cache-")
    os.environ["KIRINUKI_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)


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


# -- real servers for cluster tests (tests/servers.py) -------------------------------------------
# Missing binaries skip the cluster tests on a developer's machine, but fail under CI (`CI` set),
# where .ci/run installs them: a cluster test must never pass by not running.


def _server(start):
    from tests.servers import ServerMissing

    try:
        return start()
    except ServerMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_server():
    from tests.servers import start_redis

    cm = start_redis()
    server = _server(cm.__enter__)
    try:
        yield server
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_server():
    from tests.servers import start_postgres

    cm = start_postgres()
    server = _server(cm.__enter__)
    try:
        yield server
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The session's Redis, emptied for this test (a test that restarts it gets it back)."""
    import redis

    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new, empty database on the session's PostgreSQL, for this test alone."""
    if postgres_server.proc is None or postgres_server.proc.poll() is not None:
        postgres_server.start()
    return postgres_server.create_database()
