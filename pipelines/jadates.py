"""Read the date forms found on Japanese (and other) news pages into ISO 8601 with an offset.

Forms (tests/test_jadates.py): `2017年10月10日(火)17時48分`, `2019・12・9`, `2025.2.27`,
`2016/11/15 12:10`, `令和7年2月27日`, `平成元年`, ISO 8601, RFC 2822. A value with no offset is
read in the caller's zone (Japan time for Japanese pages).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

JST = timezone(timedelta(hours=9))

_ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "大正": 1911, "明治": 1867, "R": 2018, "H": 1988, "S": 1925}
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

_ERA_RE = re.compile(
    r"(?P<era>令和|平成|昭和|大正|明治|[RHS](?=\d))\s*(?P<y>元|\d{1,2})\s*[年.]\s*(?P<m>\d{1,2})\s*[月.]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*\([月火水木金土日]\))?(?:\s*(?P<H>\d{1,2})\s*[時:]\s*(?P<M>\d{1,2})\s*分?)?"
)
_YMD_RE = re.compile(
    r"(?<!\d)(?P<y>\d{4})\s*[年./・\-]\s*(?P<m>\d{1,2})\s*[月./・\-]\s*(?P<d>\d{1,2})(?!\d)\s*日?"
    r"(?:\s*\((?:[月火水木金土日]|祝|[月火水木金土日]・祝)\))?"
    r"(?:[\sT]*(?P<H>\d{1,2})\s*[時:]\s*(?P<M>\d{1,2})\s*分?(?:\s*(?::|)\s*(?P<S>\d{1,2})\s*秒?)?)?"
)
# Matched on stripped text. One `\s*`, tied to the zone: `\s*(?:Z|...)?\s*$` read a run of
# spaces in every split between its two `\s*`s (a 150 KB date value took minutes).
_ISO_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?$"
)


def _kanji_to_arabic(text: str) -> str:
    return "".join(str(_KANJI_DIGITS[c]) if c in _KANJI_DIGITS else c for c in text)


def _valid(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime | None:
    try:
        return datetime(y, m, d, hh, mm, ss)
    except ValueError:
        return None


def parse_date(value: str | None, tz: timezone = JST, target_tz: timezone | None = None) -> str | None:
    """Parse one date string; return ISO 8601 with offset, or None when it holds no date."""
    dt = read_datetime(value, tz)
    if dt is None:
        return None
    if target_tz is not None:
        dt = dt.astimezone(target_tz)
    return dt.isoformat(timespec="seconds")


def read_datetime(value: str | None, tz: timezone = JST) -> datetime | None:
    """Any date form a page writes (ISO, Japanese, era, English) as an aware datetime; `tz` for
    dates written without an offset. (Feeds' RFC 2822 dates: scraper.discovery.)"""
    if not value or not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    if _ISO_RE.match(text):
        iso = text.replace(" ", "T", 1) if " " in text and "T" not in text else text
        iso = iso.replace("Z", "+00:00")
        iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
        try:
            dt = datetime.fromisoformat(iso)
        except ValueError:
            dt = None
        if dt is not None:
            return dt if dt.tzinfo else dt.replace(tzinfo=tz)
    if re.search(r"[A-Za-z]{3},? \d{1,2} [A-Za-z]{3} \d{4}", text):
        try:
            dt = parsedate_to_datetime(text)
            return dt if dt.tzinfo else dt.replace(tzinfo=tz)
        except (TypeError, ValueError):
            pass
    text = _kanji_to_arabic(text)
    m = _ERA_RE.search(text)
    if m:
        base = _ERAS[m.group("era")]
        year = 1 if m.group("y") == "元" else int(m.group("y"))
        dt = _valid(base + year, int(m.group("m")), int(m.group("d")),
                    int(m.group("H") or 0), int(m.group("M") or 0))
        if dt:
            return dt.replace(tzinfo=tz)
    m = _YMD_RE.search(text)
    if m:
        dt = _valid(int(m.group("y")), int(m.group("m")), int(m.group("d")),
                    int(m.group("H") or 0), int(m.group("M") or 0), int(m.group("S") or 0))
        if dt and 1900 < dt.year < 2100:
            offset = re.search(r"(?:GMT|UTC)?([+-]\d{2}):?(\d{2})\s*$", text[m.end():])
            if offset:
                sign = 1 if offset.group(1).startswith("+") else -1
                delta = timedelta(hours=abs(int(offset.group(1))), minutes=int(offset.group(2)))
                if delta < timedelta(hours=24):  # an impossible offset is ignored, not fatal
                    tz = timezone(sign * delta)
            return dt.replace(tzinfo=tz)
    return None
