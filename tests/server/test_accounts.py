"""Account lifecycle: administrators disable and enable accounts (API and CLI);
disabling signs the user out everywhere at once, open event streams included."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.__main__ import main
from server.app import create_app
from tests.server.conftest import PASSWORD, World
from tests.server.feedreader import FeedReader
from tests.server.test_events import REVOKED_WITHIN, ends_within, reading, serve

ROOT = Path(__file__).resolve().parents[2]
USERS = "/api/v1/users"


def sign_in(world: World, username: str, password: str = PASSWORD) -> int:
    response = world.client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    return response.status_code


def test_an_admin_disables_an_account_and_every_session_of_it_ends(world: World) -> None:
    sessions = [world.headers("alice"), world.headers("alice")]
    bystander = world.headers("bob")
    directory = FeedReader(world.client, world.headers("lead"))
    directory.poll()
    response = world.client.post(
        f"{USERS}/{world.ids['alice']}/disable", headers=world.headers("admin")
    )
    assert response.status_code == 200, response.text
    assert (response.json()["username"], response.json()["active"]) == ("alice", False)
    for headers in sessions:
        refused = world.client.get("/api/v1/me", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
    assert world.client.get("/api/v1/me", headers=bystander).status_code == 200
    assert sign_in(world, "alice") == 401
    # consoles learn of it through the feed
    assert directory.poll() >= 1
    assert directory.state[("user", world.ids["alice"])]["active"] is False
    listed = world.client.get(USERS, headers=bystander).json()
    assert {user["username"]: user["active"] for user in listed}["alice"] is False


def test_an_admin_enables_it_again(world: World) -> None:
    admin = world.headers("admin")
    world.client.post(f"{USERS}/{world.ids['alice']}/disable", headers=admin)
    again = world.client.post(f"{USERS}/{world.ids['alice']}/disable", headers=admin)
    assert (again.status_code, again.json()["active"]) == (200, False)  # twice: no change
    enabled = world.client.post(f"{USERS}/{world.ids['alice']}/enable", headers=admin)
    assert (enabled.status_code, enabled.json()["active"]) == (200, True)
    assert sign_in(world, "alice") == 200


@pytest.mark.parametrize("by", ["lead", "alice"])
def test_only_admins_manage_accounts(world: World, by: str) -> None:
    for action in ("disable", "enable"):
        response = world.client.post(
            f"{USERS}/{world.ids['bob']}/{action}", headers=world.headers(by)
        )
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == "forbidden"
        assert body["message"] == "Only administrators can disable or enable accounts."
    assert sign_in(world, "bob") == 200


def test_unknown_accounts_and_the_admin_own_account(world: World) -> None:
    admin = world.headers("admin")
    missing = world.client.post(f"{USERS}/9999/disable", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["code"] == "user_not_found"
    own = world.client.post(f"{USERS}/{world.ids['admin']}/disable", headers=admin)
    assert own.status_code == 409
    assert own.json()["code"] == "own_account"
    assert world.client.get("/api/v1/me", headers=admin).status_code == 200


def test_disabling_ends_the_open_event_streams_of_the_account(world: World) -> None:
    app = create_app(world.engine, clock=world.clock)
    app.state.events.heartbeat = 10.0  # keep-alives far apart: only the token checks end it
    with serve(app) as url, reading(url, world.token("alice")) as reader:
        assert reader.next_event() is not None
        response = world.client.post(
            f"{USERS}/{world.ids['alice']}/disable", headers=world.headers("admin")
        )
        assert response.status_code == 200
        assert ends_within(reader, REVOKED_WITHIN)


# -- the command line -------------------------------------------------------------


@pytest.fixture
def sqlite_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Engine]]:
    """A SQLite database with the accounts ``carol`` (agent) and ``root`` (admin)."""
    from server.db import make_engine

    url = f"sqlite:///{tmp_path / 'server.db'}"
    for name, role in (("carol", "agent"), ("root", "admin")):
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
        assert (
            main(["--database-url", url, "create-user", name, "--role", role, "--password-stdin"])
            == 0
        )
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def test_disable_user_and_enable_user_commands(
    sqlite_world: tuple[str, Engine], capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = sqlite_world
    capsys.readouterr()
    with TestClient(create_app(engine)) as client:

        def token(name: str) -> str:
            answer = client.post(
                "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            value: str = answer.json()["access_token"]
            return value

        session = {"Authorization": f"Bearer {token('carol')}"}
        assert main(["--database-url", url, "disable-user", "carol"]) == 0
        assert "carol" in capsys.readouterr().out
        assert client.get("/api/v1/me", headers=session).status_code == 401
        refused = client.post(
            "/api/v1/auth/token", json={"username": "carol", "password": PASSWORD}
        )
        assert refused.status_code == 401
        assert main(["--database-url", url, "enable-user", "carol"]) == 0
        assert "carol" in capsys.readouterr().out
        token("carol")
        assert main(["--database-url", url, "disable-user", "nobody"]) == 1
        assert "nobody" in capsys.readouterr().err


@pytest.mark.slow
def test_create_user_without_a_terminal_says_to_use_password_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "server", "--database-url", url, "create-user", "dave"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal either
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "--password-stdin" in done.stderr
    assert "Traceback" not in done.stderr
