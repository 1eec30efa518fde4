"""The console's icon: on its application, every window and dialog, at every size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

from desktop.icon import application_icon
from resources import APP_ID, ICON_SIZES, icon_png
from resources.render_icons import HINTED, SCALABLE, render

ROOT = Path(__file__).resolve().parents[2]

# The test session's QApplication is pytest-qt's, so ``application()`` is checked in a
# process of its own, where it makes the application as the console does.
_PROBE = """
import json
from PySide6.QtWidgets import QDialog, QMainWindow
from desktop.app import application

app = application()
windows = [QMainWindow(), QDialog()]
print(json.dumps({
    "sizes": [[s.width(), s.height()] for s in app.windowIcon().availableSizes()],
    "desktop_file": app.desktopFileName(),
    "windows": [w.windowIcon().cacheKey() == app.windowIcon().cacheKey() for w in windows],
}))
"""


@pytest.mark.slow
def test_the_application_its_windows_and_dialogs_carry_the_icon_at_every_size() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert sorted(tuple(size) for size in seen["sizes"]) == [(s, s) for s in ICON_SIZES]
    assert seen["windows"] == [True, True]
    # Wayland shows the desktop entry's icon, found by this name
    assert seen["desktop_file"] == APP_ID


def test_each_size_of_the_icon_is_its_own_drawing_not_a_scaled_one() -> None:
    icon = application_icon()
    assert sorted(s.width() for s in icon.availableSizes()) == list(ICON_SIZES)
    for size in ICON_SIZES:
        shown = icon.pixmap(QSize(size, size)).toImage()
        assert shown.size() == QSize(size, size)
        assert _largest_difference(shown, _png(size)) == 0, size


def test_a_damaged_icon_file_leaves_its_size_out_and_the_console_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Damaged:
        def read_bytes(self) -> bytes:
            return b"not a PNG"

    class Missing:
        def read_bytes(self) -> bytes:
            raise FileNotFoundError("no such file")

    files = {48: Damaged(), 64: Missing()}
    monkeypatch.setattr("desktop.icon.icon_png", lambda size: files.get(size) or icon_png(size))
    icon = application_icon()
    assert sorted(s.width() for s in icon.availableSizes()) == [16, 24, 32, 128, 256]
    assert "the 48 px application icon is not a readable PNG" in caplog.text
    assert "the 64 px application icon cannot be read: no such file" in caplog.text


@pytest.mark.parametrize("size", ICON_SIZES)
def test_the_png_sizes_are_rendered_from_the_current_drawing(size: int) -> None:
    """Re-run ``python -m resources.render_icons`` when this fails: the SVG changed."""
    drawn = render(HINTED.get(size, SCALABLE), size)
    # antialiasing may differ by a shade between Qt versions, never by a shape
    assert _largest_difference(drawn, _png(size)) <= 8


def test_the_icon_is_transparent_around_its_shapes() -> None:
    """Light and dark panels show through: no square background behind the drawing."""
    for size in ICON_SIZES:
        image = _png(size)
        assert image.hasAlphaChannel()
        assert image.pixelColor(0, size - 1).alpha() == 0, size  # the empty corner


def _png(size: int) -> QImage:
    image = QImage.fromData(icon_png(size).read_bytes())
    assert not image.isNull()
    assert image.size() == QSize(size, size)
    return image


def _largest_difference(first: QImage, second: QImage) -> int:
    """The largest difference of a colour channel between two images of one size."""
    assert first.size() == second.size()
    a = first.convertToFormat(QImage.Format.Format_RGBA8888)
    b = second.convertToFormat(QImage.Format.Format_RGBA8888)
    return max(
        (abs(x - y) for x, y in zip(bytes(a.constBits()), bytes(b.constBits()), strict=True)),
        default=0,
    )
