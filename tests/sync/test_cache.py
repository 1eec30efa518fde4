"""The local cache: where it lives, how it is protected, bulk pulls, full-text search."""

from __future__ import annotations

import gc
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from protocol import SlaConfigOut
from sync import schema
from sync.cache import SCHEMA_REVISION, Cache, cache_path, current_revision
from sync.pull import MalformedPageError
from sync.queries import search_query
from sync.store import Store

from .conftest import T0, FakeClock, comment, history, page, ticket


def test_one_cache_per_server_and_user_in_the_data_dir(tmp_path: Path) -> None:
    a = cache_path("https://Help.Example.com/", "alice", data_dir=tmp_path)
    assert a == cache_path("https://help.example.com:443", "alice", data_dir=tmp_path)
    assert a != cache_path("https://help.example.com", "bob", data_dir=tmp_path)
    assert a != cache_path("https://other.example.com", "alice", data_dir=tmp_path)
    assert a.parent == tmp_path / "caches"
    assert a.name.startswith("help.example.com-alice-")


def test_default_location_is_the_platform_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sync.cache.user_data_dir", lambda app, appauthor: f"/data/{app}")
    assert cache_path("https://h.example", "u").parent == Path("/data/offimizer-console/caches")


def test_cache_file_is_private_wal_with_foreign_keys(cache: Cache, cache_file: Path) -> None:
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    with cache.read() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    Store(cache).apply_page(page(("ticket", 1, ticket(1))))
    wal = cache_file.with_name(cache_file.name + "-wal")
    assert wal.exists()
    assert stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_an_existing_cache_file_is_made_private(cache_file: Path, clock: FakeClock) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.touch(mode=0o644)
    with Cache.open(cache_file, clock=clock):
        assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600


def test_schema_is_at_head_and_matches_the_table_definitions(cache: Cache) -> None:
    assert current_revision(cache.engine) == SCHEMA_REVISION
    with cache.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": schema.include_name, "compare_type": True}
        )
        assert compare_metadata(context, schema.metadata) == []


def test_reopening_keeps_everything(cache_file: Path, clock: FakeClock) -> None:
    with Cache.open(cache_file, clock=clock) as cache:
        Store(cache).apply_page(page(("ticket", 1, ticket(1, subject="Printer on fire"))))
    with Cache.open(cache_file, clock=clock) as cache:
        assert cache.notice is None
        assert cache.cursor() is not None
        assert cache.search("printer") == [1]


def test_a_page_and_its_cursor_land_together(store: Store, cache: Cache) -> None:
    result = store.apply_page(
        page(
            ("organisation", 1, {"id": 1, "name": "ACME", "plan": "enterprise"}),
            ("team", 1, {"id": 1, "name": "Level 1", "member_ids": [7]}),
            (
                "user",
                7,
                {
                    "id": 7,
                    "username": "bob",
                    "display_name": "Bob",
                    "email": "b@x.fr",
                    "role": "agent",
                    "active": True,
                    "team_ids": [1],
                },
            ),
            *[("ticket", i, ticket(i)) for i in range(1, 301)],
            ("comment", 1, comment(1, 5, "hello")),
        )
    )
    assert result.upserted["ticket"] == 300
    assert cache.ticket_count() == 300
    assert cache.cursor() == result.cursor
    assert [c.body for c in cache.comments(5)] == ["hello"]
    assert [u.username for u in cache.users()] == ["bob"]
    assert [t.name for t in cache.teams()] == ["Level 1"]
    assert [o.name for o in cache.organisations()] == ["ACME"]


