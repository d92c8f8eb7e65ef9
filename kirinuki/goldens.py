"""Golden fixtures: hand-written checks and generated expected records beside each saved page."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kirinuki.inputs import discover, load_page, read_bytes, read_sidecar_file, sidecar_path
from kirinuki.pipelines import Page, Rejected, clean
from kirinuki.pipelines.profiles import ProfileSet
from kirinuki.safe_output import write_json_atomic

REGEN_COMMAND = "kirinuki fixtures regen"
SHARED_PREFIX = "shared:"


@dataclass(frozen=True)
class GoldenFixture:
    """A saved page and its checks. An external fixture's page is not in the repository: its JSON
    names it as `source.page = "shared:benchmarks/..."`, read from the `shared/` folder beside the
    checkout (benchmark pages are never copied into the repo)."""

    html: Path
    meta: Path
    external: bool = False

    @property
    def name(self) -> str:
        path = self.meta if self.external else self.html
        return str(path.relative_to(path.parent.parent))


def find_fixtures(root: str | os.PathLike[str]) -> list[GoldenFixture]:
    """Every saved page under `root` that has a sidecar, in path order."""
    out = []
    metas = set()
    for html in discover([str(root)]):
        meta = sidecar_path(html)
        if meta is not None:
            out.append(GoldenFixture(Path(html), meta))
            metas.add(Path(meta).resolve())
    for meta in sorted(Path(root).rglob("*.json")):
        if meta.resolve() not in metas:
            page = _external_page(meta)
            if page is not None:
                out.append(GoldenFixture(page, meta, external=True))
    return sorted(out, key=lambda fx: str(fx.meta))


def _external_page(meta: Path) -> Path | None:
    try:
        ref = read_sidecar_file(meta).get("source", {}).get("page")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(ref, str) or not ref.startswith(SHARED_PREFIX):
        return None
    return shared_path(meta, ref)


def shared_path(near: Path, ref: str) -> Path:
    """Where a `shared:REL` reference lives: `$KIRINUKI_SHARED/REL`, else the first
    `<ancestor>/shared/REL` that exists above `near` (the layout of a checkout and of CI)."""
    rel = ref[len(SHARED_PREFIX):] if ref.startswith(SHARED_PREFIX) else ref
    env = os.environ.get("KIRINUKI_SHARED")
    if env:
        return Path(env) / rel
    for anc in Path(near).resolve().parents:
        candidate = anc / "shared" / rel
        if candidate.exists():
            return candidate
    return Path(near).resolve().parent / "shared" / rel  # missing: callers skip it


def load_meta(fx: GoldenFixture) -> dict[str, Any]:
    return read_sidecar_file(fx.meta)


def run_fixture(fx: GoldenFixture, profiles: ProfileSet | None = None) -> list[dict[str, Any]]:
    if fx.external:
        src = load_meta(fx)["source"]
        page = Page(url=src.get("url"), body=read_bytes(str(fx.html)), content_type=src.get("content_type"),
                    fetched_at=src.get("fetched_at"), profile=src.get("profile"))
    else:
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


def gold_failures(fx: GoldenFixture, records: list[dict[str, Any]]) -> list[str]:
    """Checks against a benchmark's gold line (`checks.gold`: manifest, id, min_f1): token F1 of
    the text as `kirinuki eval` scores it, title and published date exact."""
    spec = load_meta(fx).get("checks", {}).get("gold")
    if not spec or not records:
        return []
    from kirinuki.evaluate import is_mostly_cjk, prf, tokens
    from kirinuki.pipelines.jadates import parse_date
    from kirinuki.pipelines.normalize import normalize_text

    manifest = shared_path(fx.meta, spec["manifest"])
    gold = None
    with open(manifest, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("id") == spec["id"]:
                gold = row
                break
    if gold is None:
        return [f"gold {spec['id']!r} not in {manifest}"]
    rec, out = records[0], []
    cjk = is_mostly_cjk(gold["body"])
    f1 = prf(tokens(rec["text"], cjk), tokens(gold["body"], cjk))[2]
    if f1 < spec.get("min_f1", 0.99):
        out.append(f"gold: token F1 {f1:.4f} < {spec.get('min_f1', 0.99)}")
    if gold.get("title") and rec["title"] != normalize_text(gold["title"]):
        out.append(f"gold: title {rec['title']!r} != {gold['title']!r}")
    if gold.get("published") and rec["published_at"] != parse_date(str(gold["published"])):
        out.append(f"gold: published_at {rec['published_at']!r} != {gold['published']!r}")
    return out


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
    failures = check_records(records, meta.get("checks", {})) + gold_failures(fx, records)
    if failures:
        return False, failures
    meta["expected"] = records
    write_json_atomic(fx.meta, meta, sort_keys=False)
    return True, []
