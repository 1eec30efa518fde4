"""Starting the Qt console: QApplication on the asyncio loop (qasync), sign-in, sync, demo.

:class:`Console` owns the session (cache, API client, sync engine, main window):

- without ``--demo`` it opens the last account's cache at once (offline or not)
  and starts the :class:`~sync.engine.SyncEngine` on the loop; the sign-in
  dialog comes up when there is no account yet or when the engine needs a
  sign-in (no remembered token, or the server refused it);
- with ``--demo`` it starts the reference server in-process with demo data
  (:mod:`desktop.embedded_server`) and signs in as the demo agent over a
  temporary cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import qasync  # type: ignore[import-untyped]
from keyring.backend import KeyringBackend
from keyring.backends import null
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from desktop.embedded_server import EmbeddedServer
from desktop.icon import application_icon
from desktop.models import sla_cells
from desktop.models.queue import QueueView
from desktop.qt_language import use_language
from desktop.views.errors import ErrorReporter
from desktop.views.main_window import MainWindow
from desktop.views.notifications import SlaNotifier
from desktop.views.settings import (
    APPLICATION,
    ORGANISATION,
    Preferences,
    SettingsDialog,
    open_settings,
    restore_layout,
    save_layout,
)
from desktop.views.sign_in import SignInDialog, SignInRequest
from i18n import _
from resources import APP_ID
from sync.cache import Cache, cache_path
from sync.client import ApiClient, ApiError, InsecureServerError
from sync.collector import freeze_heap, hold_collector
from sync.credentials import Credentials, remember_problem
from sync.engine import SyncEngine, SyncState, SyncStatus

__all__ = ["Console", "Session", "application", "run", "save_screenshot"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Views of the team lead (``--view``): the demo signs in as its lead to show them.
_LEAD_VIEWS: Final = frozenset({"workload", "report"})
#: The demo server's team lead (:mod:`server.demo`).
_DEMO_LEAD: Final = "lead"

#: How long ``--screenshot`` waits for the first sync before taking the picture.
_FIRST_SYNC_WAIT_S = 60.0


def application() -> QApplication:
    """The process's QApplication (created once)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(_("Offimizer Console"))
    app.setOrganizationName(ORGANISATION)
    # Every window and dialog inherits the icon; Wayland ignores it and shows the desktop
    # entry's instead, which it finds by the desktop file name.
    app.setWindowIcon(application_icon())
    app.setDesktopFileName(APP_ID)
    return app


async def save_screenshot(widget: QWidget, path: Path) -> None:
    """Render ``widget`` (laid out and painted) to a PNG file.

    The loop runs a few times after ``show()`` so that Qt lays the window out: never
    ``processEvents()`` here, which would run the loop's other tasks inside this one."""
    widget.show()
    for _turn in range(3):
        await asyncio.sleep(0)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(_("Could not write the screenshot to {path}").format(path=path))


@dataclass
class Session:
    """One signed-in (or signing-in) account: its cache, client, engine and window."""

    server_url: str
    username: str
    cache: Cache
    client: ApiClient
    engine: SyncEngine
    window: MainWindow

    async def close(self) -> None:
        await self.engine.stop()
        await self.client.aclose()
        self.window.detach_engine()
        self.cache.close()


