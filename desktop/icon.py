"""The console's icon as Qt sees it, built from the :mod:`resources` package's files."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon, QPixmap

from resources import ICON_SIZES, icon_png

__all__ = ["application_icon"]

log = logging.getLogger(__name__)


def application_icon() -> QIcon:
    """The application's icon at every size it is drawn at.

    Each size is the PNG rendered for it, so that Qt never scales a 256 px drawing down
    to a 16 px title bar (the small sizes are drawn on their own pixel grid). The files
    are read as bytes, which works from a wheel or a zip as well as from a checkout.
    A size that cannot be read is left out, logged: Qt scales another one for it, and
    a damaged installation still starts. Needs a ``QGuiApplication``."""
    icon = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap()
        try:
            loaded = pixmap.loadFromData(icon_png(size).read_bytes(), "PNG")
        except OSError as error:
            log.warning("the %d px application icon cannot be read: %s", size, error)
            continue
        if not loaded:
            log.warning("the %d px application icon is not a readable PNG", size)
            continue
        icon.addPixmap(pixmap)
    return icon
