"""Starting the Qt console: QApplication on the asyncio loop (qasync), demo cache, screenshot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from pathlib import Path

import qasync  # type: ignore[import-untyped]
from PySide6.QtWidgets import QApplication, QWidget

from desktop.demo_data import seed_demo
from desktop.views.main_window import MainWindow
from i18n import _
from sync.cache import Cache

__all__ = ["application", "open_demo", "run", "save_screenshot"]

log = logging.getLogger(__name__)


def application() -> QApplication:
    """The process's QApplication (created once)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("offimizer-console")
    app.setApplicationDisplayName(_("Offimizer Console"))
    app.setOrganizationName("OFFIMIZER")
    return app


def open_demo(stack: contextlib.ExitStack) -> tuple[Cache, int]:
    """A temporary cache seeded with the demo queue, removed when ``stack`` closes."""
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="offimizer-demo-"))
    cache = Cache.open(Path(folder) / "demo.sqlite3")
    stack.callback(cache.close)
    info = seed_demo(cache)
    return cache, info.me


def save_screenshot(widget: QWidget, path: Path) -> None:
    """Render ``widget`` (laid out and painted) to a PNG file."""
    app = application()
    widget.show()
    app.processEvents()
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(_("Could not write the screenshot to {path}").format(path=path))


async def _main(window: MainWindow, screenshot: Path | None) -> int:
    window.show()
    if screenshot is not None:
        await asyncio.sleep(0)  # let the loop run once: the queue is painted after load
        save_screenshot(window, screenshot)
        window.close()
        return 0
    closed = asyncio.Event()
    application().lastWindowClosed.connect(closed.set)
    await closed.wait()
    return 0


def run(*, demo: bool, screenshot: Path | None) -> int:
    """Open the console; with ``screenshot``, save the main window and exit."""
    app = application()
    with contextlib.ExitStack() as stack:
        if not demo:
            print(_("Signing in to a server is not available yet: use --demo."), file=sys.stderr)
            return 2
        cache, me = open_demo(stack)
        window = MainWindow(cache, me=me)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            with loop:
                code = loop.run_until_complete(_main(window, screenshot))
        except OSError as error:
            print(str(error), file=sys.stderr)
            return 1
        finally:
            asyncio.set_event_loop(None)
        if screenshot is not None:
            print(_("Screenshot saved to {path}").format(path=screenshot))
        return int(code)
    return 0  # pragma: no cover
