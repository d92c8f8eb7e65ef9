from __future__ import annotations

import codecs

import pytest
from kirinuki.pipelines.encoding import decode

JA = "ロシアは、金正恩・朝鮮労働党委員長を失脚させようとする米国主導の試みを阻止すべく、ひそかに支援を加速させている。"


def page(body: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"


def test_http_charset_wins():
    d = decode(page(JA).encode("euc_jp"), "text/html; charset=EUC-JP")
    assert d.encoding == "euc_jp" and JA in d.text and d.via == "http"


def test_shift_jis_label_decodes_as_cp932():
    text = JA + "①㈱㎏髙"  # cp932-only characters that strict shift_jis rejects
    body = page(text, '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">').encode("cp932")
    d = decode(body, "text/html")
    assert d.encoding == "cp932" and text in d.text


def test_bom_beats_wrong_meta():
    body = codecs.BOM_UTF8 + page(JA, '<meta charset="Shift_JIS">').encode("utf-8")
    d = decode(body, "text/html")
    assert d.via == "bom" and JA in d.text


@pytest.mark.parametrize("enc", ["euc_jp", "cp932", "utf-8"])
def test_undeclared_japanese_is_detected(enc):
    d = decode(page(JA * 3).encode(enc), None)
    assert JA in d.text, enc
    assert not d.replaced


def test_wrong_declared_charset_falls_back():
    body = page(JA, '<meta charset="euc-jp">').encode("utf-8")  # declared wrong, fails strictly
    d = decode(body, None)
    assert JA in d.text and d.encoding == "utf-8"


def test_garbage_bytes_are_replaced_and_flagged():
    d = decode(b"<html><body>" + bytes(range(128, 256)) * 4 + b"</body></html>", None)
    assert d.text  # never raises


def test_latin1_label_on_utf8_bytes_reads_utf8():
    text = "Müller sagte: «Straße» – 日本"
    body = page(text, '<meta charset="iso-8859-1">').encode("utf-8")
    d = decode(body, "text/html")
    assert d.encoding == "utf-8" and text in d.text and d.via == "meta-overridden"


def test_real_latin1_stays_latin1():
    text = "Müller sagte: Straße"
    d = decode(page(text, '<meta charset="iso-8859-1">').encode("latin-1"), None)
    assert text in d.text and d.via == "meta"
