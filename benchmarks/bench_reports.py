"""Cost of the SLA compliance report (``GET /api/v1/reports/compliance``).

Run with ``python benchmarks/bench_reports.py [--tickets N]``.  Seeds a fresh
SQLite database with the demo data (``server.demo``, N tickets over the last
26 days, with their histories), then builds the report of that whole period for
an administrator (every ticket) and for a team lead (their teams), a few times
each, and prints the median time and the tickets per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from server.db import make_engine, make_sessionmaker, transaction
from server.demo.planner import WINDOW_DAYS
from server.demo.seed import seed_demo
from server.migrate import upgrade
from server.models import User
from server.reports import compliance_report
from server.security import hash_password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        upgrade(engine)
        factory = make_sessionmaker(engine)
        started = time.perf_counter()
        with transaction(factory) as session:
            summary = seed_demo(
                session, now, tickets=args.tickets, password_hash=hash_password("x", cost=4)
            )
        print(f"seeded {summary.tickets} tickets in {time.perf_counter() - started:.1f} s")
        start, end = now - dt.timedelta(days=WINDOW_DAYS + 1), now + dt.timedelta(seconds=1)
        for role in ("admin", "team_lead"):
            with transaction(factory) as session:
                user = session.scalars(select(User).where(User.role == role).limit(1)).one()
            timings: list[float] = []
            count = 0
            for _run in range(args.runs):
                with transaction(factory) as session:
                    user = session.get_one(User, user.id)
                    began = time.perf_counter()
                    report = compliance_report(session, user, start, end, now)
                    timings.append(time.perf_counter() - began)
                total = report.total
                count = sum((total.resolution_met, total.resolution_missed, total.resolution_open))
            median = statistics.median(timings)
            print(
                f"{role:9}: {count} tickets, median {median * 1000:.0f} ms "
                f"({count / median:,.0f} tickets/s) over {args.runs} runs"
            )
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
