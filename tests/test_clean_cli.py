"""`kirinuki clean` over bad inputs: every bad file reported by name, the run goes on."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, REPO

GOOD = ("<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body><article><p>"
        + "本文の段落です。" * 30 + "</p></article></body></html>")


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kirinuki.cli", "clean", *args], input=stdin.decode() if stdin else None,
                          capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "good.html").write_text(GOOD, encoding="utf-8")
    (d / "empty.html").write_bytes(b"")
    (d / "image.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    full = gzip.compress(GOOD.encode() * 20)
    (d / "truncated.html.gz").write_bytes(full[: len(full) // 2])
    (d / "sub").mkdir()
    (d / "sub" / "good2.htm.gz").write_bytes(gzip.compress(GOOD.encode()))
    # A 20 MB page: one long article followed by a huge block of repeated list noise.
    para = "<p>" + "長いページの本文です。" * 40 + "</p>\n"
    noise = "<ul>" + "<li><a href='/x'>関連リンク</a></li>" * 2000 + "</ul>\n"
    big = "<html><head><meta charset='utf-8'></head><body><article>" + para * 20 + "</article>"
    chunks = [big]
    size = len(big.encode())
    while size < 20 * 1024 * 1024:
        chunks.append(noise)
        size += len(noise.encode())
    chunks.append("</body></html>")
    (d / "huge.html").write_text("".join(chunks), encoding="utf-8")
    return d


@pytest.mark.e2e  # a 20 MB page through the CLI
def test_bad_files_reported_good_ones_written(bad_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    proc = run(str(bad_dir), "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    for name, reason in (("empty.html", "empty"), ("image.html", "binary"), ("truncated.html.gz", "bad_gzip")):
        assert f"{name}: {reason}" in err, err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 3  # good.html, huge.html, sub/good2.htm.gz
    assert [r["input_file"] for r in records] == [str(bad_dir / n) for n in ("good.html", "huge.html", "sub/good2.htm.gz")]
    # good, huge, good2 written; empty, image, truncated rejected
    assert "6 files, 3 records, 3 rejected" in err, err


@pytest.mark.e2e  # a 20 MB page through the CLI
def test_parallel_same_output(bad_dir, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    run(str(bad_dir / "good.html"), str(bad_dir / "sub"), "-o", str(a))
    run(str(bad_dir / "good.html"), str(bad_dir / "sub"), "-o", str(b), "-j", "2")
    assert a.read_text() == b.read_text() and a.read_text()


def test_stdin_with_url_and_content_type():
    body = GOOD.replace("<meta charset='utf-8'>", "").encode("euc_jp")
    proc = run("-", "--url", "https://example.org/x", "--content-type", "text/html; charset=EUC-JP", stdin=None) if False else \
        subprocess.run([sys.executable, "-m", "kirinuki.cli", "clean", "-", "--url", "https://example.org/x",
                        "--content-type", "text/html; charset=EUC-JP"], input=body, capture_output=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["url"] == "https://example.org/x" and "本文の段落です。" in rec["text"]
    assert rec["input_file"] == "-" and rec["version"] is None


def test_single_options_need_one_input(bad_dir):
    proc = run(str(bad_dir), "--url", "https://example.org/")
    assert proc.returncode == 2 and "exactly one input" in proc.stderr


def test_unknown_profile_is_a_clear_error(bad_dir):
    proc = run(str(bad_dir / "good.html"), "--profile", "nope")
    assert proc.returncode == 2 and "unknown profile 'nope'" in proc.stderr


def test_fixture_directory_runs_clean(tmp_path):
    out = tmp_path / "f.jsonl"
    proc = run(str(FIXTURES), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    # every saved fixture page gives the records its golden expects
    from kirinuki.goldens import find_fixtures, load_meta

    expected = sum(len(load_meta(fx)["expected"]) for fx in find_fixtures(FIXTURES) if not fx.external)
    assert len(out.read_text(encoding="utf-8").splitlines()) == expected


def test_clean_imports_no_other_subcommand(tmp_path):
    # The parent of `kirinuki clean` builds the clean command alone: eval, crawl (Scrapy) and the
    # rest are not imported, a start-up cost of every run (issue 10 speed).
    page = tmp_path / "good.html"
    page.write_text(GOOD, encoding="utf-8")
    code = ("import sys\nfrom kirinuki.cli import main\n"
            f"rc = main(['clean', {str(page)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}, '-q'])\n"
            "print(rc, sorted(m for m in ('kirinuki.evaluate', 'kirinuki.scraper.command', 'scrapy')"
            " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=300).stdout.strip()
    assert out == "0 []"
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["title"] == "t"


def test_clean_parent_loads_no_cleaning_code(tmp_path):
    # The parent of `kirinuki clean` lists files, hands them out and writes records: the worker
    # loads lxml, the profiles and the models, and checks the profiles as it loads them, so the
    # parent importing them too was 0.1 s of every run (issue 10 start-up).
    page = tmp_path / "good.html"
    page.write_text(GOOD, encoding="utf-8")
    heavy = ("lxml", "kirinuki.pipelines.profiles", "kirinuki.pipelines.blocks", "importlib.metadata",
             "trafilatura", "numpy", "cssselect")
    code = ("import sys\nfrom kirinuki.cli import main\n"
            f"rc = main(['clean', {str(page)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}, '-q'])\n"
            f"print(rc, sorted(m for m in {heavy!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    assert out.stdout.strip() == "0 []", out.stderr
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["title"] == "t"


def test_bad_profiles_are_a_usage_error_with_or_without_pages(tmp_path):
    # The worker checks the profiles as it loads them; with no page to hand out the parent does.
    bad = tmp_path / "profiles"
    bad.mkdir()
    (bad / "x.toml").write_text("name = 3\n", encoding="utf-8")
    page = tmp_path / "good.html"
    page.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    (tmp_path / "none").mkdir()
    for inputs in ([str(page)], [str(tmp_path / "none")]):
        proc = run(*inputs, "--profiles-dir", str(bad), "-o", str(out))
        assert proc.returncode == 2 and "x.toml" in proc.stderr and "unknown key" in proc.stderr
        assert out.read_text(encoding="utf-8") == "old\n"  # the output is left as it was


def test_version_is_looked_up_when_asked():
    from kirinuki import __version__

    proc = subprocess.run([sys.executable, "-m", "kirinuki.cli", "--version"], capture_output=True,
                          text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0 and proc.stdout == f"kirinuki {__version__}\n"


def test_clean_worker_collects_garbage_rarely(tmp_path):
    # The collector's default pace cost 10% of a worker's CPU (issue 10): a worker raises the
    # first threshold and freezes what the first page loaded (imports, models) out of the scans.
    page = tmp_path / "good.html"
    page.write_text(GOOD, encoding="utf-8")
    code = ("import gc\nfrom kirinuki import clean_cmd\nclean_cmd._init([], {})\n"
            f"res = [clean_cmd.clean_file(({str(page)!r}, None)) for _ in range(2)]\n"
            "print(gc.get_threshold()[0], gc.get_freeze_count() > 0, [len(r[1]) for r in res])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    assert out.stdout.split(maxsplit=1) == ["10000", "True [1, 1]\n"], out.stderr
