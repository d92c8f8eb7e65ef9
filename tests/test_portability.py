"""Windows has neither `resource` nor `fcntl`: the package imports without them."""

from __future__ import annotations

import subprocess
import sys


def test_imports_without_posix_only_modules():
    code = (
        "import sys; sys.modules['resource'] = None; sys.modules['fcntl'] = None\n"
        "import kirinuki, kirinuki.cli, kirinuki.pipelines.cleaner, kirinuki.scraper.command\n"
        "import kirinuki.scraper.cleaning, kirinuki.demo\n"
        "from kirinuki.scraper.peak_memory import peak_rss_kb\n"
        "assert peak_rss_kb() is None\n"
        "print(kirinuki.clean('<html><body><p>' + 'Words of an article. ' * 20 + '</p></body></html>',"
        " url='https://x/')[0]['language'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "en"


def test_peak_memory_is_reported_on_posix():
    from kirinuki.scraper.peak_memory import peak_rss_kb

    if sys.platform != "win32":
        assert peak_rss_kb() > 1024  # KiB: a Python process holds more than 1 MiB