class Console(QObject):
    """The running console: account, session, settings, sign-in and sign-out."""

    #: the user closed the console's window (a window replaced by another session's is not)
    quitRequested = Signal()

    def __init__(
        self,
        settings: QSettings,
        *,
        keyring_backend: KeyringBackend | None = None,
        data_dir: Path | None = None,
        client_factory: Callable[[str], ApiClient] | None = None,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.engine_options = engine_options or {}
        self.settings = settings
        self.preferences = Preferences.load(settings)
        self.keyring_backend = keyring_backend
        self.data_dir = data_dir
        self.client_factory = client_factory or (lambda url: ApiClient(url))
        self.session: Session | None = None
        self.window: MainWindow | None = None
        self.notifier: SlaNotifier | None = None
        self.sign_in_dialog: SignInDialog | None = None
        self.errors = ErrorReporter(lambda: self.window)
        self._prompted = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self.apply_preferences(self.preferences)

    # -- preferences -------------------------------------------------------------------

    def apply_preferences(self, preferences: Preferences) -> None:
        self.preferences = preferences
        preferences.apply_language()
        sla_cells.set_show_seconds(preferences.sla_seconds)
        if self.notifier is not None:
            self.notifier.enabled = preferences.notifications
        if self.window is not None:
            self.window.retranslate()

    def open_settings_dialog(self) -> SettingsDialog:
        dialog = SettingsDialog(self.preferences, self.window)
        dialog.accepted.connect(lambda: self._settings_accepted(dialog))
        dialog.open()
        return dialog

    def _settings_accepted(self, dialog: SettingsDialog) -> None:
        preferences = dialog.preferences()
        preferences.save(self.settings)
        self.apply_preferences(preferences)

    # -- credentials -------------------------------------------------------------------

    def credentials(self, server_url: str, *, remember: bool) -> Credentials:
        """The keyring's credentials, or memory-only ones when the user would not be
        remembered."""
        if not remember:
            return Credentials(server_url, backend=null.Keyring())  # type: ignore[no-untyped-call]
        return Credentials(server_url, backend=self.keyring_backend)

    def saved_account(self) -> tuple[str, str, int | None, bool] | None:
        url = str(self.settings.value("account/server_url", "") or "")
        username = str(self.settings.value("account/username", "") or "")
        if not url or not username:
            return None
        raw_id = self.settings.value("account/user_id")
        try:
            user_id = int(str(raw_id)) if raw_id not in (None, "") else None
        except ValueError:
            user_id = None
        remember = str(self.settings.value("account/remember", "true")).lower() == "true"
        return url, username, user_id, remember

    def save_account(self, url: str, username: str, user_id: int | None, remember: bool) -> None:
        self.settings.setValue("account/server_url", url)
        self.settings.setValue("account/username", username)
        self.settings.setValue("account/user_id", "" if user_id is None else user_id)
        self.settings.setValue("account/remember", "true" if remember else "false")
        self.settings.sync()

    # -- sessions ------------------------------------------------------------------------

    def _window(self, cache: Cache, me: int | None) -> MainWindow:
        # forgotten first: closing the replaced window must not quit the console
        # (see _window_closed)
        replaced, self.window = self.window, None
        if replaced is not None:
            save_layout(replaced, self.settings)
            replaced.close()
            replaced.deleteLater()
        window = MainWindow(cache, me=me)
        window.closed.connect(lambda: self._window_closed(window))
        window.signInRequested.connect(lambda: self.show_sign_in())
        window.signOutRequested.connect(self.sign_out_soon)
        window.settingsRequested.connect(self.open_settings_dialog)
        restore_layout(window, self.settings)
        self.window = window
        self.notifier = SlaNotifier(
            window.model, me, enabled=self.preferences.notifications, parent=window
        )
        return window

    async def open_session(
        self,
        server_url: str,
        username: str,
        *,
        user_id: int | None,
        credentials: Credentials,
        client: ApiClient | None = None,
        cache: Cache | None = None,
    ) -> Session:
        """Open the account's cache and window at once, and start syncing in the background."""
        if self.session is not None:
            old, self.session = self.session, None
            await old.close()
        if cache is None:  # shown at once; its soundness checked meanwhile (below)
            path = cache_path(server_url, username, data_dir=self.data_dir)
            cache = Cache.open(path, check_later=True)
        client = client or self.client_factory(server_url)
        store_user = user_id
        window = self._window(cache, user_id)
        engine = SyncEngine(
            window.store,
            client,
            credentials=credentials,
            username=username,
            **self.engine_options,
        )
        window.store.user_id = store_user
        session = Session(server_url, username, cache, client, engine, window)
        self.session = session
        window.attach_engine(engine)
        engine.subscribe(self._status_changed)
        window.show()
        if await self._finish_cache_check(session):
            await engine.start()
        return session

    async def _finish_cache_check(self, session: Session) -> bool:
        """Once the cache's integrity check is over: a cache found unsound is rebuilt
        (its unsent commands kept), the window reads it again, and the user is told
        what happened, as when it was found unsound at open.  Before syncing: False
        when the session is not to sync (closed meanwhile, or its cache unusable)."""
        cache, window = session.cache, session.window
        if not cache.checked:
            await asyncio.to_thread(cache.wait_checked)  # the window paints meanwhile
            if self.session is not session:
                return False  # closed or replaced while the check ran
            try:
                rebuilt = cache.rebuild_if_unsound()
            except Exception as error:  # the bad file could not be set aside, for one
                log.exception("the unsound cache %s could not be rebuilt", cache.path)
                window.show_cache_failure(error)
                return False
            if rebuilt is not None:
                window.reload()
        if cache.notice is not None:
            window.show_cache_notice(cache.notice)
        return True

    def _window_closed(self, window: MainWindow) -> None:
        if window is self.window:
            self.quitRequested.emit()

    def _status_changed(self, status: SyncStatus) -> None:
        if status.state is SyncState.AUTH_REQUIRED and not self._prompted:
            # the dialog opens by itself once; after that, from the status bar or the menu
            self._prompted = True
            asyncio.get_running_loop().call_soon(self.show_sign_in, status.error)

    # -- signing in and out --------------------------------------------------------------

    def show_sign_in(self, message: str | None = None) -> SignInDialog:
        if self.sign_in_dialog is not None:
            self.sign_in_dialog.raise_()
            return self.sign_in_dialog
        saved = self.saved_account()
        dialog = SignInDialog(
            server_url=saved[0] if saved else "",
            username=saved[1] if saved else "",
            remember=saved[3] if saved else True,
            remember_unavailable=remember_problem(self.keyring_backend),
            message=message,
            parent=self.window,
        )
        dialog.submitted.connect(lambda request: self._submit(dialog, request))
        dialog.finished.connect(lambda _code: self._sign_in_closed(dialog))
        self.sign_in_dialog = dialog
        dialog.open()
        return dialog

    def _sign_in_closed(self, dialog: SignInDialog) -> None:
        if self.sign_in_dialog is dialog:
            self.sign_in_dialog = None

    def _submit(self, dialog: SignInDialog, request: SignInRequest) -> None:
        task = asyncio.ensure_future(self.sign_in(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        def done(finished: asyncio.Future[str | None]) -> None:
            if self.sign_in_dialog is not dialog:
                return  # closed meanwhile: by the user, or on a switch to another account
            problem = finished.result() if not finished.cancelled() else _("Cancelled.")
            if problem is None:
                dialog.accept()
            else:
                dialog.fail(problem)

        task.add_done_callback(done)

    async def sign_in(self, request: SignInRequest) -> str | None:
        """Sign in; None when it worked, else what to tell the user."""
        credentials = self.credentials(request.server_url, remember=request.remember)
        if not request.remember:  # "do not remember me": forget any earlier token
            self.credentials(request.server_url, remember=True).delete(request.username)
        session = self.session
        same = (
            session is not None
            and session.server_url == request.server_url
            and session.username == request.username
        )
        try:
            if same and session is not None:
                session.engine.credentials = credentials
                outcome = await session.engine.login(request.password)
                user_id = session.engine.store.user_id
            else:
                client = self.client_factory(request.server_url)
                try:
                    token = await client.login(request.username, request.password)
                    me = await client.me()
                except BaseException:
                    await client.aclose()
                    raise
                outcome = credentials.save(request.username, token.access_token)
                user_id = me.id
                # signed in: the dialog closes before the window it belongs to is replaced
                if self.sign_in_dialog is not None:
                    self.sign_in_dialog.accept()
                await self.open_session(
                    request.server_url,
                    request.username,
                    user_id=user_id,
                    credentials=credentials,
                    client=client,
                )
        except InsecureServerError as error:
            return error.message
        except ApiError as error:
            return error.message
        except ValueError as error:
            return str(error)
        remembered = request.remember and outcome.remembered
        self.save_account(request.server_url, request.username, user_id, remembered)
        if request.remember and not remembered and self.window is not None:
            # asked to be remembered, and the keyring would not: say so, never pretend
            self.window.statusBar().showMessage(outcome.notice or "", 30_000)
        self._prompted = False
        return None

    def sign_out_soon(self) -> None:
        self._tasks.add(task := asyncio.ensure_future(self.sign_out()))
        task.add_done_callback(self._tasks.discard)

    async def sign_out(self) -> None:
        """Revoke the token (if the server can be reached) and forget it; the cache and its
        outbox stay, and are sent after the next sign-in."""
        if self.session is None:
            return
        self._prompted = True  # signing out on purpose: no dialog by itself
        outcome = await self.session.engine.logout()
        if self.window is not None:
            self.window.statusBar().showMessage(
                outcome.notice or _("Signed out. Your queued changes are kept."), 8000
            )

    # -- start and stop ---------------------------------------------------------------------

    async def start(self) -> bool:
        """Open the last account (or ask for one); False when the user gave up."""
        saved = self.saved_account()
        if saved is None:
            dialog = self.show_sign_in()
            code = await ask_existing(dialog)
            return code == QDialog.DialogCode.Accepted and self.session is not None
        url, username, user_id, remember = saved
        await self.open_session(
            url,
            username,
            user_id=user_id,
            credentials=self.credentials(url, remember=remember),
        )
        return True

    async def start_demo(self, stack: contextlib.ExitStack, *, username: str | None = None) -> None:
        """The embedded demo server, signed in as its agent (or ``username``) over a
        temporary cache."""
        server = await asyncio.to_thread(EmbeddedServer.start_demo, stack)
        if username is not None:
            server.username = username
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="offimizer-demo-")))
        cache = Cache.open(folder / "cache.sqlite3")
        self._prompted = True
        client = self.client_factory(server.url)
        token = await client.login(server.username, server.password)
        me = await client.me()
        credentials = self.credentials(server.url, remember=False)
        credentials.save(server.username, token.access_token)
        await self.open_session(
            server.url,
            server.username,
            user_id=me.id,
            credentials=credentials,
            client=client,
            cache=cache,
        )

    async def wait_first_sync(self, timeout: float = _FIRST_SYNC_WAIT_S) -> None:
        """Until the engine's first pass is over (for ``--screenshot``)."""
        session = self.session
        if session is None:
            return
        engine = session.engine
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                async for status in engine.statuses():
                    if status.last_sync_at is not None and status.state is SyncState.ONLINE:
                        break
                    if status.state in (SyncState.AUTH_REQUIRED, SyncState.ERROR):
                        break
                await engine.wait_idle()
        session.window.reload()

    async def close(self) -> None:
        if self.window is not None:
            save_layout(self.window, self.settings)
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()


