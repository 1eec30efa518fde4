"""Live events over Server-Sent Events, from a real uvicorn on a loopback port:
changes and announcements reach connected consoles at once; on PostgreSQL also
from other connections and processes (LISTEN/NOTIFY).  Every wait has a timeout;
nothing sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.app import create_app
from server.events import Batch, EventHub, Subscription, channel_for_schema
from tests.server.conftest import World, command, new_ticket_body, open_ticket

WAIT = 15.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Event:
    name: str  # "comment" for a ": ..." line
    data: Any


class EventReader:
    """Reads one event stream in a thread; ``next`` waits for the next item."""

    def __init__(self, url: str, token: str) -> None:
        self.items: queue.Queue[Event | None] = queue.Queue()
        self.status: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()

    def _run(self, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", url, headers=headers, timeout=WAIT) as response:
                self.status.put(response.status_code)
                self.content_type = response.headers.get("content-type", "")
                name, data = "message", ""
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self.items.put(Event("comment", line[1:].strip()))
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        self.items.put(Event(name, json.loads(data)))
                        name, data = "message", ""
        except httpx.HTTPError:
            pass
        finally:
            self.items.put(None)  # the end of the stream

    def next(self, timeout: float = WAIT) -> Event | None:
        return self.items.get(timeout=timeout)

    def next_event(self, timeout: float = WAIT) -> Event | None:
        """The next event that is not a keep-alive comment (``None``: the stream ended)."""
        while True:
            item = self.next(timeout)
            if item is None or item.name != "comment":
                return item

    def close(self) -> None:
        self._stop.set()  # heartbeats make the thread notice soon
        self._thread.join(WAIT)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port (connections queue until it runs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/api/v1/events"
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()


@pytest.fixture
def live(world: World) -> Iterator[str]:
    app = create_app(world.engine, clock=world.clock)
    hub = app.state.events
    assert isinstance(hub, EventHub)
    hub.heartbeat = 0.2
    with serve(app) as url:
        yield url


@contextmanager
def reading(url: str, token: str) -> Iterator[EventReader]:
    reader = EventReader(url, token)
    try:
        yield reader
    finally:
        reader.close()


def high_mark(world: World) -> int:
    page = world.client.get("/api/v1/changes", headers=world.headers("admin")).json()
    cursor: str = page["next_cursor"]
    return int(cursor)


def test_the_stream_opens_with_the_feed_high_mark_and_reports_changes(
    world: World, live: str
) -> None:
    ticket = open_ticket(world)
    with reading(live, world.token("alice")) as reader:
        assert reader.status.get(timeout=WAIT) == 200
        first = reader.next_event()
        assert first == Event("changes", {"seq": high_mark(world)})
        assert reader.content_type.startswith("text/event-stream")
        world.client.post(
            "/api/v1/commands",
            json={"commands": [command("set_priority", ticket, priority="P1")]},
            headers=world.headers("lead"),
        )
        assert reader.next_event() == Event("changes", {"seq": high_mark(world)})


def test_keepalive_comments_flow_while_nothing_happens(world: World, live: str) -> None:
    with reading(live, world.token("alice")) as reader:
        assert reader.next_event() is not None
        assert reader.next() == Event("comment", "keepalive")
        assert reader.next() == Event("comment", "keepalive")


def test_a_console_hears_only_of_changes_it_may_see(world: World, live: str) -> None:
    with reading(live, world.token("nina")) as reader:
        start = reader.next_event()
        assert start is not None
        open_ticket(world)  # the support team's: not nina's business
        # the change is offered before the writer gets its answer; a keep-alive may
        # have been on its way already, but a second one proves nothing was sent
        assert reader.next() == Event("comment", "keepalive")
        assert reader.next() == Event("comment", "keepalive")
        open_ticket(world, by="nlead", team_id=world.ids["network"])
        assert reader.next_event() == Event("changes", {"seq": high_mark(world)})


def test_announcements_are_pushed_with_their_content(world: World, live: str) -> None:
    with reading(live, world.token("nina")) as reader:
        assert reader.next_event() is not None
        created = world.client.post(
            "/api/v1/announcements",
            json={"title": "Telephony down", "body": "Use e-mail meanwhile."},
            headers=world.headers("lead"),
        ).json()
        event = reader.next_event()
        assert event is not None
        assert event.name == "announcement"
        assert event.data == created
        assert reader.next_event() == Event("changes", {"seq": high_mark(world)})


def test_the_stream_needs_a_valid_token_and_ends_when_it_is_revoked(
    world: World, live: str
) -> None:
    refused = httpx.get(live, headers={"Authorization": "Bearer nonsense"}, timeout=WAIT)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert httpx.get(live, timeout=WAIT).status_code == 401
    token = world.token("alice")
    with reading(live, token) as reader:
        assert reader.next_event() is not None
        logout = world.client.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )
        assert logout.status_code == 204
        assert reader.next_event() is None  # the server closed the stream


#: How soon a revoked token's stream must end, whatever its traffic.
REVOKED_WITHIN = 5.0


def ends_within(reader: EventReader, seconds: float) -> bool:
    """Whether the stream ends within ``seconds`` (whatever it delivers meanwhile)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            if reader.next(timeout=left) is None:
                return True
        except queue.Empty:
            return False
    return False


@contextmanager
def busy_team(world: World) -> Iterator[threading.Event]:
    """The support team changes without pause (tickets opened one after another) while
    inside; the event yielded is set once changes have been flowing."""
    app = create_app(world.engine, clock=world.clock)
    headers = world.headers("lead")
    stop = threading.Event()
    flowing = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with TestClient(app) as client:
                while not stop.is_set():
                    body = new_ticket_body(world)
                    response = client.post("/api/v1/tickets", json=body, headers=headers)
                    assert response.status_code == 201, response.text
                    flowing.set()
        except BaseException as error:  # reported below
            errors.append(error)
            flowing.set()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield flowing
    finally:
        stop.set()
        thread.join(WAIT)
    assert errors == []


