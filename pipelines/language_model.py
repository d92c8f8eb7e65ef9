"""py3langid's model, loaded from an uncompressed copy kept in the user's cache directory.

py3langid ships its model as a 4.6 MB LZMA file holding 68 MB of arrays: decompressing it took
0.33 s of every `kirinuki clean` worker's start, a tenth of cleaning the 185 fundus pages
(issue 10). The first load writes the arrays as plain `.npy` files; later loads map the big
feature table (only the rows a text touches are read) and read the rest, in about 20 ms. The
copy is keyed by py3langid's version and the model file's size and time, written to a temporary
directory and renamed into place (a reader never sees half a copy; two writers race harmlessly).
Where nothing can be written (read-only home, `KIRINUKI_CACHE_DIR=off`), the model loads as
py3langid loads it. Same arrays either way, so the same answers.

The copy also holds two derived tables that make classifying a page's sample about twice as fast
(issue 10; `FastIdentifier`): the feature table widened to float32 (py3langid's float16 rows
were widened on every call, 80,000 values a page; widening is exact, and numpy's float16 @ float32
product widens the same way before the same BLAS call) and, for each DFA transition, the row of
the state it leads to (`next_row`, 16 bits, 20 MB), so the walk reads one table per byte instead
of three. The copy is about 110 MB (66 MB before).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from py3langid.langid import LanguageIdentifier

_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "next_row", "out_feat")
_MAPPED = frozenset({"ptc", "nextmove", "next_row"})
_OFF = frozenset({"", "0", "off", "no", "false"})
# the copy's layout, part of its directory name: 3 holds next_row (letter-major, 16 bits) and the
# float32 feature table
_LAYOUT = 3
# py3langid releases whose DFA walk (`visit_counts`, `_raw_score`) FastIdentifier reproduces;
# tests/test_language_model.py pins their source. Any other release gets py3langid's own class.
TESTED_VERSIONS = ("0.4.0",)


class FastIdentifier(LanguageIdentifier):
    """py3langid's identifier with its DFA walk in fewer steps: the same feature counts, in the
    same order, handed to py3langid's own scoring (so the same floats; see
    tests/test_language_model.py).

    py3langid's walk does three table reads per byte of the sample (`rowbase[state]`,
    `nextmove[...]`, `output[state]`), each a cache miss in a page's cleaning (its tables are 40
    MB): 0.75 ms of a 1000-character sample, against 0.25 ms when they stay in cache. This walk
    reads one: `next_row[letter * rows + row]`, the transition table's row of the state that
    reading `letter` in a state of row `row` leads to (16 bits, letter-major: half of
    `nextmove`'s size, and the common letters' entries together). It keeps the transitions; their
    states (`nextmove[(row << 8) + letter]`, as py3langid indexes it) and features are then read
    by numpy in two vectorised gathers.
    """

    __slots__ = ("_moves", "_next_row", "_offsets", "_outputs", "_rows")

    def _raw_score(self, text: Any) -> Any:
        visits = self.visits(text)
        if visits:
            return self._sparse_score(visits, self.nb_ptc)
        return LanguageIdentifier._raw_score(self, b"")  # no features: py3langid's fill

    def visits(self, text: bytes) -> Counter[int]:
        """py3langid's `visit_counts` of the encoded sample (an empty Counter for None): each
        feature's count, in the order of first occurrence."""
        import numpy as np

        next_row, offsets = self._next_row, self._offsets
        row = self.tk_row[0]
        steps: list[int] = []
        step = steps.append
        for letter in text:
            i = offsets[letter] + row
            step(i)
            row = next_row[i]
        letters, rows = np.divmod(np.fromiter(steps, dtype=np.intp, count=len(steps)), self._rows)
        feats = self._outputs[self._moves[(rows << 8) + letters]]
        return Counter(feats[feats >= 0].tolist())


