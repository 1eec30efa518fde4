"""Render the application icon's PNG sizes from its SVG.

Run it after changing the SVG and commit the PNGs::

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m resources.render_icons

The PNGs are kept in the repository because a desktop or a window manager that is not
Qt reads them without an SVG renderer, and because a small size rendered once here can
be looked at before it ships. This is a maintainer's tool: the ``resources`` package
never imports it, and stays free of Qt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from resources import APP_ID, ICON_SIZES

HERE = Path(__file__).resolve().parent
HICOLOR = HERE / "icons" / "hicolor"
SCALABLE = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
#: Sizes drawn on their own pixel grid, where the scalable drawing scaled down would blur.
#: These sources are not package data: only the PNGs rendered from them ship.
HINTED = {16: HERE / "icons" / f"{APP_ID}-16.svg"}


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn on a transparent square of ``size`` pixels."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])  # fonts and the painter need one
    for size in ICON_SIZES:
        svg = HINTED.get(size, SCALABLE)
        target = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(svg, size).save(str(target)):
            raise OSError(f"could not write {target}")
        print(f"{target.relative_to(HERE.parent)} from {svg.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
