"""py3langid's model from the uncompressed cache copy: same answers, written once, optional."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# sha256 (first 16 hex digits) of the py3langid source FastIdentifier reproduces (the walk and
# the raw score it replaces) or relies on (`_rowbase` from __init__, the scoring it hands its
# counts to). A new py3langid release: check FastIdentifier against it, add it to
# language_model.TESTED_VERSIONS and update these.
PY3LANGID_SOURCES = {
    "visit_counts": "219054a8b7ee140f",
    "LanguageIdentifier._raw_score": "5f90f8ae3031f277",
    "LanguageIdentifier.__init__": "874c2f736944a5d9",
    "LanguageIdentifier._sparse_score": "18976f40001d2a3e",
}


def test_fast_identifier_reproduces_the_pinned_py3langid():
    import hashlib
    import inspect

    import py3langid
    from py3langid import langid

    assert py3langid.__version__ in language_model.TESTED_VERSIONS
    for name, digest in PY3LANGID_SOURCES.items():
        obj = langid
        for part in name.split("."):
            obj = getattr(obj, part)
        assert hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16] == digest, name


def _gold_bodies() -> list[str]:
    import json

    from tests.conftest import BENCHMARKS

    bodies = []
    for name in ("fundus", "article-extraction", "readability", "chinese-wce", "newspaper4k"):
        manifest = BENCHMARKS / name / "gold.jsonl"
        if manifest.exists():
            bodies += [json.loads(line)["body"] for line in manifest.read_text(encoding="utf-8").splitlines()[::4]]
    return bodies


def _same_scores(fast, stock, text) -> None:
    import numpy as np

    mine, theirs = fast._decide(text), stock._decide(text)
    assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), text
    assert fast.classify(text) == stock.classify(text), text


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    import os

    old = os.environ.get("KIRINUKI_CACHE_DIR")
    os.environ["KIRINUKI_CACHE_DIR"] = str(tmp_path_factory.mktemp("langcache"))
    try:
        ident = language_model.load_identifier()
    finally:
        if old is None:
            del os.environ["KIRINUKI_CACHE_DIR"]
        else:
            os.environ["KIRINUKI_CACHE_DIR"] = old
    assert isinstance(ident, language_model.FastIdentifier)
    return ident


def test_fast_identifier_scores_as_py3langid(fast, stock):
    """Every score (not only the answer) bit for bit: the same feature counts in the same order
    and the float32 table give py3langid's floats (issue 10)."""
    import numpy as np

    assert fast.nb_ptc.dtype == np.float32 and stock.nb_ptc.dtype == np.float16
    texts = SAMPLES + [s.upper() for s in SAMPLES] + ["", " ", "12345", "a", "\x00", "😀" * 40]
    for body in _gold_bodies():
        texts += [body[:1000], body[:80], body[-1000:]]
    for text in texts:
        _same_scores(fast, stock, text)
    _same_scores(fast, stock, b"Das ist ein Satz. \xff\xfe")  # bytes, undecodable


_ALPHABET = st.sampled_from([
    st.characters(codec="ascii"), st.characters(min_codepoint=0xA0, max_codepoint=0x24F),
    st.characters(min_codepoint=0x400, max_codepoint=0x4FF), st.characters(min_codepoint=0x600, max_codepoint=0x6FF),
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF), st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.characters(),
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_ALPHABET.flatmap(lambda chars: st.text(chars, max_size=60)), st.sampled_from(SAMPLES)),
                max_size=8))
def test_fast_identifier_scores_random_text_as_py3langid(fast, stock, pieces):
    text = "".join(junk + (sample[: len(junk)] if len(junk) % 2 else " ") for junk, sample in pieces)
    _same_scores(fast, stock, text)
    _same_scores(fast, stock, text.encode("utf-8", "surrogatepass")[:997])  # a cut multibyte character


def test_unchecked_py3langid_gets_its_own_class(tmp_path, monkeypatch, stock):
    from py3langid.langid import LanguageIdentifier

    monkeypatch.setenv("KIRINUKI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(language_model, "TESTED_VERSIONS", ())
    ident = language_model.load_identifier()
    assert type(ident) is LanguageIdentifier
    for text in SAMPLES:
        _same_scores(ident, stock, text)


def test_fast_walk_counts_as_py3langid(fast, stock):
    """The walk's feature counts are py3langid's `visit_counts`, keys in the same order (the
    order the scores are summed in), and its table is what its docstring says."""
    import numpy as np
    from py3langid.langid import visit_counts

    rows = fast._rows
    nextmove, row_of = np.asarray(stock.tk_nextmove), np.asarray(stock.tk_row)
    sample = np.arange(0, len(nextmove), 997)
    table = np.asarray(fast._next_row)
    assert (table[(sample % 256) * rows + (sample >> 8)] == row_of[nextmove[sample]]).all()
    texts = SAMPLES + [body[:1000] for body in _gold_bodies()[::5]] + ["", "12345", "\x00\x01"]
    for text in texts:
        data = stock._encode(text)
        theirs = visit_counts(stock.tk_nextmove, stock._rowbase, stock.tk_output, data) or {}
        mine = fast.visits(data)
        assert list(mine.items()) == list(theirs.items()), text
