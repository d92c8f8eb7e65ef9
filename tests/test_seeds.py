"""The seed captures (../shared/seeds) are the rendered pages: our records' paragraphs must be
exactly the article span CLEANING.md names, paragraph for paragraph."""

from __future__ import annotations

import pytest

from kirinuki.inputs import load_page
from pipelines import clean
from tests.conftest import FIXTURES, SHARED

SEEDS = SHARED / "seeds"
CASES = [
    ("newsweekjapan/2017-10-10_putin-north-korea.html", "001_d6cc823e0a856aac.txt", "ロシアは、金正恩", "少なくとも8隻"),
    ("goo-blog/2025-02-28_isw-report.html", "002_4bfa712dfd589490.txt", "良くも悪くも", "アイキャッチ画像引用"),
    ("nikkei/2019-05-15_us-russia-foreign-ministers.html", "003_db54b48a0cca112e.txt", "【ワシントン=永沢毅】", "首脳会談の条件を"),
]


def seed_span(path, start: str, end: str) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    i = next(k for k, line in enumerate(lines) if line.startswith(start))
    j = next(k for k, line in enumerate(lines) if k >= i and line.startswith(end))
    return lines[i: j + 1]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")
@pytest.mark.parametrize("fixture, seed, start, end", CASES, ids=[c[1][:3] for c in CASES])
def test_record_paragraphs_equal_the_seed_article(fixture, seed, start, end, profiles):
    rec = clean(load_page(str(FIXTURES / fixture)), profiles)[0]
    assert [b["text"] for b in rec["blocks"]] == seed_span(SEEDS / seed, start, end)
