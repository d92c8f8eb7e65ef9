"""`kirinuki profiles check DIR`: validate a user's profile directory and run its fixtures.

Each `*.toml` in DIR must load (a bad key, selector or regex is reported naming file and key).
Then every fixture under DIR (a saved page with its `.json` beside it, or an external one naming
a `shared:` page) is cleaned with DIR's profiles on top of the shipped ones: its hand-written
checks must hold, its benchmark gold too when it names one, and its records must equal `expected`
when that is present. Each profile of DIR must have at least one fixture that went through its
profile path, so a dead selector cannot hide behind the generic fallback.
"""

from __future__ import annotations

from pathlib import Path

from kirinuki.goldens import (
    check_records,
    diff_expected,
    find_fixtures,
    gold_failures,
    load_meta,
    run_fixture,
)
from kirinuki.pipelines.profiles import ProfileError, load_profile_file, load_profiles


def check_dir(directory: str | Path) -> int:
    """Print one line per profile and fixture, then a summary; 0 when all is well, else 1."""
    d = Path(directory)
    if not d.is_dir():
        print(f"kirinuki profiles check: {d}: no such directory")
        return 1
    names, bad = [], 0
    for f in sorted(d.glob("*.toml")):
        try:
            p = load_profile_file(f)
        except ProfileError as exc:
            print(f"ERROR {exc}")
            bad += 1
            continue
        names.append(p.name)
        print(f"ok    profile {p.name} ({', '.join(p.domains) or 'no domains'}) {f}")
    if bad:
        print(f"{len(names)} profiles ok, {bad} broken: fixtures not run")
        return 1
    profiles = load_profiles([d])
    used: set[str] = set()
    passed = failed = 0
    for fx in find_fixtures(d):
        if fx.external and not fx.html.exists():
            print(f"skip  {fx.meta} (its page {fx.html} is not here)")
            continue
        try:
            records = run_fixture(fx, profiles)
            meta = load_meta(fx)
            failures = check_records(records, meta.get("checks", {})) + gold_failures(fx, records)
            expected = meta.get("expected")
            if not failures and expected is not None and records != expected:
                failures = ["expected records differ:\n" + diff_expected(fx, records, expected)]
        except AssertionError as exc:
            records, failures = [], [str(exc)]
        for r in records:
            if r["extraction"]["method"] in ("profile", "clipping") and r["extraction"]["profile"]:
                used.add(r["extraction"]["profile"].split("@")[0])
        print(f"{'ok' if not failures else 'FAIL':<5} fixture {fx.meta}")
        for line in failures:
            print(f"        {line}")
        passed += not failures
        failed += bool(failures)
    for name in names:
        if name not in used:
            print(f"FAIL  profile {name}: no fixture went through its profile path")
            failed += 1
    print(f"{len(names)} profiles ok; {passed} fixtures passed, {failed} failed")
    return 1 if failed else 0