def test_upsert_replaces_rows_and_tombstones_delete_them(store: Store, cache: Cache) -> None:
    store.apply_page(
        page(
            ("ticket", 1, ticket(1)),
            ("ticket", 2, ticket(2)),
            ("comment", 10, comment(10, 2, "on two")),
        )
    )
    store.apply_page(
        page(("ticket", 1, ticket(1, 2, status="pending", tags=["vip"])), ("ticket", 2, None))
    )
    one = cache.ticket(1)
    assert one is not None
    assert (one.status, one.tags, one.version) == ("pending", ("vip",), 2)
    assert cache.ticket(2) is None
    assert cache.comments(2) == []  # cascaded
    assert cache.search("two") == []


def test_the_last_change_of_an_entity_in_a_page_wins(store: Store, cache: Cache) -> None:
    store.apply_page(
        page(
            ("ticket", 1, ticket(1, 1, status="new")),
            ("ticket", 1, None),
            ("ticket", 1, ticket(1, 3, status="open")),
        )
    )
    one = cache.ticket(1)
    assert one is not None
    assert one.version == 3


def test_rows_that_come_before_their_ticket_wait_for_it(store: Store, cache: Cache) -> None:
    first = store.apply_page(
        page(
            ("comment", 1, comment(1, 99, "Screenshot attached")),
            ("history", 2, history(2, 99, 1, "created", after="{}")),
            has_more=True,
        )
    )
    assert first.parked == 2
    assert cache.comments(99) == []
    assert store.parked_tickets() == {99}
    assert cache.cursor() == first.cursor  # kept, so the cursor may move past them
    store.apply_page(
        page(
            ("comment", 1, comment(1, 99, "Screenshot attached, edited")),
            ("ticket", 99, ticket(99)),
        )
    )
    assert [c.body for c in cache.comments(99)] == ["Screenshot attached, edited"]
    assert [h.field for h in cache.history(99)] == ["created"]
    assert store.parked_tickets() == set()


def test_a_tombstone_drops_the_rows_kept_for_its_ticket(store: Store, cache: Cache) -> None:
    store.apply_page(page(("comment", 1, comment(1, 99, "elsewhere"))))
    store.apply_page(page(("ticket", 99, None)))
    assert store.parked_tickets() == set()


@pytest.mark.parametrize(
    "bad",
    [
        ("ticket", 3, {**ticket(3), "priority": "P9"}),
        ("ticket", 3, {"id": 3}),
        ("ticket", 4, ticket(3)),  # the id of the change and of the row disagree
        ("comment", 1, {**comment(1, 1, "x"), "created_at": "yesterday"}),
    ],
)
def test_a_malformed_page_changes_nothing(
    store: Store, cache: Cache, bad: tuple[str, int, dict[str, object]]
) -> None:
    store.apply_page(page(("ticket", 1, ticket(1, subject="kept"))))
    cursor = cache.cursor()
    with pytest.raises(MalformedPageError) as raised:
        store.apply_page(
            page(("ticket", 1, ticket(1, 2, subject="changed")), ("ticket", 2, ticket(2)), bad)
        )
    assert "nothing was changed" in raised.value.message
    assert cache.cursor() == cursor
    one = cache.ticket(1)
    assert one is not None
    assert one.subject == "kept"
    assert cache.ticket(2) is None


def test_storing_a_page_leaves_the_garbage_collector_as_it_found_it(store: Store) -> None:
    # pages are stored with the cycle collector paused: it must never stay paused
    assert gc.isenabled()
    store.apply_page(page(("ticket", 1, ticket(1))))
    assert gc.isenabled()
    with pytest.raises(MalformedPageError):
        store.apply_page(page(("ticket", 2, {"id": 2})))
    assert gc.isenabled()
    gc.disable()  # paused by someone else (a queue being evaluated): stays paused
    try:
        store.apply_page(page(("ticket", 2, ticket(2))))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_only_pages_of_the_feed_commit_without_waiting_for_the_disk(
    store: Store, cache: Cache
) -> None:
    # synchronous FULL (2) for the user's commands, NORMAL (1) for what the server can
    # send again: seen by each transaction as it writes
    seen: dict[str, int] = {}

    @event.listens_for(cache.engine, "before_cursor_execute")
    def _spy(_conn: Any, cursor: Any, statement: str, *_rest: Any) -> None:
        for table in ("sync_state SET cursor", "outbox"):
            if statement.startswith(("UPDATE", "INSERT")) and table in statement:
                seen[table] = cursor.connection.execute("PRAGMA synchronous").fetchone()[0]

    store.apply_page(page(("ticket", 1, ticket(1))))
    store.add_comment(1, "On it", public=True)
    assert seen == {"sync_state SET cursor": 1, "outbox": 2}
    with cache.read() as connection:  # the pooled connection is FULL again
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2


