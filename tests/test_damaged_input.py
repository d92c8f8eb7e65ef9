"""Damaged pages keep their text, and say what was repaired (issue 7, items 14 and 15)."""

from __future__ import annotations

import time

from kirinuki.pipelines import Page, clean
from kirinuki.pipelines.encoding import decode
from kirinuki.pipelines.markup import flatten_nesting

EN = [f"Paragraph {i}: the council said on Tuesday that it’s “reviewing” the plan, which "
      f"residents had opposed for months, and would publish its decision next week." for i in range(6)]
JA = [f"{i}番目の段落。ロシアは、金正恩・朝鮮労働党委員長を失脚させようとする試みを阻止すべく、"
      "ひそかに支援を加速させている。" for i in range(6)]


def html(paragraphs: list[str], head: str = "<meta charset='utf-8'>", wrap: str = "{}") -> str:
    body = "<article><h1>Title</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>"
    return f"<!doctype html><html><head>{head}<title>Title</title></head><body>{wrap.format(body)}</body></html>"


def rec(body: bytes | str, content_type: str | None = None) -> dict:
    if isinstance(body, str):
        body = body.encode("utf-8")
    return clean(Page("https://example.com/a", body, content_type))[0]


def test_declared_utf8_with_one_bad_byte_stays_utf8():
    for paragraphs in (EN, JA):
        good = html(paragraphs).encode("utf-8")
        bad = good.replace(b"council" if paragraphs is EN else "ロシア".encode(), b"coun\xffcil" if paragraphs is EN else "ロ".encode() + b"\xe3\x82", 1)
        assert bad != good
        for ct in (None, "text/html; charset=utf-8"):
            r = rec(bad, ct)
            assert r["extraction"]["encoding"] == "utf-8", ct
            assert "decode_replaced" in r["flags"]
            assert "encoding_detected" not in r["flags"]
            assert paragraphs[3] in r["text"]  # the rest of the page is intact, no mojibake
            assert "\ufffd" in r["text"]


def test_mislabelled_page_is_still_detected():
    # a Shift_JIS page labelled UTF-8 breaks on most of its bytes: the label is wrong
    body = html(JA).replace("utf-8", "shift_jis").encode("cp932")
    d = decode(body.replace(b"shift_jis", b"utf-8"), None)
    assert d.encoding == "cp932" and JA[2] in d.text and not d.replaced
    # a Latin-1 page labelled UTF-8, every accent broken: not kept as UTF-8
    latin = html([p.replace("’", "é").replace("“", "à").replace("”", "ü") for p in EN]).encode("cp1252")
    d = decode(latin, "text/html; charset=utf-8")
    assert d.encoding != "utf-8" and "é" in d.text


def test_control_characters_inside_paragraphs():
    damaged = [p[:20] + "\x00" + p[20:40] + "\x01\x02\x1b" + p[40:] + "\x7f" for p in EN]
    r = rec(html(damaged))
    assert r["blocks"][0]["text"] == EN[0] and len(r["blocks"]) == 6
    assert EN[5] in r["text"]


def test_frameset_noframes_article():
    paragraphs = "".join(f"<p>{p}</p>" for p in EN)
    page = ("<html><head><title>Title</title></head><frameset cols='20%,80%'><frame src='menu.html'>"
            f"<frame src='main.html'><noframes><body><h1>Title</h1>{paragraphs}</body></noframes>"
            "</frameset></html>")
    r = rec(page)
    assert r["text"].startswith(EN[0]) and EN[5] in r["text"]
    assert "noframes_used" in r["flags"] and r["title"] == "Title"


def test_nesting_past_the_parser_limit():
    for depth in (2100, 5000):
        r = rec(html(EN, wrap="<div>" * depth + "<span>deep</span>" + "</div>" * depth + "{}"))
        assert EN[0] in r["text"] and EN[5] in r["text"], depth
        assert "nesting_flattened" in r["flags"]
    # under the limit: no flag
    r = rec(html(EN, wrap="<div>" * 1500 + "</div>" * 1500 + "{}"))
    assert "nesting_flattened" not in r["flags"] and EN[5] in r["text"]


def test_flatten_nesting_is_linear_and_keeps_text():
    text = "<!-- <div> --><script>if (a<b) '<div>'</script>" + "<div><b>x" * 3000 + "</b></div>" * 3000 + "<p>end"
    flat = flatten_nesting(text, max_depth=10)
    # 5 levels of div+b kept, plus the untouched `<div>`s in the comment and the script
    assert flat.count("<div>") == 5 + 2 and flat.count("<b>") == 5 and flat.count("x") == 3000
    assert flat.count("</div>") == 5 and flat.endswith("<p>end") and "'<div>'" in flat
    big = "<div>" * 400_000 + "<p>text</p>" + "</div>" * 400_000 + "<a<a<a" * 100_000
    start = time.perf_counter()
    flat = flatten_nesting(big)
    assert time.perf_counter() - start < 10
    assert flat.count("<div>") == 1000 and "text" in flat and "<p>" not in flat