async def ask_existing(dialog: QDialog) -> int:
    """Wait for an already open dialog to close."""
    if not dialog.isVisible():
        return int(dialog.result())
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(code: int) -> None:
        if not done.done():
            done.set_result(code)

    dialog.finished.connect(finished)
    return await done


async def _main(
    console: Console,
    stack: contextlib.ExitStack,
    *,
    demo: bool,
    screenshot: Path | None,
    view: str = "queue",
) -> int:
    app = application()
    app.setQuitOnLastWindowClosed(False)  # the loop ends when _main returns, after clean-up
    console.errors.install(asyncio.get_running_loop())
    closed = asyncio.Event()
    console.quitRequested.connect(closed.set)
    try:
        if demo:
            # the workload and the report are the team lead's: sign in as the demo lead
            lead = view in _LEAD_VIEWS
            await console.start_demo(stack, username=_DEMO_LEAD if lead else None)
        elif not await console.start():
            return 0
        window = console.window
        assert window is not None
        if screenshot is not None or (view in _LEAD_VIEWS and not window.team.lead):
            # the queue shows meanwhile; the lead's screens need the role the sync brings
            await _unless_closed(closed, console.wait_first_sync())
        freeze_heap()
        shown = await _unless_closed(closed, show_view(window, view))
        if shown is None:
            return 0
        if screenshot is not None:
            await save_screenshot(shown, screenshot)
            shown.close()
            window.close()
            return 0
        await closed.wait()
        return 0
    finally:
        await console.close()
        console.errors.uninstall()


