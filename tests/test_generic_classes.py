"""Failure classes of the generic path on pages it was never tuned on (issue 10)."""

from __future__ import annotations

from kirinuki.pipelines.blocks import Block
from kirinuki.pipelines.generic import suspicious


def test_tiny_fast_result_gets_a_second_opinion():
    # A page whose text sits in headings and short lines between math blocks: its <p> text is
    # as small as the fast result, which the <p> share alone calls complete.
    assert suspicious([Block("paragraph", "x" * 148)], prose=152)
    assert not suspicious([Block("paragraph", "x" * 900), Block("paragraph", "y" * 900)], prose=2000)
