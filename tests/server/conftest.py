"""Server test fixtures: every test runs on SQLite, and on PostgreSQL when
``OFFIMIZER_TEST_PG_URL`` is set (each run in a schema of its own, dropped after)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from protocol import Role
from server import changes as feed
from server.app import create_app
from server.db import Base, make_engine, make_sessionmaker, transaction
from server.directory import create_organisation, create_team, create_user
from server.migrate import upgrade
from server.security import hash_password
from server.signin import issue_token
from tests.clock import FakeClock as FakeClock

PG_URL = os.environ.get("OFFIMIZER_TEST_PG_URL")
PASSWORD = "correct horse battery"

BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A freshly migrated PostgreSQL schema of its own, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(base_url, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database for this test session."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "server.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    assert PG_URL
    with postgres_database(PG_URL) as url:
        yield url


@pytest.fixture(scope="session")
def session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(session_engine: Engine) -> Engine:
    """The session's database, emptied."""
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with session_engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f"DELETE FROM {name}"))
    return session_engine


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class World:
    """Two teams, two organisations, and a user of each kind."""

    engine: Engine
    clock: FakeClock
    client: TestClient
    ids: dict[str, int] = field(default_factory=dict)

    def token(self, username: str) -> str:
        """A bearer token for ``username``, minted directly (no bcrypt round)."""
        with transaction(make_sessionmaker(self.engine)) as session:
            return issue_token(session, self.ids[username], self.clock(), dt.timedelta(hours=1))

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


USERS = {
    # username: (role, teams)
    "admin": (Role.ADMIN, []),
    "lead": (Role.TEAM_LEAD, ["support"]),
    "alice": (Role.AGENT, ["support"]),
    "bob": (Role.AGENT, ["support"]),
    "nina": (Role.AGENT, ["network"]),
    "nlead": (Role.TEAM_LEAD, ["network"]),
}


@pytest.fixture
def world(engine: Engine, clock: FakeClock, password_hash: str) -> Iterator[World]:
    ids: dict[str, int] = {}
    now = clock()
    with transaction(make_sessionmaker(engine)) as session:
        changes = feed.ChangeSet()
        for name in ("support", "network"):
            ids[name] = create_team(session, changes, name.title()).id
        ids["acme"] = create_organisation(session, changes, "Acme", "enterprise").id
        ids["bolt"] = create_organisation(session, changes, "Bolt", "business").id
        for username, (role, teams) in USERS.items():
            ids[username] = create_user(
                session,
                changes,
                now,
                username=username,
                role=role,
                password_hash=password_hash,
                email=f"{username}@example.com",
                team_ids=[ids[team] for team in teams],
            ).id
        changes.publish(session, now)
    app = create_app(engine, clock=clock)
    with TestClient(app) as client:
        yield World(engine, clock, client, ids)


def new_ticket_body(world: World, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "subject": "Printer on fire",
        "description": "Smoke everywhere",
        "requester_name": "Carla Customer",
        "requester_email": "carla@example.com",
        "organisation_id": world.ids["acme"],
        "priority": "P2",
        "severity": "major",
        "team_id": world.ids["support"],
    }
    body.update(overrides)
    return body


def open_ticket(world: World, by: str = "lead", **overrides: object) -> dict[str, Any]:
    """A new ticket, opened through the API; its JSON as the API answered it."""
    response = world.client.post(
        "/api/v1/tickets", json=new_ticket_body(world, **overrides), headers=world.headers(by)
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def command(kind: str, ticket: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "type": kind,
        "mutation_id": str(uuid.uuid4()),
        "ticket_id": ticket["id"],
        "base_version": ticket["version"],
        **fields,
    }
