"""The console in a real X11 window: Qt's xcb platform on an Xvfb display, as on a desk.

The offscreen platform the other tests use needs no window system at all, so it
cannot show that a real window starts (the system libraries Qt's xcb plugin
loads), nor how windows come and go there.  These tests start their own Xvfb
and run the console, and its main flows (``test_console_flows.py``), in
processes of their own on it.  Without Xvfb they are skipped, except in CI
(``CI`` set), which installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.desktop.conftest import demo_screenshot

ROOT = Path(__file__).resolve().parents[2]
XVFB = shutil.which("Xvfb")
pytestmark = pytest.mark.slow

#: A hang guard for one run of the console (a demo start takes seconds).
_PATIENCE = 300


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A fresh Xvfb display (":N"), its number chosen by Xvfb itself."""
    if XVFB is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is missing: .ci/run installs the xvfb package")
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(
        [XVFB, "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as answer:
            number = answer.readline().strip()
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _env(display: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "QT_"))}
    env |= {
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_RUNTIME_DIR": str(tmp_path),
        "HOME": str(tmp_path),  # the console's settings and caches, this test's own
    }
    return env


def test_the_console_starts_in_a_real_window(display: str, tmp_path: Path) -> None:
    """Qt's xcb plugin loads (every library it needs is installed) and draws the queue."""
    shot = tmp_path / "queue.png"
    result = demo_screenshot(
        shot, env=_env(display, tmp_path) | {"QT_DEBUG_PLUGINS": "1"}, timeout=_PATIENCE
    )
    missing = [line for line in result.stderr.splitlines() if "cannot open shared object" in line]
    assert missing == [], "\n".join(missing)  # the system packages README lists
    assert result.returncode == 0, result.stderr[-3000:]
    image = QImage(str(shot))
    assert not image.isNull()
    assert image.width() >= 1000


def test_the_main_flows_work_in_a_real_window(display: str, tmp_path: Path) -> None:
    """Signing in, switching user, the lead's screens: ``test_console_flows.py`` on X11."""
    flows = Path(__file__).with_name("test_console_flows.py")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(flows)],
        cwd=ROOT,
        env=_env(display, tmp_path),
        capture_output=True,
        text=True,
        timeout=_PATIENCE,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert " passed" in output
    assert " skipped" not in output
    assert "already deleted" not in output