@pytest.fixture
def quiet_live(world: World) -> Iterator[str]:
    """A live server whose keep-alives are far apart: only the token checks end a stream."""
    app = create_app(world.engine, clock=world.clock)
    app.state.events.heartbeat = 10.0
    with serve(app) as url:
        yield url


@pytest.mark.parametrize("busy", [True, False], ids=["busy", "quiet"])
def test_a_signed_out_token_ends_its_stream_within_seconds_whatever_the_traffic(
    world: World, quiet_live: str, busy: bool
) -> None:
    token = world.token("alice")
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(reading(quiet_live, token))
        assert reader.next_event() is not None
        if busy:
            flowing = stack.enter_context(busy_team(world))
            assert flowing.wait(WAIT)
            assert reader.next_event() is not None  # changes reach the stream
        logout = world.client.post(
            "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )
        assert logout.status_code == 204
        assert ends_within(reader, REVOKED_WITHIN)


def test_an_expired_token_ends_its_stream_within_seconds(world: World, quiet_live: str) -> None:
    with reading(quiet_live, world.token("alice")) as reader:  # minted for one hour
        assert reader.next_event() is not None
        world.clock.advance(minutes=59)
        assert not ends_within(reader, 0.5)  # still valid
        world.clock.advance(minutes=1)
        assert ends_within(reader, REVOKED_WITHIN)


# -- PostgreSQL: other connections and processes --------------------------------


def _pg_only(world: World) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")


def _channel(world: World) -> str:
    with world.engine.connect() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
    return channel_for_schema(schema)


def test_a_notify_from_another_connection_reaches_the_stream(world: World, live: str) -> None:
    _pg_only(world)
    with reading(live, world.token("alice")) as reader:
        assert reader.next_event() is not None  # LISTEN is in force from here on
        conninfo = world.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        payload = json.dumps({"origin": "elsewhere", "seq": 10**9, "teams": [None], "ann": []})
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute("SELECT pg_notify(%s, %s)", (_channel(world), payload))
        assert reader.next_event() == Event("changes", {"seq": 10**9})


SCRIPT = """
import datetime as dt, sys
from server import changes as feed
from server.announcements import create_announcement
from server.db import make_engine, make_sessionmaker, transaction
from server.models import User
from protocol import AnnouncementIn

engine = make_engine(sys.argv[1])
now = dt.datetime.now(dt.UTC)
with transaction(make_sessionmaker(engine)) as session:
    user = session.get(User, int(sys.argv[2]))
    changes = feed.ChangeSet()
    create_announcement(session, changes, user, AnnouncementIn(title=sys.argv[3]), now)
    changes.publish(session, now)
    if sys.argv[4] == "rollback":
        raise SystemExit(3)
"""


@pytest.mark.slow
def test_a_write_in_another_process_reaches_the_stream(world: World, live: str) -> None:
    _pg_only(world)
    url = world.engine.url.render_as_string(hide_password=False)

    def write(title: str, outcome: str) -> int:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, url, str(world.ids["lead"]), title, outcome],
            cwd=ROOT,
            timeout=60,
            check=False,
        ).returncode

    with reading(live, world.token("nina")) as reader:
        assert reader.next_event() is not None
        assert write("Rolled back", "rollback") == 3
        assert write("From another process", "commit") == 0
        event = reader.next_event()
        assert event is not None
        # the rolled-back transaction notified nobody: the first news is the second
        assert (event.name, event.data["title"]) == ("announcement", "From another process")
        assert reader.next_event() == Event("changes", {"seq": high_mark(world)})


def test_a_slow_console_gets_the_latest_news_coalesced() -> None:
    async def scenario() -> None:
        subscription = Subscription(frozenset({1}))
        assert await subscription.next(0.01) is None  # nothing yet: a heartbeat is due
        announcement = {"id": 7, "title": "old"}
        for seq in range(1, 101):
            subscription.offer(Batch(seq=seq, scopes={1 if seq % 2 else 2}))
        subscription.offer(Batch(seq=101, scopes={2}, announcements={7: announcement}))
        subscription.offer(
            Batch(seq=102, scopes={None}, announcements={7: {"id": 7, "title": "new"}})
        )
        assert await subscription.next(1) == (102, [{"id": 7, "title": "new"}])
        subscription.offer(Batch(seq=103, scopes={2}))  # another team's change
        assert await subscription.next(0.01) is None
        subscription.offer(Batch(seq=50, scopes={1}))  # older than what was sent
        assert await subscription.next(0.01) is None

    asyncio.run(scenario())


@pytest.mark.slow
def test_nothing_is_lost_when_the_listener_connection_drops(world: World, live: str) -> None:
    _pg_only(world)
    url = world.engine.url.render_as_string(hide_password=False)
    conninfo = world.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with reading(live, world.token("nina")) as reader:
        assert reader.next_event() is not None
        with psycopg.connect(conninfo, autocommit=True) as connection:
            killed = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f'LISTEN "{_channel(world)}"',),
            ).fetchall()
        assert killed == [(True,)]
        # written while the listener may be away: its notification may be lost, but
        # the listener reports the high mark when it is back
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, url, str(world.ids["lead"]), "Meanwhile", "commit"],
            cwd=ROOT,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0
        expected = high_mark(world)
        while True:
            event = reader.next_event()
            assert event is not None
            if event.name == "changes":
                assert event.data == {"seq": expected}
                break
