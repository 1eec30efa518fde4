"""The files the console ships besides code: its icon, freedesktop entry and metainfo.

They are package data, read through :mod:`importlib.resources` so that they are found in
a source checkout, an installed wheel or a zip alike. This package stays free of Qt:
turning the icon into a ``QIcon`` is :func:`desktop.icon.application_icon`'s job.

The icon lives in a freedesktop ``hicolor`` tree (``icons/hicolor/<size>/apps/``), the
layout a packager copies to ``/usr/share/icons`` unchanged; the desktop entry and the
metainfo file go to ``/usr/share/applications`` and ``/usr/share/metainfo``.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Final

__all__ = [
    "APP_ID",
    "ICON_SIZES",
    "desktop_entry",
    "icon_png",
    "icon_svg",
    "metainfo",
]

#: The application's reverse-DNS id: the name of its icon, desktop entry and metainfo, and
#: the Wayland app id by which a desktop finds them for the console's windows.
APP_ID: Final = "com.offimizer.Console"

#: The pixel sizes the icon is rendered to, those desktops and Qt ask for most.
ICON_SIZES: Final = (16, 24, 32, 48, 64, 128, 256)

_ROOT: Final = files(__name__)
_HICOLOR: Final = _ROOT / "icons" / "hicolor"


def icon_svg() -> Traversable:
    """The scalable icon."""
    return _HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"


def icon_png(size: int) -> Traversable:
    """The icon rendered at ``size`` pixels (one of :data:`ICON_SIZES`)."""
    if size not in ICON_SIZES:
        raise ValueError(f"the icon is not rendered at {size} px; sizes: {ICON_SIZES}")
    return _HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def desktop_entry() -> Traversable:
    """The freedesktop desktop entry (``.desktop``) that launches the console."""
    return _ROOT / f"{APP_ID}.desktop"


def metainfo() -> Traversable:
    """The AppStream metainfo file software centres describe the console by."""
    return _ROOT / f"{APP_ID}.metainfo.xml"
