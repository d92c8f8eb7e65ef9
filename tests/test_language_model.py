"""py3langid's model from the uncompressed cache copy: same answers, written once, optional."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kirinuki.pipelines import language_model

from tests.test_language_speed import SAMPLES


def _stock():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@pytest.fixture(scope="module")
def stock():
    return _stock()


def test_cached_copy_gives_py3langid_answers(tmp_path, monkeypatch, stock):
    monkeypatch.setenv("KIRINUKI_CACHE_DIR", str(tmp_path))
    first = language_model.load_identifier()  # writes the copy
    copies = list(tmp_path.glob("py3langid-*"))
    assert len(copies) == 1 and (copies[0] / "ptc.npy").is_file()
    assert not list(tmp_path.glob(".tmp-*"))  # the temporary directory was renamed into place
    again = language_model.load_identifier()  # reads it
    for text in SAMPLES + [s.upper() for s in SAMPLES] + ["", "12345", "a"]:
        assert first.classify(text) == again.classify(text) == stock.classify(text), text


def test_a_fresh_process_reads_the_copy_without_decompressing(tmp_path):
    env = {"KIRINUKI_CACHE_DIR": str(tmp_path), "PATH": ""}
    code = ("import lzma, sys\n"
            "called = []\n"
            "if sys.argv[1:] == ['forbid']:\n"
            "    lzma.decompress = lzma.open = lambda *a, **k: called.append(1)\n"
            "from kirinuki.pipelines.language_model import load_identifier\n"
            "print(load_identifier().classify('Das ist ein ganz normaler deutscher Satz.')[0],"
            " len(called))\n")
    runs = [subprocess.run([sys.executable, "-c", code, *arg], env=env, check=True,
                           capture_output=True, text=True).stdout.split() for arg in ([], ["forbid"])]
    assert runs == [["de", "0"], ["de", "0"]]


@pytest.mark.parametrize("setting", ["off", "file"])
def test_no_cache_still_loads(tmp_path, monkeypatch, stock, setting):
    if setting == "file":  # a cache path that cannot be a directory
        blocker = tmp_path / "blocker"
        blocker.write_text("x")
        monkeypatch.setenv("KIRINUKI_CACHE_DIR", str(blocker / "sub"))
    else:
        monkeypatch.setenv("KIRINUKI_CACHE_DIR", "off")
        assert language_model.cache_dir() is None
    ident = language_model.load_identifier()
    assert ident.classify(SAMPLES[1]) == stock.classify(SAMPLES[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == (["blocker"] if setting == "file" else [])


def test_cache_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("KIRINUKI_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert language_model.cache_dir() == tmp_path / "kirinuki"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert language_model.cache_dir() == tmp_path / ".cache" / "kirinuki"


def test_the_transition_table_is_mapped_not_copied(tmp_path, monkeypatch, stock):
    """The DFA's 9.8 million transitions are read from the mapped copy where the walk needs
    them: copying them into an array took 50 ms of every worker's start (issue 10)."""
    monkeypatch.setenv("KIRINUKI_CACHE_DIR", str(tmp_path))
    language_model.load_identifier()  # writes the copy
    ident = language_model.load_identifier()
    assert isinstance(ident.tk_nextmove, memoryview) and ident.tk_nextmove.readonly
    assert len(ident.tk_nextmove) == len(stock.tk_nextmove)
    assert ident.tk_nextmove[::9973].tolist() == stock.tk_nextmove[::9973].tolist()
