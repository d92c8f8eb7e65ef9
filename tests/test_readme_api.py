"""README's library example is a doctest: the documented API and its output cannot drift."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_library_example_runs_as_shown() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### As a Python library", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    test = doctest.DocTestParser().get_doctest(block, {}, "README", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    cwd = os.getcwd()
    os.chdir(ROOT)  # the example names a fixture by its path from the repository root
    try:
        runner.run(test)
    finally:
        os.chdir(cwd)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 6 and result.failed == 0
