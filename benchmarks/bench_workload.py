"""Speed of the team lead's workload panel and reassignment preview over a large cache.

Run with ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_workload.py [--count N]
[--cache FILE]``.  It fills a cache with demo tickets (``--cache`` keeps it for
the next run) and prints, for the demo's team lead (two teams of three):

* the open tickets of the lead's teams the panel counts;
* loading the panel from the cache (teams, agents, open tickets and their
  histories) and counting it (ms); and the same load as the console does it, in
  slices between events: the longest slice (ms; how long the window waits at
  most) and the whole load (s);
* one tick: the panel's figures at a later instant, from the clocks' thresholds (ms;
  the panel does this every 15 s while shown);
* the reassignment preview of 50 tickets (ms; computed before the dialog shows);
* after a sync that changed 100 of the teams' tickets, re-reading just those (ms;
  what the panel does after each sync while shown).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from desktop.demo_data import seed_demo_until
from desktop.models.sla_cells import SlaRules
from desktop.models.workload import LOAD_SLICE, WorkloadModel, preview_move
from sla.policy import Priority
from sync.cache import Cache, utc_now
from sync.store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv)
    _app = QApplication.instance() or QApplication(sys.argv[:1])
    with contextlib.ExitStack() as stack:
        path = args.cache
        if path is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-workload-"))
            path = Path(folder) / "cache.sqlite3"
        cache = Cache.open(path)
        stack.callback(cache.close)
        if cache.ticket_count() < args.count:
            started = time.perf_counter()
            seed_demo_until(cache, args.count)
            print(f"filled {args.count:,} tickets in {time.perf_counter() - started:.1f} s")
        lead = next(user for user in cache.users() if user.role.value == "team_lead")
        rules = SlaRules.from_cache(cache)
        model = WorkloadModel(cache, me=lead.id, now=utc_now, rules=lambda: rules)

        started = time.perf_counter()
        model.reload()
        load_ms = (time.perf_counter() - started) * 1000
        open_tickets = sum(row.open for row in model.rows)
        # as the console loads it: in slices, the window answering between them
        sliced = WorkloadModel(
            cache, me=lead.id, now=utc_now, rules=lambda: rules, slice_size=LOAD_SLICE
        )
        moments: list[float] = []
        loop = QEventLoop()

        def progressed() -> None:
            moments.append(time.perf_counter())
            if sliced.loading is None:
                loop.quit()

        sliced.loadProgress.connect(progressed)
        started = time.perf_counter()
        sliced.reload()
        if sliced.loading is not None:
            loop.exec()
        sliced_s = time.perf_counter() - started
        longest_ms = max(b - a for a, b in zip([started, *moments], moments, strict=False)) * 1000
        slices = len(moments) - 1

        started = time.perf_counter()
        model.tick()
        tick_ms = (time.perf_counter() - started) * 1000
        some = [ticket_id for row in model.rows for ticket_id in row.ticket_ids][:50]
        started = time.perf_counter()
        preview_move(cache, some, rules, utc_now())
        preview_ms = (time.perf_counter() - started) * 1000

        # a sync lands: 100 of the team's tickets changed (as a pull or commands do)
        store = Store(cache, user_id=lead.id)
        for ticket_id in some[:100]:
            store.set_priority(ticket_id, Priority.P1)
        for ticket_id in [i for row in model.rows for i in row.ticket_ids][50:100]:
            store.assign(ticket_id, None)
        started = time.perf_counter()
        changed = model.refresh_changed()
        refresh_ms = (time.perf_counter() - started) * 1000

        print(f"cached tickets: {cache.ticket_count():,}")
        print(f"open tickets of the lead's teams: {open_tickets:,} in {len(model.rows)} rows")
        print(f"workload load + count: {load_ms:.0f} ms")
        print(
            f"  in {slices} slices as the console loads it: the longest {longest_ms:.0f} ms, "
            f"the whole load {sliced_s:.1f} s"
        )
        print(f"workload tick (binary searches in the clocks' thresholds): {tick_ms:.2f} ms")
        print(f"reassignment preview of {len(some)} tickets: {preview_ms:.1f} ms")
        print(
            f"after a sync that changed {changed} of them, the panel follows: {refresh_ms:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
