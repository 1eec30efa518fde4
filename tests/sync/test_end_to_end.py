"""The console's sync engine against the real reference server on a loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from protocol import Priority, Status
from sync.client import ApiClient, RetryPolicy, TlsError
from sync.credentials import Credentials
from sync.engine import SyncEngine, SyncState
from sync.store import Store

from .fakes import RecordingSleep
from .live_engine import live_engine
from .live_server import PASSWORD, LiveServer
from .test_credentials import MemoryKeyring
from .tls_files import make_pki


@pytest.fixture
def store(console_store: Store) -> Store:
    """Here, the store is the cache of a console of the live server."""
    return console_store


@pytest_asyncio.fixture
async def engine(live: LiveServer, store: Store) -> AsyncIterator[SyncEngine]:
    made = live_engine(live, store, "alice", seed=3)
    outcome = await made.login(PASSWORD)
    assert outcome.remembered
    yield made
    await made.stop()
    await made.client.aclose()


@pytest.mark.asyncio
async def test_offline_edits_reach_the_server_exactly_once(
    live: LiveServer, engine: SyncEngine, store: Store
) -> None:
    printer = live.open_ticket("Printer on fire")
    vpn = live.open_ticket("VPN down")
    first = await engine.sync_once()
    assert first.ok
    assert store.user_id == live.ids["alice"]
    assert {t.subject for t in store.cache.tickets()} == {"Printer on fire", "VPN down"}

    live.stop()  # the train enters a tunnel
    store.assign(printer["id"], live.ids["alice"])
    store.set_status(printer["id"], Status.PENDING)
    store.add_comment(printer["id"], "Customer called back, waiting for a photo", public=True)
    store.set_priority(vpn["id"], Priority.P1)
    engine.commands_queued()
    offline = await engine.sync_once()
    assert not offline.ok
    assert engine.status.state is SyncState.OFFLINE
    assert engine.status.pending == 4
    queued = store.queued()
    shown = store.cache.ticket(printer["id"])
    assert shown is not None
    assert shown.status == "pending"
    assert shown.pending

    live.start()  # out of the tunnel, same server, same port
    back = await engine.sync_once()
    online = engine.status
    assert back.ok
    assert back.applied == 4
    assert online.state is SyncState.ONLINE
    assert store.queued() == []
    assert engine.status.pending == 0

    on_server = live.call("GET", f"/tickets/{printer['id']}")
    assert on_server["status"] == "pending"
    assert on_server["assignee_id"] == live.ids["alice"]
    bodies = [c["body"] for c in on_server["comments"]]
    assert bodies == ["Customer called back, waiting for a photo"]
    status_changes = [h for h in on_server["history"] if h["field"] == "status"]
    assert [(h["before"], h["after"]) for h in status_changes] == [("new", "pending")]
    assert live.call("GET", f"/tickets/{vpn['id']}")["priority"] == "P1"
    # the cache shows exactly the server's state, nothing pending
    cached = store.cache.ticket(printer["id"])
    assert cached is not None
    assert not cached.pending
    assert (cached.status, cached.version) == ("pending", on_server["version"])
    assert [c.body for c in store.cache.comments(printer["id"])] == bodies

    # the same batch delivered again (a response lost on the way): nothing applies twice
    again = await engine.client.push(queued)
    assert [r.status for r in again.results] == ["applied"] * 4
    after = live.call("GET", f"/tickets/{printer['id']}")
    assert after["version"] == on_server["version"]
    assert [c["body"] for c in after["comments"]] == bodies


@pytest.mark.asyncio
async def test_a_lead_reassigning_meanwhile_is_a_recorded_conflict(
    live: LiveServer, engine: SyncEngine, store: Store
) -> None:
    ticket = live.open_ticket("Mailbox full")
    await engine.sync_once()
    store.assign(ticket["id"], live.ids["alice"])
    store.add_comment(ticket["id"], "I take it", public=False)
    base = {"ticket_id": ticket["id"], "base_version": ticket["version"]}
    live.call(
        "POST",
        "/commands",
        json={
            "commands": [
                {
                    "type": "assign",
                    "mutation_id": "7d4c3f3e-8d7f-4c36-9d8e-0c7f7e0a1b2c",
                    "assignee_id": live.ids["bob"],
                    **base,
                }
            ]
        },
    )
    report = await engine.sync_once()
    assert report.ok
    assert report.conflicts == 1
    [conflict] = store.conflicts()
    assert conflict.fields == ("assignee",)
    assert conflict.server_ticket.assignee_id == live.ids["bob"]
    cached = store.cache.ticket(ticket["id"])
    assert cached is not None
    assert cached.assignee_id == live.ids["bob"]
    # the comment never clashes: it went through
    on_server = live.call("GET", f"/tickets/{ticket['id']}")
    assert [c["body"] for c in on_server["comments"]] == ["I take it"]
    assert engine.status.conflicts == 1
    assert engine.status.pending == 0


@pytest.mark.asyncio
async def test_a_revoked_session_asks_for_sign_in_and_keeps_the_work(
    live: LiveServer, engine: SyncEngine, store: Store
) -> None:
    ticket = live.open_ticket("Screen flickers")
    await engine.sync_once()
    token = engine.client.token
    store.acknowledge(ticket["id"])
    # the same token signed out elsewhere (an admin, another window)
    other = ApiClient(live.url, token=token)
    await other.logout()
    await other.aclose()
    report = await engine.sync_once()
    assert not report.ok
    assert engine.status.state is SyncState.AUTH_REQUIRED
    assert len(store.queued()) == 1
    await engine.login(PASSWORD)
    assert (await engine.sync_once()).ok
    assert store.queued() == []


@pytest.mark.asyncio
async def test_tls_is_verified_against_the_configured_ca_only(tmp_path: Path) -> None:
    bundle, cert, key = make_pki(tmp_path)
    live = LiveServer.create(tmp_path)
    live.tls = (cert, key)
    with live.serving():
        # the system trust store does not know our test CA: refused, never retried
        sleep = RecordingSleep()
        async with ApiClient(live.url, sleep=sleep) as untrusting:
            with pytest.raises(TlsError) as caught:
                await untrusting.login("alice", PASSWORD)
            assert sleep.delays == []
            assert "could not be verified" in caught.value.message
        # with the organisation's CA bundle configured: a verified session
        async with ApiClient(live.url, ca_bundle=bundle) as trusting:
            await trusting.login("alice", PASSWORD)
            assert (await trusting.me()).username == "alice"


@pytest.mark.asyncio
async def test_a_server_event_brings_a_new_ticket_without_waiting_for_the_timer(
    live: LiveServer, store: Store
) -> None:
    """The engine follows the real server's /events stream: a change elsewhere is pulled at once."""
    from .fakes import ManualTimer

    timer = ManualTimer()  # the periodic pass never comes unless the test fires it
    client = ApiClient(live.url, retry=RetryPolicy(attempts=2), sleep=RecordingSleep())
    credentials = Credentials(live.url, backend=MemoryKeyring())
    engine = SyncEngine(
        store, client, credentials=credentials, username="alice", timer=timer, interval=3600
    )
    arrived = asyncio.Event()

    def watch(_status: object) -> None:
        if any(t.subject == "Mail server down" for t in store.cache.tickets()):
            arrived.set()

    engine.subscribe(watch)
    try:
        await engine.login(PASSWORD)
        await engine.start()
        await asyncio.wait_for(engine.wait_idle(), 10)
        assert engine.status.state is SyncState.ONLINE
        live.open_ticket("Mail server down")  # by the team lead, on the server
        # the timer is never fired: only the live event can trigger this pull
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await engine.stop()
        await client.aclose()
