"""Sign-in, tokens, sign-out and the failed-login rate limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import bcrypt
import httpx2  # what Starlette's TestClient answers with
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from server.app import create_app
from server.db import make_sessionmaker, transaction
from server.models import AuthToken, User
from server.security import token_digest
from tests.server.conftest import PASSWORD, World


def login(world: World, username: str, password: str, *, form: bool = False) -> httpx2.Response:
    body = {"username": username, "password": password}
    if form:
        return world.client.post("/api/v1/auth/token", data=body)
    return world.client.post("/api/v1/auth/token", json=body)


def test_sign_in_with_json_returns_a_token_that_works(world: World) -> None:
    response = world.client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert dt.datetime.fromisoformat(body["expires_at"]) == world.clock() + dt.timedelta(hours=12)
    me = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["role"] == "agent"


def test_sign_in_with_a_form_like_oauth2_clients(world: World) -> None:
    response = world.client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "lead", "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


def test_the_database_keeps_only_a_digest_of_the_token(world: World) -> None:
    token = world.client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
    ).json()["access_token"]
    with transaction(make_sessionmaker(world.engine)) as session:
        digests = list(session.scalars(select(AuthToken.token_hash)))
    assert token_digest(token) in digests
    assert token not in digests


def test_wrong_password_and_unknown_user_get_the_same_answer(world: World) -> None:
    wrong = world.client.post("/api/v1/auth/token", json={"username": "alice", "password": "nope"})
    unknown = world.client.post("/api/v1/auth/token", json={"username": "zed", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"


def test_missing_credentials_name_the_field(world: World) -> None:
    response = world.client.post("/api/v1/auth/token", json={"username": "alice"})
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["password"]
    extra = world.client.post(
        "/api/v1/auth/token", json={"username": "a", "password": "b", "admin": True}
    )
    assert extra.status_code == 422
    assert "admin" in extra.json()["message"]


def test_requests_without_or_with_a_bad_token_are_refused(world: World) -> None:
    assert world.client.get("/api/v1/me").status_code == 401
    response = world.client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    basic = world.client.get("/api/v1/me", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert basic.status_code == 401


def test_tokens_expire(world: World) -> None:
    headers = world.headers("alice")  # minted for one hour
    assert world.client.get("/api/v1/me", headers=headers).status_code == 200
    world.clock.advance(minutes=59)
    assert world.client.get("/api/v1/me", headers=headers).status_code == 200
    world.clock.advance(minutes=1)
    response = world.client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_logout_revokes_the_token_only(world: World) -> None:
    first = world.headers("alice")
    second = world.headers("alice")
    assert world.client.post("/api/v1/auth/logout", headers=first).status_code == 204
    assert world.client.get("/api/v1/me", headers=first).status_code == 401
    assert world.client.post("/api/v1/auth/logout", headers=first).status_code == 401
    assert world.client.get("/api/v1/me", headers=second).status_code == 200


def test_an_address_gets_five_guesses_at_an_account_then_is_refused(world: World) -> None:
    for _attempt in range(5):
        assert login(world, "alice", "wrong").status_code == 401
    refused = login(world, "alice", PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) > 0
    # the refusal is for this account from this address only
    assert login(world, "bob", PASSWORD).status_code == 200
    world.clock.advance(minutes=15, seconds=1)
    assert login(world, "alice", PASSWORD).status_code == 200


async def no_pause(_seconds: float) -> None:
    return None


def client_at(
    world: World, address: str, pause: Callable[[float], Awaitable[None]] = no_pause
) -> TestClient:
    """A client connecting from ``address``, to an app over the world's database."""
    app = create_app(world.engine, clock=world.clock, pause=pause)
    return TestClient(app, client=(address, 50000))


def sign_in(client: TestClient, username: str, password: str) -> httpx2.Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_strangers_cannot_lock_the_owner_out_of_an_account(world: World) -> None:
    strangers = [client_at(world, f"203.0.113.{number}") for number in range(1, 7)]
    for stranger in strangers:  # 30 wrong passwords from six addresses
        for _attempt in range(5):
            assert sign_in(stranger, "alice", "wrong").status_code == 401
        assert sign_in(stranger, "alice", "wrong").status_code == 429
    owner = client_at(world, "198.51.100.4")
    assert sign_in(owner, "alice", PASSWORD).status_code == 200
    # and the owner's own typos do not lock them out either, up to their own limit
    assert sign_in(owner, "alice", "typo").status_code == 401
    assert sign_in(owner, "alice", PASSWORD).status_code == 200


def test_an_account_under_attack_is_slowed_down_not_refused(world: World) -> None:
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    attempts = 0
    for number in range(1, 5):  # 20 failures from four addresses, five each
        stranger = client_at(world, f"203.0.113.{number}", pause=pause)
        for _attempt in range(5):
            assert sign_in(stranger, "alice", "wrong").status_code == 401
            attempts += 1
    # no pause for the first ten failures; then each attempt waits, twice as long each
    # time, up to ten seconds
    assert pauses == [1.0, 2.0, 4.0, 8.0] + [10.0] * 6
    owner = client_at(world, "198.51.100.4", pause=pause)
    assert sign_in(owner, "alice", PASSWORD).status_code == 200  # after its pause
    assert pauses[-1] == 10.0
    pauses.clear()
    # the owner's success forgives the account: no pause any more
    assert sign_in(owner, "alice", PASSWORD).status_code == 200
    assert sign_in(owner, "bob", PASSWORD).status_code == 200  # other accounts never paused
    assert pauses == []


def test_unknown_user_wrong_password_and_disabled_account_cost_the_same(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(make_sessionmaker(world.engine)) as session:
        disabled = session.get(User, world.ids["bob"])
        assert disabled is not None
        disabled.active = False
    checked: list[bytes] = []
    checkpw = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    answers = []
    for username, password in (("zed", "nope"), ("alice", "nope"), ("bob", PASSWORD)):
        checked.clear()
        response = login(world, username, password)
        answers.append(response.json())
        assert response.status_code == 401
        # one bcrypt verification at the same cost, whichever the case
        assert [hashed[:7] for hashed in checked] == [b"$2b$10$"], username
    assert answers[0] == answers[1] == answers[2]


def test_a_success_clears_the_account_failures(world: World) -> None:
    for _attempt in range(4):
        login(world, "alice", "wrong")
    assert login(world, "alice", PASSWORD).status_code == 200
    for _attempt in range(4):
        login(world, "alice", "wrong")
    assert login(world, "alice", PASSWORD).status_code == 200


def test_an_address_is_locked_after_twenty_failures_across_accounts(world: World) -> None:
    for number in range(20):
        assert login(world, f"ghost{number}", "x").status_code == 401
    response = login(world, "bob", PASSWORD)
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"


def test_the_rate_limit_is_shared_by_every_server_process(world: World) -> None:
    from fastapi.testclient import TestClient

    from server.app import create_app

    other = TestClient(create_app(world.engine, clock=world.clock))
    for _attempt in range(5):
        login(world, "alice", "wrong")
    response = other.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
