"""Requests that wait for the server (an announcement published offline): kept in the
cache, counted with the pending changes, sent once the server is back, exactly once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import update

from protocol import AnnouncementIn
from sync import schema
from sync.cache import Cache
from sync.changes import Changes
from sync.deferred import CallKind, DeferredCall
from sync.engine import SyncEngine, SyncState
from sync.store import Store

from .conftest import FakeClock, garble_every_other_page, page, ticket
from .live_engine import signed_in_engine
from .live_server import LiveServer


def _announcement(title: str, hours: float = 2.0) -> AnnouncementIn:
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return AnnouncementIn(title=title, body="Outgoing mail is queued.", ends_at=ends)


# -- the queue in the cache ------------------------------------------------------------------


def test_deferred_calls_wait_in_order_and_count_as_pending(store: Store) -> None:
    seen: list[Changes] = []
    store.subscribe(seen.append)
    first = store.defer(DeferredCall.create_announcement(_announcement("Mail down")))
    second = store.defer(DeferredCall.create_announcement(_announcement("VPN down")))
    assert seen == [Changes(outbox=True), Changes(outbox=True)]
    assert [call.announcement().title for call in store.deferred_calls()] == [
        "Mail down",
        "VPN down",
    ]
    # the key travels with the request: the server knows a re-send by it
    assert first.payload["mutation_id"] == str(first.key)
    assert first.announcement().mutation_id == first.key
    assert store.pending_count() == 2
    assert store.refusal_count() == 0

    store.call_attempted(first, "connection refused")
    [waiting, _second] = store.deferred_calls()
    assert (waiting.attempts, waiting.last_error) == (1, "connection refused")

    store.call_refused(second, "The expected end must come after the start.")
    assert seen[-1] == Changes(outbox=True, rejections=True)
    assert [call.key for call in store.deferred_calls()] == [first.key]
    [refused] = store.deferred_calls(refused=True)
    assert refused.refusal == "The expected end must come after the start."
    assert store.pending_count() == 1
    assert store.refusal_count() == 1

    store.call_sent(first)
    store.dismiss_refused_call(refused)
    assert seen[-1] == Changes(rejections=True)
    assert store.deferred_calls() == []
    assert store.deferred_calls(refused=True) == []
    assert store.pending_count() == 0
    assert store.refusal_count() == 0


def test_a_call_this_version_cannot_read_is_left_alone(store: Store, cache: Cache) -> None:
    kept = store.defer(DeferredCall.create_announcement(_announcement("Mail down")))
    later = store.defer(DeferredCall.create_announcement(_announcement("VPN down")))
    with cache.write() as connection:  # a kind from a newer version, say
        connection.execute(
            update(schema.deferred_calls)
            .where(schema.deferred_calls.c.seq == kept.seq)
            .values(kind="create_article")
        )
    assert [call.key for call in store.deferred_calls()] == [later.key]
    with cache.read() as connection:
        kinds = connection.execute(
            schema.deferred_calls.select().order_by(schema.deferred_calls.c.seq)
        ).all()
    assert [row.kind for row in kinds] == ["create_article", CallKind.CREATE_ANNOUNCEMENT.value]


def test_a_rebuilt_cache_keeps_the_calls_that_waited(cache_file: Path, clock: FakeClock) -> None:
    with Cache.open(cache_file, clock=clock) as cache:
        store = Store(cache, user_id=1)
        store.apply_page(page(*[("ticket", i, ticket(i)) for i in range(1, 200)]))
        waiting = store.defer(DeferredCall.create_announcement(_announcement("Mail down")))
        refused = store.defer(DeferredCall.create_announcement(_announcement("Late", -1)))
        store.call_refused(refused, "The expected end must come after the start.")
        with cache.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    # the tickets' pages garbled (found by name), the rest of the file as it was
    garble_every_other_page(
        cache_file, "SELECT pageno FROM dbstat WHERE name = 'tickets' ORDER BY pageno"
    )

    with Cache.open(cache_file, clock=clock) as cache:
        notice = cache.notice
        assert notice is not None
        assert (notice.salvaged, notice.requeued) == (1, 1)  # the one still waiting
        exported = json.loads(notice.export_path.read_text())
        assert [call["key"] for call in exported["calls"]] == [str(waiting.key), str(refused.key)]
        [again] = Store(cache).deferred_calls()
        assert (again.key, again.announcement().title) == (waiting.key, "Mail down")


# -- with the real server --------------------------------------------------------------------


@pytest_asyncio.fixture
async def lead(live: LiveServer, console_store: Store) -> AsyncIterator[SyncEngine]:
    engine = await signed_in_engine(live, console_store, "lead", seed=5)
    yield engine
    await engine.stop()
    await engine.client.aclose()


@pytest.mark.asyncio
async def test_an_announcement_published_offline_reaches_the_server_once(
    live: LiveServer, lead: SyncEngine, console_store: Store
) -> None:
    assert (await lead.sync_once()).ok
    live.stop()
    call = console_store.defer(DeferredCall.create_announcement(_announcement("Mail down")))
    lead.commands_queued()
    assert lead.status.pending == 1
    offline = await lead.sync_once()
    assert not offline.ok
    assert lead.status.state is SyncState.OFFLINE
    [waiting] = console_store.deferred_calls()
    assert waiting.attempts == 1
    assert lead.status.pending == 1

    live.start()
    back = await lead.sync_once()
    assert back.ok
    assert back.calls == 1
    assert console_store.deferred_calls() == []
    assert lead.status.pending == 0
    published = live.call("GET", "/announcements", "alice")
    assert [item["title"] for item in published] == ["Mail down"]
    # the same pass pulled it: the banner of this console has it too
    assert [item["title"] for item in console_store.cache.announcements()] == ["Mail down"]

    # its answer lost, the request is sent again under its key: still one announcement
    again = await lead.client.create_announcement(call.announcement())
    assert again.id == published[0]["id"]
    assert [item["id"] for item in live.call("GET", "/announcements", "alice")] == [again.id]


@pytest.mark.asyncio
async def test_a_refused_call_is_kept_with_its_reason_and_the_others_go_on(
    live: LiveServer, lead: SyncEngine, console_store: Store
) -> None:
    # typed offline two hours ago for two hours: by now its expected end is past
    stale = console_store.defer(DeferredCall.create_announcement(_announcement("Late", -1)))
    console_store.defer(DeferredCall.create_announcement(_announcement("Mail down")))
    report = await lead.sync_once()
    assert report.ok
    assert report.calls == 1
    assert console_store.deferred_calls() == []
    [refused] = console_store.deferred_calls(refused=True)
    assert refused.key == stale.key
    assert refused.refusal is not None
    assert "The expected end must come after the start." in refused.refusal
    assert lead.status.rejected == 1
    assert lead.status.pending == 0
    assert [item["title"] for item in live.call("GET", "/announcements", "alice")] == ["Mail down"]
    # never sent again
    assert (await lead.sync_once()).calls == 0
    assert len(live.call("GET", "/announcements", "alice")) == 1
