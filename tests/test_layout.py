"""Table-layout content cells and trailing listings (pipelines/layout.py)."""

from __future__ import annotations

import re
from collections import Counter

import lxml.html
from hypothesis import given, settings
from hypothesis import strategies as st
from kirinuki.pipelines import Page, clean
from kirinuki.pipelines.blocks import Block
from kirinuki.pipelines.layout import (
    STAMP_RE,
    is_entry_run,
    is_listing,
    is_prose,
    refine_layout,
    table_layout_blocks,
    trim_listings,
)
from kirinuki.pipelines.thresholds import (
    ENTRY_RUN_SPACING,
    ENTRY_RUN_STAMPS,
    PROSE_MIN_CJK_CHARS,
    PROSE_MIN_WORDS,
)
from kirinuki.pipelines.tokens import CJK_RE, fold, is_mostly_cjk

SENTENCE = "町内会連合会が主催する春の海岸一斉清掃が行われました。"
TITLE = "春の海岸清掃に町民が参加"


def p(text: str, kind: str = "paragraph") -> Block:
    return Block(kind, text)


def test_prose_and_listing_shapes():
    assert is_prose(SENTENCE)
    assert is_prose("The council said the beach was cleaner than it had been in years.")
    assert not is_prose("◆ トップページ")
    assert not is_prose("6月 2日(日) | 町内会長会議 | 公民館2階")
    assert not is_prose("Home")
    for line in ("2024/05/10 公民館の耐震工事が終わりました", "05/28 12:10 | 北浜OB | 懐かしい",
                 "2024年5月10日 町だより第122号を掲載しました", "7月 7日(日) | 七夕飾りづくり"):
        assert is_listing(line), line
    assert not is_listing("2024年の夏祭りは中止です")
    assert not is_listing("新工場の特長は次の3点です。")


def test_trailing_listing_run_is_cut_signature_kept():
    blocks = [p(SENTENCE), p(SENTENCE * 2), p("(広報部 記)"), p("★ これまでの町だより", "heading")]
    blocks += [p(f"2024/0{i}/10 お知らせ{i}") for i in range(1, 6)]
    removed: Counter[str] = Counter()
    out = trim_listings(blocks, removed)
    assert [b.text for b in out] == [SENTENCE, SENTENCE * 2, "(広報部 記)"]
    assert removed["related"] == 6


def test_short_list_inside_article_stays():
    blocks = [p(SENTENCE), p("新工場の特長は次の3点です。"), p("1急速冷凍設備"), p("2加工能力"),
              p("3採用"), p(SENTENCE)]
    assert trim_listings(blocks) == blocks


def test_table_heavy_article_keeps_its_tables():
    # Standings, snap counts: the rows are the article; with max_cut they stay.
    blocks = [p("Here are the final standings of the season after all races were run.")]
    blocks += [p(f"{i} | Driver {i} | {5000 - i}") for i in range(1, 30)]
    assert trim_listings(blocks, max_cut=0.5) == blocks
    assert len(trim_listings(blocks)) == 1


HAND_MADE = f"""<html><head><title>{TITLE}</title></head><body>
<table width="760"><tr><td colspan="2"><font size="5">北浜町だより</font></td></tr>
<tr><td width="160">
<table><tr><td>◆ <a href="/">トップページ</a></td></tr><tr><td>◆ <a href="/e">行事予定</a></td></tr>
<tr><td>◆ <a href="/b">掲示板</a></td></tr></table></td>
<td><font size="2">町だより 第123号</font>
<h1>{TITLE}</h1>
<p align="center"><img src="a.jpg"><br>▲海岸でごみを拾う参加者</p>
<p>{SENTENCE}</p><p>{SENTENCE}好天に恵まれました。</p>
<p>特長は次の3点です。</p><p>①速い<br>②安い<br>③近い</p>
<p>{SENTENCE}参加者は五つの班に分かれました。</p>
<p align="right">(広報部 記)</p>
<hr><h3>★ これまでの町だより</h3>
<ul><li>2024/05/10 <a href="1.html">公民館の耐震工事</a></li><li>2024/04/28 <a href="2.html">花見茶会</a></li>
<li>2024/04/12 <a href="3.html">駐在さん</a></li><li>2024/03/30 <a href="4.html">卒業式</a></li></ul>
<h3>★ 今後の行事予定</h3>
<table><tr><th>日にち</th><th>行事</th></tr><tr><td>7月 7日(日)</td><td>七夕飾りづくり</td></tr>
<tr><td>7月14日(日)</td><td>夏祭り実行委員会</td></tr></table>
</td></tr>
<tr><td colspan="2">あなたは 人目のお客様です。Copyright (C) 2004-2024 Kitahama.</td></tr>
</table></body></html>"""