async def _unless_closed(closed: asyncio.Event, work: Coroutine[Any, Any, _T]) -> _T | None:
    """``work``'s result, or None once the user closed the console (``work`` cancelled)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(closed.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    return None if closed.is_set() or task.cancelled() else task.result()


async def show_view(window: MainWindow, view: str) -> QWidget:
    """Open ``view`` ("queue", "workload" or "report") and return the window showing it
    (the report: once fetched).  The lead's views fall back to the queue for an agent."""
    if view == "workload":
        window.show_view(QueueView.MY_TEAMS)  # the team's tickets beside its workload
        window.show_workload()
        await window.team.presence.wait_reported()  # who is online, before the picture
    elif view == "report":
        report = window.show_compliance_report()
        if report is not None:
            await report.wait_fetched()
            return report
    return window


def run(
    *,
    demo: bool,
    screenshot: Path | None,
    language: str | None = None,
    settings_path: str | None = None,
    view: str = "queue",
) -> int:
    """Open the console (on ``view``); with ``screenshot``, save that window and exit."""
    hold_collector()  # until the window is up (see sync.collector)
    app = application()
    with contextlib.ExitStack() as stack:
        if settings_path is None and screenshot is not None:
            # pictures from the default layout, and the user's settings left alone
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="offimizer-shot-"))
            settings_path = str(Path(folder) / "settings.ini")
        settings = open_settings(settings_path)
        console = Console(settings)
        if language is not None:  # the command line wins over the saved preference
            use_language(language)
            app.setApplicationDisplayName(_("Offimizer Console"))
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            with loop:
                code = loop.run_until_complete(
                    _main(console, stack, demo=demo, screenshot=screenshot, view=view)
                )
        except OSError as error:
            print(str(error), file=sys.stderr)
            return 1
        finally:
            asyncio.set_event_loop(None)
        if screenshot is not None:
            print(_("Screenshot saved to {path}").format(path=screenshot))
        return int(code)
    return 0  # pragma: no cover
