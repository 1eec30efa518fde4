"""The demo data (``server.demo``, ``offimizer-server serve --seed-demo``)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from protocol import Priority, Severity, Status
from server.__main__ import main
from server.app import create_app
from server.db import Base, make_engine, make_sessionmaker, transaction
from server.demo.corpus import TEAMS
from server.demo.planner import WINDOW_DAYS
from server.demo.seed import DEMO_PASSWORD, database_is_empty, seed_demo
from server.migrate import upgrade
from server.models import (
    ChangeLog,
    Comment,
    Organisation,
    Team,
    Ticket,
    TicketHistory,
    User,
)
from server.security import hash_password
from server.signin import issue_token
from tests.server.conftest import FakeClock
from tests.server.feedreader import FeedReader

#: A Wednesday afternoon in Paris, and a Sunday night: the queue must look alive at both.
INSTANTS = [
    dt.datetime(2026, 3, 18, 14, 12, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 22, 22, 40, tzinfo=dt.UTC),
]
#: Clocks in each interesting state, at least, per SLA clock.
AT_LEAST = 10


@pytest.fixture(scope="module")
def demo_hash() -> str:
    return hash_password(DEMO_PASSWORD)


def _empty(engine: Engine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                connection.execute(text(f"DELETE FROM {name}"))


@dataclass
class Demo:
    engine: Engine
    now: dt.datetime
    client: TestClient

    def headers(self, username: str) -> dict[str, str]:
        """A bearer token for ``username``, minted directly (no bcrypt round)."""
        with transaction(make_sessionmaker(self.engine)) as session:
            user_id = session.scalars(select(User.id).where(User.username == username)).one()
            token = issue_token(session, user_id, self.now, dt.timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    def tickets(self, username: str) -> list[dict[str, Any]]:
        """Every ticket ``username`` can list, through the API."""
        headers = self.headers(username)
        found: list[dict[str, Any]] = []
        for offset in itertools.count(0, 500):
            response = self.client.get(
                "/api/v1/tickets", params={"offset": offset, "limit": 500}, headers=headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            found.extend(page["items"])
            if offset + 500 >= page["total"]:
                return found
        raise AssertionError("unreachable")  # pragma: no cover


@pytest.fixture(scope="module", params=INSTANTS, ids=["weekday", "sunday-night"])
def demo(request: pytest.FixtureRequest, session_engine: Engine, demo_hash: str) -> Iterator[Demo]:
    """The demo, seeded once per instant in the session's database."""
    now: dt.datetime = request.param
    _empty(session_engine)
    with transaction(make_sessionmaker(session_engine)) as session:
        seed_demo(session, now, password_hash=demo_hash)
    app = create_app(session_engine, clock=FakeClock(now))
    with TestClient(app) as client:
        yield Demo(session_engine, now, client)
    _empty(session_engine)


def test_the_directory_has_teams_with_leads_agents_and_an_admin(demo: Demo) -> None:
    with transaction(make_sessionmaker(demo.engine)) as session:
        teams = list(session.scalars(select(Team).order_by(Team.id)))
        users = list(session.scalars(select(User)))
        organisations = list(session.scalars(select(Organisation)))
        roles_by_team = {
            team.name: Counter(member.user.role for member in team.members) for team in teams
        }
    assert [team.name for team in teams] == list(TEAMS)
    assert 12 <= len(users) <= 15
    assert any(user.role == "admin" for user in users)
    for name, roles in roles_by_team.items():
        assert roles["team_lead"] >= 1, name
        assert roles["agent"] >= 2, name
    assert len(organisations) == 40
    assert {o.plan for o in organisations} == {"enterprise", "business", "professional"}


