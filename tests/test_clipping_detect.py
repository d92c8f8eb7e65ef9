"""Clipping pages without a profile: split into one record per clipping by their shape alone."""

from __future__ import annotations

import time

import lxml.html
import pytest
from kirinuki.pipelines import Page, clean

QUOTE = "政府は28日、防衛装備品の移転ルールを見直す方針を固めた。与党内の議論を経て年内にも決定する。" * 3

# 1. Shift_JIS, declared; table + <font> markup, <hr> separators, 「記事内容」 markers, ※ comments
SJIS_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>切り抜き帳 2024年11月</title></head><body><table><tr><td>
<font size="2"><a href="../index.html">トップ</a> | <a href="2024-10.html">前月</a></font>
<hr>
<font size="3"><b>装備移転、年内に見直しへ</b></font><br>
2024・11・28 産経新聞<br>
防衛装備移転三原則の運用指針 見直しへ<br>
「記事内容」<br>
{q}<br>
<font color="#CC00CC">※ 年内決定なら来年度予算に間に合う。</font>
<hr>
<font size="3"><b>円相場、一時150円台</b></font><br>
2024・11・27 日本経済新聞<br>
円、対ドルで一時150円台に上昇<br>
「記事内容」<br>
{q2}<br>
<hr>
<font size="3"><b>ロシア、極東で演習</b></font><br>
2024・11・26 ロイター<br>
ロシア軍、極東で大規模演習を開始<br>
「記事内容」<br>
{q3}<br>
<font color="#CC00CC">※ 北方領土周辺も含むという。</font>
<hr>
<font size="2">このページの記事は各社の報道から引用しています。</font>
</td></tr></table></body></html>"""

# 2. EUC-JP, undeclared; <div>/<p> markup, no separators, 【本文】 markers
EUC_PAGE = """<html><head><title>ニュースの森 けさの切り抜き</title></head><body>
<div id="menu"><a href="/">ホーム</a> <a href="/about">このサイトについて</a></div>
<div id="main">
<div class="item"><p class="mine">米中首脳が電話会談</p><p>2024/11/28 読売新聞</p>
<p>米中首脳、電話で協議 貿易問題を議論</p><p>【本文】</p><p>{q}</p><p>※ 次回は来月の予定。</p></div>
<div class="item"><p class="mine">台風、週末に接近</p><p>2024/11/27 NHK</p>
<p>台風25号 週末に沖縄接近のおそれ</p><p>【本文】</p><p>{q2}</p></div>
<div class="item"><p class="mine">新米の価格が上昇</p><p>2024/11/26 毎日新聞</p>
<p>新米価格 前年比2割高</p><p>【本文】</p><p>{q3}</p></div>
</div></body></html>"""

Q2 = "外国為替市場で円相場が一時1ドル=150円台をつけた。日銀の追加利上げ観測が広がった。" * 3
Q3 = "関係者によると、演習には艦艇や航空機が参加し、規模は過去数年で最大級になるという。" * 3


def _records(html: str, encoding: str, content_type: str | None):
    body = html.format(q=QUOTE, q2=Q2, q3=Q3).encode(encoding)
    return clean(Page(url="https://clip.example.net/2024-11.html", body=body, content_type=content_type))


def test_shift_jis_hr_page_splits_into_clippings():
    recs = _records(SJIS_PAGE, "cp932", None)
    assert [r["extraction"]["method"] for r in recs] == ["clipping"] * 3
    assert [r["title"] for r in recs] == ["防衛装備移転三原則の運用指針 見直しへ", "円、対ドルで一時150円台に上昇",
                                          "ロシア軍、極東で大規模演習を開始"]
    assert [r["published_at"][:10] for r in recs] == ["2024-11-28", "2024-11-27", "2024-11-26"]
    assert [r["source_outlet"] for r in recs] == ["産経新聞", "日本経済新聞", "ロイター"]
    assert recs[0]["text"] == QUOTE and recs[1]["text"] == Q2 and recs[2]["text"] == Q3
    assert recs[0]["notes"] == [{"type": "headline", "text": "装備移転、年内に見直しへ"},
                                {"type": "comment", "text": "※ 年内決定なら来年度予算に間に合う。"}]
    assert recs[0]["url"].endswith("#clipping-1") and recs[2]["url"].endswith("#clipping-3")


def test_undeclared_euc_jp_div_page_splits_into_clippings():
    recs = _records(EUC_PAGE, "euc_jp", None)
    assert recs[0]["extraction"]["encoding"] == "euc_jp"
    assert [r["title"] for r in recs] == ["米中首脳、電話で協議 貿易問題を議論", "台風25号 週末に沖縄接近のおそれ",
                                          "新米価格 前年比2割高"]
    assert [r["published_at"][:10] for r in recs] == ["2024-11-28", "2024-11-27", "2024-11-26"]
    assert [r["source_outlet"] for r in recs] == ["読売新聞", "NHK", "毎日新聞"]
    assert [r["text"] for r in recs] == [QUOTE, Q2, Q3]
    assert {"type": "comment", "text": "※ 次回は来月の予定。"} in recs[0]["notes"]
    assert recs[1]["notes"] == [{"type": "headline", "text": "台風、週末に接近"}]


def test_an_archive_list_of_dated_links_is_not_a_clipping_page():
    items = "".join(f"<li>2024/11/{d:02d} <a href='/{d}.html'>お知らせ第{d}号を掲載しました</a></li>" for d in range(1, 10))
    html = f"<html><body><ul>{items}</ul><p>{QUOTE}</p></body></html>"
    recs = clean(Page(url="https://clip.example.net/list.html", body=html.encode()))
    assert len(recs) == 1 and recs[0]["extraction"]["method"] == "generic"


def test_a_comment_thread_with_timestamps_is_not_a_clipping_page():
    posts = "".join(f"<div class='post'><p>2005-06-1{d} 03:25:5{d}</p><p>[返信]</p><p>{QUOTE}</p></div>" for d in range(1, 6))
    html = f"<html><body><div class='thread'>{posts}</div></body></html>"
    recs = clean(Page(url="https://clip.example.net/bbs.html", body=html.encode()))
    assert len(recs) == 1 and recs[0]["extraction"]["method"] != "clipping"


def test_dates_in_scripts_and_timestamps_do_not_make_the_page_walk_its_blocks(monkeypatch):
    # A news page: ISO dates in its hydration script and "date time" lines, no date line with a
    # name after it. The prefilter says no before every block of the page is built (issue 10).
    from kirinuki.pipelines import clipping_detect

    script = ", ".join(f'"2024-05-0{i}T10:00:00+02:00"' for i in range(1, 8))
    times = "".join(f"<p>2024-05-0{i} 10:0{i}</p>" for i in range(1, 5))
    html = f"<html><body><script>{{{script}}}</script><article>{times}<p>{QUOTE}</p></article></body></html>"
    built = []
    monkeypatch.setattr(clipping_detect, "element_blocks", lambda *a, **k: built.append(1) or [])
    root = lxml.html.document_fromstring(html)
    assert clipping_detect.detect_clipping(root) is None
    assert built == []


def test_date_prefilter_is_linear_on_a_run_of_spaces():
    from kirinuki.pipelines import clipping_detect

    root = lxml.html.document_fromstring(
        "<html><body><p>" + ("2024/11/28 日" + " " * 50_000 + "1") * 3 + "</p></body></html>")
    start = time.perf_counter()
    assert clipping_detect.detect_clipping(root) is None
    assert time.perf_counter() - start < 5.0


# The prefilter as a Python regex (what the RE2 pattern must mean, Unicode `\s` and `\d`)
_PY_DATE_THEN_NAME = (r"\d\d\d\d\s*[・/.\-年]\s*\d\d?\s*[・/.\-月]\s*\d\d?(?:\s*日)?"
                      r"(?:\s*[(（][^)）]{1,3}[)）])?\s+[^\s\d:：]")


@pytest.mark.parametrize("line", [
    "2024/11/28 産経新聞", "２０２４・１１・２８　読売新聞", "2024年5月3日（金）\u3000NHK", "2024.5.3\xa0Reuters",
    "2024-05-03T10:00:00", "2024/11/28 10:00", "2024/11/28\u2003x", "2024/1/1\x0bA", "2024/1/1\x1cA",
    "2024/1/1\x85A", "2024/1/1 :x", "2024/1/1 ：x", "٢٠٢٤/١١/٢٨ الأهرام", "2024 / 11 / 28 日 (月) 毎日", "x2024/1/1 y",
    "2024/1/1 ٣", "2024/1/1 \u3000", "12024/1/1 a",
])
def test_date_prefilter_means_the_python_pattern(line):
    import re

    from kirinuki.pipelines.clipping_detect import date_then_name_count

    root = lxml.html.document_fromstring(f"<html><body><p>{line}</p><p>{line}</p></body></html>")
    expected = min(len(re.findall(_PY_DATE_THEN_NAME, f"{line}{line}")), 3)
    assert date_then_name_count(root.find("body")) == expected
