"""``offimizer-server backup DEST``: a consistent copy of a live SQLite database."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from server import changes as feed
from server.__main__ import main
from server.dates import utc_now
from server.db import make_engine, make_sessionmaker, transaction
from server.directory import create_organisation
from server.migrate import upgrade
from server.models import Organisation

BEFORE = 40


def add_organisation(engine: Engine, name: str) -> None:
    with transaction(make_sessionmaker(engine)) as session:
        changes = feed.ChangeSet()
        create_organisation(session, changes, name, "enterprise")
        changes.publish(session, utc_now())


@pytest.fixture
def live(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return url, engine


def names_in(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        return [row[0] for row in connection.execute("SELECT name FROM organisations ORDER BY id")]


def test_a_backup_taken_while_the_server_writes_is_consistent(
    live: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = live
    for number in range(BEFORE):
        add_organisation(engine, f"before-{number}")
    started = threading.Event()
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        number = 0
        try:
            while not stop.is_set():
                add_organisation(engine, f"during-{number}")
                written.append(number)
                number += 1
                started.set()
        except BaseException as error:  # reported below
            errors.append(error)
            started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert started.wait(timeout=30)
        committed = len(written)  # before the backup starts
        destination = tmp_path / "copies" / "backup.db"
        assert main(["--database-url", url, "backup", str(destination)]) == 0
    finally:
        stop.set()
        thread.join()
    engine.dispose()
    assert errors == []
    assert str(destination) in capsys.readouterr().out
    names = names_in(destination)
    before = [name for name in names if name.startswith("before-")]
    during = [name for name in names if name.startswith("during-")]
    # every row committed before the backup started, and a gapless prefix of the rest
    assert before == [f"before-{number}" for number in range(BEFORE)]
    assert during == [f"during-{number}" for number in range(len(during))]
    assert len(during) >= committed >= 1
    # the copy serves: the server migrates and reads it as it is
    copy = make_engine(f"sqlite:///{destination}")
    upgrade(copy)
    with transaction(make_sessionmaker(copy)) as session:
        assert session.scalar(select(Organisation.name).where(Organisation.id == 1)) == "before-0"
    copy.dispose()


def test_an_existing_file_is_replaced_only_with_force(
    live: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = live
    add_organisation(engine, "Acme")
    engine.dispose()
    destination = tmp_path / "backup.db"
    destination.write_bytes(b"precious")
    assert main(["--database-url", url, "backup", str(destination)]) == 1
    assert "--force" in capsys.readouterr().err
    assert destination.read_bytes() == b"precious"
    assert main(["--database-url", url, "backup", str(destination), "--force"]) == 0
    assert names_in(destination) == ["Acme"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup.db", "live.db"]


def test_a_missing_database_is_reported_and_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    assert main(["--database-url", url, "backup", str(tmp_path / "copy.db")]) == 1
    assert "no database" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_postgresql_points_to_pg_dump_without_showing_the_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = "postgresql+psycopg://offimizer:s3cret@db.example.com:5432/offimizer"
    assert main(["--database-url", url, "backup", str(tmp_path / "copy.db")]) == 1
    message = capsys.readouterr().err
    assert "pg_dump" in message
    assert "pg_restore" in message
    assert "postgresql://offimizer:***@db.example.com:5432/offimizer" in message
    assert "s3cret" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_backup_is_private_to_the_server_account(
    live: tuple[str, Engine], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = live
    add_organisation(engine, "Acme")
    engine.dispose()
    previous = os.umask(0o022)  # the usual umask: files readable by all unless made private
    try:
        destination = tmp_path / "backups" / "nightly" / "offimizer.db"
        assert main(["--database-url", url, "backup", str(destination)]) == 0
        replaced = tmp_path / "shared.db"
        replaced.write_bytes(b"old")
        replaced.chmod(0o644)
        assert main(["--database-url", url, "backup", str(replaced), "--force"]) == 0
    finally:
        os.umask(previous)
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in (destination.parent.parent, destination.parent, destination, replaced)
    }
    assert modes == {
        "backups": 0o700,
        "backups/nightly": 0o700,
        "backups/nightly/offimizer.db": 0o600,
        "shared.db": 0o600,
    }
    assert names_in(destination) == ["Acme"]
