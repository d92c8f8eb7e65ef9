"""Golden fixtures: hand-written checks and generated expected records beside each saved page."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kirinuki.inputs import discover, load_page, read_sidecar_file, sidecar_path
from kirinuki.pipelines import Rejected, clean
from kirinuki.pipelines.profiles import ProfileSet

REGEN_COMMAND = "kirinuki fixtures regen"


@dataclass(frozen=True)
class GoldenFixture:
    html: Path
    meta: Path

    @property
    def name(self) -> str:
        return str(self.html.relative_to(self.html.parent.parent))


def find_fixtures(root: str | os.PathLike[str]) -> list[GoldenFixture]:
    """Every saved page under `root` that has a sidecar, in path order."""
    out = []
    for html in discover([str(root)]):
        meta = sidecar_path(html)
        if meta is not None:
            out.append(GoldenFixture(Path(html), meta))
    return out


def load_meta(fx: GoldenFixture) -> dict[str, Any]:
    return read_sidecar_file(fx.meta)


def run_fixture(fx: GoldenFixture, profiles: ProfileSet | None = None) -> list[dict[str, Any]]:
    page = load_page(str(fx.html))
    try:
        return clean(page, profiles)
    except Rejected as exc:
        raise AssertionError(f"{fx.name}: rejected: {exc}") from None


_INDEX_RE = re.compile(r"^(\w+)\[(\d+)\]$")


def get_path(record: Any, dotted: str) -> Any:
    cur = record
    for part in dotted.split("."):
        m = _INDEX_RE.match(part)
        try:
            if m:
                cur = cur[m.group(1)][int(m.group(2))]
            else:
                cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return "<missing>"
    return cur


def _record_failures(i: int, rec: dict[str, Any], chk: dict[str, Any]) -> list[str]:
    f: list[str] = []
    text = rec["text"]
    for key, want in chk.get("fields", {}).items():
        got = get_path(rec, key)
        if got != want:
            f.append(f"record {i}: {key} = {got!r}, want {want!r}")
    for s in chk.get("contains", []):
        if s not in text:
            f.append(f"record {i}: text lacks {s!r}")
    for s in chk.get("absent", []):
        if s in text:
            f.append(f"record {i}: noise present {s!r}")
    if "starts_with" in chk and not text.startswith(chk["starts_with"]):
        f.append(f"record {i}: text starts {text[:60]!r}, want {chk['starts_with']!r}")
    if "ends_with" in chk and not text.endswith(chk["ends_with"]):
        f.append(f"record {i}: text ends {text[-60:]!r}, want {chk['ends_with']!r}")
    if "paragraphs" in chk and len(rec["blocks"]) != chk["paragraphs"]:
        f.append(f"record {i}: {len(rec['blocks'])} blocks, want {chk['paragraphs']}")
    for url in chk.get("citations_include", []):
        if url not in rec["citations"]:
            f.append(f"record {i}: citation missing {url!r}")
    for s in chk.get("notes_contains", []):
        if not any(s in n["text"] for n in rec["notes"]):
            f.append(f"record {i}: notes lack {s!r}")
    return f


def check_records(records: list[dict[str, Any]], checks: dict[str, Any]) -> list[str]:
    """Failures of the hand-written checks (empty list when all hold)."""
    failures: list[str] = []
    if "count" in checks and len(records) != checks["count"]:
        failures.append(f"{len(records)} records, want {checks['count']}")
    for i, rec in enumerate(records):
        for s in checks.get("all", {}).get("absent", []):
            if s in rec["text"]:
                failures.append(f"record {i}: noise present {s!r}")
    for i, chk in enumerate(checks.get("records", [])):
        if i >= len(records):
            failures.append(f"record {i}: missing")
            continue
        failures.extend(_record_failures(i, records[i], chk))
    return failures


def canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2)


def diff_expected(fx: GoldenFixture, records: list[dict[str, Any]], expected: list[dict[str, Any]]) -> str:
    a = canonical(expected).splitlines()
    b = canonical(records).splitlines()
    return "\n".join(difflib.unified_diff(a, b, f"{fx.meta} (expected)", "pipeline output", lineterm=""))


def regen(fx: GoldenFixture, profiles: ProfileSet | None = None) -> tuple[bool, list[str]]:
    """Write `expected` unless a hand-written check fails (then refuse and say why)."""
    meta = load_meta(fx)
    records = run_fixture(fx, profiles)
    failures = check_records(records, meta.get("checks", {}))
    if failures:
        return False, failures
    meta["expected"] = records
    tmp = fx.meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, fx.meta)
    return True, []