def test_tickets_cover_every_priority_severity_and_status(demo: Demo) -> None:
    with transaction(make_sessionmaker(demo.engine)) as session:
        tickets = list(session.scalars(select(Ticket)))
        comments = list(session.scalars(select(Comment)))
        fields = set(session.scalars(select(TicketHistory.field).distinct()))
    assert len(tickets) == 600
    combos = Counter((t.priority, t.severity) for t in tickets)
    assert set(combos) == {(p.value, s.value) for p in Priority for s in Severity}
    statuses = Counter(t.status for t in tickets)
    assert set(statuses) == {status.value for status in Status}
    assert min(statuses.values()) >= 30
    assert len({t.tracking_number for t in tickets}) == 600
    assert all(t.tracking_number.startswith(f"INC-{t.created_at.year}-") for t in tickets)
    assert len({t.subject for t in tickets}) >= 30
    assert len({t.requester_email for t in tickets}) >= 200
    assert sum(1 for t in tickets if t.tags) == 600
    assert Counter(c.public for c in comments)[True] >= 600
    assert Counter(c.public for c in comments)[False] >= 200
    assert {
        "created",
        "assignee",
        "status",
        "priority",
        "responded",
        "reply",
        "note",
        "tag_added",
    } <= fields
    oldest = demo.now - dt.timedelta(days=WINDOW_DAYS)
    assert all(oldest <= t.created_at <= t.updated_at <= demo.now for t in tickets)
    assert max(t.created_at for t in tickets) - min(t.created_at for t in tickets) > dt.timedelta(
        days=20
    )


def test_history_replays_to_each_tickets_state(demo: Demo) -> None:
    with transaction(make_sessionmaker(demo.engine)) as session:
        tickets = {t.id: t for t in session.scalars(select(Ticket))}
        entries = list(session.scalars(select(TicketHistory).order_by(TicketHistory.id)))
        comments = {c.id: c for c in session.scalars(select(Comment))}
    state: dict[int, dict[str, Any]] = {}
    for entry in entries:
        if entry.field == "created":
            assert entry.ticket_id not in state
            state[entry.ticket_id] = json.loads(entry.after or "{}") | {
                "version": entry.version,
                "at": entry.at,
            }
            continue
        current = state[entry.ticket_id]
        assert entry.version in (current["version"], current["version"] + 1)
        assert entry.at >= current["at"]
        current["version"], current["at"] = entry.version, entry.at
        if entry.field in ("status", "priority", "severity"):
            assert current[entry.field] == entry.before
            current[entry.field] = entry.after
        elif entry.field == "assignee":
            current["assignee_id"] = None if entry.after is None else int(entry.after)
        elif entry.field == "tag_added":
            current["tags"] = sorted([*current["tags"], entry.after])
        elif entry.field in ("reply", "note"):
            comment = comments[int(entry.after or 0)]
            assert (comment.ticket_id, comment.public) == (entry.ticket_id, entry.field == "reply")
    assert set(state) == set(tickets)
    for ticket_id, ticket in tickets.items():
        replayed = state[ticket_id]
        assert replayed["status"] == ticket.status
        assert replayed["priority"] == ticket.priority
        assert replayed["severity"] == ticket.severity
        assert replayed["assignee_id"] == ticket.assignee_id
        assert replayed["tags"] == ticket.tags
        assert replayed["version"] == ticket.version


def test_the_api_computes_a_lively_mix_of_sla_states(demo: Demo) -> None:
    tickets = demo.tickets("admin")
    assert len(tickets) == 600
    response = Counter(t["sla"]["response"]["state"] for t in tickets)
    resolution = Counter(t["sla"]["resolution"]["state"] for t in tickets)
    for clock in (response, resolution):
        assert clock["at_risk"] >= AT_LEAST, clock
        assert clock["breached"] >= AT_LEAST, clock
        assert clock["met"] >= AT_LEAST, clock
        assert clock["missed"] >= AT_LEAST, clock
        # running now, or running once the office opens again
        assert clock["running"] + clock["outside_hours"] >= AT_LEAST, clock
    assert resolution["paused"] >= AT_LEAST, resolution
    assert resolution["met"] >= 100, resolution
    pending = [t for t in tickets if t["status"] == "pending"]
    assert all(t["sla"]["resolution"]["state"] in ("paused", "breached") for t in pending)


