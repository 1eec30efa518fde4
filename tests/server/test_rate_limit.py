"""The failed-login rate limit holds under parallel attempts (several at once, as from
several server processes): never more failures checked than the limit allows."""

from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.app import create_app
from server.db import make_sessionmaker, transaction
from server.models import LoginFailure
from server.signin import ADDRESS_FAILURES, PAIR_FAILURES
from tests.server.conftest import PASSWORD, World

PARALLEL = 12


def attempt_together(world: World, credentials: list[tuple[str, str]]) -> Counter[int]:
    """Post every sign-in at the same instant, each through a client of its own."""
    app = create_app(world.engine, clock=world.clock)
    barrier = threading.Barrier(len(credentials))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def sign_in(username: str, password: str) -> None:
        try:
            client = TestClient(app)
            barrier.wait()
            response = client.post(
                "/api/v1/auth/token", json={"username": username, "password": password}
            )
            statuses.append(response.status_code)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=sign_in, args=pair) for pair in credentials]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return Counter(statuses)


def failures(world: World, key: str) -> int:
    with transaction(make_sessionmaker(world.engine)) as session:
        return session.scalar(select(func.count()).where(LoginFailure.key == key)) or 0


def test_parallel_wrong_passwords_check_no_more_than_the_pair_limit(world: World) -> None:
    statuses = attempt_together(world, [("alice", "wrong")] * PARALLEL)
    assert statuses == {401: PAIR_FAILURES, 429: PARALLEL - PAIR_FAILURES}
    assert failures(world, "pair:alice|testclient") == PAIR_FAILURES
    assert failures(world, "user:alice") == PAIR_FAILURES
    right = world.client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}
    )
    assert right.status_code == 429


def test_parallel_attempts_from_one_address_stop_at_the_address_limit(world: World) -> None:
    attempts = [(f"ghost{number}", "wrong") for number in range(ADDRESS_FAILURES + 6)]
    statuses = attempt_together(world, attempts)
    assert statuses == {401: ADDRESS_FAILURES, 429: 6}
    assert failures(world, "addr:testclient") == ADDRESS_FAILURES


def test_parallel_right_passwords_all_sign_in_and_leave_no_failure(world: World) -> None:
    # attempts being checked count against the limit until they succeed: stay under it
    statuses = attempt_together(world, [("bob", PASSWORD)] * (PAIR_FAILURES - 1))
    assert statuses == {200: PAIR_FAILURES - 1}
    assert failures(world, "pair:bob|testclient") == 0
    assert failures(world, "user:bob") == 0
    assert failures(world, "addr:testclient") == 0
