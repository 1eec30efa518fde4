"""The sync loop against a scripted server: states, triggers, auth, progress, faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from protocol import Status
from sync.client import ApiClient, RetryPolicy
from sync.credentials import Credentials
from sync.engine import SyncEngine, SyncState, SyncStatus
from sync.store import Store

from .conftest import FakeClock, comment, me, ticket
from .fakes import FakeServer, ManualTimer, RecordingSleep, state_is, until
from .test_credentials import MemoryKeyring

URL = "https://help.example.com"


@pytest.fixture
def server() -> FakeServer:
    server = FakeServer()
    for ticket_id in (1, 2, 3):
        server.add_ticket(ticket_id)
    return server


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def credentials(server: FakeServer, keyring_backend: MemoryKeyring) -> Credentials:
    credentials = Credentials(URL, backend=keyring_backend)
    assert server.token is not None
    credentials.save("alice", server.token)
    return credentials


@pytest.fixture
def timer() -> ManualTimer:
    return ManualTimer()


@pytest_asyncio.fixture
async def client(server: FakeServer, clock: FakeClock) -> AsyncIterator[ApiClient]:
    async with ApiClient(
        URL,
        transport=server.transport(),
        random=random.Random(1).random,
        sleep=RecordingSleep(),
        clock=clock,
        retry=RetryPolicy(attempts=2),
    ) as made:
        yield made


@pytest_asyncio.fixture
async def engine(
    store: Store, client: ApiClient, credentials: Credentials, timer: ManualTimer
) -> AsyncIterator[SyncEngine]:
    made = SyncEngine(
        store,
        client,
        credentials=credentials,
        username="alice",
        interval=60.0,
        page_size=2,
        batch_size=2,
        random=random.Random(2).random,
        timer=timer,
        live=False,
    )
    yield made
    await made.stop()


async def started(engine: SyncEngine, seen: list[SyncStatus]) -> AsyncIterator[SyncStatus]:
    statuses = engine.statuses()
    seen.append(await anext(statuses))
    await engine.start()
    return statuses


@pytest.mark.asyncio
async def test_first_sync_goes_connecting_syncing_online_with_progress(
    engine: SyncEngine, server: FakeServer, store: Store, clock: FakeClock
) -> None:
    server.add_ticket(4)
    server.add_ticket(5)
    seen: list[SyncStatus] = []
    statuses = await started(engine, seen)
    await until(statuses, state_is(SyncState.ONLINE), seen)
    states = [s.state for s in seen]
    assert states[:3] == [SyncState.OFFLINE, SyncState.CONNECTING, SyncState.SYNCING]
    assert states[-1] is SyncState.ONLINE
    # five tickets, two a page: three pages, progress after each, out of the estimate
    progress = [s.progress for s in seen if s.progress is not None]
    assert [(p.pages, p.tickets, p.changes, p.estimate) for p in progress] == [
        (1, 2, 2, 5),
        (2, 4, 4, 5),
        (3, 5, 5, 5),
    ]
    assert progress[-1].fraction == 1.0
    final = seen[-1]
    assert final.progress is None
    assert final.last_sync_at == clock()
    assert final.clock_offset > dt.timedelta(seconds=4)  # the fake server runs 5 s ahead
    assert store.cache.clock_offset() == final.clock_offset
    assert store.cache.ticket_count() == 5
    assert store.cache.cursor() == "5"


@pytest.mark.asyncio
async def test_push_sends_the_outbox_in_order_in_batches_then_pulls(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    await engine.sync_once()
    ids = [
        store.assign(1, 7),
        store.add_comment(1, "On it", public=True),
        store.set_status(2, Status.PENDING),
        store.add_tag(3, "vip"),
        store.acknowledge(3),
    ]
    engine.commands_queued()
    assert engine.status.pending == 5
    server.requests.clear()
    report = await engine.sync_once()
    assert report.ok
    assert report.pushed == 5
    assert report.applied == 5
    posts = [r for r in server.requests if r.url.path.endswith("/commands")]
    assert len(posts) == 3  # batches of two
    assert server.executions == [str(i) for i in ids]  # in outbox order, each once
    assert store.queued() == []
    assert engine.status.pending == 0
    one = store.cache.ticket(1)
    assert one is not None
    assert one.assignee_id == 7
    assert not one.pending
    assert [c.body for c in store.cache.comments(1)] == ["On it"]
    assert server.paths()[-1] == "GET /api/v1/changes"  # pull after push


@pytest.mark.asyncio
async def test_expired_token_means_auth_required_and_the_outbox_is_kept(
    engine: SyncEngine,
    server: FakeServer,
    store: Store,
    keyring_backend: MemoryKeyring,
) -> None:
    seen: list[SyncStatus] = []
    statuses = await started(engine, seen)
    await until(statuses, state_is(SyncState.ONLINE), seen)
    store.set_status(1, Status.PENDING)
    store.add_comment(1, "Waiting for the customer", public=False)
    queued = store.queued()
    server.token = "revoked-by-admin"
    engine.commands_queued()
    status = await until(statuses, state_is(SyncState.AUTH_REQUIRED), seen)
    assert status.error is not None
    assert "sign in again" in status.error
    assert store.queued() == queued  # nothing lost
    assert status.pending == 2
    assert keyring_backend.secrets == {}  # the refused token is forgotten
    assert engine.client.token is None
    # no more tries on the timer until the user signs in again
    before = len(server.requests)
    engine.notify()
    await engine.wait_idle()
    assert len(server.requests) == before
    outcome = await engine.login("right")
    assert outcome.remembered
    await until(statuses, state_is(SyncState.ONLINE), seen)
    assert store.queued() == []
    assert engine.status.pending == 0
    assert list(keyring_backend.secrets.values()) == [server.token]
    assert server.tickets[1]["status"] == "pending"


@pytest.mark.asyncio
async def test_rows_whose_ticket_the_feed_never_brings_are_asked_for(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    # a feed that lists a comment of ticket 4 but not the ticket (as servers before the
    # change groups could, across pages), and one of a ticket no longer visible
    server.tickets[4] = ticket(4, 2)
    server.log.append(("comment", 70, comment(70, 4, "Logs attached")))
    server.log.append(("comment", 71, comment(71, 9, "Not ours")))
    report = await engine.sync_once()
    assert report.ok
    assert [c.body for c in store.cache.comments(4)] == ["Logs attached"]
    assert store.cache.ticket(4) is not None
    assert store.cache.comments(9) == []
    assert store.parked_tickets() == set()
    assert {"GET /api/v1/tickets/4", "GET /api/v1/tickets/9"} <= set(server.paths())


@pytest.mark.asyncio
async def test_a_malformed_page_changes_nothing_and_keeps_the_cursor(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    server.log.append(("ticket", 9, {"id": 9, "subject": "no version, no nothing"}))
    report = await engine.sync_once()
    assert not report.ok
    status = engine.status
    assert status.state is SyncState.ERROR
    assert status.error is not None
    assert "could not be understood" in status.error
    # pages of two: the first page (tickets 1, 2) is stored, the bad one is not
    assert store.cache.cursor() == "2"
    assert [t.id for t in store.cache.tickets()] == [1, 2]
    assert status.retry_at is not None
    assert status.last_sync_at is None


@pytest.mark.asyncio
async def test_a_batch_is_in_flight_only_while_it_is_being_pushed(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    """What a push carries cannot be withdrawn (an undo waits): the server may be
    applying it.  Before and after the push, answered or not, it can."""
    await engine.sync_once()
    mutation = store.assign(2, 9)
    seen: list[bool] = []

    def observe(request: httpx.Request) -> httpx.Response:
        with store.withdrawing() as in_flight:
            seen.append(in_flight(mutation))
        raise httpx.ConnectError("no route to host", request=request)

    with store.withdrawing() as in_flight:
        assert not in_flight(mutation)  # queued, not taken yet
    server.faults = [observe] * 4  # more than the client's own retries
    report = await engine.sync_once()
    assert not report.ok
    assert seen
    assert all(seen)
    with store.withdrawing() as in_flight:
        assert not in_flight(mutation)  # no answer: queued again (and attempted)
    server.faults = []  # the network is back
    report = await engine.sync_once()
    assert report.ok
    assert report.applied == 1
    with store.withdrawing() as in_flight:
        assert not in_flight(mutation)


@pytest.mark.asyncio
async def test_offline_keeps_work_and_probes_until_the_server_answers(
    engine: SyncEngine, server: FakeServer, store: Store, timer: ManualTimer
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    await engine.sync_once()
    store.assign(2, 9)
    server.faults = [refuse] * 4  # the pass's push (tried twice), then two probes
    seen: list[SyncStatus] = []
    statuses = await started(engine, seen)
    status = await until(statuses, state_is(SyncState.OFFLINE), seen)
    assert status.pending == 1
    assert status.error is not None
    assert status.retry_at is not None
    # the next try is a probe within seconds (jittered), not the 60 s interval
    await engine.wait_idle()
    first = timer.delays[-1]
    assert engine.probe * 0.5 <= first < engine.probe * 1.5
    timer.fire()
    await until(statuses, lambda s: s.state is SyncState.OFFLINE and s.retry_at != status.retry_at)
    await engine.wait_idle()
    assert server.paths()[-1] == "GET /api/v1/me"  # a probe: no push tried again
    assert engine.probe * 0.5 <= timer.delays[-1] < engine.probe * 1.5
    again = engine.status.retry_at
    timer.fire()
    await until(statuses, lambda s: s.state is SyncState.OFFLINE and s.retry_at != again)
    await engine.wait_idle()
    timer.fire()  # the network is back
    await until(statuses, state_is(SyncState.ONLINE), seen)
    assert store.queued() == []
    assert server.tickets[2]["assignee_id"] == 9
    await engine.wait_idle()
    assert timer.delays[-1] == 60.0  # back to the normal interval


@pytest.mark.asyncio
async def test_every_trigger_starts_a_pass(
    engine: SyncEngine, server: FakeServer, timer: ManualTimer
) -> None:
    def pulls() -> int:
        return server.paths().count("GET /api/v1/changes")

    seen: list[SyncStatus] = []
    statuses = await started(engine, seen)  # on start
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    counts = [pulls()]
    timer.fire()  # on the timer
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    counts.append(pulls())
    engine.notify()  # on "changes available"
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    counts.append(pulls())
    engine.sync_now()  # on "sync now"
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    counts.append(pulls())
    engine.set_online(False)  # connectivity lost: no pass on the timer
    assert (await anext(statuses)).state is SyncState.OFFLINE
    await engine.wait_idle()
    timer.fire()
    await engine.wait_idle()
    counts.append(pulls())
    engine.set_online(True)  # and back: at once
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    counts.append(pulls())
    assert counts == [2, 3, 4, 5, 5, 6]  # the first sync reads two pages


@pytest.mark.asyncio
async def test_triggers_during_a_pass_coalesce(engine: SyncEngine, server: FakeServer) -> None:
    seen: list[SyncStatus] = []
    statuses = await started(engine, seen)
    await until(statuses, state_is(SyncState.SYNCING))
    for _ in range(5):
        engine.notify()
        engine.sync_now()
    await until(statuses, state_is(SyncState.ONLINE))
    await until(statuses, state_is(SyncState.ONLINE))
    await engine.wait_idle()
    # the first pass, and one more for all the triggers it saw
    assert server.paths().count("GET /api/v1/changes") == 2 + 1


@pytest.mark.asyncio
async def test_server_busy_waits_as_told(
    engine: SyncEngine, server: FakeServer, timer: ManualTimer
) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "600"})
    server.faults = [lambda r: busy]
    await engine.start()
    await engine.wait_idle()
    assert engine.status.state is SyncState.ERROR
    assert engine.status.error is not None
    assert "600 seconds" in engine.status.error
    assert timer.delays == [600.0]


@pytest.mark.asyncio
async def test_conflicts_and_rejections_are_counted(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    await engine.sync_once()
    store.assign(1, 7)
    store.set_status(2, Status.RESOLVED)
    server.change_ticket(1, assignee_id=8)  # a lead reassigned it meanwhile
    del server.tickets[2]  # and ticket 2 is gone for this user
    await engine.sync_once()
    status = engine.status
    assert (status.pending, status.conflicts, status.rejected) == (0, 1, 1)
    [conflict] = store.conflicts()
    assert conflict.fields == ("assignee_id",)
    assert conflict.server_ticket.assignee_id == 8


@pytest.mark.asyncio
async def test_an_unknown_cursor_restarts_the_feed(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    await engine.sync_once()
    server.log = server.log[:1]  # the server was restored from an older backup
    report = await engine.sync_once()
    assert report.ok
    assert store.cache.cursor() == "1"


@pytest.mark.asyncio
async def test_logout_revokes_and_forgets_the_token(
    engine: SyncEngine, server: FakeServer, store: Store, keyring_backend: MemoryKeyring
) -> None:
    await engine.start()
    await engine.wait_idle()
    token = server.token
    store.acknowledge(1)
    outcome = await engine.logout()
    assert outcome.revoked
    assert outcome.notice is None
    assert server.revoked == [token]
    assert keyring_backend.secrets == {}
    assert engine.status.state is SyncState.AUTH_REQUIRED
    assert len(store.queued()) == 1  # sent after the next sign-in


@pytest.mark.asyncio
async def test_live_notifications_trigger_a_pull(
    store: Store, client: ApiClient, credentials: Credentials, server: FakeServer
) -> None:
    server.events = [b': hello\n\nevent: changes\ndata: {"seq": 4}\nid: 4\n\n']
    timer = ManualTimer()
    engine = SyncEngine(store, client, credentials=credentials, username="alice", timer=timer)
    received: list[str] = []
    engine.on_event(lambda event: received.append(event.event))
    try:
        await engine.start()
        statuses = engine.statuses()
        await until(statuses, state_is(SyncState.ONLINE))
        await until(statuses, state_is(SyncState.ONLINE))  # the notice's pass
        assert received == ["changes"]
        assert server.paths().count("GET /api/v1/events") >= 1
    finally:
        await engine.stop()


@pytest.mark.asyncio
async def test_no_token_at_start_means_sign_in_first(
    store: Store, client: ApiClient, server: FakeServer, keyring_backend: MemoryKeyring
) -> None:
    credentials = Credentials(URL, backend=keyring_backend)
    engine = SyncEngine(store, client, credentials=credentials, username="alice", live=False)
    await engine.start()
    await engine.wait_idle()
    assert engine.status.state is SyncState.AUTH_REQUIRED
    assert server.requests == []
    await engine.stop()


@pytest.mark.asyncio
async def test_joining_a_team_reads_the_feed_again_for_its_tickets(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    server.log.insert(0, ("user", 42, me(1)))
    await engine.sync_once()
    assert store.cache.ticket(7) is None
    # a ticket of team 2, written before alice could see it: behind her cursor
    server.log.insert(1, ("ticket", 7, ticket(7, team_id=2)))
    server.log.append(("user", 42, me(1, 2)))  # then she joins team 2
    report = await engine.sync_once()
    assert report.ok
    found = store.cache.ticket(7)
    assert found is not None
    assert found.team_id == 2
    assert store.cache.cursor() == str(len(server.log))


@pytest.mark.asyncio
async def test_leaving_a_team_empties_it_from_the_cache(
    engine: SyncEngine, server: FakeServer, store: Store
) -> None:
    server.log.insert(0, ("user", 42, me(1, 2)))
    server.add_ticket(7, team_id=2)
    await engine.sync_once()
    assert store.cache.ticket(7) is not None
    server.log.append(("user", 42, me(1)))
    await engine.sync_once()
    assert store.cache.ticket(7) is None
    assert store.cache.ticket(1) is not None


class _HeldPulls(httpx.AsyncBaseTransport):
    """The fake server, with each page of the feed held on its way back until the test
    lets it go (the server answered while the token was still good)."""

    def __init__(self, server: FakeServer) -> None:
        self.inner = server.transport()
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/changes"):
            self.arrived.set()
            await self.release.wait()
        return response


@pytest.mark.asyncio
async def test_signing_out_during_a_pass_leaves_the_console_signed_out(
    server: FakeServer, store: Store, credentials: Credentials, clock: FakeClock
) -> None:
    held = _HeldPulls(server)
    async with ApiClient(URL, transport=held, clock=clock, retry=RetryPolicy(attempts=1)) as api:
        engine = SyncEngine(store, api, credentials=credentials, username="alice", live=False)
        passing = asyncio.ensure_future(engine.sync_once())
        await held.arrived.wait()  # the server has answered the pass
        await engine.logout()
        held.release.set()
        await passing
        assert engine.status.state is SyncState.AUTH_REQUIRED
        assert api.token is None
        await engine.stop()
