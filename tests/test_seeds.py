"""The seed captures (../shared/seeds) are the rendered pages: our records' paragraphs must be
exactly the article span CLEANING.md names, paragraph for paragraph."""

from __future__ import annotations

import pytest
from kirinuki.pipelines import clean

from kirinuki.inputs import load_page
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


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")
def test_curation_record_equals_seed_004(profiles):
    """Seed 004 minus what CLEANING.md calls noise: the cited article's 公開日 line, the
    "さらに読む ⇒出典/画像元: URL" phrase (the capture glued the URL to the next paragraph),
    and everything from "次のページを読む ⇒" on. Line 1 is title + subtitle."""
    import re

    lines = [line.strip() for line in (SEEDS / "004_36447e187e7b42eb.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    want, cited = [], []
    for line in lines[1:]:
        if line.startswith("次のページを読む"):
            break
        if line.startswith("公開日:"):
            continue
        m = re.match(r"^さらに読む ⇒.*?出典/画像元: (https?://[\x21-\x7e]+?)(?=[^\x00-\x7f])(.*)$", line)
        if m:
            cited.append(m.group(1))
            want.append(m.group(2))
        else:
            want.append(line)
    rec = clean(load_page(str(FIXTURES / "curation" / "2025-03-01_us-russia-relations.html")), profiles)[0]
    assert [b["text"] for b in rec["blocks"]] == want
    assert rec["citations"][: len(cited)] == cited
    assert lines[0] == rec["title"] + rec["subtitle"]
