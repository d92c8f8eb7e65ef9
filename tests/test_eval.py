"""`kirinuki eval`: the scoring rules, and a quality floor on fixed benchmark slices (issue 3).

The full runs are a benchmark command (benchmarks/eval_full.sh), not a test; here a fixed slice of
each of the five sets (every Nth page) and every 4th CJK page of all sets keep CI under a minute.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from kirinuki.pipelines.tokens import is_mostly_cjk, tokens

from kirinuki.cli import main
from kirinuki.evaluate import (
    evaluate,
    format_report,
    meta_scores,
    prf,
    read_manifest,
    run_readability,
    select,
)
from tests.conftest import BENCHMARKS, REPO

FLOOR = json.loads((REPO / "tests" / "eval_floor.json").read_text(encoding="utf-8"))


def _manifest(rel: str):
    path = BENCHMARKS / rel
    if not path.is_file():
        pytest.skip(f"benchmark {path} not found: the eval floor needs ../shared/benchmarks beside the repository")
    return path


def test_tokens_words_and_cjk_characters():
    assert tokens("Ｈｅｌｌｏ, WORLD! hello", cjk=False) == Counter({"hello": 2, "world": 1})
    assert tokens("東京都、晴れ。ＡＢ", cjk=True) == Counter({"東": 1, "京": 1, "都": 1, "晴": 1, "れ": 1, "a": 1, "b": 1})
    assert is_mostly_cjk("日本語の記事です。iPhoneの話") is True
    assert is_mostly_cjk("An English article mentioning 東京") is False


def test_prf_bag_of_tokens():
    assert prf(Counter("aab"), Counter("abc")) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert prf(Counter(), Counter("a")) == (0.0, 0.0, 0.0)
    assert prf(Counter(), Counter()) == (1.0, 1.0, 1.0)


def test_eval_cli_writes_one_line_per_page(tmp_path):
    manifest = tmp_path / "gold.jsonl"
    (tmp_path / "a.html").write_text("<html><body><article><p>" + "Plain article text here. " * 20
                                     + "</p></article></body></html>", encoding="utf-8")
    (tmp_path / "b.html").write_bytes(b"")
    manifest.write_text(
        json.dumps({"id": "a", "url": "https://example.com/a", "html": "a.html", "body": "Plain article text here."})
        + "\n" + json.dumps({"id": "b", "url": None, "html": "b.html", "body": "gold"}) + "\n", encoding="utf-8")
    out, summary = tmp_path / "pred.jsonl", tmp_path / "summary.json"
    assert main(["eval", str(manifest), "--out", str(out), "--json", str(summary)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    assert "Plain article text" in lines[0]["text"] and lines[0]["extraction"]["method"]
    assert lines[1]["text"] == "" and lines[1]["rejected"]["reason"] == "empty"
    report = json.loads(summary.read_text(encoding="utf-8"))
    assert report["pages"] == 2 and report["rejected"] == {"empty": 1}


@pytest.mark.parametrize("name", sorted(FLOOR["slices"]))
def test_eval_floor_on_benchmark_slice(name, tmp_path):
    spec = FLOOR["slices"][name]
    manifest = _manifest(spec["manifest"])
    summary = tmp_path / "summary.json"
    assert main(["eval", str(manifest), "--generic-only", "--every", str(spec["every"]), "--no-readability",
                 "--json", str(summary)]) == 0
    report = json.loads(summary.read_text(encoding="utf-8"))
    ours, theirs = report["kirinuki"]["all"], report["trafilatura"]["all"]
    assert ours["f1"] >= spec["f1"], f"{name}: generic F1 {ours['f1']:.4f} fell below the floor {spec['f1']}"
    assert ours["p"] >= spec["p"], f"{name}: generic precision {ours['p']:.4f} fell below the floor {spec['p']}"
    # Same pages, same run: trafilatura is the bar the generic path exists to clear.
    assert ours["f1"] >= theirs["f1"] - FLOOR["vs_trafilatura"], (
        f"{name}: generic F1 {ours['f1']:.4f} is more than {FLOOR['vs_trafilatura']} under trafilatura's {theirs['f1']:.4f}")


def test_eval_floor_on_cjk_pages():
    entries = []
    for spec in FLOOR["slices"].values():
        entries += [e for e in read_manifest(_manifest(spec["manifest"])) if is_mostly_cjk(e.body)]
    report = evaluate(select(entries, FLOOR["cjk"]["every"]), generic_only=True, readability=False)
    f1, theirs = report["kirinuki"]["cjk"]["f1"], report["trafilatura"]["cjk"]["f1"]
    assert report["kirinuki"]["cjk"]["n"] >= 5
    assert f1 >= FLOOR["cjk"]["f1"], f"CJK generic F1 {f1:.4f} fell below the floor {FLOOR['cjk']['f1']}"
    # Issue 3 asked CJK F1 at least trafilatura's; with the chinese-wce pages (issue 10) in the
    # slice that holds again since the CJK failure classes were fixed (docs/EVAL.md): no tolerance.
    assert f1 >= theirs, f"CJK generic F1 {f1:.4f} is under trafilatura's {theirs:.4f}"


def _write_set(folder, pages):
    folder.mkdir()
    lines = []
    for i, (html, gold, extra) in enumerate(pages):
        (folder / f"{i}.html").write_text(html, encoding="utf-8")
        lines.append(json.dumps({"id": f"{folder.name}/{i}", "url": f"https://example.com/{i}", "html": f"{i}.html",
                                 "body": gold, **extra}))
    (folder / "gold.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "gold.jsonl"


ARTICLE = ("<html><head><title>Storm hits the coast</title>"
           '<meta property="article:published_time" content="2024-05-03T23:30:00-04:00">'
           '<meta name="author" content="Jane Roe"></head><body><nav><a href="/">Home</a></nav>'
           "<article><h1>Storm hits the coast</h1>" + "<p>" + "The storm reached the coast on Friday night. " * 8
           + "</p><p>" + "Residents were told to stay inside until the morning. " * 6 + "</p></article></body></html>")
CJK = ("<html><body><article><p>" + "東京都では金曜日の夜に強い雨が降りました。" * 10 + "</p></article></body></html>")


def test_eval_several_manifests_one_table_with_sets_cjk_and_metadata(tmp_path, capsys):
    gold = ("The storm reached the coast on Friday night. " * 8
            + "Residents were told to stay inside until the morning. " * 6)
    a = _write_set(tmp_path / "news", [(ARTICLE, gold, {"title": "Storm hits the coast", "authors": ["Jane Roe"],
                                                        "published": "2024-05-04 03:30:00+00:00"})])
    b = _write_set(tmp_path / "cjkset", [(CJK, "東京都では金曜日の夜に強い雨が降りました。" * 10, {})])
    summary = tmp_path / "s.json"
    assert main(["eval", str(a), str(b), "--generic-only", "--json", str(summary)]) == 0
    table = capsys.readouterr().out
    assert "news (1; 0 CJK)" in table and "cjkset (1; 1 CJK)" in table
    assert "pooled (2)" in table and "CJK pages pooled (1)" in table and "readab." in table
    assert "published same day" in table
    report = json.loads(summary.read_text(encoding="utf-8"))
    assert set(report["sets"]) == {"news", "cjkset"} and report["pages"] == 2
    assert report["kirinuki"]["cjk"]["n"] == 1 and report["sets"]["cjkset"]["readability"]["all"]["n"] == 1
    meta = report["metadata"]
    assert meta["kirinuki"]["title"] == {"n": 1, "accuracy": 1.0}
    assert meta["kirinuki"]["authors"]["accuracy"] == 1.0 and meta["trafilatura"]["title"]["n"] == 1
    # 23:30 at -04:00 is the gold's UTC day (the 4th): same instant, same day
    assert meta["kirinuki"]["published"]["accuracy"] == 1.0
    assert "metadata" in format_report(report)


def test_meta_scores_rules():
    gold = {"title": "A  title", "published": "2024-05-03 15:47:42+00:00", "authors": ["B", "A"]}
    assert meta_scores({"title": "A title", "published": "2024-05-03", "authors": ["A", "B"]}, gold) == {
        "title": True, "published": True, "authors": True}
    assert meta_scores({"title": "A title | Site", "published": "2024-05-02T12:00:00+00:00", "authors": ["A"]},
                       gold) == {"title": False, "published": False, "authors": False}
    # no gold date: not scored; an empty gold author list is scored
    assert meta_scores({"authors": ["X"]}, {"title": None, "published": None, "authors": []}) == {"authors": False}


def test_readability_column_is_text_with_block_breaks():
    out = run_readability("<html><body><div><p>" + "First paragraph words here. " * 20 + "</p><p>Second"
                          + " paragraph follows on. " * 20 + "</p></div></body></html>")
    assert out.reason is None and "here.\nSecond" in out.text.replace(" \n", "\n")


def test_eval_reports_each_profile_on_its_own_pages(tmp_path):
    """With profiles on, pages that came out through a profile are scored per profile."""
    manifest = _manifest("fundus/gold.jsonl")
    lines = [ln for ln in manifest.read_text(encoding="utf-8").splitlines() if '"jp/' in ln]
    assert len(lines) >= 6
    one = tmp_path / "jp.jsonl"
    root = manifest.parent.resolve()
    rows = []
    for ln in lines:
        row = json.loads(ln)
        row["html"] = str(root / row["html"])
        rows.append(json.dumps(row, ensure_ascii=False))
    one.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = evaluate(read_manifest(one), readability=False)
    profiles = report["profiles"]
    assert {"asahi", "yomiuri", "mainichi", "sankei", "japannews", "nikkei"} <= set(profiles)
    for name in ("asahi", "yomiuri", "mainichi", "sankei", "japannews", "nikkei"):
        assert profiles[name]["kirinuki"]["all"]["f1"] >= 0.99, name
    assert "profile asahi (1)" in format_report(report)
    assert evaluate(read_manifest(one), readability=False, generic_only=True)["profiles"] == {}


def test_eval_loads_every_language_model_before_timing(tmp_path):
    # langdetect's 55 profiles take two seconds to load: on the first page py3langid is unsure
    # about, that would be timed as our cleaning of that page (issue 10: a fair speed column).
    from kirinuki.pipelines import language

    one = _write_set(tmp_path / "one", [(ARTICLE, "The storm reached the coast on Friday night.", {})])
    language._profiles.cache_clear()
    evaluate(read_manifest(one), readability=False, generic_only=True)
    assert language._profiles.cache_info().currsize == 1
