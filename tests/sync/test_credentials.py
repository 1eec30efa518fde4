"""The token lives in the OS keyring only; without one, in memory for the session."""

from __future__ import annotations

from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordDeleteError, PasswordSetError

from sync.credentials import Credentials, SaveOutcome, is_secure_backend, service_name


class MemoryKeyring(KeyringBackend):
    """A secure-looking OS keyring, held in a dict."""

    priority = 5

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's __init__ has no hints
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.secrets:
            raise PasswordDeleteError("not found")
        del self.secrets[(service, username)]


class LockedKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("the keychain is locked")


class PlaintextKeyring(MemoryKeyring):
    """Named like keyrings.alt's file backend: secrets on disk in clear."""


URL = "https://help.example.com/"


def backend_of(cls: Any) -> KeyringBackend:
    """An instance of one of keyring's own (untyped) backend classes."""
    made: KeyringBackend = cls()
    return made


def test_token_goes_to_the_keyring_under_the_server_service() -> None:
    backend = MemoryKeyring()
    outcome = Credentials(URL, backend=backend).save("alice", "s3cr3t")
    assert outcome == SaveOutcome(remembered=True)
    assert outcome.notice is None
    assert backend.secrets == {("offimizer-console:https://help.example.com", "alice"): "s3cr3t"}
    # a later session, another spelling of the same server
    assert Credentials("HTTPS://help.example.com:443", backend=backend).load("alice") == "s3cr3t"
    assert Credentials("https://other.example.com", backend=backend).load("alice") is None


def test_logout_deletes_the_token_everywhere() -> None:
    backend = MemoryKeyring()
    credentials = Credentials(URL, backend=backend)
    credentials.save("alice", "s3cr3t")
    credentials.delete("alice")
    assert backend.secrets == {}
    assert credentials.load("alice") is None
    credentials.delete("alice")  # twice is fine


@pytest.mark.parametrize(
    "backend", [backend_of(fail.Keyring), backend_of(null.Keyring), PlaintextKeyring()]
)
def test_without_a_secure_keyring_the_token_stays_in_memory(backend: KeyringBackend) -> None:
    credentials = Credentials(URL, backend=backend)
    outcome = credentials.save("alice", "s3cr3t")
    assert not outcome.remembered
    assert outcome.notice is not None
    assert "sign in again" in outcome.notice
    assert credentials.load("alice") == "s3cr3t"  # for this session
    assert Credentials(URL, backend=backend).load("alice") is None  # not next time
    if isinstance(backend, PlaintextKeyring):
        assert backend.secrets == {}  # never written in clear
    credentials.delete("alice")
    assert credentials.load("alice") is None


def test_a_locked_keyring_is_not_bypassed() -> None:
    backend = LockedKeyring()
    credentials = Credentials(URL, backend=backend)
    assert not credentials.save("alice", "s3cr3t").remembered
    assert credentials.load("alice") == "s3cr3t"
    assert backend.secrets == {}


def test_backend_classification() -> None:
    assert is_secure_backend(MemoryKeyring())
    assert not is_secure_backend(backend_of(fail.Keyring))
    assert not is_secure_backend(backend_of(null.Keyring))
    assert not is_secure_backend(PlaintextKeyring())
    chain = backend_of(chainer.ChainerBackend)
    chain.__dict__["backends"] = [MemoryKeyring(), PlaintextKeyring()]
    assert not is_secure_backend(chain)


def test_service_name_is_per_server() -> None:
    assert service_name("https://a.example/") == service_name("https://A.example")
    assert service_name("https://a.example") != service_name("http://a.example")
    with pytest.raises(ValueError, match="not a server URL"):
        service_name("help desk")