def test_demo_credentials_sign_in(demo: Demo) -> None:
    for username in ("agent", "lead", "admin"):
        response = demo.client.post(
            "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text


def test_agents_see_only_their_teams_tickets(demo: Demo) -> None:
    with transaction(make_sessionmaker(demo.engine)) as session:
        teams = {t.name: t.id for t in session.scalars(select(Team))}
        per_team = Counter(session.scalars(select(Ticket.team_id)))
        foreign = session.scalars(
            select(Ticket.id).where(Ticket.team_id != teams["Support N1"]).limit(1)
        ).one()
    mine = demo.tickets("agent")
    assert {t["team_id"] for t in mine} == {teams["Support N1"]}
    assert len(mine) == per_team[teams["Support N1"]]
    headers = demo.headers("agent")
    assert demo.client.get(f"/api/v1/tickets/{foreign}", headers=headers).status_code == 404
    reader = FeedReader(demo.client, headers)
    reader.poll()
    assert {t["team_id"] for t in reader.tickets().values()} == {teams["Support N1"]}
    assert len(reader.tickets()) == per_team[teams["Support N1"]]
    # an agent of two teams sees both
    both = demo.tickets("mathieu")
    assert {t["team_id"] for t in both} == {teams["Support N2"], teams["Intégrations"]}


def test_the_feed_from_an_empty_cursor_holds_every_entity(demo: Demo) -> None:
    reader = FeedReader(demo.client, demo.headers("admin"))
    reader.poll()
    seen: dict[str, set[int]] = {}
    for entity, entity_id in reader.state:
        seen.setdefault(entity, set()).add(entity_id)
    with transaction(make_sessionmaker(demo.engine)) as session:
        stored = {
            "team": set(session.scalars(select(Team.id))),
            "organisation": set(session.scalars(select(Organisation.id))),
            "user": set(session.scalars(select(User.id))),
            "ticket": set(session.scalars(select(Ticket.id))),
            "comment": set(session.scalars(select(Comment.id))),
            "history": set(session.scalars(select(TicketHistory.id))),
        }
        logged = session.scalar(select(func.count()).select_from(ChangeLog))
    assert seen == stored
    assert reader.seqs == list(range(1, (logged or 0) + 1))
    # what the feed carries is what the API serves (SLA included, as of the seed's now)
    served = {t["id"]: t for t in demo.tickets("admin")}
    assert reader.tickets() == served


def _feed_of_a_fresh_database(
    tmp_path: Path, name: str, now: dt.datetime, seed: int, password_hash: str
) -> list[tuple[int, str, int, Any]]:
    engine = make_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        seed_demo(session, now, seed=seed, password_hash=password_hash)
    with engine.connect() as connection:
        rows = connection.execute(
            select(ChangeLog.seq, ChangeLog.entity, ChangeLog.entity_id, ChangeLog.data).order_by(
                ChangeLog.seq
            )
        )
        feed = [tuple(row) for row in rows]
    engine.dispose()
    return feed


def test_seeding_is_deterministic_for_a_seed_and_an_instant(tmp_path: Path, demo_hash: str) -> None:
    now = INSTANTS[0]
    first = _feed_of_a_fresh_database(tmp_path, "a.db", now, 7, demo_hash)
    again = _feed_of_a_fresh_database(tmp_path, "b.db", now, 7, demo_hash)
    other = _feed_of_a_fresh_database(tmp_path, "c.db", now, 8, demo_hash)
    assert first == again
    assert first != other
    later = _feed_of_a_fresh_database(tmp_path, "d.db", now + dt.timedelta(days=3), 7, demo_hash)
    # seeded later, the demo is as lively: its tickets move with the instant
    newest = max(row[3]["updated_at"] for row in first if row[1] == "ticket")
    newest_later = max(row[3]["updated_at"] for row in later if row[1] == "ticket")
    assert newest < now.isoformat() < newest_later


def test_seed_demo_refuses_a_database_with_data(tmp_path: Path, demo_hash: str) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        assert database_is_empty(session)
        seed_demo(session, INSTANTS[0], tickets=20, password_hash=demo_hash)
    with transaction(factory) as session, pytest.raises(ValueError, match="already"):
        seed_demo(session, INSTANTS[0], password_hash=demo_hash)
    engine.dispose()


def test_serve_seed_demo_fills_an_empty_database_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[object] = []

    def serve(app: object, **options: object) -> bool:
        served.append(app)
        return True

    monkeypatch.setattr("server.serving.run", serve)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["--database-url", url, "serve", "--seed-demo", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "600 tickets" in out
    assert DEMO_PASSWORD in out
    assert main(["--database-url", url, "serve", "--seed-demo"]) == 0
    assert "already holds data" in capsys.readouterr().err
    assert len(served) == 2  # served both times
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 600
        assert session.scalar(select(func.count()).select_from(User)) == 13
    engine.dispose()


def test_serve_without_the_option_seeds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.serving.run", lambda app, **options: True)
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    assert main(["--database-url", url, "serve"]) == 0
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as session:
        assert database_is_empty(session)
    engine.dispose()
