"""``offimizer-server serve`` as operators run it, in a real process: it stops at
once when told to, even with consoles listening to live events, and it believes
``X-Forwarded-For`` only from the proxies it is told to trust."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from protocol import Role
from server import changes as feed
from server.db import make_engine, make_sessionmaker, transaction
from server.directory import create_user
from server.migrate import upgrade
from server.signin import ADDRESS_FAILURES, issue_token
from tests.server.conftest import PG_URL, postgres_database
from tests.server.served import STARTUP_TIMEOUT, Served
from tests.server.test_events import ends_within, reading

pytestmark = pytest.mark.slow

#: How soon a server told to stop must be gone.
STOPS_WITHIN = 5.0


def with_agent(url: str) -> str:
    """Add the agent ``alice`` to the migrated database at ``url``; a bearer token of theirs."""
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    with transaction(make_sessionmaker(engine)) as session:
        changes = feed.ChangeSet()
        user = create_user(
            session, changes, now, username="alice", role=Role.AGENT, password_hash="x"
        )
        changes.publish(session, now)
        token = issue_token(session, user.id, now, dt.timedelta(hours=1))
    engine.dispose()
    return token


@pytest.fixture
def database(tmp_path: Path) -> tuple[str, str]:
    """A migrated SQLite database with one agent, and a bearer token of theirs."""
    url = f"sqlite:///{tmp_path / 'server.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url, with_agent(url)


@contextmanager
def serving(url: str, *options: str) -> Iterator[Served]:
    """``serve`` on ``url`` with ``options``, answering; killed at the end of the block."""
    served = Served.start(url, *options)
    try:
        served.wait_started()
        yield served
    finally:
        served.kill()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_serve_stops_within_seconds_while_a_console_listens(
    database: tuple[str, str], stop: signal.Signals
) -> None:
    url, token = database
    with (
        serving(url) as served,
        reading(f"{served.url}/api/v1/events", token) as reader,
    ):
        assert reader.status.get(timeout=STARTUP_TIMEOUT) == 200
        assert reader.next_event() is not None
        served.process.send_signal(stop)
        try:
            served.process.wait(timeout=STOPS_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop:\n" + "".join(served.log))
        # the console's stream ended: it reconnects, elsewhere or once the server is back
        assert ends_within(reader, STOPS_WITHIN)


@pytest.mark.skipif(not PG_URL, reason="several workers need PostgreSQL")
def test_serve_with_workers_stops_within_seconds_while_consoles_listen() -> None:
    assert PG_URL
    with postgres_database(PG_URL) as url:
        token = with_agent(url)
        with serving(url, "--workers", "2") as served:
            readers = [
                reading(f"{served.url}/api/v1/events", token) for _console in range(4)
            ]  # spread over both workers, most likely
            with contextlib.ExitStack() as stack:
                opened = [stack.enter_context(reader) for reader in readers]
                for reader in opened:
                    assert reader.status.get(timeout=STARTUP_TIMEOUT) == 200
                    assert reader.next_event() is not None
                served.process.send_signal(signal.SIGTERM)
                try:
                    served.process.wait(timeout=STOPS_WITHIN)
                except subprocess.TimeoutExpired:
                    pytest.fail("the server did not stop:\n" + "".join(served.log))
                assert all(ends_within(reader, STOPS_WITHIN) for reader in opened)
            assert not any("timeout graceful shutdown exceeded" in line for line in served.log)


def failed_sign_ins(served: Served, forwarded: list[str]) -> list[int]:
    """The status of one wrong sign-in per forwarded address, each for another account."""
    statuses = []
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for number, address in enumerate(forwarded):
            response = client.post(
                "/api/v1/auth/token",
                json={"username": f"ghost{number}", "password": "wrong"},
                headers={"X-Forwarded-For": address},
            )
            statuses.append(response.status_code)
    return statuses


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_named(
    database: tuple[str, str],
) -> None:
    url, _token = database
    forwarded = [f"198.51.100.{number}" for number in range(ADDRESS_FAILURES + 1)]
    # a local process claiming to forward others' requests is one address all the same
    with serving(url) as served:
        assert failed_sign_ins(served, forwarded) == [401] * ADDRESS_FAILURES + [429]
    # behind a proxy the operator names, each forwarded address is counted apart
    with serving(url, "--forwarded-allow-ips", "127.0.0.1") as served:
        assert failed_sign_ins(served, forwarded) == [401] * (ADDRESS_FAILURES + 1)
