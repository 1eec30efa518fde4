"""PostgreSQL under concurrent writers: the feed never skips a committed change,
and a mutation sent several times at once applies once.  Runs only when
``OFFIMIZER_TEST_PG_URL`` is set."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from protocol import (
    AddCommentCommand,
    AddTagCommand,
    Command,
    CommandBatch,
    CommandResult,
    SetStatusCommand,
    TicketCreate,
)
from server import changes as feed
from server.db import make_engine, make_sessionmaker, transaction
from server.models import ChangeLog, Comment, Ticket, TicketHistory, User
from server.pushes import execute, execute_batch
from server.ticket_creation import create_ticket
from server.tickets import ticket_out
from tests.server.conftest import PG_URL, World, postgres_database

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs OFFIMIZER_TEST_PG_URL")

WRITERS = 8
OPERATIONS = 25


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """This module runs on PostgreSQL only."""
    assert PG_URL
    with postgres_database(PG_URL) as url:
        yield url


@pytest.fixture(scope="module")
def session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=WRITERS + 4)
    yield engine
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


def assert_history_keeps_time(session: Session) -> None:
    """For every ticket, its history sorted by version is sorted by time, and the ticket
    was last changed when its last entry says."""
    entries: dict[int, list[tuple[int, dt.datetime]]] = {}
    for entry in session.scalars(select(TicketHistory)):
        entries.setdefault(entry.ticket_id, []).append((entry.version, entry.at))
    for ticket in session.scalars(select(Ticket)):
        by_version = sorted(entries[ticket.id])
        times = [at for _version, at in by_version]
        assert times == sorted(times), (ticket.id, by_version)
        assert ticket.updated_at == times[-1], ticket.id


def test_a_reader_polling_during_concurrent_writes_ends_equal_to_the_database(
    world: World,
) -> None:
    factory = make_sessionmaker(world.engine)
    lead = world.ids["lead"]
    done = threading.Event()
    seen: list[int] = []
    state: dict[tuple[str, int], dict[str, Any] | None] = {}

    def write(seed: int) -> Callable[[], None]:
        chooser = random.Random(seed)

        def work() -> None:
            mine: list[int] = []
            for _ in range(OPERATIONS):
                if not mine or chooser.random() < 0.3:
                    with transaction(factory) as session:
                        changes = feed.ChangeSet()
                        user = session.get_one(User, lead)
                        request = TicketCreate(
                            subject=f"writer {seed}",
                            requester_name="Client",
                            requester_email="client@example.com",
                            organisation_id=world.ids["acme"],
                            team_id=world.ids["support"],
                        )
                        ticket = create_ticket(session, changes, user, request, world.clock())
                        changes.publish(session, world.clock())
                    mine.append(ticket.id)
                    continue
                target = chooser.choice(mine)
                with transaction(factory) as session:
                    version = session.get_one(Ticket, target).version
                base: dict[str, object] = {
                    "mutation_id": uuid.uuid4(),
                    "ticket_id": target,
                    "base_version": version,
                }
                kind = chooser.choice(["priority", "comment", "tag", "status"])
                payloads: dict[str, dict[str, object]] = {
                    "priority": {"type": "set_priority", "priority": "P1"},
                    "comment": {"type": "add_comment", "body": "hi", "public": True},
                    "tag": {"type": "add_tag", "tag": f"t{seed}"},
                    "status": {"type": "set_status", "status": "open"},
                }
                batch = CommandBatch.model_validate({"commands": [payloads[kind] | base]})
                result = execute(factory, lead, batch.commands[0], world.clock)
                assert result.status == "applied", result

        return work

    def read() -> None:
        cursor = 0

        def poll() -> int:
            nonlocal cursor
            with transaction(factory) as session:
                page = feed.read_page(session, cursor, 7, None)
            for change in page.changes:
                seen.append(change.seq)
                state[(change.entity, change.id)] = change.data
            cursor = int(page.next_cursor)
            return len(page.changes)

        while not done.is_set():
            poll()
        while poll():
            pass

    writers = [write(seed) for seed in range(WRITERS)]

    def writers_then_done() -> None:
        try:
            run_together(writers)
        finally:
            done.set()

    run_together([writers_then_done, read])

    with transaction(factory) as session:
        high = session.scalar(select(func.max(ChangeLog.seq)))
        assert seen == list(range(1, (high or 0) + 1))  # every change, once, in order
        tickets = list(session.scalars(select(Ticket)))
        assert len(tickets) >= WRITERS
        for ticket in tickets:
            expected = ticket_out(session, ticket, world.clock()).model_dump(mode="json")
            assert state[("ticket", ticket.id)] == expected
        comments = session.scalar(select(func.count()).select_from(Comment))
        history = session.scalar(select(func.count()).select_from(TicketHistory))
    assert sum(1 for key in state if key[0] == "comment") == comments
    assert sum(1 for key in state if key[0] == "history") == history
    with transaction(factory) as session:
        assert_history_keeps_time(session)


def test_the_same_mutation_sent_at_once_applies_once(world: World) -> None:
    factory = make_sessionmaker(world.engine)
    with transaction(factory) as session:
        changes = feed.ChangeSet()
        user = session.get_one(User, world.ids["lead"])
        request = TicketCreate(
            subject="shared",
            requester_name="Client",
            requester_email="client@example.com",
            organisation_id=world.ids["acme"],
            team_id=world.ids["support"],
        )
        ticket = create_ticket(session, changes, user, request, world.clock())
        changes.publish(session, world.clock())
        ticket_id, version = ticket.id, ticket.version
    mutation = uuid.uuid4()
    comment = AddCommentCommand(
        type="add_comment",
        mutation_id=mutation,
        ticket_id=ticket_id,
        base_version=version,
        body="only once",
        public=False,
    )
    tag = AddTagCommand(
        type="add_tag", mutation_id=uuid.uuid4(), ticket_id=ticket_id, base_version=version, tag="x"
    )
    results: list[tuple[uuid.UUID, CommandResult]] = []
    lock = threading.Lock()

    def send(command: Command) -> Callable[[], None]:
        def work() -> None:
            result = execute(factory, world.ids["lead"], command, world.clock)
            with lock:
                results.append((command.mutation_id, result))

        return work

    run_together([send(comment) for _ in range(6)] + [send(tag) for _ in range(6)])
    by_mutation: dict[uuid.UUID, set[str]] = {}
    for mutation_id, result in results:
        by_mutation.setdefault(mutation_id, set()).add(result.model_dump_json())
    assert all(len(answers) == 1 for answers in by_mutation.values())
    with transaction(factory) as session:
        comments = session.scalars(select(Comment).where(Comment.ticket_id == ticket_id))
        assert [c.body for c in comments] == ["only once"]
        assert session.get_one(Ticket, ticket_id).version == version + 2


def test_concurrent_status_changes_from_the_same_version_conflict(world: World) -> None:
    factory = make_sessionmaker(world.engine)
    with transaction(factory) as session:
        changes = feed.ChangeSet()
        user = session.get_one(User, world.ids["lead"])
        request = TicketCreate(
            subject="race",
            requester_name="Client",
            requester_email="client@example.com",
            organisation_id=world.ids["acme"],
            team_id=world.ids["support"],
        )
        ticket = create_ticket(session, changes, user, request, world.clock())
        changes.publish(session, world.clock())
        ticket_id, version = ticket.id, ticket.version
    statuses = ["open", "pending", "resolved", "closed"]
    results: list[str] = []
    lock = threading.Lock()

    def send(status: str) -> Callable[[], None]:
        command = SetStatusCommand.model_validate(
            {
                "type": "set_status",
                "mutation_id": uuid.uuid4(),
                "ticket_id": ticket_id,
                "base_version": version,
                "status": status,
            }
        )

        def work() -> None:
            result = execute(factory, world.ids["lead"], command, world.clock)
            with lock:
                results.append(result.status)

        return work

    run_together([send(status) for status in statuses])
    assert sorted(results) == ["applied", "conflict", "conflict", "conflict"]


def _open(world: World, factory: sessionmaker[Session], subject: str) -> int:
    with transaction(factory) as session:
        changes = feed.ChangeSet()
        user = session.get_one(User, world.ids["lead"])
        request = TicketCreate(
            subject=subject,
            requester_name="Client",
            requester_email="client@example.com",
            organisation_id=world.ids["acme"],
            team_id=world.ids["support"],
            priority="P3",
        )
        ticket = create_ticket(session, changes, user, request, world.clock())
        changes.publish(session, world.clock())
        return ticket.id


def _command(ticket_id: int, **fields: object) -> Command:
    batch = CommandBatch.model_validate(
        {
            "commands": [
                {"mutation_id": uuid.uuid4(), "ticket_id": ticket_id, "base_version": 0, **fields}
            ]
        }
    )
    return batch.commands[0]


def _waiting_on(engine: Engine, blocker: int, count: int) -> None:
    """Until ``count`` sessions wait on a lock held by backend ``blocker``."""
    deadline = time.monotonic() + 30
    with engine.connect() as connection:
        while True:
            waiting = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE CAST(:blocker AS integer) = ANY(pg_blocking_pids(pid))"
                ),
                {"blocker": blocker},
            )
            if waiting is not None and waiting >= count:
                return
            assert time.monotonic() < deadline, "nobody waits on the lock"
            time.sleep(0.01)  # polling for a state of the database, not timing anything


def test_a_push_that_waited_for_a_ticket_is_stamped_after_what_committed_meanwhile(
    world: World,
) -> None:
    factory = make_sessionmaker(world.engine)
    x = _open(world, factory, "printer")
    y = _open(world, factory, "scanner")
    ticks = itertools.count(1)
    tick_lock = threading.Lock()

    def clock() -> dt.datetime:  # every reading later than the one before
        with tick_lock:
            return world.clock() + dt.timedelta(seconds=next(ticks))

    lead = world.ids["lead"]
    first = [
        _command(x, type="add_tag", tag="jam"),
        _command(y, type="set_priority", priority="P4"),
    ]
    second = [_command(y, type="set_priority", priority="P1")]
    with world.engine.connect() as holder:
        holder.begin()
        blocker = holder.scalar(text("SELECT pg_backend_pid()"))
        holder.execute(select(Ticket.id).where(Ticket.id == x).with_for_update())
        pushes = [
            threading.Thread(target=execute_batch, args=(factory, lead, first, clock)),
            threading.Thread(target=execute_batch, args=(factory, lead, second, clock)),
        ]
        pushes[0].start()
        _waiting_on(world.engine, blocker, 1)  # the first push waits for ticket x
        pushes[1].run()  # the second commits meanwhile
        holder.rollback()
    pushes[0].join()
    with transaction(factory) as session:
        assert_history_keeps_time(session)
        priorities = [
            entry.after
            for entry in session.scalars(
                select(TicketHistory)
                .where(TicketHistory.ticket_id == y, TicketHistory.field == "priority")
                .order_by(TicketHistory.version)
            )
        ]
        assert priorities == ["P1", "P4"]
        # the SLA replays them in that order: P4's targets, not P1's
        shown = ticket_out(session, session.get_one(Ticket, y), clock())
        assert shown.priority.value == "P4"
        assert shown.sla.resolution.target_seconds > 97_200