def cache_dir() -> Path | None:
    """Where kirinuki keeps derived data: `$KIRINUKI_CACHE_DIR` (`off` for nowhere), else
    `$XDG_CACHE_HOME/kirinuki`, else `~/.cache/kirinuki`."""
    env = os.environ.get("KIRINUKI_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "kirinuki"
    try:
        return Path.home() / ".cache" / "kirinuki"
    except RuntimeError:  # no home directory
        return None


def load_identifier() -> Any:
    """py3langid's `LanguageIdentifier` (probabilities normalised) on its shipped model."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    model = MODEL_DIR / MODEL_FILE
    arrays = _cached_arrays(model)
    if arrays is None:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    cls = FastIdentifier if supported() else LanguageIdentifier
    ident = cls(
        np.asarray(arrays["ptc"]), arrays["pc"], arrays["classes"].tolist(), _mapped(arrays["nextmove"]),
        arrays["out_feat"].tolist(), norm_probs=True, tk_row=_to_array(arrays["nextmove_row"]))
    if isinstance(ident, FastIdentifier):
        ident._next_row = _mapped(arrays["next_row"])
        ident._rows = len(arrays["nextmove"]) >> 8
        ident._offsets = [letter * ident._rows for letter in range(256)]
        ident._moves = np.asarray(arrays["nextmove"])
        ident._outputs = np.asarray(arrays["out_feat"])
    return ident


def supported() -> bool:
    """Whether the installed py3langid is a release FastIdentifier was checked against."""
    import py3langid

    return getattr(py3langid, "__version__", "") in TESTED_VERSIONS


def _to_array(arr: Any) -> array:
    """An unsigned NumPy array as the stdlib array py3langid's DFA walk indexes (its own
    `modelio._to_array`, which is private)."""
    import numpy as np

    out = array({2: "H", 4: "I", 8: "L"}[arr.dtype.itemsize])
    out.frombytes(memoryview(np.ascontiguousarray(arr)).cast("B"))
    return out


def _mapped(arr: Any) -> memoryview:
    """The DFA's transition table (9.8 million entries) as a view of the mapped file, indexed
    like the stdlib array py3langid builds: copying it into one took 50 ms of every worker's
    start (issue 10), and the walk indexes a memoryview faster than an array."""
    return memoryview(arr).cast("B").cast({2: "H", 4: "I", 8: "L"}[arr.dtype.itemsize])


def _cached_arrays(model: Path) -> dict[str, Any] | None:
    import numpy as np

    root = cache_dir()
    if root is None:
        return None
    try:
        import py3langid

        st = model.stat()
        release = getattr(py3langid, "__version__", "")
        where = root / f"py3langid-{release}-{st.st_size}-{st.st_mtime_ns}-k{_LAYOUT}"
        if not (where / "out_feat.npy").is_file():
            _write(model, where)
        # the feature table and the DFA's transitions are mapped (only the pages a text touches
        # are read), the rest read whole
        return {name: np.load(where / f"{name}.npy", mmap_mode="r" if name in _MAPPED else None,
                              allow_pickle=False) for name in _ARRAYS}
    except Exception:  # a cache is never worth a failed page: load as py3langid does
        return None


def _write(model: Path, where: Path) -> None:
    import io
    import lzma

    import numpy as np

    where.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=where.parent))
    try:
        with np.load(io.BytesIO(lzma.decompress(model.read_bytes())), allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS if name != "next_row"}
        arrays["ptc"] = arrays["ptc"].astype(np.float32)  # exact: every float16 is a float32
        # the row of the state each transition leads to, at [letter * rows + row] (FastIdentifier)
        rows = len(arrays["nextmove"]) >> 8
        if rows << 8 != len(arrays["nextmove"]) or rows > 1 << 16 or arrays["nextmove_row"].max() >= rows:
            raise ValueError("py3langid's transition table is not rows of 256 under 65,536 rows")
        arrays["next_row"] = np.ascontiguousarray(
            arrays["nextmove_row"].astype(np.uint16)[arrays["nextmove"]].reshape(rows, 256).T).ravel()
        for name in _ARRAYS:  # out_feat last: its presence says the copy is whole
            np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
        try:
            os.replace(tmp, where)
        except OSError:  # another process put its copy there first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
