"""deploy/ (issue 8) and deploy/cluster/ (issue 12): the systemd units and the crontab line parse,
and their commands are ours."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kirinuki.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted(p for p in DEPLOY.iterdir() if p.suffix in (".service", ".timer"))
CLUSTER = DEPLOY / "cluster"
CLUSTER_UNITS = sorted(p for p in CLUSTER.iterdir() if p.suffix in (".service", ".timer"))
KIRINUKI = "/opt/kirinuki/.venv/bin/kirinuki"


def _unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    cp.optionxform = str  # type: ignore[assignment]  # systemd keys are case-sensitive
    cp.read_string(path.read_text(encoding="utf-8"))
    return cp


def _args(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0].endswith("/kirinuki"), command
    return words[1:]


def test_units_are_well_formed_and_run_real_commands():
    assert {p.name for p in UNITS} == {"kirinuki-crawl.service", "kirinuki-crawl.timer",
                                       "kirinuki-schedule.service"}
    parser = build_parser()
    for path in UNITS:
        unit = _unit(path)
        assert unit.has_option("Unit", "Description"), path.name
        if path.suffix == ".timer":
            assert unit.has_option("Timer", "OnUnitActiveSec")
            assert unit.get("Install", "WantedBy") == "timers.target"
            assert (DEPLOY / path.with_suffix(".service").name).exists()
            continue
        exec_start = unit.get("Service", "ExecStart")
        args = parser.parse_args(_args(exec_start))  # every flag exists
        assert args.command in ("crawl", "schedule")
        assert unit.get("Service", "KillMode") == "mixed"  # SIGTERM to the main process only
        if args.command == "crawl":
            assert args.due and unit.get("Service", "Type") == "oneshot"
            assert set(unit.get("Service", "SuccessExitStatus").split()) == {"1", "3"}
        else:
            crawl = parser.parse_args(["crawl", "--due", *args.crawl_arg])
            assert crawl.due


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart's binary exists: point it at this venv's kirinuki.
    exe = Path(sys.executable).parent / "kirinuki"
    if not exe.exists():
        pytest.skip("kirinuki script not installed next to the interpreter")
    for path in UNITS + CLUSTER_UNITS:  # a template (name@.service) is checked as name@i
        (tmp_path / path.name).write_text(path.read_text().replace(KIRINUKI, str(exe)))
    res = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in (res.stdout + res.stderr).splitlines()
                if "kirinuki" in line]  # ignore complaints about the host's own units
    assert res.returncode == 0 and problems == [], res.stdout + res.stderr


def test_cluster_units_seed_on_one_machine_and_run_workers_on_all():
    assert {p.name for p in CLUSTER_UNITS} == {"kirinuki-worker@.service", "kirinuki-seed.service",
                                               "kirinuki-seed.timer"}
    parser = build_parser()
    seed = _unit(CLUSTER / "kirinuki-seed.service")
    args = parser.parse_args(_args(seed.get("Service", "ExecStart")))
    assert args.command == "crawl" and args.due and args.sources == "/etc/kirinuki/sources.toml"
    assert seed.get("Service", "Type") == "oneshot"
    assert set(seed.get("Service", "SuccessExitStatus").split()) == {"1", "3"}
    timer = _unit(CLUSTER / "kirinuki-seed.timer")
    assert timer.has_option("Timer", "OnUnitActiveSec")
    assert timer.get("Install", "WantedBy") == "timers.target"
    worker = _unit(CLUSTER / "kirinuki-worker@.service")
    args = parser.parse_args(_args(worker.get("Service", "ExecStart")))  # every flag exists
    assert args.command == "worker" and args.sources == "/etc/kirinuki/sources.toml"
    assert not args.until_idle  # waits for the next run for ever
    assert "%i" in worker.get("Service", "ExecStart")  # one log file per instance
    assert worker.get("Service", "Restart") == "always"  # waits for the next run after a drain
    assert worker.get("Service", "KillMode") == "mixed"
    assert worker.get("Install", "WantedBy") == "multi-user.target"
    for unit in (seed, worker):  # same user and paths as the single-machine units
        assert unit.get("Service", "User") == "kirinuki"
        assert unit.get("Service", "WorkingDirectory") == "/var/lib/kirinuki"


def test_crontab_line():
    from croniter import croniter

    lines = [line for line in (DEPLOY / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert croniter.is_valid(" ".join(fields[:5]))
    command = fields[5]
    kirinuki = command[command.index(KIRINUKI):].split(">")[0]
    args = build_parser().parse_args(_args(kirinuki))
    assert args.command == "crawl" and args.due


def test_cluster_example_sources_file_is_valid():
    from kirinuki.scraper.config import load_sources

    config = load_sources(CLUSTER / "sources.toml")
    assert config.cluster is not None
    assert config.cluster.redis.startswith("redis://")
    assert config.cluster.database.startswith("postgresql://")
    assert len(config.sources) >= 1
