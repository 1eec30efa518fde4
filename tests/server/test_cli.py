"""``offimizer-server migrate`` and ``create-user``."""

from __future__ import annotations

import gc
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select

from server.__main__ import default_database_url, main
from server.app import create_app, settle_heap
from server.db import make_engine, make_sessionmaker, transaction
from server.models import SlaConfig, Team, User
from server.security import verify_password
from server.ticket_sla import load_settings


def test_the_default_database_lives_in_the_user_data_folder() -> None:
    url = default_database_url()
    assert url.startswith("sqlite:///")
    assert "offimizer-server" in url


def test_migrate_builds_the_schema_and_the_default_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'server.db'}"
    assert main(["--database-url", url, "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    engine = make_engine(url)
    assert "tickets" in inspect(engine).get_table_names()
    with transaction(make_sessionmaker(engine)) as session:
        assert session.get(SlaConfig, 1) is not None
    engine.dispose()


def test_create_user_hashes_the_password_and_joins_teams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-password\n"))
    arguments = ["--database-url", url, "create-user", "carol", "--role", "team_lead"]
    assert main([*arguments, "--team", "Support", "--password-stdin"]) == 0
    assert "carol" in capsys.readouterr().out
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        user = session.scalars(select(User).where(User.username == "carol")).one()
        assert user.role == "team_lead"
        assert user.password_hash.startswith("$2b$10$")  # bcrypt, cost 10
        assert verify_password("s3cret-password", user.password_hash)
        team = session.scalars(select(Team)).one()
        assert (team.name, user.team_ids) == ("Support", [team.id])
    monkeypatch.setattr("sys.stdin", io.StringIO("another-password\n"))
    assert main([*arguments, "--password-stdin"]) == 1
    assert "already taken" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["--database-url", url, "create-user", "dan", "--password-stdin"]) == 1
    engine.dispose()


def test_several_workers_are_refused_on_sqlite_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    assert main(["--database-url", url, "serve", "--workers", "2"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err
    assert main(["--database-url", url, "serve", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "server.db").exists()  # refused before anything was written


def test_the_database_url_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("OFFIMIZER_DATABASE_URL", url)
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / "from-env.db").exists()


def test_a_serving_process_indexes_its_calendar_and_freezes_its_startup_heap(
    engine: Engine,
) -> None:
    # built before the first request (which would otherwise wait for it), and out of
    # the collector's way: full collections would walk it again and stall every request
    app = create_app(engine)
    with transaction(make_sessionmaker(engine)) as session:
        calendar = load_settings(session).calendar
    gc.unfreeze()
    try:
        settle_heap(app)
        assert calendar._index is not None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most accounts have (022): files readable by all unless made private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("usual_umask")
def test_the_database_is_private_to_the_server_account(tmp_path: Path) -> None:
    folder = tmp_path / "offimizer-server"
    path = folder / "offimizer.db"
    url = f"sqlite:///{path}"
    assert main(["--database-url", url, "migrate"]) == 0
    assert (mode(folder), mode(path)) == (0o700, 0o600)
    engine = make_engine(url)  # the write-ahead log and shared memory files, while open
    try:
        with transaction(make_sessionmaker(engine)) as session:
            session.get(SlaConfig, 1)
        sides = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert [(side.name, mode(side)) for side in sides] == [
            ("offimizer.db-wal", 0o600),
            ("offimizer.db-shm", 0o600),
        ]
    finally:
        engine.dispose()


@pytest.mark.usefixtures("usual_umask")
def test_a_database_left_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    url = f"sqlite:///{path}"
    assert main(["--database-url", url, "migrate"]) == 0
    path.chmod(0o644)
    assert main(["--database-url", url, "migrate"]) == 0
    assert mode(path) == 0o600
