from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"
# KIRINUKI_BENCHMARKS (as in benchmarks/eval_full.sh) serves worktrees that have no ../shared.
BENCHMARKS = Path(os.environ.get("KIRINUKI_BENCHMARKS") or SHARED / "benchmarks")


@pytest.fixture(scope="session")
def profiles():
    from kirinuki.pipelines import load_profiles

    return load_profiles()
