"""Unexpected errors never take the window down: they are logged and shown.

:func:`install` routes ``sys.excepthook`` (exceptions raised in Qt slots land
there) and the asyncio loop's exception handler to :class:`ErrorReporter`, which
logs the traceback and shows :class:`ErrorDialog` (the message, and a "Copy
details" button for a bug report).  Nothing here touches the cache or its outbox.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from i18n import _

__all__ = ["ErrorDialog", "ErrorReporter", "install"]

log = logging.getLogger("desktop.errors")

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


class ErrorDialog(QDialog):
    """What went wrong, reassuring about the user's work, with the details to copy."""

    def __init__(self, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("error-dialog")
        self.setWindowTitle(_("Something went wrong"))
        self.resize(560, 320)
        self.details = details
        layout = QVBoxLayout(self)
        self.message_label = QLabel(
            _(
                "An unexpected error occurred: {message}\n\nYour queued changes are safe; "
                "you can go on working. If it happens again, send the details to your "
                "administrator."
            ).format(message=message)
        )
        self.message_label.setObjectName("error-message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_view = QPlainTextEdit(details)
        self.details_view.setReadOnly(True)
        self.details_view.setAccessibleName(_("Error details"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setText(_("Close"))
        self.copy_button = buttons.addButton(
            _("&Copy details"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.copy_button.setObjectName("copy-details")
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.message_label)
        layout.addWidget(self.details_view, 1)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)


class ErrorReporter(QObject):
    """Logs every unexpected exception and shows it in a non-modal dialog."""

    reported = Signal(str, str)  # message, details

    def __init__(self, parent_widget: Callable[[], QWidget | None] = lambda: None) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self.dialogs: list[ErrorDialog] = []
        self._previous_hook: ExceptHook | None = None
        self.reported.connect(self._show)

    def report(
        self, error: BaseException, trace: TracebackType | None = None, context: str = ""
    ) -> None:
        details = "".join(
            traceback.format_exception(type(error), error, trace or error.__traceback__)
        )
        if context:
            details = f"{context}\n{details}"
        log.error("unexpected error%s\n%s", f" ({context})" if context else "", details)
        message = str(error) or type(error).__name__
        self.reported.emit(message, details)  # queued when called from another thread

    def _show(self, message: str, details: str) -> None:
        if len(self.dialogs) >= 3:  # an error in a loop: do not bury the window in dialogs
            return
        dialog = ErrorDialog(message, details, self._parent_widget())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _code, d=dialog: self._closed(d))
        self.dialogs.append(dialog)
        dialog.show()

    def _closed(self, dialog: ErrorDialog) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    # -- hooks -----------------------------------------------------------------------

    def excepthook(
        self,
        kind: type[BaseException],
        error: BaseException,
        trace: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt | SystemExit):
            if self._previous_hook is not None:
                self._previous_hook(kind, error, trace)
            return
        self.report(error, trace)

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, BaseException):
            self.report(error, context=str(context.get("message", "")))
        else:
            log.error("asyncio: %s", context.get("message"))

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._previous_hook = sys.excepthook
        sys.excepthook = self.excepthook
        if loop is not None:
            loop.set_exception_handler(self.loop_exception)

    def uninstall(self) -> None:
        if self._previous_hook is not None:
            sys.excepthook = self._previous_hook
            self._previous_hook = None


def install(
    parent_widget: Callable[[], QWidget | None], loop: asyncio.AbstractEventLoop | None = None
) -> ErrorReporter:
    reporter = ErrorReporter(parent_widget)
    reporter.install(loop)
    return reporter