# -- full-text search --------------------------------------------------------------------


@pytest.fixture
def searchable(store: Store) -> Store:
    store.apply_page(
        page(
            ("ticket", 1, ticket(1, subject="Imprimante bloquée", description="Le bac est vide")),
            ("ticket", 2, ticket(2, subject="VPN down", description="Cannot reach the printer")),
            ("ticket", 3, ticket(3, subject="Password reset")),
            ("comment", 1, comment(1, 3, "Customer says the printer beeps")),
        )
    )
    return store


def test_search_finds_subject_description_and_comments(searchable: Store) -> None:
    cache = searchable.cache
    assert cache.search("imprimante") == [1]
    assert sorted(cache.search("printer")) == [2, 3]
    assert cache.search("bac vide") == [1]
    assert cache.search("vpn password") == []  # every word must match


def test_subject_matches_rank_first(store: Store) -> None:
    store.apply_page(
        page(
            ("ticket", 1, ticket(1, subject="Other", description="disk full")),
            ("ticket", 2, ticket(2, subject="Disk full")),
        )
    )
    assert store.cache.search("disk") == [2, 1]


def test_search_ignores_accents_and_matches_prefixes_as_you_type(searchable: Store) -> None:
    cache = searchable.cache
    assert cache.search("bloquee") == [1]
    assert cache.search("impr") == [1]
    assert cache.search("impr ") == []  # a finished word is a whole word
    assert cache.search("impr", prefix=False) == []


def test_search_follows_every_write(searchable: Store) -> None:
    cache = searchable.cache
    searchable.apply_page(
        page(("ticket", 3, ticket(3, 2, subject="Keyboard sticky")), ("comment", 1, None))
    )
    assert cache.search("password") == []
    assert cache.search("keyboard") == [3]
    assert sorted(cache.search("printer")) == [2]  # the comment is gone
    searchable.add_comment(1, "Rebooted the spooler", public=False)
    assert cache.search("spooler") == [1]  # a pending comment is searchable at once
    searchable.apply_page(page(("ticket", 1, None)))
    assert cache.search("spooler") == []


def _search_deferred(cache: Cache) -> bool:
    with cache.read() as connection:
        return bool(connection.exec_driver_sql("SELECT search_deferred FROM sync_state").scalar())


_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliett",
]


def _word(n: int) -> str:
    """A word of its own for ``n`` (one name a digit: "bravoalpha" for 10)."""
    return "".join(_WORDS[int(digit)] for digit in str(n))


def test_every_ticket_of_a_full_page_is_searchable(store: Store, cache: Cache) -> None:
    # new tickets' full-text rows are written by the page, in one statement, beside
    # updated ones (written by the update trigger) in the same page
    store.apply_page(page(*[("ticket", i, ticket(i, subject="Old")) for i in range(1, 51)]))
    store.apply_page(
        page(
            *[("ticket", i, ticket(i, 2, subject=f"Renamed {_word(i)}")) for i in range(1, 11)],
            *[
                ("ticket", i, ticket(i, description=f"About {_word(i)} today"))
                for i in range(51, 1001)
            ],
            ("comment", 1, comment(1, 700, "Spooler restarted")),
        )
    )
    assert cache.ticket_count() == 1000
    for i in [*range(1, 11), *range(51, 1001)]:
        assert cache.search(_word(i), prefix=False) == [i], i
    assert cache.search("old", prefix=False) == list(range(11, 51))
    assert cache.search("spooler") == [700]
    assert not _search_deferred(cache)


