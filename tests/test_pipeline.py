"""Stage-level tests of the cleaning pipeline on small pages (fixtures cover whole sites)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import unicodedata

import pytest
from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.normalize import normalize_text
from kirinuki.pipelines.record import validate_record

from tests.conftest import BENCHMARKS

ARTICLE = "<p>" + "これは記事の本文です。" * 20 + "</p>"


def html(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head><meta charset='utf-8'>{head}</head><body>{body}</body></html>".encode()


def test_normalize_rules():
    assert normalize_text("ＡＢＣ　１２３（テスト）ｶﾀｶﾅ…‥") == "ABC 123(テスト)カタカナ…‥"
    assert normalize_text("a\u200bb\x07c  d\t\te") == "abc d e"


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "binary"),
        (b"just some text, not markup at all", "not_html"),
        (html("<nav><a href='/'>home</a></nav>"), "no_text"),
    ],
)
def test_rejections(body, reason):
    with pytest.raises(Rejected) as exc:
        clean(Page(url="https://example.org/a", body=body))
    assert exc.value.reason == reason


def test_record_has_every_key_and_validates():
    rec = clean(Page(url="https://example.org/a", body=html("<article><h1>見出し</h1>" + ARTICLE + "</article>")))[0]
    validate_record(rec)
    assert rec["text"].startswith("これは記事")
    assert rec["language"] == "ja"
    assert rec["extraction"]["method"] == "generic"
    assert rec["content_hash"].startswith("sha256:")


def test_record_schema_is_valid_draft_2020_12():
    from jsonschema import Draft202012Validator
    from kirinuki.pipelines.record import SCHEMA_FILE

    Draft202012Validator.check_schema(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_valid_records_do_not_import_jsonschema():
    # fastjsonschema says valid or not; jsonschema (0.09 s to import) only explains a refusal
    code = ("import sys\nfrom kirinuki.pipelines import Page, clean\n"
            f"clean(Page('https://example.org/a', {html('<article>' + ARTICLE + '</article>')!r}))\n"
            "print('jsonschema' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "False", out.stderr
    with pytest.raises(Rejected, match="invalid_record|title"):
        validate_record({"title": 5})


def test_furigana_never_reaches_text():
    body = "<article><p>" + "本文です。" * 30 + "<ruby>漢字<rp>(</rp><rt>かんじ</rt><rp>)</rp></ruby>を読む。</p></article>"
    rec = clean(Page(url="https://example.org/a", body=html(body)))[0]
    assert "漢字を読む" in rec["text"] and "かんじ" not in rec["text"]


def test_language_is_deterministic():
    body = html("<article><p>" + "The quick brown fox jumps over the lazy dog. " * 10 + "</p></article>")
    langs = {clean(Page(url="https://example.org/a", body=body))[0]["language"] for _ in range(3)}
    assert langs == {"en"}


def test_jsonld_metadata_and_dateline_author():
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "見出し",
          "datePublished": "2024-05-01T10:00:00", "author": {"@type": "Organization", "name": "新聞社"}}
    head = f"<script type='application/ld+json'>{json.dumps(ld, ensure_ascii=False)}</script>"
    body = "<article><p>【ワシントン＝山田太郎】" + "記事の本文です。" * 20 + "</p></article>"
    rec = clean(Page(url="https://example.org/a", body=html(body, head)))[0]
    assert rec["title"] == "見出し"
    assert rec["published_at"] == "2024-05-01T10:00:00+09:00"  # no offset: Japan time
    assert rec["authors"] == ["山田太郎"]
    assert rec["text"].startswith("【ワシントン=山田太郎】")


def test_paywall_never_from_bare_words():
    body = "<article>" + ARTICLE + "<ul><li>有料会員限定の記事一覧</li></ul></article>"
    rec = clean(Page(url="https://example.org/a", body=html(body)))[0]
    assert rec["paywall"] == {"detected": False, "truncated": False}


def test_jsonld_is_accessible_for_free_false_is_detected():
    ld = {"@type": "NewsArticle", "headline": "x", "isAccessibleForFree": "False"}
    head = f"<script type='application/ld+json'>{json.dumps(ld)}</script>"
    rec = clean(Page(url="https://example.org/a", body=html("<article>" + ARTICLE + "</article>", head)))[0]
    assert rec["paywall"]["detected"] is True


def test_url_from_canonical_when_none_given():
    head = "<link rel='canonical' href='https://www.nikkei.com/article/X/'>"
    rec = clean(Page(url=None, body=html("<article>" + ARTICLE + "</article>", head)))[0]
    assert rec["url"] == "https://www.nikkei.com/article/X/"


def test_boilerplate_lines_are_counted():
    body = "<article>" + ARTICLE + "<p>Xでシェアする</p><p>人気ランキング</p><p>" + "二つ目の段落です。" * 10 + "</p></article>"
    rec = clean(Page(url="https://example.org/a", body=html(body)))[0]
    assert "シェア" not in rec["text"] and "ランキング" not in rec["text"]
    assert rec["removed"] == {"ranking": 1, "share": 1}


def test_pipelines_does_not_import_scrapy():
    code = "import sys, kirinuki.pipelines; from kirinuki.pipelines import clean, load_profiles; import kirinuki.pipelines.cleaner; print('scrapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


NIKKEI = BENCHMARKS / "fundus" / "html" / "jp__Nikkei_2025_01_27.html.gz"


@pytest.mark.skipif(not NIKKEI.exists(), reason="../shared/benchmarks not present")
def test_real_nikkei_page_comes_out_right():
    gold = next(json.loads(line) for line in (BENCHMARKS / "fundus" / "gold.jsonl").open(encoding="utf-8")
                if json.loads(line)["id"] == "jp/Nikkei_2025_01_27")
    rec = clean(Page(url=gold["url"], body=gzip.open(NIKKEI).read()))[0]
    assert rec["extraction"]["method"] == "profile" and rec["extraction"]["profile"] == "nikkei"
    assert rec["text"] == normalize_text_block(gold["body"])
    assert rec["title"] == normalize_text(gold["title"])
    assert rec["published_at"] == "2025-01-14T20:00:00+09:00"
    assert rec["paywall"] == {"detected": True, "truncated": False}
    assert rec["authors"] == []  # the Organization author is not a byline
    assert rec["images"][0]["caption"] == "イオン銀行などは経営陣を刷新する"


def normalize_text_block(text: str) -> str:
    return "\n\n".join(normalize_text(p) for p in unicodedata.normalize("NFC", text).split("\n\n"))


def test_url_from_saved_from_comment():
    body = b"<!-- saved from url=(0036)https://www.nikkei.com/article/Y/ -->\n" + html("<article>" + ARTICLE + "</article>")
    rec = clean(Page(url=None, body=body))[0]
    assert rec["url"] == "https://www.nikkei.com/article/Y/"


def test_malformed_urls_do_not_cost_the_page():
    head = "<link rel='canonical' href='http://[oops/x'><meta property='og:image' content='http://[bad/i.jpg'>"
    rec = clean(Page(url="https://example.org/a", body=html("<article>" + ARTICLE + "</article>", head)))[0]
    assert rec["text"] and rec["images"] == []


def test_impossible_date_offset_is_ignored():
    from kirinuki.pipelines.jadates import parse_date

    assert parse_date("2020/01/01 12:00 +30:00") == "2020-01-01T12:00:00+09:00"
    assert parse_date("2020-01-01T12:00:00+24:00") == "2020-01-01T12:00:00+09:00"


def test_pathological_jsonld_is_skipped():
    head = "<script type='application/ld+json'>" + "[" * 200000 + "</script>"
    rec = clean(Page(url="https://example.org/a", body=html("<article>" + ARTICLE + "</article>", head)))[0]
    assert rec["text"].startswith("これは記事")


def test_continuation_then_clean_parses_once_when_given_the_doc(profiles):
    from unittest import mock

    from kirinuki.pipelines import continuation_urls, doc, prepare

    from kirinuki.inputs import load_page
    from tests.conftest import FIXTURES

    page = load_page(str(FIXTURES / "newsweekjapan" / "2024-02-01_two-page-story.html"))
    parses = []
    real = doc.parse_html
    with mock.patch.object(doc, "parse_html", side_effect=lambda t, *a: parses.append(1) or real(t, *a)):
        parsed = prepare(page, profiles)
        assert continuation_urls(parsed, profiles)[0].endswith("post-103800_2.php")
        first = clean(parsed, profiles)
        assert len(parses) == 1
        # Nothing is cached behind the caller's back: a Page is parsed afresh every time.
        assert continuation_urls(page, profiles) and clean(page, profiles) == first
    assert len(parses) == 3


def test_core_keeps_no_module_state_between_pages(profiles):
    """Two pages cleaned in turn give what each gives alone (no per-page cache in a module)."""
    import kirinuki.pipelines.cleaner as cleaner
    import kirinuki.pipelines.metadata as metadata

    assert not hasattr(cleaner, "_HANDOFF") and not hasattr(metadata, "_META_CACHE")
    a = Page(url="https://example.org/a", body=html("<article>" + ARTICLE + "</article>",
             "<meta property='og:title' content='Title A'>"))
    b = Page(url="https://example.org/b", body=html("<article>" + ARTICLE + "</article>",
             "<meta property='og:title' content='Title B'>"))
    assert clean(a)[0]["title"] == "Title A" and clean(b)[0]["title"] == "Title B"
    assert clean(a)[0]["title"] == "Title A"


def test_langdetect_globals_left_alone():
    from kirinuki.pipelines.language import detect_language
    from langdetect import DetectorFactory, detector_factory

    assert detect_language("This is an English sentence about the weather in the city.") == "en"
    assert DetectorFactory.seed is None and detector_factory._factory is None


def test_one_serializer_schema_key_order_survives_a_round_trip():
    from kirinuki.pipelines.record import KEYS, dumps

    rec = clean(Page(url="https://example.org/a", body=html("<article>" + ARTICLE + "</article>")))[0]
    line = dumps(rec)
    assert list(json.loads(line)) == list(KEYS)
    # a record read back from the state (sorted keys) serializes to the same bytes
    shuffled = dict(sorted(json.loads(line).items()))
    assert dumps(shuffled) == line
    assert list(json.loads(dumps({**rec, "zz": 1, "aa": 2})))[-2:] == ["aa", "zz"]


def test_clean_pages_merges_drafts_and_finishes_once(profiles):
    """A two-page article: page 2's new blocks appended to page 1's, the text joined and the
    language detected once for the whole (not per page, then again)."""
    from unittest import mock

    from kirinuki.pipelines import clean_pages, cleaner

    from kirinuki.inputs import load_page
    from tests.conftest import FIXTURES

    one = load_page(str(FIXTURES / "newsweekjapan" / "2024-02-01_two-page-story.html"))
    two = load_page(str(FIXTURES / "newsweekjapan" / "2024-02-01_two-page-story_2.html"))
    first, second = clean(one, profiles)[0], clean(two, profiles)[0]
    calls = []
    real = cleaner.detect_language
    with mock.patch.object(cleaner, "detect_language", side_effect=lambda t: calls.append(t) or real(t)):
        (merged,) = clean_pages([one, two], profiles)
    assert len(calls) == 1 and calls[0] == merged["text"]
    page1 = [b["text"] for b in first["blocks"]]
    assert [b["text"] for b in merged["blocks"]][:len(page1)] == page1
    assert [b["text"] for b in merged["blocks"]][len(page1):] == [
        b["text"] for b in second["blocks"] if b["text"] not in page1]
    assert merged["title"] == first["title"] and merged["text"] == "\n\n".join(
        b["text"] for b in merged["blocks"])