def test_content_cell_replaces_a_dump():
    tree = lxml.html.document_fromstring(HAND_MADE)
    dump = [p("北浜町だより"), p("◆ トップページ"), p(f"町だより 第123号 {TITLE} {SENTENCE} ...")]
    removed: Counter[str] = Counter()
    out = [b.text for b in refine_layout(tree, dump, TITLE, removed)]
    assert out[0] == SENTENCE
    assert out[-1] == "(広報部 記)"
    assert "特長は次の3点です。" in out and "2安い" in out
    text = "\n".join(out)
    for noise in ("トップページ", "第123号", "▲海岸", "耐震工事", "七夕", "お客様", "Copyright"):
        assert noise not in text, noise
    # what went is counted: the listing run after the signature, the site menu line
    assert removed == Counter({"related": 9, "navigation": 1})
    # the tree is left as it was (the heading mark is removed again)
    assert not tree.xpath("//*[@data-kirinuki-title]")


def test_clean_result_is_left_alone():
    tree = lxml.html.document_fromstring(HAND_MADE)
    good = [p(SENTENCE), p(SENTENCE + "好天に恵まれました。")]
    assert table_layout_blocks(tree, good, TITLE) is good
    # no title heading in a table cell: nothing to do
    assert table_layout_blocks(tree, [p("◆ トップページ")], "別の記事の見出しです") == [p("◆ トップページ")]


def test_clean_pipeline_on_hand_made_page():
    rec = clean(Page(url="http://example.jp/dayori/123.html", body=HAND_MADE.encode()))[0]
    assert rec["extraction"]["method"] == "generic"
    assert rec["text"].startswith(SENTENCE)
    assert rec["text"].endswith("(広報部 記)")
    for noise in ("トップページ", "耐震工事", "七夕", "お客様"):
        assert noise not in rec["text"]


def test_data_table_between_sections_stays():
    """Issue 10: a figures table inside an article, with the article going on after it, is not
    a trailing listing (the old cut lost the table and every later section)."""
    from kirinuki.pipelines.layout import trim_listings

    prose = ("This paragraph explains the measurements in plain words and goes on for a while. " * 3).strip()
    rows = [Block("paragraph", f"App {i} | {i}.1 MB | {i}.2 MB") for i in range(6)]
    blocks = [Block("paragraph", prose), *rows, Block("heading", "What comes next"),
              Block("paragraph", prose), Block("paragraph", prose)]
    assert trim_listings(blocks) == blocks
    # a trailing listing followed by short notes still goes
    tail = [Block("paragraph", prose), *rows, Block("paragraph", "※ Prices are from the market office.")]
    assert trim_listings(tail) == tail[:1]


# The line tests run on every block of every page, so they take shortcuts (a colon count before
# the stamp regex, the sentence end read from the last characters, CJK letters counted in C);
# each must answer as its plain definition does on any text.
_SHAPES = st.text(alphabet=st.sampled_from(list("0123456789:-/. 。！?!…\"'”)]|abXß漢字かなカ한ﬁ\n\t・ー")), max_size=80)


def _plain_entry_run(text: str) -> bool:
    stamps = len(STAMP_RE.findall(text))
    return stamps >= ENTRY_RUN_STAMPS and stamps * ENTRY_RUN_SPACING >= len(text)


def _plain_prose(text: str) -> bool:
    if " | " in text or _plain_entry_run(text):
        return False
    if re.search(r"[。！？]", text):
        return len(text) >= PROSE_MIN_CJK_CHARS
    return bool(re.search(r"[.!?…][\"'”’)\]]?$", text)) and len(text.split()) >= PROSE_MIN_WORDS


def _plain_mostly_cjk(text: str) -> bool:
    letters = re.findall(r"[^\W\d_]", fold(text))
    return bool(letters) and sum(1 for c in letters if CJK_RE.match(c)) * 2 > len(letters)


_STAMPS = st.lists(st.sampled_from(["08-11 16:06 ", "2005/05/18 13:45:40", "a. ", "x"]), max_size=12).map("".join)
# words, then a sentence end or not, a closing quote or not, and a line end or not
_SENTENCES = st.tuples(st.lists(st.sampled_from(["word", "ab", "漢字", "x."]), max_size=9).map(" ".join),
                       *(st.sampled_from(x) for x in ([".", "!", "…", "", "x", "。"], ["", '"', "”", ")", "]", "x"],
                                                      ["", "\n", " "]))).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_SHAPES, _STAMPS, _SENTENCES))
def test_line_tests_answer_as_their_definitions(text: str):
    assert is_entry_run(text) == _plain_entry_run(text)
    assert is_prose(text) == _plain_prose(text)
    assert is_mostly_cjk(text) == _plain_mostly_cjk(text)
