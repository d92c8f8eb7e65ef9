"""The Store contract on both backends: SQLite (the embedded default) and PostgreSQL (cluster).

Every test here runs twice, once on a SQLite file and once on a fresh database of a real
PostgreSQL started on loopback (tests/servers.py): one API, the same answers. The PostgreSQL-only
guarantees (several processes sharing one database, the server going away) are further down.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from datetime import UTC, datetime

import pytest
from kirinuki.scraper.history import History
from kirinuki.scraper.retention import prune, vacuum
from kirinuki.scraper.state import Emit, latest_records, open_store
from kirinuki.scraper.statedb import open_readonly

from kirinuki.cli import main as cli


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.cluster)])
def target(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state.sqlite")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(target):
    s = open_store(target)
    yield s
    s.close()


def emit(store, run_id, key, chash, version, page=None):
    line = json.dumps({"url": f"https://a.example/{key}", "content_hash": chash,
                       "version": version, "text": key}, sort_keys=True)
    e = Emit(key, version, "a", f"https://a.example/{key}", chash, "2026-01-01T00:00:00+00:00",
             line)
    pages = [(page, "a", "article")] if page else []
    return store.emit(run_id, [e], pages, etag='"e1"', last_modified=None,
                      fetched_at="2026-01-01T00:00:00+00:00")


def test_frontier_discover_next_fetched_failed_recheck(store):
    store.start_run("r1", None)
    store.discovered("a", "feed", None, [("https://a.example/feed", None, None, None)])
    entries = [("https://a.example/1", "One", None, None), ("https://a.example/2", None, None, None)]
    assert store.discover_articles("a", "https://a.example/feed", "r1", 3, entries) == (2, 0)
    # listed again in the same run: counted once
    assert store.discover_articles("a", "https://a.example/feed", "r1", 3, entries) == (0, 0)
    rows = store.next_articles("a", 0, 10, 3)
    assert [u.url for _, u in rows] == ["https://a.example/1", "https://a.example/2"]
    assert rows[0][1].title == "One" and rows[0][0] < rows[1][0]
    assert [u.url for _, u in store.next_articles("a", rows[0][0], 10, 3)] == ["https://a.example/2"]
    store.fetched("https://a.example/1", "a", "article", etag='"x"', fetched_at="2026-01-01")
    for _ in range(3):
        store.failed("https://a.example/2", "a", "article", "http_500")
    assert store.get("https://a.example/2").attempts == 3
    assert store.get("https://a.example/2").status == "failed"
    assert store.next_articles("a", 0, 10, 3) == []  # done, and failed too often
    # the next run: both known; a later lastmod makes the fetched one pending again
    later = [("https://a.example/1", None, None, "2026-06-01T00:00:00+00:00"),
             ("https://a.example/2", None, None, None)]
    assert store.discover_articles("a", "https://a.example/feed", "r2", 3, later) == (2, 1)
    (_, again), = store.next_articles("a", 0, 10, 3)
    assert again.url == "https://a.example/1" and again.etag == '"x"'
    store.fetched("https://a.example/1", "a", "article", fetched_at="2026-01-02")
    assert store.recheck("a", "2026-02-01", 5) == 1
    assert store.get("https://a.example/1").status == "pending"


def test_emit_decides_versions_and_never_stores_one_twice(store):
    store.start_run("r1", None)
    assert [e.version for e in emit(store, "r1", "k", "h1", 1, page="https://a.example/k")] == [1]
    assert store.get("https://a.example/k").status == "done"
    assert store.get("https://a.example/k").etag == '"e1"'
    assert emit(store, "r1", "k", "h1", 1) == []  # the same content again: nothing
    # A caller that read the state before it moved on (another worker) gets the next version,
    # its line renumbered.
    (e,) = emit(store, "r1", "k", "h2", 1)
    assert e.version == 2 and json.loads(e.line)["version"] == 2
    assert store.article("k") == ("h2", 2)
    emit(store, "r1", "other", "h9", 1)
    assert [json.loads(x)["version"] for x in store.run_records("r1")] == [1, 2, 1]
    store.finish_run("r1", {"records": 3})
    assert store.run_info("r1")["finished_at"] is not None
    assert store.run_info("nope") is None


def test_recovery_completes_an_interrupted_run_file(store, tmp_path):
    out = tmp_path / "r1.jsonl"
    store.start_run("r1", out)
    lines = [e.line for k in ("a", "b", "c") for e in emit(store, "r1", k, "h", 1)]
    out.write_text(lines[0] + "\n" + lines[1][:5])  # killed mid-write
    store.start_run("cluster-run", None)  # no local file: left alone
    assert store.recover() == [(str(out), 2)]
    assert out.read_text().splitlines() == lines
    assert store.run_info("r1")["finished_at"] is not None
    assert store.recover() == []  # checked: its size is remembered


def test_history_hold_runs_and_readonly_export(store, target):
    store.start_run("r1", None)
    emit(store, "r1", "k", "h1", 1)
    emit(store, "r1", "k", "h2", 2)
    h = History(store.db)
    h.flag("r1", "a", None, "https://a.example/k", ["short_text"], held=True)
    assert h.flagged("r1") == [("a", None, "https://a.example/k", ["short_text"], True)]
    h.hold("k", "a", "https://a.example/k", "r1", "t1", ["short_text"], "d", 3, "h3", "{}")
    h.hold("k", "a", "https://a.example/k", "r1", "t2", ["short_text"], "d2", 3, "h3", "{}")
    assert [(x.key, x.held_at, x.detail) for x in h.held()] == [("k", "t2", "d2")]
    h.unhold("k")
    assert h.held() == []
    h.add_source_run("r1", "a", "2026-01-01", {"fetched": 1}, [10, 20], [])
    h.add_source_run("r1", "a", "2026-01-01", {"fetched": 2}, [10, 30], [])  # replaced
    h.add_source_run("r2", "a", "2026-01-02", {"fetched": 3}, [], [])
    assert [(r.run_id, r.counters["fetched"], r.median_len) for r in h.source_runs("a")] == [
        ("r1", 2, 20), ("r2", 3, None)]
    assert h.last_started() == {"a": "2026-01-02"}
    ro = open_readonly(target)
    try:
        assert [(r["version"], r["content_hash"]) for r in latest_records(ro)] == [(2, "h2")]
        assert History(ro).sources() == ["a"]
    finally:
        ro.close()


def test_retention_prunes_runs_and_vacuums(store, tmp_path):
    for i in range(4):
        run_id = f"r{i}"
        store.start_run(run_id, tmp_path / f"{run_id}.jsonl")
        (tmp_path / f"{run_id}.jsonl").write_text("")
        if i % 2:
            emit(store, run_id, f"k{i}", "h", 1)
        store.db.execute("UPDATE runs SET started_at=? WHERE run_id=?", (f"2026-01-0{i + 1}", run_id))
        store.finish_run(run_id, {"records": i % 2})
    History(store.db)
    gone = prune(store.db, 1, None, datetime(2026, 1, 10, tzinfo=UTC), current="r3")
    assert sorted(gone) == ["r0", "r1", "r2"]
    assert [r[0] for r in store.db.execute("SELECT run_id FROM runs")] == ["r3"]
    assert not (tmp_path / "r1.jsonl").exists()
    before, after = vacuum(store.db)
    assert before > 0 and after > 0


def test_export_command_reads_either_backend(store, target, tmp_path, capsys):
    store.start_run("r1", None)
    emit(store, "r1", "k", "h1", 1)
    emit(store, "r1", "k", "h2", 2)
    emit(store, "r1", "j", "h3", 1)
    out = tmp_path / "all.jsonl"
    assert cli(["export", "--state", target, "-o", str(out)]) == 0
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["text"], r["version"]) for r in got] == [("j", 1), ("k", 2)]


# -- PostgreSQL only: several workers, one database ------------------------------------------------


def _worker(url: str, me: int, shared: int, barrier) -> None:
    """One process emitting like a crawl worker: read the version, then emit (Dedup, Write)."""
    s = open_store(url)
    barrier.wait()
    # every worker discovers the same URLs at once (a feed listed in two sources' seeds)
    found = [(f"https://a.example/found-{i}", None, None, None) for i in range(30)]
    s.discovered("a", "feed", None, [("https://a.example/feed", None, None, None)])
    s.discover_articles("a", "https://a.example/feed", "w0", 3, found)
    s.failed("https://a.example/found-0", "a", "article", "http_500")
    for round_ in range(2):
        for i in range(shared):
            key = f"shared-{i}"
            # round 0: the same content in every worker; round 1: the article changed, and
            # some workers still see the old text (a slow fetch)
            chash = "v1" if round_ == 0 or (i + me) % 2 else "v2"
            prev = s.article(key)
            version = 1 if prev is None else prev[1] + (prev[0] != chash)
            emit(s, "w0", key, chash, version, page=f"https://a.example/{key}")
        emit(s, "w0", f"own-{me}-{round_}", "x", 1)
    s.close()


@pytest.mark.cluster
def test_many_processes_never_store_a_version_twice(postgres_url):
    first = open_store(postgres_url)  # the schema, so the workers race on rows, not on DDL
    first.start_run("w0", None)  # the seeder's run; the workers attach to it
    first.close()
    ctx = multiprocessing.get_context("spawn")
    n, shared = 4, 15
    barrier = ctx.Barrier(n)
    procs = [ctx.Process(target=_worker, args=(postgres_url, me, shared, barrier))
             for me in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    s = open_store(postgres_url)
    try:
        rows = s.db.execute("SELECT key, version, content_hash, record FROM records "
                            "ORDER BY key, version").fetchall()
        by_key: dict[str, list[tuple[int, str]]] = {}
        for key, version, chash, line in rows:
            by_key.setdefault(key, []).append((version, chash))
            assert json.loads(line)["version"] == version
        assert len(by_key) == shared + 2 * n  # every article, own ones once each
        found = s.db.execute("SELECT url, status, attempts FROM urls WHERE url LIKE "
                             "'https://a.example/found-%' ORDER BY url").fetchall()
        assert len(found) == 30
        assert ("https://a.example/found-0", "failed", n) in found
        for key, versions in by_key.items():
            assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), key
            hashes = [h for _, h in versions]
            assert all(a != b for a, b in zip(hashes, hashes[1:], strict=False)), key
            assert s.article(key) == (hashes[-1], len(versions))
            if key.startswith("own-"):
                assert versions == [(1, "x")]
    finally:
        s.close()


def _open_store(url: str) -> None:
    open_store(url).close()


@pytest.mark.cluster
def test_workers_starting_together_create_the_schema_once(postgres_url):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_store, args=(postgres_url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    s = open_store(postgres_url)
    # a server on another machine that vanishes without a reset is noticed (TCP keepalives)
    params = s.db.conn.info.get_parameters()
    assert params["keepalives"] == "1" and int(params["keepalives_idle"]) <= 10
    s.close()


@pytest.mark.cluster
def test_postgres_going_away_waits_retries_and_loses_nothing(postgres_server, postgres_url,
                                                             caplog):
    s = open_store(postgres_url)
    s.start_run("r1", None)
    calls = 0

    def body() -> None:
        nonlocal calls
        calls += 1
        emit(s, "r1", "k", "h1", 1, page="https://a.example/k")
        if calls == 1:  # the server goes away mid-transaction, and comes back 2 s later
            postgres_server.stop()
            threading.Timer(2.0, postgres_server.start).start()
        s.fetched("https://a.example/feed", "a", "feed")

    try:
        with caplog.at_level(logging.WARNING, logger="kirinuki.scraper.pgstate"):
            s.db.transaction(body)
            assert calls == 2  # run again as a whole
            # an outage between transactions: the next statement waits for the server too
            postgres_server.stop()
            threading.Timer(1.5, postgres_server.start).start()
            emit(s, "r1", "j", "h1", 1)
        waits = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(waits) == 2 and all("retrying in" in w for w in waits)
        assert s.db.outages == 2
        assert [json.loads(x)["text"] for x in s.run_records("r1")] == ["k", "j"]
        assert s.get("https://a.example/k").status == "done"
        assert s.get("https://a.example/feed").status == "done"
    finally:
        s.close()


def test_export_from_an_unreachable_database_says_so_at_once(tmp_path, capsys):
    from tests.servers import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    assert cli(["export", "--state", url, "-o", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "unreachable" in err and "Traceback" not in err


@pytest.mark.cluster
def test_a_worker_starting_does_not_wait_for_the_others_writes(postgres_url):
    import psycopg

    open_store(postgres_url).close()
    busy = psycopg.connect(postgres_url)  # another worker, mid-transaction on the state
    busy.execute("INSERT INTO urls (url, source, kind, status) VALUES ('u', 'a', 'page', 'done')")
    opened = threading.Event()

    def start() -> None:
        s = open_store(postgres_url)
        History(s.db)
        s.close()
        opened.set()

    t = threading.Thread(target=start, daemon=True)
    t.start()
    try:
        assert opened.wait(10), "opening the state waited for another worker's transaction"
    finally:
        busy.commit()
        busy.close()
        t.join(10)


@pytest.mark.cluster
@pytest.mark.e2e
def test_crawl_with_its_state_in_postgres_is_incremental(tmp_path, postgres_url):
    """`kirinuki crawl --state postgresql://...`: one process, the state in PostgreSQL."""
    from kirinuki.demo.server import SiteServer
    from tests.crawl_server import build_news_site, news_source, run_crawl, write_sources

    with SiteServer() as srv:
        site = build_news_site(srv)
        sources = write_sources(tmp_path / "sources.toml", [news_source(site)])
        out = tmp_path / "out"
        first = run_crawl(sources, out, "--state", postgresql_url := postgres_url)
        assert first.returncode == 0, first.stderr[-3000:]
        assert len(first.records) == 12 and {r["version"] for r in first.records} == {1}
        assert first.summary["state"] == postgresql_url
        second = run_crawl(sources, out, "--state", postgres_url)
        assert second.returncode == 0, second.stderr[-3000:]
        assert second.records == []
        for n in range(1, 13):
            assert len(site.hits(site.path(n))) == 1
    s = open_store(postgres_url)
    try:
        assert s.db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 12
        assert not (out / "state.sqlite").exists()
    finally:
        s.close()


@pytest.mark.cluster
def test_maintenance_commands_take_a_database_url(postgres_url, tmp_path, capsys, monkeypatch):
    s = open_store(postgres_url)
    s.start_run("r1", None)
    emit(s, "r1", "k", "h1", 1)
    h = History(s.db)
    h.hold("k", "a", "https://a.example/k", "r1", "t", ["short_text"], "d", 3, "h2",
           json.dumps({"text": "k2", "content_hash": "h2"}))
    h.add_source_run("r1", "a", "2026-01-01", {"fetched": 1}, [3], [])
    s.finish_run("r1", {"records": 1})
    s.close()
    monkeypatch.chdir(tmp_path)
    assert cli(["held", "list", "--state", postgres_url, "--json"]) == 0
    assert [x["key"] for x in json.loads(capsys.readouterr().out)] == ["k"]
    assert cli(["held", "release", "--all", "--state", postgres_url, "-o", str(tmp_path)]) == 0
    (released,) = tmp_path.glob("release-*.jsonl")
    assert json.loads(released.read_text())["text"] == "k2"
    assert cli(["report", "--state", postgres_url]) == 0
    assert (tmp_path / "report.html").exists()
    assert cli(["state", "prune", "--keep-runs", "5", "--state", postgres_url]) == 0
    assert cli(["state", "vacuum", "--state", postgres_url]) == 0
    s = open_store(postgres_url)
    try:
        assert s.article("k") == ("h2", 2)
    finally:
        s.close()
