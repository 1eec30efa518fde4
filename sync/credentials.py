"""The API token, kept in the OS keyring and nowhere else.

The service name is derived from the server URL, the username is the key.  When
the machine has no secure keyring (a headless box: keyring's ``fail`` or
``null`` backends, or one of the plaintext/"alternative" backends), the token
lives in this process's memory for the session and :attr:`SaveOutcome.remembered`
is False so the UI can say the user will have to sign in again next time.  There
is no plaintext fallback, and the token is never logged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Final

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

from i18n import N_, gettext
from sync.cache import normalize_server_url

__all__ = [
    "SERVICE_PREFIX",
    "Credentials",
    "SaveOutcome",
    "is_secure_backend",
    "remember_problem",
    "service_name",
]

SERVICE_PREFIX: Final = "offimizer-console"

_NOT_REMEMBERED = N_(
    "No secure password store is available on this computer: you will stay signed in "
    "until you quit, and will have to sign in again next time."
)

# backends that do not keep a secret safely (or at all)
_INSECURE_MODULES: Final = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")


def service_name(server_url: str) -> str:
    """The keyring service of ``server_url``: one entry per server, whatever its spelling."""
    return f"{SERVICE_PREFIX}:{normalize_server_url(server_url)}"


def is_secure_backend(backend: KeyringBackend) -> bool:
    """Whether ``backend`` keeps secrets in a real OS store (not in plain text, not nowhere)."""
    module = type(backend).__module__
    name = type(backend).__name__
    if any(module == bad or module.startswith(bad + ".") for bad in _INSECURE_MODULES):
        return False
    if "plaintext" in name.lower():
        return False
    children = getattr(backend, "backends", None)
    if children is not None:  # the chainer: secure only if every link is
        return bool(children) and all(is_secure_backend(child) for child in children)
    try:
        return float(backend.priority) > 0
    except Exception:  # a backend unusable here says so by raising from priority
        return False


def remember_problem(backend: KeyringBackend | None = None) -> str | None:
    """Why a session cannot be remembered on this computer (translated), or None when
    ``backend`` (default: the system's keyring) is a secure store."""
    store = backend if backend is not None else keyring.get_keyring()
    return None if is_secure_backend(store) else gettext(_NOT_REMEMBERED)


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    remembered: bool  # False: kept in memory for this session only

    @property
    def notice(self) -> str | None:
        """What to tell the user, or None when all is well."""
        return None if self.remembered else gettext(_NOT_REMEMBERED)


class Credentials:
    """Tokens of the users of one server."""

    def __init__(self, server_url: str, *, backend: KeyringBackend | None = None) -> None:
        self.service = service_name(server_url)
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._session: dict[str, str] = {}

    @property
    def secure(self) -> bool:
        return is_secure_backend(self._backend)

    def save(self, username: str, token: str) -> SaveOutcome:
        """Keep ``token`` for ``username``: in the keyring, else in memory only."""
        self._session[username] = token
        if not self.secure:
            return SaveOutcome(remembered=False)
        try:
            self._backend.set_password(self.service, username, token)
        except KeyringError:  # a locked or broken store: do not write anywhere else
            return SaveOutcome(remembered=False)
        return SaveOutcome(remembered=True)

    def load(self, username: str) -> str | None:
        """The token of ``username``: this session's, else the keyring's."""
        if username in self._session:
            return self._session[username]
        if not self.secure:
            return None
        try:
            token = self._backend.get_password(self.service, username)
        except KeyringError:
            return None
        if token is not None:
            self._session[username] = token
        return token

    def delete(self, username: str) -> None:
        """Forget the token of ``username`` everywhere (on logout, or once it is refused)."""
        self._session.pop(username, None)
        if not self.secure:
            return
        with contextlib.suppress(PasswordDeleteError):  # nothing stored: nothing to delete
            self._backend.delete_password(self.service, username)
