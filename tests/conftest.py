from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "fixtures"
BENCHMARKS = SHARED / "benchmarks"


@pytest.fixture(scope="session")
def profiles():
    from kirinuki.pipelines import load_profiles

    return load_profiles()