def test_tickets_written_outside_a_page_are_still_indexed_by_the_trigger(
    store: Store, cache: Cache
) -> None:
    store.apply_page(page(*[("ticket", i, ticket(i)) for i in range(1, 4)]))
    with cache.write() as connection:
        connection.exec_driver_sql(
            "INSERT INTO tickets (id, tracking_number, subject, description, requester_name,"
            " requester_email, organisation_id, priority, severity, status, team_id, tags,"
            " version, created_at, updated_at, server_row) SELECT 9, 'INC-9', 'Toner empty',"
            " description, requester_name, requester_email, organisation_id, priority,"
            " severity, status, team_id, tags, version, created_at, updated_at, server_row"
            " FROM tickets WHERE id = 1"
        )
    assert cache.search("toner") == [9]


def test_a_page_that_fails_while_written_leaves_search_as_it_was(
    store: Store, cache: Cache
) -> None:
    store.apply_page(page(("ticket", 1, ticket(1, subject="Printer jam"))))
    cursor = cache.cursor()
    clash = ticket(3, subject="Scanner", tracking_number=ticket(1)["tracking_number"])
    with pytest.raises(IntegrityError):  # two tickets, one tracking number: refused by SQLite
        store.apply_page(page(("ticket", 2, ticket(2, subject="Scanner")), ("ticket", 3, clash)))
    assert cache.cursor() == cursor
    assert cache.ticket_count() == 1
    assert cache.search("scanner") == []
    assert not _search_deferred(cache)
    store.apply_page(page(("ticket", 4, ticket(4, subject="Scanner offline"))))
    assert cache.search("scanner") == [4]
    assert cache.search("printer") == [1]


@pytest.mark.parametrize(
    "typed", ['"', "NEAR(", "a OR", "-x", "*", "subject:vpn", "'; DROP TABLE tickets; --", "((("]
)
def test_search_syntax_in_user_text_is_just_text(searchable: Store, typed: str) -> None:
    searchable.cache.search(typed)  # no FTS5 syntax error reaches the user
    assert searchable.cache.ticket_count() == 3


@given(st.text(max_size=40))
def test_any_text_makes_a_safe_query(typed: str) -> None:
    query = search_query(typed)
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE VIRTUAL TABLE f USING fts5(a)")
        connection.execute("INSERT INTO f VALUES ('x')")
        if query is not None:
            connection.execute("SELECT * FROM f WHERE f MATCH ?", (query,)).fetchall()
    finally:
        connection.close()


def test_nothing_searchable_finds_nothing(searchable: Store) -> None:
    assert searchable.cache.search("  ...  ") == []
    assert search_query("") is None


# -- reference documents and sync state ---------------------------------------------------


def test_sla_documents_announcements_and_articles_are_kept(cache: Cache) -> None:
    cache.put_sla_config(
        SlaConfigOut(policy={"targets": []}, calendar={"zone": "Europe/Paris"}, updated_at=T0)
    )
    config = cache.sla_config()
    assert config is not None
    assert config.calendar == {"zone": "Europe/Paris"}
    cache.put_announcements(
        [
            {
                "id": 1,
                "title": "Mail outage",
                "body": "…",
                "starts_at": "2026-03-02T08:00:00+00:00",
                "ends_at": "2026-03-02T12:00:00+00:00",
            },
            {
                "id": 2,
                "title": "Old",
                "body": "",
                "starts_at": "2026-01-01T08:00:00+00:00",
                "ends_at": "2026-01-02T08:00:00+00:00",
            },
        ]
    )
    assert [a["title"] for a in cache.announcements(active_at=T0)] == ["Mail outage"]
    cache.put_announcements([{"id": 2, "title": "Old", "body": ""}])
    assert [a["id"] for a in cache.announcements()] == [2]
    cache.put_articles([{"id": 5, "title": "Reset a password", "body": "…", "tags": ["auth"]}])
    assert [a["title"] for a in cache.articles()] == ["Reset a password"]


