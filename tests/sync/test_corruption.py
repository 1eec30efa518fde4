"""An unreadable cache: the outbox is saved first, the file set aside, a fresh cache built."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

import sync.cache
from protocol import Status
from sync.cache import (
    Cache,
    _make_engine,
    _private_file,
    current_revision,
    head_revision,
    upgrade,
)
from sync.store import Store

from .conftest import FakeClock, garble_every_other_page, page, ticket


def _cache_with_work(path: Path, clock: FakeClock, count: int = 3) -> list[str]:
    with Cache.open(path, clock=clock) as cache:
        store = Store(cache, user_id=1)
        store.apply_page(page(*[("ticket", i, ticket(i)) for i in range(1, 200)]))
        ids = [str(store.set_status(1, Status.PENDING))]
        ids += [str(store.add_comment(2, f"note {i}", public=False)) for i in range(count - 1)]
        with cache.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return ids


def test_a_file_that_is_not_a_database_is_rebuilt(cache_file: Path, clock: FakeClock) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"this is not a database at all" * 100)
    with Cache.open(cache_file, clock=clock) as cache:
        notice = cache.notice
        assert notice is not None
        assert "could not be read" in notice.message
        assert notice.moved_to.read_bytes().startswith(b"this is not")
        assert json.loads(notice.export_path.read_text())["commands"] == []
        assert cache.ticket_count() == 0
        assert cache.cursor() is None
    with Cache.open(cache_file, clock=clock) as cache:
        assert cache.notice is None  # sound now


def test_a_damaged_cache_keeps_every_unsent_change(cache_file: Path, clock: FakeClock) -> None:
    mutation_ids = _cache_with_work(cache_file, clock)
    # garble the pages of the tickets' table and indexes (found by name: where the schema
    # and the outbox lie depends on every table the migrations made before)
    tickets_pages = garble_every_other_page(
        cache_file,
        "SELECT pageno FROM dbstat WHERE name IN "
        "(SELECT name FROM sqlite_schema WHERE tbl_name = 'tickets')",
    )
    assert len(tickets_pages) > 4

    with Cache.open(cache_file, clock=clock) as cache:
        notice = cache.notice
        assert notice is not None
        exported = json.loads(notice.export_path.read_text())
        saved = [row["mutation_id"] for row in exported["commands"]]
        assert saved == mutation_ids
        assert exported["commands"][1]["payload"]["body"] == "note 0"
        assert stat.S_IMODE(notice.export_path.stat().st_mode) == 0o600
        assert notice.export_path.parent == cache_file.parent
        assert [str(c.mutation_id) for c in Store(cache).pending_batch()] == mutation_ids
        assert notice.requeued == 3
        assert "3 unsent changes were saved to" in notice.message
        assert notice.moved_to.exists()
        assert not notice.moved_to.samefile(cache_file)


def test_a_truncated_cache_is_set_aside_and_rebuilt(cache_file: Path, clock: FakeClock) -> None:
    _cache_with_work(cache_file, clock)
    size = cache_file.stat().st_size
    with cache_file.open("r+b") as handle:
        handle.truncate(size // 3)
    with Cache.open(cache_file, clock=clock) as cache:
        notice = cache.notice
        assert notice is not None
        assert notice.salvaged + notice.unreadable >= 0
        assert notice.export_path.exists()  # written before anything else, whatever was read
        assert cache.ticket_count() == 0
        assert Store(cache).pending_count() == notice.requeued


def test_the_notice_is_translated_when_shown(cache_file: Path, clock: FakeClock) -> None:
    import i18n

    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"\x00garbage" * 512)
    with Cache.open(cache_file, clock=clock) as cache:
        assert cache.notice is not None
        english = cache.notice.message
        i18n.set_language("fr")
        assert cache.notice.message  # gettext path taken in French as well
        assert english.startswith("The local cache could not be read.")


def test_a_cache_it_cannot_move_aside_is_an_error(
    cache_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"garbage" * 1000)

    def refuse(self: Path, target: Path) -> Path:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(Path, "rename", refuse)
    with pytest.raises(PermissionError):
        Cache.open(cache_file, clock=clock)
    # the export was written first all the same
    assert list(cache_file.parent.glob("*.outbox-*.json"))


def test_a_cache_checked_later_is_read_at_once_and_written_once_known_sound(
    cache_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_with_work(cache_file, clock)
    release = threading.Event()
    real_check = sync.cache._check

    def slow_check(path: Path) -> str | None:
        release.wait(timeout=30)
        return real_check(path)

    monkeypatch.setattr(sync.cache, "_check", slow_check)
    with Cache.open(cache_file, clock=clock, check_later=True) as cache:
        assert cache.ticket_count() == 199  # read while the check still runs
        assert not cache.checked
        assert cache.notice is None
        release.set()
        assert cache.rebuild_if_unsound() is None
        assert cache.checked
        cache.record_sync()  # sound: written as usual
        assert cache.last_sync_at() == clock.now


def test_an_unsound_cache_checked_later_is_rebuilt_before_its_first_write(
    cache_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutation_ids = _cache_with_work(cache_file, clock)
    monkeypatch.setattr(sync.cache, "_check", lambda path: "quick_check: page 7 is never used")
    with Cache.open(cache_file, clock=clock, check_later=True) as cache:
        assert cache.ticket_count() == 199
        assert cache.notice is None  # not known unsound yet
        cache.record_sync()  # the first write waits for the check, which finds it unsound
        notice = cache.notice
        assert notice is not None
        assert "page 7" in notice.problem
        assert notice.moved_to.exists()
        # every unsent change queued again in the fresh cache, the write made there
        assert [str(c.mutation_id) for c in Store(cache).pending_batch()] == mutation_ids
        assert cache.ticket_count() == 0
        assert cache.last_sync_at() == clock.now
        assert cache.rebuild_if_unsound() is notice


def test_a_cache_checked_later_is_not_migrated_before_it_is_known_sound(
    cache_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _private_file(cache_file)
    engine = _make_engine(cache_file)
    upgrade(engine, "0001")  # a cache of an earlier version of the console
    engine.dispose()
    monkeypatch.setattr(sync.cache, "_check", lambda path: "quick_check: a bad page")
    with Cache.open(cache_file, clock=clock, check_later=True) as cache:
        notice = cache.notice  # the check was waited for, the file set aside unmigrated
        assert notice is not None
        assert cache.checked
        moved = _make_engine(notice.moved_to)
        assert current_revision(moved) == "0001"
        moved.dispose()
        assert current_revision(cache.engine) == head_revision()


def test_a_cache_that_cannot_be_rebuilt_later_fails_each_write_the_same_way(
    cache_file: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_with_work(cache_file, clock)
    monkeypatch.setattr(sync.cache, "_check", lambda path: "quick_check: a bad page")
    cache = Cache.open(cache_file, clock=clock, check_later=True)

    def refuse(self: Path, target: Path) -> Path:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(Path, "rename", refuse)
    for _attempt in range(3):
        with pytest.raises(PermissionError):
            cache.record_sync()
    # the unsent work was exported once, not at every attempt
    assert len(list(cache_file.parent.glob("*.outbox-*.json"))) == 1
