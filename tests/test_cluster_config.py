"""`[cluster]` and `--redis/--database`: validated like the rest of the sources file (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kirinuki.scraper.config import SourcesError, load_sources, parse_sources, with_cluster

from kirinuki.cli import main

SOURCE = {"name": "s", "feeds": ["http://127.0.0.1:9/feed.xml"]}


def _cluster(**kw):
    return parse_sources({"sources": [SOURCE], "cluster": kw}).cluster


def test_cluster_table_is_read():
    c = _cluster(redis="redis://127.0.0.1:6379/0", database="postgresql://k@db/kirinuki",
                 lease_timeout=5)
    assert (c.redis, c.database, c.lease_timeout) == (
        "redis://127.0.0.1:6379/0", "postgresql://k@db/kirinuki", 5.0)
    assert parse_sources({"sources": [SOURCE]}).cluster is None  # the embedded default


@pytest.mark.parametrize("table, words", [
    ({"redis": "redis://h/0", "database": "postgresql://h/d", "reddis": "x"}, "reddis"),
    ({"redis": "http://h/0", "database": "postgresql://h/d"}, "'redis'"),
    ({"redis": "redis://h/0", "database": "mysql://h/d"}, "'database'"),
    ({"redis": "redis://h/0", "database": "postgresql:///d"}, "'database'"),
    ({"redis": "redis://h:port/0", "database": "postgresql://h/d"}, "bad port"),
    ({"redis": "redis://h/0"}, "'database': required"),
    ({"redis": "redis://h/0", "database": "postgresql://h/d", "lease_timeout": 0}, "lease_timeout"),
])
def test_bad_cluster_tables_name_the_key(table, words):
    with pytest.raises(SourcesError, match="cluster") as err:
        _cluster(**table)
    assert words in str(err.value)


def test_command_line_overrides_the_file():
    config = parse_sources({"sources": [SOURCE],
                            "cluster": {"redis": "redis://a/0", "database": "postgresql://a/d"}})
    c = with_cluster(config, "redis://b:6380/1", None).cluster
    assert (c.redis, c.database) == ("redis://b:6380/1", "postgresql://a/d")
    plain = parse_sources({"sources": [SOURCE]})
    assert with_cluster(plain, None, None).cluster is None
    with pytest.raises(SourcesError, match="'database': required"):
        with_cluster(plain, "redis://b/0", None)  # half a cluster is an error, not a fallback


def test_crawl_exits_2_on_a_bad_cluster_table(tmp_path: Path, capsys):
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "s"\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n'
                       '[cluster]\nredis = "redis://127.0.0.1:9/0"\ndatabase = "sqlite:///x"\n')
    with pytest.raises(SourcesError):
        load_sources(sources)
    assert main(["crawl", "--sources", str(sources), "-o", str(tmp_path / "out")]) == 2
    assert "[cluster]: key 'database'" in capsys.readouterr().err
    plain = tmp_path / "plain.toml"
    plain.write_text('[[sources]]\nname = "s"\nfeeds = ["http://127.0.0.1:9/feed.xml"]\n')
    assert main(["crawl", "--sources", str(plain), "-o", str(tmp_path / "out"),
                 "--database", "postgresql://127.0.0.1:9/k", "--redis", "tcp://x"]) == 2
    assert "key 'redis'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was started


def test_worker_needs_the_servers(capsys):
    assert main(["worker", "--until-idle"]) == 2
    assert "--redis URL --database URL" in capsys.readouterr().err
