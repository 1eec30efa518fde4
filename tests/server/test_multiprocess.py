"""Two real ``offimizer-server serve`` servers (the second with ``--workers 2``: three
processes in all) on one PostgreSQL database: both
start at once on an empty database, then take concurrent commands (the same
mutation ids sent to both at once among them) while feeds are read through
both.  Nothing is lost, nothing applied twice, and each feed equals the
database.  Runs only when ``OFFIMIZER_TEST_PG_URL`` is set."""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from protocol import Role
from server import changes as feed
from server.db import make_engine, make_sessionmaker, transaction
from server.directory import create_organisation, create_team, create_user
from server.models import AppliedMutation, ChangeLog, Comment, Ticket, TicketHistory
from server.signin import issue_token
from server.tickets import comment_out, history_out, ticket_out
from tests.server.conftest import PG_URL, _with_search_path
from tests.server.served import Served

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs OFFIMIZER_TEST_PG_URL"),
    pytest.mark.slow,
]

REQUEST_TIMEOUT = 30.0
TICKETS = 12
WRITERS_PER_SERVER = 3
COMMANDS_PER_WRITER = 20
SHARED_BATCHES = 10


@pytest.fixture(scope="module")
def empty_database() -> Iterator[str]:
    """A PostgreSQL schema of its own, empty (the servers migrate it), dropped after."""
    assert PG_URL
    schema = f"multi_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def servers(empty_database: str) -> Iterator[list[Served]]:
    """Two servers (one with two worker processes) started at once on one empty database."""
    started: list[Served] = []
    try:
        for workers in (1, 2):  # the second is one server of two worker processes
            started.append(Served.start(empty_database, "--workers", str(workers)))
        for server in started:
            server.wait_started()
        yield started
    finally:
        for server in started:
            server.stop()


@dataclass
class Setup:
    engine: Engine
    clients: list[httpx.Client]
    headers: dict[str, str]
    ids: dict[str, int]


@pytest.fixture(scope="module")
def setup(servers: list[Served], empty_database: str) -> Iterator[Setup]:
    engine = make_engine(empty_database)
    now = dt.datetime.now(dt.UTC)
    with transaction(make_sessionmaker(engine)) as session:
        changes = feed.ChangeSet()
        team = create_team(session, changes, "Support")
        organisation = create_organisation(session, changes, "Acme", "enterprise")
        lead = create_user(
            session,
            changes,
            now,
            username="lead",
            role=Role.TEAM_LEAD,
            password="x" * 12,
            team_ids=[team.id],
        )
        changes.publish(session, now)
        token = issue_token(session, lead.id, now, dt.timedelta(hours=1))
        ids = {"team": team.id, "organisation": organisation.id, "lead": lead.id}
    clients = [httpx.Client(base_url=s.url, timeout=REQUEST_TIMEOUT) for s in servers]
    try:
        yield Setup(engine, clients, {"Authorization": f"Bearer {token}"}, ids)
    finally:
        for client in clients:
            client.close()
        engine.dispose()


