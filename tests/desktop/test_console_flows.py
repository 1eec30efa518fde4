"""The console's main flows as the user runs them, through ``desktop.app._main``: signing
in, switching user, opening the team lead's screens.

These run offscreen with the rest, and again in a real X11 window under Xvfb
(``tests/desktop/test_real_window.py``), where the window system behaves as on a desk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from desktop.app import Console, _main
from desktop.views.main_window import MainWindow
from desktop.views.report.view import ReportView
from desktop.views.settings import open_settings
from desktop.views.sign_in import SignInDialog
from tests.desktop.live_console import make_console
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import MemoryKeyring

#: How long a flow may take before the test gives up (a hang guard, not a timing).
_PATIENCE = 30.0


async def _until(condition: Callable[[], object], what: str) -> None:
    """Until ``condition()`` holds, the loop (and Qt) running meanwhile."""
    async with asyncio.timeout(_PATIENCE):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def _dialog(console: Console) -> SignInDialog | None:
    dialog = console.sign_in_dialog
    return dialog if dialog is not None and dialog.isVisible() else None


def _sign_in_with(dialog: SignInDialog, url: str, username: str) -> None:
    """What the user types in the sign-in dialog, then "Sign in"."""
    dialog.server_edit.setText(url)
    dialog.username_edit.setText(username)
    dialog.password_edit.setText(PASSWORD)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def _shown_as(console: Console, username: str) -> bool:
    session, window = console.session, console.window
    return (
        session is not None
        and session.username == username
        and window is not None
        and window.isVisible()
        and _dialog(console) is None
    )


async def _sign_in_from_the_dialog(console: Console, url: str, username: str) -> None:
    """Once the sign-in dialog shows, ``username`` signs in with it; until their window shows."""
    await _until(lambda: _dialog(console) is not None, "the sign-in dialog")
    dialog = _dialog(console)
    assert dialog is not None
    _sign_in_with(dialog, url, username)
    await _until(lambda: _shown_as(console, username), f"{username}'s window")


class _Run:
    """``_main`` running as the console's main task; keeps what the loop reported."""

    def __init__(self, console: Console, stack: contextlib.ExitStack, **options: Any) -> None:
        self.console = console
        self.errors: list[dict[str, Any]] = []
        loop = asyncio.get_event_loop()
        self.task = loop.create_task(
            _main(console, stack, demo=options.pop("demo", False), screenshot=None, **options)
        )

    def windows(self) -> list[QWidget]:
        return [w for w in QApplication.topLevelWidgets() if w.isVisible()]

    async def goes_on_showing(self, window: QWidget) -> None:
        """A few turns of the loop later, the run has not ended and ``window`` still shows."""
        for _turn in range(10):
            await asyncio.sleep(0.02)
        assert not self.task.done()
        assert window.isVisible()

    async def quit(self) -> int:
        """The user closes the console's window: the run ends by itself."""
        window = self.console.window
        assert window is not None
        window.close()
        async with asyncio.timeout(_PATIENCE):
            return await self.task


def _errors_of_run(
    loop: asyncio.AbstractEventLoop,
    console: Console,
    flow: Callable[[_Run], Coroutine[Any, Any, None]],
) -> list[str]:
    """``flow`` done while ``_main`` runs ``console``; every error the console would have
    reported to the user meanwhile (uncaught, in a slot or a task)."""
    seen: list[str] = []
    console.errors.reported.connect(lambda message, details: seen.append(details or message))
    with contextlib.ExitStack() as stack:
        loop.run_until_complete(flow(_Run(console, stack)))
    return seen


@pytest.mark.qt_no_exception_capture
def test_signing_in_as_another_user_from_the_dialog_switches_the_console(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    console = make_console(tmp_path, MemoryKeyring())

    async def flow(run: _Run) -> None:
        # the first start asks who signs in
        await _sign_in_from_the_dialog(console, live.url, "alice")
        first = console.window
        assert isinstance(first, MainWindow)  # the console deletes it when switching
        # then bob signs in on this computer: File ▸ Sign out, File ▸ Sign in…
        first.sign_out_action.trigger()
        await _until(lambda: first.sign_in_action.isEnabled(), "signed out")
        first.sign_in_action.trigger()
        await _sign_in_from_the_dialog(console, live.url, "bob")
        second = console.window
        assert isinstance(second, MainWindow)
        assert second is not first
        qtbot.addWidget(second)
        # the console goes on: bob's window is up, the run has not ended
        await run.goes_on_showing(second)
        assert [w for w in run.windows() if w is not second] == []
        assert console.session is not None
        assert console.session.username == "bob"
        assert await run.quit() == 0

    assert _errors_of_run(loop, console, flow) == []


@pytest.mark.qt_no_exception_capture
def test_the_sign_in_dialog_switches_to_another_server_user_without_signing_out(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    """The dialog a refused token brings up (or any open one) signs in whoever is typed."""
    console = make_console(tmp_path, MemoryKeyring())

    async def flow(run: _Run) -> None:
        await _sign_in_from_the_dialog(console, live.url, "alice")
        first = console.window
        assert first is not None
        dialog = console.show_sign_in()
        _sign_in_with(dialog, live.url.replace("127.0.0.1", "localhost"), "lead")
        await _until(lambda: _shown_as(console, "lead"), "the lead's window")
        second = console.window
        assert second is not None
        assert second is not first
        qtbot.addWidget(second)
        await run.goes_on_showing(second)
        assert await run.quit() == 0

    assert _errors_of_run(loop, console, flow) == []


@pytest.mark.parametrize("view", ["workload", "report"])
def test_the_demo_opens_the_lead_screens_in_its_window(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, view: str
) -> None:
    """``--demo --view workload|report`` without ``--screenshot``: what the user sees."""
    console = Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=MemoryKeyring(),
        data_dir=tmp_path / "data",
        engine_options={"live": False, "interval": 3600.0},
    )
    with contextlib.ExitStack() as stack:
        run = _Run(console, stack, demo=True, view=view)

        def opened() -> bool:
            window = console.window
            if window is None or not window.isVisible():
                return False
            if view == "workload":
                return window.team.dock.isVisible() and window.team.workload.rowCount() > 0
            return any(isinstance(d, ReportView) and d.isVisible() for d in window.dialogs)

        async def flow() -> None:
            await _until(opened, f"the {view} screen")
            window = console.window
            assert window is not None
            qtbot.addWidget(window)
            if view == "report":
                [report] = [d for d in window.dialogs if isinstance(d, ReportView)]
                await report.wait_fetched()
                assert report.report is not None  # this month's figures, not an empty view
            assert not run.task.done()
            assert await run.quit() == 0

        loop.run_until_complete(flow())
