"""Signing in: the dialog's checks, "remember me" with a keyring and without one, and a
keyring that refuses the token."""

from __future__ import annotations

import asyncio
from pathlib import Path

from keyring.backends import fail
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from desktop.app import Console
from desktop.views.settings import open_settings
from desktop.views.sign_in import SignInDialog, SignInRequest
from tests.desktop.live_console import alice_signed_in, make_console
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import LockedKeyring, MemoryKeyring


def test_sign_in_dialog_checks_what_was_typed(qtbot: QtBot) -> None:
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    sent: list[SignInRequest] = []
    dialog.submitted.connect(sent.append)

    dialog.submit()
    assert not sent
    assert "address" in dialog.error_label.text()
    dialog.server_edit.setText("http://helpdesk.example.com")
    dialog.submit()
    assert not sent
    assert "https://" in dialog.error_label.text()
    dialog.server_edit.setText("https://helpdesk.example.com/")
    dialog.submit()
    assert not sent
    assert dialog.error_label.text() == "Enter your user name."
    QTest.keyClicks(dialog.username_edit, "alice")
    dialog.submit()
    assert not sent
    assert dialog.error_label.text() == "Enter your password."
    QTest.keyClicks(dialog.password_edit, "secret")
    dialog.remember_box.setChecked(False)
    dialog.submit()
    assert sent == [SignInRequest("https://helpdesk.example.com", "alice", "secret", False)]
    assert not dialog.buttons.isEnabled()  # busy until told how it went
    dialog.fail("Wrong user name or password.")
    assert dialog.buttons.isEnabled()
    assert dialog.error_label.text().startswith("Wrong")


def test_remember_me_is_off_and_says_why_without_a_usable_keyring(
    qtbot: QtBot, tmp_path: Path
) -> None:
    no_store = Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=fail.Keyring(),  # type: ignore[no-untyped-call]
    )
    dialog = no_store.show_sign_in()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.windowHandle().isExposed)
    box = dialog.remember_box
    assert not box.isChecked()
    assert not box.isEnabled()
    reason = dialog.findChild(QLabel, "remember-unavailable")
    assert reason is not None
    assert reason.isVisible()
    assert reason.text().startswith("No secure password store is available on this computer")
    assert reason.height() >= reason.heightForWidth(reason.width())  # shown whole
    # with a keyring, ticked as the user left it, and nothing to explain
    keyring_console = Console(
        open_settings(str(tmp_path / "other.ini")), keyring_backend=MemoryKeyring()
    )
    usable = keyring_console.show_sign_in()
    qtbot.addWidget(usable)
    assert usable.remember_box.isChecked()
    assert usable.remember_box.isEnabled()
    hidden = usable.findChild(QLabel, "remember-unavailable")
    assert hidden is not None
    assert not hidden.isVisible()


# -- end to end, with the real server --------------------------------------------------------------


def test_remember_me_skips_the_sign_in_next_time(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    backend = MemoryKeyring()
    first = alice_signed_in(qtbot, loop, tmp_path, live, backend)
    assert backend.get_password(f"offimizer-console:{live.url}", "alice")
    loop.run_until_complete(first.close())
    assert first.window is not None

    second = make_console(tmp_path, backend)
    assert loop.run_until_complete(second.start())
    assert second.sign_in_dialog is None
    assert second.session is not None
    assert second.session.engine.client.token is not None
    loop.run_until_complete(second.close())
    assert second.window is not None
    qtbot.addWidget(second.window)

    third = make_console(tmp_path, backend)
    wrong = SignInRequest(live.url, "alice", "not the password", False)
    problem = loop.run_until_complete(third.sign_in(wrong))
    assert problem
    assert third.session is None
    forget = SignInRequest(live.url, "alice", PASSWORD, False)
    assert loop.run_until_complete(third.sign_in(forget)) is None
    assert backend.get_password(f"offimizer-console:{live.url}", "alice") is None
    loop.run_until_complete(third.close())
    assert third.window is not None
    qtbot.addWidget(third.window)


def test_a_keyring_that_refuses_the_token_is_said_not_pretended(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    console = alice_signed_in(qtbot, loop, tmp_path, live, LockedKeyring())
    assert console.window is not None
    assert (
        console.window.statusBar()
        .currentMessage()
        .startswith("No secure password store is available on this computer")
    )
    saved = console.saved_account()
    assert saved is not None
    assert saved[3] is False  # not remembered: asked next time
    loop.run_until_complete(console.close())