def run_together(workers: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def wrap(work: Callable[[], None]) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=wrap, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


class Reader:
    """Follows the change feed through one server; keeps the latest state."""

    def __init__(self, client: httpx.Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.cursor = ""
        self.seqs: list[int] = []
        self.state: dict[tuple[str, int], dict[str, Any]] = {}

    def poll(self) -> int:
        read = 0
        while True:
            response = self.client.get(
                "/api/v1/changes",
                params={"cursor": self.cursor, "limit": 50},
                headers=self.headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            for change in page["changes"]:
                self.seqs.append(change["seq"])
                key = (change["entity"], change["id"])
                if change["op"] == "delete":
                    self.state.pop(key, None)
                else:
                    self.state[key] = change["data"]
            read += len(page["changes"])
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return read


def test_both_servers_came_up_on_one_empty_database(setup: Setup) -> None:
    for client in setup.clients:
        response = client.get("/api/v1/me", headers=setup.headers)
        assert response.status_code == 200, response.text
        assert response.json()["username"] == "lead"
        assert "date" in response.headers


class Traffic:
    """Tickets and commands sent to both servers from many threads, and their answers."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.lock = threading.Lock()
        self.created: list[dict[str, Any]] = []
        self.answers: dict[str, set[str]] = {}  # mutation id -> the answers it got (JSON)
        self.kinds: dict[str, str] = {}  # mutation id -> command type
        self.ticket_ids: list[int] = []  # the tickets the commands go to

    def create(self, client: httpx.Client, number: int, mutation_id: str) -> Callable[[], None]:
        body = {
            "mutation_id": mutation_id,
            "subject": f"ticket {number}",
            "requester_name": "Carla Customer",
            "requester_email": "carla@example.com",
            "organisation_id": self.setup.ids["organisation"],
            "team_id": self.setup.ids["team"],
        }

        def work() -> None:
            response = client.post("/api/v1/tickets", json=body, headers=self.setup.headers)
            assert response.status_code in (200, 201), response.text
            with self.lock:
                self.created.append(response.json())

        return work

    def send(self, client: httpx.Client, batch: list[dict[str, object]]) -> None:
        response = client.post(
            "/api/v1/commands", json={"commands": batch}, headers=self.setup.headers
        )
        assert response.status_code == 200, response.text
        with self.lock:
            for result in response.json()["results"]:
                self.answers.setdefault(result["mutation_id"], set()).add(
                    json.dumps(result, sort_keys=True)
                )

    def command(self, chooser: random.Random, tag: str) -> dict[str, object]:
        kind = chooser.choice(["comment", "tag", "priority", "acknowledge"])
        payloads: dict[str, dict[str, object]] = {
            "comment": {"type": "add_comment", "body": f"note {tag}", "public": False},
            "tag": {"type": "add_tag", "tag": tag},
            "priority": {"type": "set_priority", "priority": chooser.choice(["P1", "P2", "P3"])},
            "acknowledge": {"type": "acknowledge"},
        }
        payload = payloads[kind]
        mutation_id = str(uuid.uuid4())
        with self.lock:
            self.kinds[mutation_id] = str(payload["type"])
        return {
            **payload,
            "mutation_id": mutation_id,
            "ticket_id": chooser.choice(self.ticket_ids),
            "base_version": 0,
        }

    def writer(self, client: httpx.Client, seed: int) -> Callable[[], None]:
        chooser = random.Random(seed)

        def work() -> None:
            for number in range(COMMANDS_PER_WRITER):
                self.send(client, [self.command(chooser, f"w{seed}-{number}")])

        return work

    def shared(self, seed: int) -> list[Callable[[], None]]:
        """One batch, sent to both servers at the same moment."""
        chooser = random.Random(1000 + seed)
        batch = [self.command(chooser, f"s{seed}-{number}") for number in range(3)]
        return [functools.partial(self.send, client, batch) for client in self.setup.clients]


def reading(reader: Reader, done: threading.Event) -> Callable[[], None]:
    """Poll until ``done``, then once more: the reader ends with everything."""

    def work() -> None:
        while not done.is_set():
            reader.poll()
        reader.poll()

    return work


def feed_state(session: Session) -> dict[tuple[str, int], dict[str, Any]]:
    """The tickets (without their SLA, which moves with time), comments and history
    entries as the database holds them: what a feed reader should end with."""
    expected: dict[tuple[str, int], dict[str, Any]] = {}
    anchor = dt.datetime.now(dt.UTC)
    for ticket in session.scalars(select(Ticket)):
        data = ticket_out(session, ticket, anchor).model_dump(mode="json")
        data.pop("sla")
        expected[("ticket", ticket.id)] = data
    for comment in session.scalars(select(Comment)):
        expected[("comment", comment.id)] = comment_out(comment).model_dump(mode="json")
    for entry in session.scalars(select(TicketHistory)):
        expected[("history", entry.id)] = history_out(entry).model_dump(mode="json")
    return expected


def test_concurrent_work_through_two_servers_loses_and_duplicates_nothing(setup: Setup) -> None:
    traffic = Traffic(setup)
    # every creation sent to both servers at once, with one mutation id
    creations = []
    for number in range(TICKETS):
        mutation_id = str(uuid.uuid4())
        creations += [traffic.create(client, number, mutation_id) for client in setup.clients]
    run_together(creations)
    traffic.ticket_ids = sorted({ticket["id"] for ticket in traffic.created})
    assert len(traffic.ticket_ids) == TICKETS

    readers = [Reader(client, setup.headers) for client in setup.clients]
    done = threading.Event()
    writers = [
        traffic.writer(client, seed + index * 100)
        for index, client in enumerate(setup.clients)
        for seed in range(WRITERS_PER_SERVER)
    ]
    shared_sends = [work for seed in range(SHARED_BATCHES) for work in traffic.shared(seed)]

    def write_then_done() -> None:
        try:
            run_together(writers + shared_sends)
        finally:
            done.set()

    run_together([write_then_done, *(reading(reader, done) for reader in readers)])

    sent = len(writers) * COMMANDS_PER_WRITER + SHARED_BATCHES * 3
    answers = traffic.answers
    assert len(answers) == sent
    assert all(len(given) == 1 for given in answers.values())  # one answer per mutation
    statuses = {json.loads(answer)["status"] for given in answers.values() for answer in given}
    assert statuses == {"applied"}

    factory = make_sessionmaker(setup.engine)
    with transaction(factory) as session:
        high = session.scalar(select(func.max(ChangeLog.seq))) or 0
        applied = session.scalar(select(func.count()).select_from(AppliedMutation))
        assert applied == sent + TICKETS  # every mutation recorded once
        assert session.scalar(select(func.count()).select_from(Ticket)) == TICKETS
        comments = session.scalar(select(func.count()).select_from(Comment))
        assert comments == sum(1 for kind in traffic.kinds.values() if kind == "add_comment")
        expected = feed_state(session)
    for reader in readers:
        assert reader.seqs == list(range(1, high + 1))  # every change, once, in order
        seen = {
            key: {name: value for name, value in data.items() if name != "sla"}
            for key, data in reader.state.items()
            if key[0] in ("ticket", "comment", "history")
        }
        assert seen == expected


def test_colliding_batches_through_every_process_are_never_a_500(setup: Setup) -> None:
    """Ten consoles push batches of 2 to 5 commands on the same 4 tickets through both
    servers at once: every push is answered 200, every command applied exactly once, and
    every ticket's history keeps time with its versions."""
    clients, headers = setup.clients, setup.headers
    tickets = []
    for number in range(4):
        body = {
            "subject": f"shared {number}",
            "requester_name": "Carla Customer",
            "requester_email": "carla@example.com",
            "organisation_id": setup.ids["organisation"],
            "team_id": setup.ids["team"],
        }
        response = clients[0].post("/api/v1/tickets", json=body, headers=headers)
        assert response.status_code == 201, response.text
        tickets.append(response.json()["id"])
    statuses: list[int] = []
    applied: list[str] = []
    lock = threading.Lock()

    def console(seed: int) -> Callable[[], None]:
        chooser = random.Random(seed)

        def work() -> None:
            for round_ in range(12):
                batch = []
                for number in range(chooser.randint(2, 5)):
                    payload: dict[str, object] = chooser.choice(
                        [
                            {"type": "add_tag", "tag": f"c{seed}"},
                            {
                                "type": "add_comment",
                                "body": f"{seed}/{round_}/{number}",
                                "public": False,
                            },
                            {"type": "set_priority", "priority": chooser.choice(["P1", "P4"])},
                            {"type": "acknowledge"},
                        ]
                    )
                    batch.append(
                        {
                            **payload,
                            "mutation_id": str(uuid.uuid4()),
                            "ticket_id": chooser.choice(tickets),
                            "base_version": 0,
                        }
                    )
                client = clients[(seed + round_) % len(clients)]
                response = client.post(
                    "/api/v1/commands", json={"commands": batch}, headers=headers
                )
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        applied.extend(
                            r["mutation_id"]
                            for r in response.json()["results"]
                            if r["status"] == "applied"
                        )

        return work

    run_together([console(seed) for seed in range(10)])
    assert statuses == [200] * 120
    with transaction(make_sessionmaker(setup.engine)) as session:
        recorded = set(
            session.scalars(
                select(AppliedMutation.mutation_id).where(AppliedMutation.mutation_id.in_(applied))
            )
        )
        assert recorded == set(applied)
        assert len(applied) == len(set(applied))
        times: dict[int, list[tuple[int, dt.datetime]]] = {}
        for entry in session.scalars(
            select(TicketHistory).where(TicketHistory.ticket_id.in_(tickets))
        ):
            times.setdefault(entry.ticket_id, []).append((entry.version, entry.at))
        for ticket_id, entries in times.items():
            in_order = [at for _version, at in sorted(entries)]
            assert in_order == sorted(in_order), ticket_id
