"""Upgrading the app must never lose unsent work."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from sync.cache import (
    SCHEMA_REVISION,
    Cache,
    _make_engine,
    _private_file,
    current_revision,
    head_revision,
    upgrade,
)

from .conftest import FakeClock


def test_upgrade_from_the_first_revision_keeps_the_outbox(
    cache_file: Path, clock: FakeClock
) -> None:
    _private_file(cache_file)
    engine = _make_engine(cache_file)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    rows = [
        {
            "mutation_id": f"00000000-0000-4000-8000-00000000000{i}",
            "payload": json.dumps(
                {
                    "type": "add_comment",
                    "ticket_id": 1,
                    "base_version": 3,
                    "mutation_id": f"00000000-0000-4000-8000-00000000000{i}",
                    "body": f"offline note {i}",
                    "public": False,
                }
            ),
        }
        for i in range(1, 4)
    ]
    with engine.begin() as connection:
        for row in rows:
            connection.execute(
                text(
                    "INSERT INTO outbox (mutation_id, ticket_id, type, base_version, payload,"
                    " created_at, state) VALUES (:mutation_id, 1, 'add_comment', 3, :payload,"
                    " '2026-03-02T09:00:00.000000+00:00', 'pending')"
                ),
                row,
            )
        columns = [r[1] for r in connection.exec_driver_sql("PRAGMA table_info(outbox)")]
        assert "attempts" not in columns
    engine.dispose()

    with Cache.open(cache_file, clock=clock) as cache:  # migrates to head at open
        assert cache.notice is None
        assert current_revision(cache.engine) == SCHEMA_REVISION
        with cache.read() as connection:
            kept = connection.execute(
                text("SELECT seq, mutation_id, payload, attempts FROM outbox ORDER BY seq")
            ).all()
        assert [(r.seq, r.mutation_id, r.payload, r.attempts) for r in kept] == [
            (i, row["mutation_id"], row["payload"], 0) for i, row in enumerate(rows, 1)
        ]
        from sync.store import Store

        # the three comments, each as it was queued before the upgrade
        assert [c.model_dump(mode="json") for c in Store(cache).pending_batch()] == [
            json.loads(row["payload"]) for row in rows
        ]


def test_downgrade_and_upgrade_again_round_trip(cache_file: Path, clock: FakeClock) -> None:
    with Cache.open(cache_file, clock=clock) as cache:
        from alembic import command

        from sync.cache import alembic_config

        config = alembic_config()
        with cache.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        assert current_revision(cache.engine) == "0001"
        upgrade(cache.engine)
        assert current_revision(cache.engine) == SCHEMA_REVISION


def test_down_to_0002_and_up_again_keeps_search_and_the_outbox(
    cache_file: Path, clock: FakeClock
) -> None:
    from alembic import command

    from sync.cache import alembic_config
    from sync.store import Store

    from .conftest import page, ticket

    with Cache.open(cache_file, clock=clock) as cache:
        store = Store(cache, user_id=7)
        store.apply_page(page(("ticket", 1, ticket(1, subject="Printer jam"))))
        store.add_comment(1, "Toner ordered", public=False)
    engine = _make_engine(cache_file)
    with engine.begin() as connection:  # the cache as the previous release kept it
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        trigger = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_schema WHERE name = 'tickets_search_insert'"
        ).scalar_one()
        assert "search_deferred" not in trigger
    engine.dispose()

    with Cache.open(cache_file, clock=clock) as cache:
        assert current_revision(cache.engine) == SCHEMA_REVISION
        store = Store(cache, user_id=7)
        assert [c.type for c in store.queued()] == ["add_comment"]
        store.apply_page(page(("ticket", 2, ticket(2, subject="Printer offline"))))
        assert sorted(cache.search("printer")) == [1, 2]
        assert cache.search("toner") == [1]


def test_the_schema_revision_is_the_last_migration() -> None:
    # a cache at SCHEMA_REVISION opens without running alembic: a new migration
    # must move it, or caches would never be upgraded
    assert head_revision() == SCHEMA_REVISION
