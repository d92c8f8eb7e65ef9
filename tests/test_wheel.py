"""The built wheel: one top-level name (`kirinuki`), with the profiles and the demo's fixtures
inside, and it works without the source tree (no editable install, no repository beside it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO

pytestmark = pytest.mark.e2e

_SKIP = shutil.ignore_patterns(".venv", "venv", "build", "out", ".git", "*.egg-info", "__pycache__",
                               ".pytest_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: a stale build/ in the work tree would leak old files into the wheel.
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_SKIP)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp / "dist"), str(src)], check=True, timeout=300)
    (found,) = (tmp / "dist").glob("kirinuki-*.whl")
    return found


def test_wheel_has_one_top_level_name_and_ships_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names if ".dist-info/" not in n}
    assert tops == {"kirinuki"}
    top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["kirinuki"]
    shipped = {n.removeprefix("kirinuki/demo/fixtures/") for n in names
               if n.startswith("kirinuki/demo/fixtures/")}
    in_repo = {str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*") if p.is_file()}
    assert in_repo and shipped == in_repo
    profiles = {Path(n).name for n in names if n.startswith("kirinuki/pipelines/profiles/")}
    assert {p.name for p in (REPO / "pipelines" / "profiles").glob("*.toml")} <= profiles
    assert {"kirinuki/pipelines/noise_vocabulary.toml",
            "kirinuki/pipelines/record.schema.json"} <= set(names)
    # test and demo servers are not part of the crawler package
    assert not [n for n in names if n.startswith("kirinuki/scraper/") and
                Path(n).stem in ("demo", "siteserver", "sitegen")]
    assert not [n for n in names if n.startswith("tests/")]


def test_installed_wheel_cleans_and_crawls_the_demo(wheel: Path, tmp_path: Path) -> None:
    """Installed on its own (`-S`: no editable-install hook; the deps come from this venv)."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])}
    env.pop("KIRINUKI_PROFILES", None)

    def py(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    where = py("import kirinuki; print(kirinuki.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(target)), where.stderr
    for name in ("pipelines", "scraper"):
        assert "ModuleNotFoundError" in py(f"import {name}").stderr
    rec = py("import json, kirinuki; print(json.dumps(kirinuki.clean('<html><body><article><p>'"
             " + 'A sentence of the article. ' * 20 + '</p></article></body></html>', url='https://x/')))")
    assert rec.returncode == 0, rec.stderr
    assert json.loads(rec.stdout)[0]["url"] == "https://x/"
    crawl = py("import sys; from kirinuki.cli import main; "
               "sys.exit(main(['--log-level', 'ERROR', 'crawl', '--demo', '-o', 'demo-out', '--no-progress']))")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    lines = [json.loads(x) for f in (tmp_path / "demo-out").glob("crawl-*.jsonl")
             for x in f.read_text(encoding="utf-8").splitlines()]
    # every fixture site was served from the installed package and cleaned (a site whose
    # fixtures are all external, read from ../shared, has no page to serve)
    served = {d.name for d in FIXTURES.iterdir() if d.is_dir() and any(d.glob("*.htm*"))}
    assert served <= {r["source"] for r in lines}
