"""Speed of the team lead's workload panel and reassignment preview over a large cache.

Run with ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_workload.py [--count N]
[--cache FILE]``.  It fills a cache with demo tickets (``--cache`` keeps it for
the next run) and prints, for the demo's team lead (two teams of three):

* the open tickets of the lead's teams the panel counts;
* the queue read and every clock evaluated, as the console does at start (the
  tickets on screen first, the others in the background) (s; for the record:
  the panel counts on these clocks, it evaluates none of its own);
* opening the panel once the queue has evaluated its clocks: its teams, agents
  and open tickets placed and counted (ms; target <= 500 ms);
* the same as the console does it when the lead opens the panel before the queue
  has evaluated its clocks (a start without the clocks' memo): in slices between
  events, the longest slice (ms; how long the window waits at most) and the whole
  load (s);
* one tick: the panel's figures at a later instant, from the clocks' thresholds (ms;
  the panel does this every 15 s while shown);
* the reassignment preview of 50 tickets (ms; computed before the dialog shows);
* after a sync that changed 100 of the teams' tickets: the queue reads them again
  and the panel follows (ms; the panel's share apart).
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
from desktop.models.forecast import preview_move
from desktop.models.queue import QueueModel, QueueState
from desktop.models.sla_memo import memo_path
from desktop.models.workload import LOAD_SLICE, WorkloadModel
from sla.policy import Priority
from sync.cache import Cache, utc_now
from sync.store import Store

#: Opening the panel, once the queue has evaluated its clocks (ms).
TARGET_MS = 500


class TimedWorkload(WorkloadModel):
    """A workload that notes how long it takes to follow the queue."""

    following_s = 0.0

    def follow_queue(self) -> None:
        started = time.perf_counter()
        super().follow_queue()
        self.following_s += time.perf_counter() - started


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
        memo_path(path).unlink(missing_ok=True)  # a start without the clocks' memo
        lead = next(user for user in cache.users() if user.role.value == "team_lead")

        # -- the lead opens the panel at once: the queue has evaluated few clocks yet
        lazy = QueueState(cache, me=lead.id, clock=utc_now)
        lazy.reload()
        sliced = WorkloadModel(cache, me=lead.id, now=utc_now, queue=lazy, slice_size=LOAD_SLICE)
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
        sliced.deleteLater()

        # -- as the console runs: the queue has evaluated every clock (in the background)
        started = time.perf_counter()
        queue = QueueModel(cache, me=lead.id, clock=utc_now)
        queue.counts()  # every clock evaluated
        queue_s = time.perf_counter() - started
        model = TimedWorkload(cache, me=lead.id, now=utc_now, queue=queue.state)
        started = time.perf_counter()
        model.reload()
        load_ms = (time.perf_counter() - started) * 1000
        open_tickets = sum(row.open for row in model.rows)

        started = time.perf_counter()
        model.tick()
        tick_ms = (time.perf_counter() - started) * 1000
        some = [ticket_id for row in model.rows for ticket_id in row.ticket_ids][:50]
        started = time.perf_counter()
        preview_move(cache, some, queue.rules, utc_now())
        preview_ms = (time.perf_counter() - started) * 1000

        # a sync lands: 100 of the team's tickets changed (as a pull or commands do)
        store = Store(cache, user_id=lead.id)
        for ticket_id in some[:100]:
            store.set_priority(ticket_id, Priority.P1)
        for ticket_id in [i for row in model.rows for i in row.ticket_ids][50:100]:
            store.assign(ticket_id, None)
        started = time.perf_counter()
        changed = queue.refresh_changed()  # the panel follows the queue
        refresh_ms = (time.perf_counter() - started) * 1000
        following_ms = model.following_s * 1000

        verdict = "OK" if load_ms <= TARGET_MS else "MISSED"
        print(f"cached tickets: {cache.ticket_count():,}")
        print(f"open tickets of the lead's teams: {open_tickets:,} in {len(model.rows)} rows")
        print(f"the queue read and every clock evaluated (the console's start): {queue_s:.1f} s")
        print(
            f"workload load + count, on the queue's clocks: {load_ms:.0f} ms "
            f"(target <= {TARGET_MS} ms) {verdict}"
        )
        print(
            f"  before the queue has evaluated them, in {slices} slices as the console "
            f"loads it: the longest {longest_ms:.0f} ms, the whole load {sliced_s:.1f} s"
        )
        print(f"workload tick (binary searches in the clocks' thresholds): {tick_ms:.2f} ms")
        print(f"reassignment preview of {len(some)} tickets: {preview_ms:.1f} ms")
        print(
            f"after a sync that changed {changed} of them, the queue reads them again and "
            f"the panel follows: {refresh_ms:.0f} ms (the panel: {following_ms:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