def test_clock_offset_and_last_sync(cache: Cache, clock: FakeClock) -> None:
    import datetime as dt

    assert cache.last_sync_at() is None
    cache.record_sync(offset=dt.timedelta(seconds=-90))
    assert cache.last_sync_at() == T0
    clock.advance(minutes=5)
    assert cache.server_now() == T0 + dt.timedelta(minutes=5, seconds=-90)


def _announcement(announcement_id: int, **fields: object) -> dict[str, object]:
    return {
        "id": announcement_id,
        "title": "Mail outage",
        "body": "Mail is down for everyone.",
        "starts_at": "2026-03-02T08:00:00+00:00",
        "ends_at": "2026-03-02T18:00:00+00:00",
        "ended_at": None,
        "created_by_id": 1,
        "created_at": "2026-03-02T08:00:00+00:00",
        "updated_at": "2026-03-02T08:00:00+00:00",
        "version": 1,
        **fields,
    }


def test_announcements_and_articles_arrive_through_the_feed(store: Store, cache: Cache) -> None:
    article = {
        "id": 7,
        "title": "Reset a password",
        "body": "Open the portal…",
        "tags": ["auth"],
        "created_by_id": 1,
        "updated_by_id": 1,
        "created_at": "2026-03-01T08:00:00+00:00",
        "updated_at": "2026-03-01T08:00:00+00:00",
        "version": 1,
    }
    store.apply_page(page(("announcement", 1, _announcement(1)), ("article", 7, article)))
    assert [a["title"] for a in cache.announcements(active_at=T0)] == ["Mail outage"]
    assert [a["title"] for a in cache.articles()] == ["Reset a password"]

    # ended early by a team lead: no longer shown, though its planned end is later
    ended = _announcement(1, ended_at="2026-03-02T08:30:00+00:00", version=2)
    store.apply_page(page(("announcement", 1, ended), ("article", 7, None)))
    assert cache.announcements(active_at=T0) == []
    assert cache.articles() == []


def test_a_malformed_announcement_refuses_the_page(store: Store, cache: Cache) -> None:
    with pytest.raises(MalformedPageError):
        store.apply_page(page(("announcement", 1, _announcement(1, starts_at="soon"))))
    assert cache.announcements() == []


def test_a_quick_read_sees_each_write_and_works_from_any_thread(store: Store, cache: Cache) -> None:
    def count() -> int:
        with cache.quick_read() as connection:
            found: int = connection.execute("SELECT count(*) FROM tickets").fetchone()[0]
            return found

    assert count() == 0
    store.apply_page(page(*[("ticket", i, ticket(i)) for i in range(1, 4)]))
    assert count() == 3  # a snapshot a read: the kept connection sees what came since
    store.apply_page(page(("ticket", 4, ticket(4))))
    assert count() == 4
    with ThreadPoolExecutor(1) as other:  # not the kept connection's thread: read()'s
        assert other.submit(count).result() == 4
    with pytest.raises(sqlite3.OperationalError), cache.quick_read() as connection:
        connection.execute("SELECT nothing FROM nowhere")
    assert count() == 4  # a read that failed left no transaction open


def test_closing_the_cache_lets_the_quick_reader_go(cache_file: Path, clock: FakeClock) -> None:
    opened = Cache.open(cache_file, clock=clock)
    with opened.quick_read() as connection:
        connection.execute("SELECT 1").fetchall()
    wal = cache_file.with_name(cache_file.name + "-wal")
    assert wal.exists()
    opened.close()
    assert not wal.exists()  # the last connection to the file closed: none kept open
