"""One golden test per fixture: hand-written checks must hold and output must equal `expected`."""

from __future__ import annotations

import pytest

from kirinuki.goldens import (
    REGEN_COMMAND,
    check_records,
    diff_expected,
    find_fixtures,
    gold_failures,
    load_meta,
    run_fixture,
)
from tests.conftest import FIXTURES

FIXTURE_LIST = find_fixtures(FIXTURES)


def test_fixtures_exist():
    assert len(FIXTURE_LIST) >= 10, "the fixtures directory lost pages"


@pytest.mark.parametrize("fx", FIXTURE_LIST, ids=[f.name for f in FIXTURE_LIST])
def test_golden(fx, profiles):
    if fx.external and not fx.html.exists():
        pytest.skip(f"{fx.html} (../shared) not present")
    meta = load_meta(fx)
    records = run_fixture(fx, profiles)
    failures = check_records(records, meta.get("checks", {})) + gold_failures(fx, records)
    assert not failures, f"{fx.name}: hand-written checks fail:\n  " + "\n  ".join(failures)
    expected = meta.get("expected")
    assert expected, f"{fx.name}: no expected records yet; run `{REGEN_COMMAND} --only {fx.html.name}`"
    if records != expected:
        pytest.fail(
            f"{fx.name}: output differs from expected (if intended, run `{REGEN_COMMAND} --only {fx.html.name}`)\n"
            + diff_expected(fx, records, expected)
        )


def test_every_profile_has_a_fixture_on_its_profile_path():
    """A profile without a fixture, or one whose selectors silently fell back to the generic
    path, would go unnoticed: every shipped profile must produce a profile-path record."""
    from kirinuki.pipelines import load_profiles

    covered = set()
    for fx in FIXTURE_LIST:
        for rec in load_meta(fx).get("expected", []):
            if rec["extraction"]["method"] in ("profile", "clipping"):
                covered.add(rec["extraction"]["profile"])
    assert set(load_profiles().names()) <= covered, set(load_profiles().names()) - covered
