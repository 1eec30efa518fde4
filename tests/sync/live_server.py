"""The real reference server (``server.app``) on a loopback port, in a thread.

It can be stopped and started again on the same port, which is how the
end-to-end tests make a console go offline and come back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from protocol import Role
from server import changes as feed
from server.app import create_app
from server.db import make_engine, make_sessionmaker, transaction
from server.directory import create_organisation, create_team, create_user
from server.migrate import upgrade
from server.security import hash_password
from server.threaded import ServerThread

PASSWORD = "correct horse battery"

USERS = {
    "lead": Role.TEAM_LEAD,
    "alice": Role.AGENT,
    "bob": Role.AGENT,
}


@dataclass
class LiveServer:
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)
    #: (certificate, key) PEM files: serve https instead of http
    tls: tuple[Path, Path] | None = None
    _thread: ServerThread | None = None

    @classmethod
    def create(cls, directory: Path) -> LiveServer:
        engine = make_engine(f"sqlite:///{directory / 'server.db'}")
        upgrade(engine)
        live = cls(engine)
        password_hash = hash_password(PASSWORD, cost=4)  # the cost is not under test here
        now = dt.datetime.now(dt.UTC)
        with transaction(make_sessionmaker(engine)) as session:
            changes = feed.ChangeSet()
            live.ids["support"] = create_team(session, changes, "Support").id
            live.ids["acme"] = create_organisation(session, changes, "Acme", "enterprise").id
            for username, role in USERS.items():
                live.ids[username] = create_user(
                    session,
                    changes,
                    now,
                    username=username,
                    role=role,
                    password_hash=password_hash,
                    email=f"{username}@example.com",
                    team_ids=[live.ids["support"]],
                ).id
            changes.publish(session, now)
        return live

    @property
    def server(self) -> ServerThread:
        if self._thread is None:
            self._thread = ServerThread(
                lambda: create_app(self.engine), tls=self.tls, name="live-server"
            )
        return self._thread

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        assert self.server.running
        self.server.stop()

    def close(self) -> None:
        self.server.stop()
        self.engine.dispose()

    @contextmanager
    def serving(self) -> Iterator[LiveServer]:
        """Started until the block ends, then closed (stopped, its database let go)."""
        self.start()
        try:
            yield self
        finally:
            self.close()

    # -- what the tests ask the server directly ------------------------------------------

    def token(self, username: str) -> str:
        response = httpx.post(
            f"{self.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def call(self, method: str, path: str, username: str = "lead", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token(username)}"}
        response = httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, **kwargs)
        response.raise_for_status()
        return response.json()

    def open_ticket(self, subject: str, **fields: Any) -> dict[str, Any]:
        body = {
            "subject": subject,
            "description": "",
            "requester_name": "Carla Customer",
            "requester_email": "carla@example.com",
            "organisation_id": self.ids["acme"],
            "priority": "P2",
            "severity": "major",
            "team_id": self.ids["support"],
            **fields,
        }
        ticket: dict[str, Any] = self.call("POST", "/tickets", json=body)
        return ticket
