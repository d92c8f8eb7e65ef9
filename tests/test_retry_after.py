from __future__ import annotations

from email.utils import formatdate

from kirinuki.scraper.middlewares import _retry_after


def test_retry_after_seconds_and_http_date():
    assert _retry_after(b"7") == 7.0
    now = 1_700_000_000.0
    assert abs(_retry_after(formatdate(now + 30, usegmt=True).encode(), now=now) - 30.0) < 1.0
    assert _retry_after(formatdate(now - 30, usegmt=True).encode(), now=now) == 0.0
    assert _retry_after(b"soon") is None and _retry_after(None) is None
