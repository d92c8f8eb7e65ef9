"""Logging for unattended runs: exactly one handler, tracebacks only at DEBUG, rotation, JSON.

Scrapy installs its own root handler unless told not to (`LOG_INSTALL_ROOT_HANDLER`); with ours
beside it every line came out twice in two formats. `configure_logging` replaces whatever the root
logger has with one handler (stderr, or a rotated file) and the crawl turns Scrapy's off. Below
DEBUG a logged exception is one line (`... (ConnectionRefusedError: ...)`): a robots.txt that
cannot be fetched is a counted failure, not a 60-line traceback in a cron mail.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG_FORMATS = ("text", "json")
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _exception_line(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    exc = record.exc_info[1]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TextFormatter(logging.Formatter):
    """Plain lines; a traceback only when the handler shows DEBUG."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__(TEXT_FORMAT)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        line = _exception_line(record)
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        return f"{text} ({line})" if line else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log shippers: ts, level, logger, message (+ exc)."""

    def __init__(self, tracebacks: bool) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line = _exception_line(record)
        if line:
            out["exc"] = line
            if self.tracebacks:
                out["traceback"] = self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str | int = "WARNING", log_file: str | Path | None = None,
                      log_format: str = "text") -> logging.Handler:
    """Give the root logger exactly one handler (stderr, or `log_file` rotated); return it."""
    lvl = level if isinstance(level, int) else getattr(logging, str(level).upper(), logging.WARNING)
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=ROTATE_BYTES, backupCount=ROTATE_KEEP, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    tracebacks = lvl <= logging.DEBUG
    handler.setFormatter(JsonFormatter(tracebacks) if log_format == "json"
                         else TextFormatter(tracebacks))
    # Libraries (Scrapy) set their own loggers to DEBUG and propagate: filter at the handler.
    handler.setLevel(lvl)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if old is not handler:
            old.close()
    root.addHandler(handler)
    root.setLevel(lvl)
    return handler
