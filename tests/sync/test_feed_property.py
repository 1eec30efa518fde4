"""The feed as a property: whatever happens on the server, in whatever pages it is read,
every console's cache holds exactly what the server says its user may see.

Random sequences of server changes (comments, tags, statuses, reassignments, team
moves out and back, several commands of one push on a ticket, role and team changes
of the consoles' users) are read by long-lived consoles syncing now and then, and at
the end by brand-new consoles reading from the start, with pages of 1, 2, 7 and
1,000 changes: field for field, comment for comment, history entry for history entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from sqlalchemy import Engine, select, text

from protocol import Command, Role, TicketCreate
from server import changes as feed
from server.app import create_app
from server.db import make_engine, make_sessionmaker, transaction
from server.directory import create_team, create_user, set_access
from server.models import Team, Ticket, User
from server.permissions import visible_team_ids
from server.pushes import execute_batch
from server.ticket_creation import create_ticket
from server.tickets import ticket_detail
from sync.cache import Cache
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncEngine
from sync.store import Store

from .fakes import RecordingSleep
from .live_server import PASSWORD, LiveServer

BASE = "http://127.0.0.1"
READERS = ("alice", "bob", "lead")
PAGE_SIZES = (1, 2, 7, 1000)
TEAMS = ("support", "network", "billing")
TICKETS = 4
COMMANDS: TypeAdapter[Command] = TypeAdapter(Command)
T0 = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated server database with its teams and users, copied for each example."""
    directory = tmp_path_factory.mktemp("feed-template")
    live = LiveServer.create(directory)
    with transaction(make_sessionmaker(live.engine)) as session:
        changes = feed.ChangeSet()
        for name in ("Network", "Billing"):
            create_team(session, changes, name)
        create_user(
            session,
            changes,
            T0,
            username="root",
            role=Role.ADMIN,
            password_hash=session.scalar(select(User.password_hash).limit(1)),
        )
        changes.publish(session, T0)
    live.engine.dispose()
    return directory / "server.db"


