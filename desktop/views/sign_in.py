"""The sign-in dialog: server URL, user name, password, "remember me".

The dialog checks what was typed (a well-formed https URL, or http on this
computer only; a user name; a password) and emits :attr:`SignInDialog.submitted`;
whoever signs in calls :meth:`SignInDialog.fail` with the reason, or accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.operations import is_loopback, normalize_server_url
from i18n import _

__all__ = ["SignInDialog", "SignInRequest", "check_server_url"]


@dataclass(frozen=True, slots=True)
class SignInRequest:
    server_url: str
    username: str
    password: str
    remember: bool


def check_server_url(text: str) -> tuple[str | None, str | None]:
    """(the normalized URL, None) or (None, what is wrong with it)."""
    if not text.strip():
        return None, _("Enter the address of your OFFIMIZER server.")
    try:
        url = normalize_server_url(text)
    except ValueError:
        return None, _("“{url}” is not a server address (https://…).").format(url=text.strip())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return None, _("The server address must start with https://.")
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        return None, _("Only https:// is allowed for a server on another computer.")
    return url, None


class SignInDialog(QDialog):
    """Asks for the server, user name and password; emits :attr:`submitted` when valid."""

    submitted = Signal(object)  # SignInRequest

    def __init__(
        self,
        *,
        server_url: str = "",
        username: str = "",
        remember: bool = True,
        remember_unavailable: str | None = None,
        message: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``remember_unavailable``: why "remember me" cannot work here (no usable
        keyring); the box is then off and disabled, and the reason shown under it."""
        super().__init__(parent)
        self.setObjectName("sign-in")
        self.setWindowTitle(_("Sign in to OFFIMIZER"))
        self.setMinimumWidth(460)
        self.server_edit = QLineEdit(server_url)
        self.server_edit.setObjectName("server-url")
        self.server_edit.setPlaceholderText("https://helpdesk.example.com")
        self.server_edit.setAccessibleName(_("Server address"))
        self.username_edit = QLineEdit(username)
        self.username_edit.setObjectName("username")
        self.username_edit.setAccessibleName(_("User name"))
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName(_("Password"))
        self.remember_box = QCheckBox(_("&Remember me on this computer"))
        self.remember_box.setObjectName("remember")
        self.remember_box.setChecked(remember and remember_unavailable is None)
        self.remember_box.setEnabled(remember_unavailable is None)
        self.remember_box.setToolTip(
            _("Keep the session in the system's password store; the password is never stored.")
        )
        self.remember_note = QLabel(remember_unavailable or "")
        self.remember_note.setObjectName("remember-unavailable")
        self.remember_note.setWordWrap(True)
        self.remember_note.setStyleSheet("QLabel { color: #6b6f76; }")
        self.remember_note.setVisible(remember_unavailable is not None)
        self.message_label = QLabel(message or "")
        self.message_label.setObjectName("sign-in-message")
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(bool(message))
        self.error_label = QLabel()
        self.error_label.setObjectName("sign-in-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel { color: #a4262c; }")
        self.error_label.hide()

        form = QFormLayout()
        form.addRow(_("&Server:"), self.server_edit)
        form.addRow(_("&User name:"), self.username_edit)
        form.addRow(_("&Password:"), self.password_edit)
        form.addRow("", self.remember_box)
        form.addRow("", self.remember_note)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(_("Sign in"))
        ok.setObjectName("sign-in-button")
        cancel = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText(_("Cancel"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_label)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        for edit in (self.server_edit, self.username_edit, self.password_edit):
            if not edit.text():
                edit.setFocus()
                break

    def request(self) -> tuple[SignInRequest | None, str | None]:
        """What was typed, checked: (request, None) or (None, the first problem)."""
        url, problem = check_server_url(self.server_edit.text())
        if url is None:
            self.server_edit.setFocus()
            return None, problem
        username = self.username_edit.text().strip()
        if not username:
            self.username_edit.setFocus()
            return None, _("Enter your user name.")
        password = self.password_edit.text()
        if not password:
            self.password_edit.setFocus()
            return None, _("Enter your password.")
        return SignInRequest(url, username, password, self.remember_box.isChecked()), None

    def submit(self) -> None:
        request, problem = self.request()
        if request is None:
            self.fail(problem or "")
            return
        self.error_label.hide()
        self.set_busy(True)
        self.submitted.emit(request)

    def set_busy(self, busy: bool) -> None:
        self.buttons.setEnabled(not busy)
        for edit in (self.server_edit, self.username_edit, self.password_edit):
            edit.setReadOnly(busy)
        if busy:
            self.message_label.setText(_("Signing in…"))
            self.message_label.show()

    def fail(self, message: str) -> None:
        """Signing in did not work: say why, and let the user try again."""
        self.set_busy(False)
        self.message_label.hide()
        self.error_label.setText(message)
        self.error_label.show()
        self.password_edit.selectAll()
