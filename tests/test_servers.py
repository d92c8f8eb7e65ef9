"""The real servers the cluster tests stand on (tests/servers.py) behave as the tests assume."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cluster


def test_redis_restart_keeps_the_queue(redis_server, redis_url):
    import redis

    r = redis.Redis.from_url(redis_url)
    r.rpush("q", b"a", b"b")
    redis_server.restart()
    r = redis.Redis.from_url(redis_url)
    assert r.lrange("q", 0, -1) == [b"a", b"b"]


def test_redis_down_refuses_connections(redis_server, redis_url):
    import redis

    redis_server.stop()
    try:
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    finally:
        redis_server.start()


def test_postgres_databases_are_separate_and_survive_restart(postgres_server, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    other = postgres_server.create_database()
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)
    postgres_server.restart()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_postgres_runs_as_its_own_user(postgres_server, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert postgres_server.proc.poll() is None
