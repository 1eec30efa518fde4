"""Speed of the reference server's sync API, on SQLite and on PostgreSQL.

Run with ``python benchmarks/bench_server.py``.  For each database it:

* seeds a fresh database with 100,000 tickets (Core bulk inserts through
  :func:`server.demo.writer.write_tickets`: a creation for each, a public reply and the
  first response for most, the change-feed rows that go with them), then
  starts ``offimizer-server serve`` on a free port of 127.0.0.1 as production
  runs it: one process on SQLite (several need PostgreSQL), ``--pg-workers``
  processes on PostgreSQL (default: one a core);
* (a) initial sync: pages through ``GET /api/v1/changes`` from an empty cursor
  (limit 1,000) over real HTTP with httpx, as an administrator, and prints the
  tickets received per second (target: >= 5,000/s);
* (b) delta pulls: 200 simulated consoles (asyncio, an httpx.AsyncClient and
  keep-alive connection each, as separate programs would have), each polling
  the feed from its own cursor about once a second (a console polls when told
  "new changes" or every few seconds; once a second is a heavy case;
  ``--poll-interval`` changes it), while writer consoles push commands; prints
  p50/p95 of a pull (target: p95 <= 100 ms);
* (c) the p50/p95 of ``POST /api/v1/commands`` (one command a batch) under the
  same load.

PostgreSQL: ``--pg-url`` names a server (default: the local one); the benchmark
creates (and at the end drops) its own database ``offimizer_bench`` there, and
skips PostgreSQL with a message when it cannot connect.  Everything is bounded
in count and time and stays on the loopback interface.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from server.db import make_engine, make_sessionmaker, transaction
from server.demo.planner import Step, TicketPlan
from server.demo.seed import seed_demo
from server.demo.writer import write_tickets
from server.migrate import upgrade
from server.models import Organisation, Team, User
from server.signin import issue_token
from server.ticket_sla import load_settings

FEED_TARGET = 5_000.0  # tickets/s
PULL_P95_TARGET_MS = 100.0
TICKETS = 100_000
CONSOLES = 200
WRITERS = 10
POLL_INTERVAL_S = 1.0
WRITE_INTERVAL_S = 0.5
LOAD_SECONDS = 20.0
WARMUP_SECONDS = 3.0
PAGE = 1000
SEED = 20260318
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "offimizer_bench"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- databases ---------------------------------------------------------------------


def sqlite_database(folder: Path) -> str:
    return f"sqlite:///{folder / 'bench.db'}"


def postgres_database(base_url: str) -> str | None:
    """A fresh database ``offimizer_bench`` on the server of ``base_url`` (None: unreachable)."""
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
    except Exception as exc:
        print(f"PostgreSQL skipped: cannot reach {base_url} ({type(exc).__name__}: {exc})")
        return None
    finally:
        admin.dispose()
    url: str = make_url(base_url).set(database=BENCH_DATABASE).render_as_string(False)
    return url


def drop_postgres_database(base_url: str) -> None:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
    admin.dispose()


# -- seeding -----------------------------------------------------------------------


def bench_plans(
    rng: random.Random,
    count: int,
    now: dt.datetime,
    teams: dict[int, list[int]],
    organisations: list[tuple[int, str]],
) -> list[TicketPlan]:
    """``count`` plain tickets over four weeks: new ones, and answered open ones."""
    priorities = ["P1", "P2", "P3", "P4"]
    severities = ["blocking", "major", "minor"]
    team_ids = sorted(teams)
    plans: list[TicketPlan] = []
    for index in range(count):
        team_id = rng.choice(team_ids)
        organisation_id, plan_name = rng.choice(organisations)
        priority, severity = rng.choice(priorities), rng.choice(severities)
        agent = rng.choice(teams[team_id])
        created = now - dt.timedelta(seconds=rng.randrange(28 * 86_400))
        created = created.replace(microsecond=0)
        initial = {
            "status": "new",
            "priority": priority,
            "severity": severity,
            "plan": plan_name,
            "team_id": team_id,
            "assignee_id": None,
            "tags": ["bench"],
        }
        steps = [Step(created, agent, [("created", None, json.dumps(initial, sort_keys=True))])]
        answered = rng.random() < 0.6
        if answered:
            replied = min(created + dt.timedelta(minutes=rng.randrange(5, 600)), now)
            steps.append(
                Step(
                    replied,
                    agent,
                    [("responded", None, "reply")],
                    ("Bonjour, nous avons bien reçu votre demande.", True),
                )
            )
        plans.append(
            TicketPlan(
                subject=f"Demande de test n° {index + 1}",
                description="Ticket généré pour la mesure de performance.",
                requester_name="Client Test",
                requester_email=f"client{index % 5000}@example.com",
                organisation_id=organisation_id,
                plan=plan_name,
                priority=priority,
                severity=severity,
                status="new",
                team_id=team_id,
                assignee_id=None,
                tags=["bench"],
                created_by_id=agent,
                steps=steps,
            )
        )
    plans.sort(key=lambda plan: plan.created_at)
    return plans


@dataclass
class Seeded:
    tickets: int
    changes: int
    seconds: float
    admin_id: int
    console_users: list[int] = field(default_factory=list)
    writer_users: list[int] = field(default_factory=list)
    ticket_ids: dict[int, list[int]] = field(default_factory=dict)  # team -> tickets


def seed(engine: Engine, count: int, now: dt.datetime) -> Seeded:
    started = time.perf_counter()
    factory = make_sessionmaker(engine)
    with transaction(factory) as session:
        seed_demo(session, now, tickets=0, password_hash="!bench: no password")
        teams = {
            team.id: [member.user_id for member in team.members]
            for team in session.scalars(select(Team))
        }
        organisations = [
            (organisation.id, organisation.plan)
            for organisation in session.scalars(select(Organisation))
        ]
        users = list(session.scalars(select(User)))
        admin_id = next(user.id for user in users if user.role == "admin")
        leads = [user.id for user in users if user.role == "team_lead"]
        members = [user.id for user in users if user.role != "admin"]
    plans = bench_plans(random.Random(SEED), count, now, teams, organisations)
    changes = 0
    for start in range(0, len(plans), 10_000):
        with transaction(factory) as session:
            settings = load_settings(session)
            changes += write_tickets(session, plans[start : start + 10_000], settings, now)[2]
    seconds = time.perf_counter() - started
    if engine.dialect.name == "sqlite":
        # the seed's write-ahead log goes into the database now, not during the measures
        raw = engine.raw_connection()  # outside any transaction
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    with engine.connect() as connection:
        ticket_ids: dict[int, list[int]] = {}
        for ticket_id, team_id in connection.execute(text("SELECT id, team_id FROM tickets")):
            ticket_ids.setdefault(team_id, []).append(ticket_id)
    return Seeded(count, changes, seconds, admin_id, members, leads, ticket_ids)


def mint_tokens(engine: Engine, user_ids: Sequence[int], now: dt.datetime) -> list[str]:
    lifetime = dt.timedelta(hours=2)
    with transaction(make_sessionmaker(engine)) as session:
        return [issue_token(session, user_id, now, lifetime) for user_id in user_ids]


# -- the server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``offimizer-server serve`` as run in production: ``workers`` processes."""

    def __init__(self, url: str, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "--database-url", url, "serve"]
            + ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,  # uvicorn's access log: a line a request
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the server exited at start")
            try:
                httpx.get(f"{self.base}/api/v1/me", timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- (a) initial sync --------------------------------------------------------------


def initial_sync(base: str, token: str) -> tuple[int, int, int, float, str]:
    """Pages through the whole feed; returns tickets, changes, bytes, seconds, last cursor."""
    headers = {"Authorization": f"Bearer {token}"}
    tickets = changes = size = 0
    cursor = ""
    with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
        started = time.perf_counter()
        while True:
            response = client.get("/api/v1/changes", params={"cursor": cursor, "limit": PAGE})
            response.raise_for_status()
            size += len(response.content)
            page = response.json()
            for change in page["changes"]:
                changes += 1
                if change["entity"] == "ticket":
                    tickets += 1
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        seconds = time.perf_counter() - started
    return tickets, changes, size, seconds, cursor


# -- (b) and (c): consoles under load ------------------------------------------------


@dataclass
class Load:
    pulls: list[float] = field(default_factory=list)
    commands: list[float] = field(default_factory=list)
    received: int = 0
    errors: int = 0
    applied: int = 0


async def console(
    client: httpx.AsyncClient,
    token: str,
    cursor: str,
    load: Load,
    measure_from: float,
    until: float,
    rng: random.Random,
    interval: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await asyncio.sleep(rng.uniform(0, interval))
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            response = await client.get(
                "/api/v1/changes", params={"cursor": cursor, "limit": PAGE}, headers=headers
            )
            response.raise_for_status()
        except httpx.HTTPError:
            load.errors += 1
            await asyncio.sleep(interval)
            continue
        elapsed = time.perf_counter() - started
        page = response.json()
        cursor = page["next_cursor"]
        if time.monotonic() >= measure_from:
            load.pulls.append(elapsed)
            load.received += len(page["changes"])
        if not page["has_more"]:
            await asyncio.sleep(interval * rng.uniform(0.8, 1.2))


async def writer(
    client: httpx.AsyncClient,
    token: str,
    tickets: list[int],
    load: Load,
    measure_from: float,
    until: float,
    rng: random.Random,
) -> None:
    """A team lead at work: comments, priorities and tags on the team's tickets."""
    headers = {"Authorization": f"Bearer {token}"}
    versions: dict[int, int] = {}
    await asyncio.sleep(rng.uniform(0, WRITE_INTERVAL_S))
    while time.monotonic() < until:
        ticket_id = rng.choice(tickets)
        kind = rng.choice(("add_comment", "set_priority", "add_tag", "add_comment"))
        command: dict[str, Any] = {
            "type": kind,
            "mutation_id": str(uuid.uuid4()),
            "ticket_id": ticket_id,
            "base_version": versions.get(ticket_id, 0),
        }
        if kind == "add_comment":
            command |= {"body": "Analyse en cours, nous revenons vers vous.", "public": False}
        elif kind == "set_priority":
            command["priority"] = rng.choice(("P1", "P2", "P3", "P4"))
        else:
            command["tag"] = rng.choice(("escalade", "rappel-client", "vip"))
        started = time.perf_counter()
        try:
            response = await client.post(
                "/api/v1/commands", json={"commands": [command]}, headers=headers
            )
            response.raise_for_status()
        except httpx.HTTPError:
            load.errors += 1
            await asyncio.sleep(WRITE_INTERVAL_S)
            continue
        elapsed = time.perf_counter() - started
        result = response.json()["results"][0]
        if result["status"] == "applied":
            versions[ticket_id] = result["version"]
            if time.monotonic() >= measure_from:
                load.applied += 1
        if time.monotonic() >= measure_from:
            load.commands.append(elapsed)
        await asyncio.sleep(WRITE_INTERVAL_S * rng.uniform(0.8, 1.2))


async def run_load(
    base: str,
    console_tokens: list[str],
    writer_tokens: list[tuple[str, list[int]]],
    cursor: str,
    seconds: float,
    interval: float,
) -> Load:
    load = Load()
    rng = random.Random(SEED)
    # one client (one keep-alive connection) per console, as each console is its own
    # program: a single client shared by all would measure httpx's pool, not the server
    clients = [
        httpx.AsyncClient(base_url=base, timeout=30.0, limits=httpx.Limits(max_connections=1))
        for _ in range(len(console_tokens) + len(writer_tokens))
    ]
    try:
        now = time.monotonic()
        measure_from, until = now + WARMUP_SECONDS, now + WARMUP_SECONDS + seconds
        tasks = [
            console(
                client,
                token,
                cursor,
                load,
                measure_from,
                until,
                random.Random(rng.random()),
                interval,
            )
            for client, token in zip(clients, console_tokens, strict=False)
        ]
        tasks += [
            writer(client, token, tickets, load, measure_from, until, random.Random(rng.random()))
            for client, (token, tickets) in zip(
                clients[len(console_tokens) :], writer_tokens, strict=True
            )
        ]
        # The 200 consoles share this process: its collector, walking the seeding's and
        # every console's objects at once, would pause them all together (a tenth of a
        # second and more, measured), which 200 small programs never do; the load is
        # short, so the collector rests during it.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            await asyncio.gather(*tasks)
        finally:
            gc.enable()
            gc.unfreeze()
    finally:
        for client in clients:
            await client.aclose()
    return load


# -- one database ------------------------------------------------------------------


def bench_database(
    name: str, url: str, workers: int, count: int, consoles: int, seconds: float, interval: float
) -> None:
    print(f"{name}, offimizer-server serve --workers {workers}:")
    now = dt.datetime.now(dt.UTC)
    engine = make_engine(url)
    upgrade(engine)
    seeded = seed(engine, count, now)
    print(
        f"  seeded {seeded.tickets:,} tickets ({seeded.changes:,} feed changes) "
        f"in {seeded.seconds:.1f} s"
    )
    rng = random.Random(SEED)
    admin_token = mint_tokens(engine, [seeded.admin_id], now)[0]
    console_users = [rng.choice(seeded.console_users) for _ in range(consoles)]
    console_tokens = mint_tokens(engine, console_users, now)
    with engine.connect() as connection:
        lead_teams: dict[int, int] = dict(
            connection.execute(
                text(
                    "SELECT u.id, m.team_id FROM users u JOIN team_members m ON m.user_id = u.id "
                    "WHERE u.role = 'team_lead'"
                )
            ).all()
        )
    writer_users = [seeded.writer_users[i % len(seeded.writer_users)] for i in range(WRITERS)]
    writer_tokens = [
        (token, seeded.ticket_ids[lead_teams[user_id]])
        for token, user_id in zip(mint_tokens(engine, writer_users, now), writer_users, strict=True)
    ]
    engine.dispose()

    server = Server(url, workers)
    try:
        server.wait_ready()
        tickets, changes, size, took, cursor = initial_sync(server.base, admin_token)
        rate = tickets / took
        print(
            f"  (a) initial sync: {tickets:,} tickets ({changes:,} changes, "
            f"{size / 1e6:,.0f} MB) in {took:.1f} s: {rate:,.0f} tickets/s, "
            f"{changes / took:,.0f} changes/s   "
            f"(target >= {FEED_TARGET:,.0f} tickets/s: {verdict(rate >= FEED_TARGET)})"
        )
        load = asyncio.run(
            run_load(server.base, console_tokens, writer_tokens, cursor, seconds, interval)
        )
        pull_p50 = percentile(load.pulls, 0.5) * 1000
        pull_p95 = percentile(load.pulls, 0.95) * 1000
        print(
            f"  (b) delta pulls, {consoles} consoles polling every ~{interval:g} s, "
            f"{WRITERS} writers, {seconds:.0f} s: {len(load.pulls):,} pulls "
            f"({len(load.pulls) / seconds:,.0f}/s, {load.received:,} changes received): "
            f"p50 {pull_p50:.1f} ms, p95 {pull_p95:.1f} ms   "
            f"(target p95 <= {PULL_P95_TARGET_MS:.0f} ms: "
            f"{verdict(pull_p95 <= PULL_P95_TARGET_MS)})"
        )
        print(
            f"  (c) commands under the same load: {len(load.commands):,} "
            f"({load.applied:,} applied): p50 {percentile(load.commands, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(load.commands, 0.95) * 1000:.1f} ms"
        )
        if load.errors:
            print(f"  {load.errors} requests failed")
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--consoles", type=int, default=CONSOLES)
    parser.add_argument("--seconds", type=float, default=LOAD_SECONDS, help="load phase length")
    parser.add_argument(
        "--poll-interval", type=float, default=POLL_INTERVAL_S, help="seconds between pulls"
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("OFFIMIZER_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument(
        "--pg-workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes on PostgreSQL (default: one a core; SQLite runs one)",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    load = (args.tickets, args.consoles, args.seconds, args.poll_interval)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            sqlite_url = sqlite_database(Path(folder))
            bench_database("SQLite", sqlite_url, 1, *load)
    if not args.skip_pg:
        url = postgres_database(args.pg_url)
        if url is not None:
            try:
                bench_database("PostgreSQL", url, args.pg_workers, *load)
            finally:
                drop_postgres_database(args.pg_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
