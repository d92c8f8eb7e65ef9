"""A subcommand whose module cannot be imported says so, instead of refusing its own options."""

from __future__ import annotations

import sys

import pytest

from kirinuki.cli import main


def test_a_subcommand_that_cannot_import_names_the_missing_module(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "kirinuki.evaluate", None)  # import now raises ImportError
    with pytest.raises(SystemExit) as exc:
        main(["eval", "gold.jsonl", "--generic-only"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "kirinuki eval: not available" in err and "kirinuki.evaluate" in err
    assert "unrecognized arguments" not in err
