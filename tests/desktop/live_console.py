"""Consoles signed in to a live server for the end-to-end tests: how they are made, and
how a test waits on their sync engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.app import Console
from desktop.views.main_window import MainWindow
from desktop.views.settings import open_settings
from desktop.views.sign_in import SignInRequest
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncEngine, SyncState, SyncStatus
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import MemoryKeyring


def make_console(tmp_path: Path, backend: MemoryKeyring) -> Console:
    """A console keeping its files under ``tmp_path`` and its token in ``backend``. Its
    client tries once; its engine has no live notifications and an hour between passes,
    so the test sets the pace."""
    return Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=backend,
        data_dir=tmp_path / "data",
        client_factory=lambda url: ApiClient(url, retry=RetryPolicy(attempts=1)),
        engine_options={"live": False, "offload": False, "interval": 3600.0},
    )


def alice_signed_in(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    backend: MemoryKeyring,
) -> Console:
    """A console signed in as alice ("remember me"), its window shown."""
    console = make_console(tmp_path, backend)
    request = SignInRequest(live.url, "alice", PASSWORD, True)
    assert loop.run_until_complete(console.sign_in(request)) is None
    assert console.session is not None
    assert console.window is not None
    qtbot.addWidget(console.window)
    return console


async def until_status(engine: SyncEngine, ready: Callable[[SyncStatus], bool]) -> SyncStatus:
    """Until the engine's status is ``ready``."""
    async with asyncio.timeout(30):
        async for status in engine.statuses():
            if ready(status):
                return status
    raise AssertionError("unreachable")  # pragma: no cover


async def until_idle(engine: SyncEngine, ready: Callable[[SyncStatus], bool]) -> SyncStatus:
    """Until the engine's status is ``ready`` and its pass is over."""
    async with asyncio.timeout(30):
        status = await until_status(engine, ready)
        await engine.wait_idle()
        return status


async def until_settled(
    window: MainWindow, engine: SyncEngine, ready: Callable[[SyncStatus], bool]
) -> SyncStatus:
    """Until the engine's status is ``ready``, its pass is over and the window has said
    where its user is (nothing in flight while the test drives the widgets outside the
    loop)."""
    async with asyncio.timeout(30):
        status = await until_idle(engine, ready)
        await window.team.presence.wait_reported()
        return status


def signed_in(
    loop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path, live: LiveServer, who: str
) -> tuple[Console, MainWindow, SyncEngine]:
    """A console signed in as ``who``, its first sync over and its window read again."""
    console = make_console(tmp_path / who, MemoryKeyring())
    request = SignInRequest(live.url, who, PASSWORD, False)
    assert loop.run_until_complete(console.sign_in(request)) is None
    session = console.session
    assert session is not None
    qtbot.addWidget(session.window)
    loop.run_until_complete(
        until_settled(
            session.window,
            session.engine,
            lambda s: s.state is SyncState.ONLINE and s.last_sync_at is not None,
        )
    )
    session.window.reload()
    return console, session.window, session.engine
