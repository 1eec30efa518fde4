"""Moving a ticket to another team: shown at once, rebased, and through the real server."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from protocol import AnnouncementIn, AppliedResult, RejectedResult, RejectReason, Role
from server import changes as feed
from server.db import make_sessionmaker, transaction
from server.directory import create_team, create_user
from server.security import hash_password
from sync.cache import Cache
from sync.client import RequestRefused
from sync.engine import SyncEngine
from sync.store import Store

from .conftest import page, ticket
from .live_engine import signed_in_engine
from .live_server import PASSWORD, LiveServer


@pytest.fixture
def synced(store: Store) -> Store:
    store.apply_page(page(*[("ticket", i, ticket(i, 5, assignee_id=3)) for i in (1, 2)]))
    return store


def shown(store: Store, ticket_id: int = 1) -> tuple[int, int | None, bool]:
    found = store.cache.ticket(ticket_id)
    assert found is not None
    return found.team_id, found.assignee_id, found.pending


def test_a_move_shows_at_once_and_is_queued(synced: Store) -> None:
    synced.set_team(1, 2, 8)
    assert shown(synced) == (2, 8, True)
    [queued] = synced.queued()
    assert (queued.type, queued.base_version) == ("set_team", 5)
    assert queued.model_dump(include={"team_id", "assignee_id"}) == {"team_id": 2, "assignee_id": 8}
    changes = [(h.field, h.before, h.after) for h in synced.cache.history(1)]
    assert changes == [("team_id", "1", "2"), ("assignee_id", "3", "8")]


def test_a_move_without_assignee_leaves_the_ticket_unassigned(synced: Store) -> None:
    synced.set_team(1, 2)
    assert shown(synced) == (2, None, True)


def test_a_pull_rebases_the_move_on_the_server_state(synced: Store) -> None:
    synced.set_team(1, 2)
    synced.apply_page(page(("ticket", 1, ticket(1, 6, priority="P1", assignee_id=3))))
    found = synced.cache.ticket(1)
    assert found is not None
    assert (found.priority, found.version, found.team_id, found.assignee_id) == ("P1", 6, 2, None)
    server = synced.cache.server_ticket(1)
    assert server is not None
    assert server.team_id == 1


def test_a_refused_move_is_undone_with_its_reason(synced: Store) -> None:
    mutation = synced.set_team(1, 2)
    message = "Only a team lead of the ticket's team can move it."
    synced.record_results(
        [
            RejectedResult(
                mutation_id=mutation, ticket_id=1, reason=RejectReason.FORBIDDEN, message=message
            )
        ]
    )
    assert shown(synced) == (1, 3, False)
    [rejected] = synced.rejected()
    assert (rejected.reason, rejected.message) == (RejectReason.FORBIDDEN, message)


def test_once_moved_out_of_sight_the_ticket_and_its_work_are_gone(synced: Store) -> None:
    mutation = synced.set_team(1, 2)
    synced.record_results([AppliedResult(mutation_id=mutation, ticket_id=1, version=6)])
    synced.apply_page(page(("ticket", 1, None)))  # the server's tombstone for the old team
    assert synced.cache.ticket(1) is None
    assert synced.queued() == []
    assert shown(synced, 2) == (1, 3, False)


# -- against the real server -------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """The reference server with a second team, Network, and its agent Nina."""
    server = LiveServer.create(tmp_path)
    now = dt.datetime.now(dt.UTC)
    with transaction(make_sessionmaker(server.engine)) as session:
        changes = feed.ChangeSet()
        server.ids["network"] = create_team(session, changes, "Network").id
        server.ids["nina"] = create_user(
            session,
            changes,
            now,
            username="nina",
            role=Role.AGENT,
            password_hash=hash_password(PASSWORD, cost=4),
            team_ids=[server.ids["network"]],
        ).id
        changes.publish(session, now)
    with server.serving():
        yield server


@pytest_asyncio.fixture
async def lead(live: LiveServer, tmp_path: Path) -> AsyncIterator[tuple[SyncEngine, Store]]:
    with Cache.open(tmp_path / "lead" / "cache.sqlite3") as cache:
        store = Store(cache)
        engine = await signed_in_engine(live, store, "lead", seed=3)
        yield engine, store
        await engine.stop()
        await engine.client.aclose()


@pytest.mark.asyncio
async def test_a_lead_moves_a_ticket_to_another_team_end_to_end(
    live: LiveServer, lead: tuple[SyncEngine, Store], tmp_path: Path
) -> None:
    engine, store = lead
    moved = live.open_ticket("Router down")
    kept = live.open_ticket("Toner low")
    live.call("POST", "/commands", json={"commands": [_note(moved)]})
    assert (await engine.sync_once()).ok

    store.set_team(moved["id"], live.ids["network"], live.ids["nina"])
    shown = store.cache.ticket(moved["id"])
    assert shown is not None
    assert shown.team_id == live.ids["network"]
    report = await engine.sync_once()
    assert report.ok
    assert report.applied == 1
    # the lead is not in the Network team: the ticket left their console
    assert store.cache.ticket(moved["id"]) is None
    assert store.cache.ticket(kept["id"]) is not None
    assert store.queued() == []

    on_server = live.call("GET", f"/tickets/{moved['id']}", username="nina")
    assert (on_server["team_id"], on_server["assignee_id"]) == (
        live.ids["network"],
        live.ids["nina"],
    )

    # Nina's console gets the whole ticket, the note written before the move included
    with Cache.open(tmp_path / "nina" / "cache.sqlite3") as cache:
        nina_store = Store(cache)
        nina = await signed_in_engine(live, nina_store, "nina", seed=3)
        try:
            assert (await nina.sync_once()).ok
            assert [t.subject for t in nina_store.cache.tickets()] == ["Router down"]
            assert [c.body for c in nina_store.cache.comments(moved["id"])] == ["Checked cables"]
            fields = [h.field for h in nina_store.cache.history(moved["id"])]
            assert fields[0] == "created"
            assert "team" in fields
        finally:
            await nina.stop()
            await nina.client.aclose()


def _note(ticket: dict[str, object]) -> dict[str, object]:
    return {
        "type": "add_comment",
        "mutation_id": "5f0f7c3e-2d1a-4b8e-9a55-1f2e3d4c5b6a",
        "ticket_id": ticket["id"],
        "base_version": ticket["version"],
        "body": "Checked cables",
        "public": False,
    }


@pytest.mark.asyncio
async def test_the_client_reads_presence_reports_and_edits_announcements(
    live: LiveServer, lead: tuple[SyncEngine, Store]
) -> None:
    engine, _store = lead
    client = engine.client
    opened = live.open_ticket("Printer jam")
    here = await client.report_presence(opened["id"], "replying")
    [me] = here.users
    assert (me.user_id, me.online, me.ticket_id, me.activity) == (
        live.ids["lead"],
        True,
        opened["id"],
        "replying",
    )
    assert [u.user_id for u in (await client.presence(opened["id"])).users] == [live.ids["lead"]]

    now = dt.datetime.now(dt.UTC)
    report = await client.compliance_report(now - dt.timedelta(days=1), now + dt.timedelta(days=1))
    assert report.total.response_open == 1
    assert report.total.response_rate is None
    with pytest.raises(RequestRefused) as refused:
        await client.compliance_report(now, now + dt.timedelta(days=1), live.ids["network"])
    assert refused.value.status == 403

    created = await client.create_announcement(AnnouncementIn(title="Mail outage"))
    assert [a.id for a in await client.announcements()] == [created.id]
    edited = await client.update_announcement(created.id, AnnouncementIn(title="Mail back soon"))
    assert edited.title == "Mail back soon"
    assert edited.version == 2
    ended = await client.end_announcement(created.id)
    assert ended.ended_at is not None
    assert await client.announcements() == []


@pytest.mark.asyncio
async def test_a_reassignment_first_makes_the_agents_own_take_a_conflict(
    live: LiveServer, lead: tuple[SyncEngine, Store], tmp_path: Path
) -> None:
    """The lead gives tickets to Bob while Alice, offline, takes them herself: whoever
    pushes second gets a conflict with both sides (this test and the next); nobody's
    change is overwritten."""
    lead_engine, lead_store = lead
    first = live.open_ticket("Printer jams")
    second = live.open_ticket("Screen flickers")
    alice_id, bob_id = live.ids["alice"], live.ids["bob"]
    with Cache.open(tmp_path / "alice" / "cache.sqlite3") as cache:
        alice_store = Store(cache)
        alice = await signed_in_engine(live, alice_store, "alice", seed=3)
        try:
            assert (await alice.sync_once()).ok
            assert (await lead_engine.sync_once()).ok
            for ticket_ in (first, second):
                alice_store.assign(ticket_["id"], alice_id)  # "assign to me", offline
                lead_store.assign(ticket_["id"], bob_id)

            # the lead's push lands first: Alice's takes clash
            report = await lead_engine.sync_once()
            assert report.ok
            assert report.applied == 2
            report = await alice.sync_once()
            assert report.ok
            assert report.conflicts == 2
            assert report.applied == 0
            views = alice_store.conflicts()
            assert {view.ticket_id for view in views} == {first["id"], second["id"]}
            for view in views:
                assert view.server_ticket.assignee_id == bob_id  # the lead's move, shown
            for ticket_ in (first, second):
                on_server = live.call("GET", f"/tickets/{ticket_['id']}")
                assert on_server["assignee_id"] == bob_id  # not overwritten by Alice
        finally:
            await alice.stop()
            await alice.client.aclose()


@pytest.mark.asyncio
async def test_an_agents_take_first_makes_the_leads_reassignment_a_conflict(
    live: LiveServer, lead: tuple[SyncEngine, Store], tmp_path: Path
) -> None:
    lead_engine, lead_store = lead
    taken = live.open_ticket("VPN drops")
    alice_id, bob_id = live.ids["alice"], live.ids["bob"]
    with Cache.open(tmp_path / "alice" / "cache.sqlite3") as cache:
        alice_store = Store(cache)
        alice = await signed_in_engine(live, alice_store, "alice", seed=3)
        try:
            assert (await alice.sync_once()).ok
            assert (await lead_engine.sync_once()).ok
            alice_store.assign(taken["id"], alice_id)
            lead_store.assign(taken["id"], bob_id)  # the lead had not seen her take it
            assert (await alice.sync_once()).applied == 1
            report = await lead_engine.sync_once()
            assert report.ok
            assert report.conflicts == 1
            [view] = lead_store.conflicts()
            assert view.server_ticket.assignee_id == alice_id  # what Alice did, shown
            assert live.call("GET", f"/tickets/{taken['id']}")["assignee_id"] == alice_id
        finally:
            await alice.stop()
            await alice.client.aclose()
