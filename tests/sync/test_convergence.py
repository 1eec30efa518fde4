"""Convergence under faults: several consoles, random offline periods, a misbehaving
network, concurrent reassignments by a team lead — against the real server
application (in process, through ``httpx.ASGITransport``).

After the network heals and every console syncs: each cache equals the server,
no command was applied twice, no edit was lost (each one applied, or kept as a
conflict, or kept as a rejection), and every conflict is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from protocol import Priority, Status
from server.app import create_app
from server.db import make_sessionmaker, transaction
from server.models import AppliedMutation
from sync.cache import Cache
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncEngine, SyncState
from sync.store import Store

from .fakes import RecordingSleep
from .faults import Fault, FaultyTransport
from .live_server import PASSWORD, LiveServer

T = TypeVar("T")
BASE = "http://127.0.0.1"
CONSOLES = ("alice", "bob", "lead")
TICKETS = 3


class Console:
    def __init__(
        self, name: str, directory: Path, app: Any, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.name = name
        self.cache = Cache.open(directory / f"{name}.sqlite3")
        self.store = Store(self.cache)
        self.transport = FaultyTransport(httpx.ASGITransport(app=app))
        self.client = ApiClient(
            BASE,
            transport=self.transport,
            retry=RetryPolicy(attempts=3),
            sleep=RecordingSleep(),
            random=random.Random(name).random,
        )
        self.engine = SyncEngine(self.store, self.client, username=name, live=False)
        self.issued: list[UUID] = []
        loop.run_until_complete(self.engine.login(PASSWORD))

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.run_until_complete(self.client.aclose())
        self.cache.close()


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="convergence-"))
        self.loop = asyncio.new_event_loop()
        self.live = LiveServer.create(self.directory)
        self.app = create_app(self.live.engine)
        self.consoles: dict[str, Console] = {}
        self.ticket_ids: list[int] = []
        self.bodies = itertools.count(1)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    async def _admin(self, method: str, path: str, **kwargs: Any) -> Any:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=BASE
        ) as http:
            login = await http.post(
                "/api/v1/auth/token", json={"username": "lead", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            response = await http.request(method, f"/api/v1{path}", headers=headers, **kwargs)
            response.raise_for_status()
            return response.json()

    @initialize()
    def setup(self) -> None:
        for n in range(TICKETS):
            body = {
                "subject": f"Ticket {n}",
                "requester_name": "Carla",
                "requester_email": "carla@example.com",
                "organisation_id": self.live.ids["acme"],
                "team_id": self.live.ids["support"],
            }
            self.ticket_ids.append(self.run(self._admin("POST", "/tickets", json=body))["id"])
        for name in CONSOLES:
            console = Console(name, self.directory, self.app, self.loop)
            assert self.run(console.engine.sync_once()).ok
            self.consoles[name] = console

    # -- what happens ---------------------------------------------------------------------

    @rule(
        who=st.sampled_from(CONSOLES),
        ticket=st.integers(0, TICKETS - 1),
        action=st.sampled_from(
            ["take", "give_bob", "unassign", "status", "comment", "tag", "priority"]
        ),
        status=st.sampled_from([Status.OPEN, Status.PENDING, Status.RESOLVED]),
    )
    def edit(self, who: str, ticket: int, action: str, status: Status) -> None:
        console = self.consoles[who]
        store, ticket_id = console.store, self.ticket_ids[ticket]
        ids = self.live.ids
        match action:
            case "take":
                mutation = store.assign(ticket_id, ids[who])
            case "give_bob":
                mutation = store.assign(ticket_id, ids["bob"])
            case "unassign":
                mutation = store.assign(ticket_id, None)
            case "status":
                mutation = store.set_status(ticket_id, status)
            case "comment":
                mutation = store.add_comment(ticket_id, f"note {next(self.bodies)}", public=False)
            case "tag":
                mutation = store.add_tag(ticket_id, f"t{ticket}")
            case _:
                mutation = store.set_priority(ticket_id, Priority.P1)
        console.issued.append(mutation)

    @rule(who=st.sampled_from(CONSOLES), offline=st.booleans())
    def network(self, who: str, offline: bool) -> None:
        self.consoles[who].transport.offline = offline

    @rule(
        who=st.sampled_from(CONSOLES),
        faults=st.lists(st.none() | st.sampled_from(list(Fault)), min_size=1, max_size=4),
    )
    def sync(self, who: str, faults: list[Fault | None]) -> None:
        console = self.consoles[who]
        console.transport.plan = list(faults)
        self.run(console.engine.sync_once())
        console.transport.plan = []

    # -- what must hold ---------------------------------------------------------------------

    @invariant()
    def nothing_is_lost_locally(self) -> None:
        for console in self.consoles.values():
            outbox = {c.mutation_id for c in console.store.queued()}
            settled = {
                c.command.mutation_id for c in console.store.conflicts(unresolved_only=False)
            }
            settled |= {r.command.mutation_id for r in console.store.rejected()}
            applied = self._server_answers()
            for mutation in console.issued:
                assert mutation in outbox or mutation in settled or str(mutation) in applied

    def _server_answers(self) -> dict[str, dict[str, Any]]:
        with transaction(make_sessionmaker(self.live.engine)) as session:
            rows = session.execute(select(AppliedMutation.mutation_id, AppliedMutation.result))
            return {key: result for key, result in rows}

    def teardown(self) -> None:
        try:
            if self.consoles:
                self.heal_and_check()
        finally:
            for console in self.consoles.values():
                console.close(self.loop)
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            self.live.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def heal_and_check(self) -> None:
        for console in self.consoles.values():
            console.transport.offline = False
            console.transport.plan = []
        for _round in range(3):  # pushes may need a pull first (automatic re-applies)
            for console in self.consoles.values():
                assert self.run(console.engine.sync_once()).ok
        for console in self.consoles.values():  # everyone sees everyone's last push
            assert self.run(console.engine.sync_once()).ok
            assert console.engine.status.state is SyncState.ONLINE

        answers = self._server_answers()
        server = {t: self.run(self._admin("GET", f"/tickets/{t}")) for t in self.ticket_ids}
        for console in self.consoles.values():
            assert console.store.queued() == []
            conflicts = console.store.conflicts(unresolved_only=False)
            rejected = console.store.rejected()
            # no edit lost: every command has the server's answer, and the console kept it
            replacements = {c.replacement_mutation_id for c in conflicts}
            for mutation in [*console.issued, *(r for r in replacements if r is not None)]:
                answer = answers[str(mutation)]
                if answer["status"] == "conflict":
                    assert mutation in {c.command.mutation_id for c in conflicts}
                elif answer["status"] == "rejected":
                    assert mutation in {r.command.mutation_id for r in rejected}
            # each cache equals the server
            for ticket_id, remote in server.items():
                mine = console.store.cache.ticket(ticket_id)
                assert mine is not None
                assert not mine.pending
                fields = ("version", "status", "assignee_id", "priority", "severity")
                assert {f: getattr(mine, f) for f in fields} == {f: remote[f] for f in fields}
                assert list(mine.tags) == remote["tags"]
                cached = [c.body for c in console.store.cache.comments(ticket_id)]
                assert cached == [c["body"] for c in remote["comments"]]
        # no command applied twice: each comment's text exists once on the server
        bodies = [c["body"] for t in server.values() for c in t["comments"]]
        assert len(bodies) == len(set(bodies))
        issued = sum(len(c.issued) for c in self.consoles.values())
        assert len(answers) >= issued


Convergence.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestConvergence = Convergence.TestCase