class World:
    """The server (in process) and what the example does to it."""

    def __init__(self, template: Path) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="feed-property-"))
        shutil.copy(template, self.directory / "server.db")
        self.engine: Engine = make_engine(f"sqlite:///{self.directory / 'server.db'}")
        self.factory = make_sessionmaker(self.engine)
        self.now = T0
        self.app = create_app(self.engine, clock=lambda: self.now)
        self.loop = asyncio.new_event_loop()
        with transaction(self.factory) as session:
            self.users = {u.username: u.id for u in session.scalars(select(User))}
            self.teams: dict[str, int] = {
                name: session.scalars(select(Team.id).where(Team.name == name.capitalize())).one()
                for name in TEAMS
            }
        self.tickets: list[int] = []
        self.consoles: list[tuple[str, Cache, SyncEngine]] = []

    def clock(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        for _name, cache, engine in self.consoles:
            self.run(engine.client.aclose())
            cache.close()
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()
        self.engine.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- the server's side ------------------------------------------------------------

    def open_ticket(self, team: str) -> None:
        request = TicketCreate(
            subject=f"Printer {len(self.tickets)} jams",
            description="Since this morning.",
            requester_name="Carla Customer",
            requester_email="carla@example.com",
            organisation_id=1,
            team_id=self.teams[team],
        )
        now = self.clock()
        with transaction(self.factory) as session:
            root = session.get(User, self.users["root"])
            assert root is not None
            changes = feed.ChangeSet()
            self.tickets.append(create_ticket(session, changes, root, request, now).id)
            changes.publish(session, now)

    def push(self, ticket: int, *commands: dict[str, Any]) -> None:
        """One push of an admin's commands on one ticket, against its current version."""
        ticket_id = self.tickets[ticket % len(self.tickets)]
        with transaction(self.factory) as session:
            version = session.scalar(select(Ticket.version).where(Ticket.id == ticket_id))
        batch: list[Command] = [
            COMMANDS.validate_python(
                {
                    "mutation_id": str(uuid4()),
                    "ticket_id": ticket_id,
                    "base_version": version,
                    **command,
                }
            )
            for command in commands
        ]
        execute_batch(self.factory, self.users["root"], batch, self.clock)

    def set_access(self, username: str, role: Role, teams: list[str]) -> None:
        now = self.clock()
        with transaction(self.factory) as session:
            user = session.get(User, self.users[username])
            assert user is not None
            changes = feed.ChangeSet()
            set_access(session, changes, user, role, [self.teams[t] for t in teams])
            changes.publish(session, now)

    def visible(self, username: str) -> dict[str, Any]:
        """What the server says ``username`` may see of the tickets, as the cache keeps it."""
        with transaction(self.factory) as session:
            user = session.get(User, self.users[username])
            assert user is not None
            teams = visible_team_ids(user)
            query = select(Ticket).order_by(Ticket.id)
            if teams is not None:
                query = query.where(Ticket.team_id.in_(teams))
            details = [ticket_detail(session, t, self.now) for t in session.scalars(query)]
        return {
            "tickets": [
                d.model_dump(mode="json", exclude={"sla", "comments", "history"}) for d in details
            ],
            "comments": [
                (c.id, c.ticket_id, c.author_id, c.body, c.public, c.created_at)
                for d in details
                for c in d.comments
            ],
            "history": [
                (h.id, h.ticket_id, h.version, h.actor_id, h.at, h.field, h.before, h.after)
                for d in details
                for h in d.history
            ],
        }

    # -- the consoles -------------------------------------------------------------------

    def console(self, username: str, page_size: int) -> tuple[Cache, SyncEngine]:
        cache = Cache.open(self.directory / f"{username}-{len(self.consoles)}.sqlite3")
        client = ApiClient(
            BASE,
            transport=httpx.ASGITransport(app=self.app),
            retry=RetryPolicy(attempts=1),
            sleep=RecordingSleep(),
            random=random.Random(1).random,
        )
        engine = SyncEngine(
            Store(cache), client, username=username, page_size=page_size, live=False
        )
        self.run(engine.login(PASSWORD))
        self.consoles.append((username, cache, engine))
        return cache, engine

    def sync(self, engine: SyncEngine) -> None:
        report = self.run(engine.sync_once())
        assert report.ok, engine.status.error


def cached(cache: Cache) -> dict[str, Any]:
    with cache.read() as connection:
        tickets = connection.execute(text("SELECT server_row FROM tickets ORDER BY id")).scalars()
        comments = connection.execute(
            text(
                "SELECT server_id, ticket_id, author_id, body, public, created_at"
                " FROM comments ORDER BY ticket_id, server_id"
            )
        ).all()
        history = connection.execute(
            text(
                'SELECT server_id, ticket_id, version, actor_id, at, field, before, "after"'
                " FROM ticket_history ORDER BY ticket_id, server_id"
            )
        ).all()
        rows = [
            {key: value for key, value in json.loads(row).items() if key != "sla"}
            for row in tickets
        ]
    return {
        "tickets": rows,
        "comments": [
            (r[0], r[1], r[2], r[3], bool(r[4]), dt.datetime.fromisoformat(r[5])) for r in comments
        ],
        "history": [
            (r[0], r[1], r[2], r[3], dt.datetime.fromisoformat(r[4]), *r[5:]) for r in history
        ],
    }


def ordered(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "tickets": snapshot["tickets"],
        "comments": sorted(snapshot["comments"], key=lambda c: (c[1], c[0])),
        "history": sorted(snapshot["history"], key=lambda h: (h[1], h[0])),
    }


team = st.sampled_from(TEAMS)
ticket = st.integers(0, TICKETS - 1)
steps = st.one_of(
    st.tuples(st.just("comment"), ticket, st.booleans()),
    st.tuples(st.just("tag"), ticket, st.sampled_from(["vip", "printer", "pdf"])),
    st.tuples(st.just("status"), ticket, st.sampled_from(["open", "pending", "resolved"])),
    st.tuples(st.just("assign"), ticket, st.sampled_from([*READERS, None])),
    st.tuples(st.just("move"), ticket, team),
    # the push that lost comments: a move back into a team and a touch, together
    st.tuples(st.just("move_and_tag"), ticket, team),
    st.tuples(st.just("move_out_and_back"), ticket, team),
    st.tuples(
        st.just("access"),
        st.sampled_from(READERS),
        st.sampled_from([Role.AGENT, Role.TEAM_LEAD, Role.ADMIN]),
        st.lists(team, unique=True, max_size=3),
    ),
    st.tuples(st.just("sync"), st.integers(0, len(READERS) - 1)),
)


def apply(world: World, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "comment":
        world.push(step[1], {"type": "add_comment", "body": "Restarted it", "public": step[2]})
    elif kind == "tag":
        world.push(step[1], {"type": "add_tag", "tag": step[2]})
    elif kind == "status":
        world.push(step[1], {"type": "set_status", "status": step[2]})
    elif kind == "assign":
        assignee = None if step[2] is None else world.users[step[2]]
        world.push(step[1], {"type": "assign", "assignee_id": assignee})
    elif kind == "move":
        world.push(step[1], {"type": "set_team", "team_id": world.teams[step[2]]})
    elif kind == "move_and_tag":
        world.push(
            step[1],
            {"type": "set_team", "team_id": world.teams[step[2]]},
            {"type": "add_tag", "tag": "moved"},
        )
    elif kind == "move_out_and_back":
        with transaction(world.factory) as session:
            ticket_id = world.tickets[step[1]]
            home = session.scalar(select(Ticket.team_id).where(Ticket.id == ticket_id))
        world.push(
            step[1],
            {"type": "set_team", "team_id": world.teams[step[2]]},
            {"type": "add_comment", "body": "Passing by", "public": False},
            {"type": "set_team", "team_id": home},
        )
    elif kind == "access":
        world.set_access(step[1], step[2], step[3])


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    homes=st.lists(team, min_size=TICKETS, max_size=TICKETS),
    sizes=st.lists(
        st.sampled_from(PAGE_SIZES), min_size=2 * len(READERS), max_size=2 * len(READERS)
    ),
    story=st.lists(steps, max_size=25),
)
def test_every_cache_holds_what_its_user_may_see(
    template: Path, homes: list[str], sizes: list[int], story: list[tuple[Any, ...]]
) -> None:
    world = World(template)
    try:
        world.set_access("bob", Role.AGENT, ["network"])
        for home in homes:
            world.open_ticket(home)
            hello = {"type": "add_comment", "body": "Hello", "public": True}
            world.push(len(world.tickets) - 1, hello)
        long_lived = [
            world.console(name, size)[1] for name, size in zip(READERS, sizes, strict=False)
        ]
        for engine in long_lived:
            world.sync(engine)
        for step in story:
            if step[0] == "sync":
                world.sync(long_lived[step[1]])
            else:
                apply(world, step)
        for engine in long_lived:
            world.sync(engine)
        for name, cache, _engine in list(world.consoles):
            assert ordered(cached(cache)) == ordered(world.visible(name)), name
        for name, size in zip(READERS, sizes[len(READERS) :], strict=True):
            cache, engine = world.console(name, size)  # brand-new: from the start
            world.sync(engine)
            assert ordered(cached(cache)) == ordered(world.visible(name)), (name, size)
    finally:
        world.close()
