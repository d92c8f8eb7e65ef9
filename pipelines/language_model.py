"""py3langid's model, loaded from an uncompressed copy kept in the user's cache directory.

py3langid ships its model as a 4.6 MB LZMA file holding 68 MB of arrays: decompressing it took
0.33 s of every `kirinuki clean` worker's start, a tenth of cleaning the 185 fundus pages
(issue 10). The first load writes the arrays as plain `.npy` files; later loads map the big
feature table (only the rows a text touches are read) and read the rest, in about 20 ms. The
copy is keyed by py3langid's version and the model file's size and time, written to a temporary
directory and renamed into place (a reader never sees half a copy; two writers race harmlessly).
Where nothing can be written (read-only home, `KIRINUKI_CACHE_DIR=off`), the model loads as
py3langid loads it. Same arrays either way, so the same answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from pathlib import Path
from typing import Any

_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
_MAPPED = frozenset({"ptc", "nextmove"})
_OFF = frozenset({"", "0", "off", "no", "false"})


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
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    model = MODEL_DIR / MODEL_FILE
    arrays = _cached_arrays(model)
    if arrays is None:
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return LanguageIdentifier(
        np.asarray(arrays["ptc"]), arrays["pc"], arrays["classes"].tolist(), _mapped(arrays["nextmove"]),
        arrays["out_feat"].tolist(), norm_probs=True, tk_row=_to_array(arrays["nextmove_row"]))


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
        where = root / f"py3langid-{release}-{st.st_size}-{st.st_mtime_ns}"
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
            for name in _ARRAYS:  # out_feat last: its presence says the copy is whole
                np.save(tmp / f"{name}.npy", data[name], allow_pickle=False)
        try:
            os.replace(tmp, where)
        except OSError:  # another process put its copy there first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
