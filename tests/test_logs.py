"""Logging (issue 8): one handler, tracebacks only at DEBUG, JSON lines, rotated file."""

from __future__ import annotations

import json
import logging

import pytest
from kirinuki.scraper.logs import configure_logging


@pytest.fixture(autouse=True)
def _restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _boom(log: logging.Logger) -> None:
    try:
        raise ConnectionRefusedError("Connection was refused\nby other side")
    except ConnectionRefusedError:
        log.error("Error downloading %s", "<GET http://x.test/robots.txt>", exc_info=True)


def test_one_handler_and_tracebacks_only_at_debug(tmp_path):
    log_file = tmp_path / "logs" / "k.log"
    configure_logging("WARNING")
    configure_logging("INFO", log_file)  # called twice: still one handler
    assert len(logging.getLogger().handlers) == 1
    log = logging.getLogger("scrapy.downloadermiddlewares.robotstxt")
    log.setLevel(logging.DEBUG)  # as Scrapy sets its loggers
    log.debug("hidden")
    _boom(log)
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in lines[0]
    assert lines[0].endswith("(ConnectionRefusedError: Connection was refused by other side)")
    configure_logging("DEBUG", log_file)
    _boom(log)
    assert "Traceback (most recent call last)" in log_file.read_text()


def test_json_lines(tmp_path):
    log_file = tmp_path / "k.jsonl"
    configure_logging("INFO", log_file, "json")
    logging.getLogger("kirinuki.test").info("hello %s", "世界")
    _boom(logging.getLogger("kirinuki.test"))
    rows = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert rows[0]["message"] == "hello 世界" and rows[0]["level"] == "INFO"
    assert rows[1]["exc"].startswith("ConnectionRefusedError") and "traceback" not in rows[1]


def test_log_file_rotates(tmp_path, monkeypatch):
    import kirinuki.scraper.logs as logs

    monkeypatch.setattr(logs, "ROTATE_BYTES", 2000)
    log_file = tmp_path / "k.log"
    configure_logging("INFO", log_file)
    for i in range(100):
        logging.getLogger("kirinuki.test").info("line %03d %s", i, "x" * 40)
    assert (tmp_path / "k.log.1").exists() and log_file.stat().st_size <= 2000
