"""Speed of the console over a 100,000-ticket cache.

Run with ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_desktop.py``.  It
fills a cache with 100,000 demo tickets and their histories (through
:meth:`sync.store.Store.apply_page`, as a sync would; ``--cache FILE`` keeps it
for the next run), then prints, each against its target:

* cold start: opening the cache and the main window until the queue's first
  paint (s; target <= 1.5 s), in a process of its own: once without the queue's
  memo of the clocks (the first start after a sync filled the cache, or after
  a change of the SLA policy: every clock of the opening view is computed),
  once with the memo the run leaves at its close (a start the next morning
  finds most clocks still valid in it); both with the SLA calendar kept built
  by an earlier start (``<cache>.calendar``), and, for the record, the very
  first start without it either;
* sorting the whole queue by the next SLA due, from another order (ms; <= 50);
* a search query, as typed in the search box: full-text index plus the
  current view (ms; <= 100);
* CPU time of one second of ticking, the console idle on screen with its
  countdowns running (ms; <= 5; the mean over 30 s, a whole cycle of the
  clocks off screen and of the cells that show minutes): all tickets by next
  SLA due; and, for the record, the busiest screen, the At risk view, whose
  countdowns all show seconds and whose top rows breach and leave it one by
  one.  Outside support hours the console's clock is moved to the
  next business hour, so that the countdowns do run.  What ticking costs is
  the process's CPU less that of the same console, its ticker stopped, over
  as long: on this virtual machine, a Qt event loop that wakes once in five
  seconds and does nothing else already takes about 4 ms a second, memory
  untouched for a second costing much more to touch again (both printed);
* a sync touching 100 tickets (those on screen, set pending or back to open,
  so a reused cache changes a little at each run): from the page stored to the
  queue repainted (ms; only these rows are read again);
* resident memory after all this (MB; <= 400); the cache is filled beforehand
  by another process, so this is the console's own.

A large cache opens on "My tickets" with the clocks of those tickets
evaluated; the others are evaluated in the background (in slices between
events) and before any view or count that needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop.demo_data import DEMO_AGENT_ID, seed_demo_until
from desktop.models.queue import Column, QueueView
from desktop.models.sla_cells import MINUTES_GRID
from desktop.models.sla_memo import calendar_path, memo_path
from desktop.views.main_window import MainWindow
from desktop.views.notifications import SlaNotifier
from protocol import Change, ChangePage
from sla.events import Status
from sync.cache import Cache, utc_now
from sync.collector import freeze_heap, hold_collector
from sync.store import Store

TICKETS = 100_000
#: Seconds of ticking measured: one second alone varies with what falls in it, and
#: the clocks off screen, and cells that show minutes, move together every 30 s.
TICK_SECONDS = MINUTES_GRID.total_seconds()
#: Tickets a sync touches, for the refresh figure.
SYNCED = 100


def rss_mb() -> float:
    """Resident memory now (Linux /proc; else the peak from getrusage)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FirstPaint(QObject):
    """Notes when a widget is first painted."""

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.at is None:
            self.at = time.perf_counter()
        return False


def fill(path: Path, count: int) -> None:
    with Cache.open(path) as cache:
        if cache.ticket_count() >= count:
            return
        print(f"filling {path} with {count:,} tickets…", flush=True)
        start = time.perf_counter()
        seed_demo_until(cache, count)  # the agent's cache keeps their teams' tickets
        print(f"  filled in {time.perf_counter() - start:.1f} s", flush=True)


def fill_apart(path: Path, count: int) -> None:
    """:func:`fill` in a process of its own: the console measured here never held
    the demo server and the seeding (their memory is not the console's)."""
    subprocess.run(
        [sys.executable, __file__, "--fill-only", "--cache", str(path), "--tickets", str(count)],
        check=True,
    )


def sync_page(cache: Cache, ticket_ids: list[int]) -> ChangePage:
    """A page of the change feed: these tickets set pending (or back to open) just now."""
    now = cache.clock()
    with cache.read() as connection:
        last = connection.exec_driver_sql("SELECT max(server_id) FROM ticket_history").scalar()
    changes: list[Change] = []
    history_id = int(last or 0)
    for ticket_id in ticket_ids:
        ticket = cache.server_ticket(ticket_id)
        if ticket is None:
            continue
        status = Status.OPEN if ticket.status is Status.PENDING else Status.PENDING
        data = ticket.model_dump(mode="json")
        data.update(status=status.value, version=ticket.version + 1, updated_at=now.isoformat())
        history_id += 1
        entry = {
            "id": history_id,
            "ticket_id": ticket_id,
            "version": ticket.version + 1,
            "actor_id": DEMO_AGENT_ID,
            "at": now.isoformat(),
            "field": "status",
            "before": ticket.status.value,
            "after": status.value,
        }
        for entity, entity_id, value in (
            ("ticket", ticket_id, data),
            ("history", history_id, entry),
        ):
            seq = len(changes) + 1
            changes.append(
                Change(
                    seq=seq,
                    cursor=f"bench-{seq}",
                    entity=entity,
                    id=entity_id,
                    op="upsert",
                    data=value,
                )
            )
    cursor = cache.cursor() or "bench-0"
    return ChangePage(changes=changes, next_cursor=cursor, has_more=False, estimate=0)


def business_clock(state: Path) -> Callable[[], dt.datetime]:
    """Our clock, moved into support hours when support is closed now (a weekend, a
    night), so the countdowns on screen run while the ticking is measured.

    The shift is kept in ``state`` (next to the cache) and reused while it still
    lands in support hours, else moved forward to the next business morning: the
    console's time never goes back from one run to the next (its memo of the
    clocks holds only from the instant it was computed)."""
    paris = ZoneInfo("Europe/Paris")

    def open_at(local: dt.datetime) -> bool:
        return local.weekday() < 5 and 9 <= local.hour < 17

    real = utc_now()
    offset = dt.timedelta(0)
    with contextlib.suppress(OSError, ValueError):
        offset = dt.timedelta(seconds=float(state.read_text()))
    if not open_at((real + offset).astimezone(paris)):
        shifted = (real + offset).astimezone(paris)
        if shifted.hour >= 9:
            shifted += dt.timedelta(days=1)
        while shifted.weekday() >= 5:
            shifted += dt.timedelta(days=1)
        shifted = shifted.replace(hour=10, minute=0, second=0, microsecond=0)
        offset = shifted - real
        with contextlib.suppress(OSError):
            state.write_text(str(offset.total_seconds()))
    return lambda: utc_now() + offset


def clock_file(cache: Path) -> Path:
    return cache.with_name(cache.name + ".bench-clock")


def open_window(path: Path) -> tuple[Cache, MainWindow, float]:
    """The cache opened and the main window shown, to the queue's first paint (s)."""
    app = QApplication.instance()
    assert app is not None
    painted = FirstPaint()
    start = time.perf_counter()
    hold_collector()
    cache = Cache.open(path, check_later=True)  # as the console opens it: checked meanwhile
    window = MainWindow(cache, me=DEMO_AGENT_ID, clock=business_clock(clock_file(path)))
    # as the console runs it: with the desktop notifications watching my tickets
    SlaNotifier(window.model, DEMO_AGENT_ID, parent=window)
    freeze_heap()
    window.table.viewport().installEventFilter(painted)
    window.show()
    while painted.at is None and time.perf_counter() - start < 60:
        app.processEvents()
    return cache, window, (painted.at or time.perf_counter()) - start


def cold_start_apart(path: Path, *, memo: bool, calendar: bool = True) -> tuple[float, int]:
    """A cold start in a process of its own (s), and the tickets whose clocks the
    queue took from its memo; ``memo=False`` hides the memo from it first,
    ``calendar=False`` the calendar kept built."""
    hidden = [
        kept
        for kept, shown in ((memo_path(path), memo), (calendar_path(path), calendar))
        if not shown and kept.exists()
    ]
    for kept in hidden:
        kept.replace(kept.with_name(kept.name + ".aside"))
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--cold-only", "--cache", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        for kept in hidden:  # as they were (the run wrote its own)
            kept.with_name(kept.name + ".aside").replace(kept)
    seconds, recalled = done.stdout.split()[-2:]
    return float(seconds), int(recalled)


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="cache file to fill once and reuse")
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--profile", action="store_true", help="cProfile the second of ticking")
    parser.add_argument("--fill-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fill_only:
        fill(args.cache, args.tickets)
        return 0
    if args.cold_only:
        app = QApplication.instance() or QApplication(sys.argv[:1])
        cache, window, seconds = open_window(args.cache)
        recalled = window.model.recalled
        window.close()
        cache.close()
        print(f"{seconds:.4f} {recalled}")
        return 0
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with contextlib.ExitStack() as stack:
        if args.cache is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-desktop-"))
            path = Path(folder) / "cache.sqlite3"
        else:
            path = args.cache
        fill_apart(path, args.tickets)

        # -- cold start: the cache opened, the window built and shown, the queue painted;
        # in processes of their own: without the memo of the queue's clocks (the first
        # start after a sync), then, at the end, with the one this run leaves
        first, _ = cold_start_apart(path, memo=False, calendar=False)
        cold, _ = cold_start_apart(path, memo=False)
        cache, window, _ = open_window(path)
        stack.callback(cache.close)
        total = cache.ticket_count()

        # -- sort the whole queue by the next SLA due, from another order
        window.show_view(QueueView.ALL)
        model = window.model
        rows = model.rowCount()

        sort_times: list[float] = []
        for _ in range(5):
            model.sort(Column.SUBJECT)
            started = time.perf_counter()
            model.sort(-1)
            sort_times.append(time.perf_counter() - started)
        sort_ms = min(sort_times) * 1000
        # the first sort by a column also builds that column's keys
        started = time.perf_counter()
        model.sort(Column.PRIORITY)
        first_sort_ms = (time.perf_counter() - started) * 1000
        model.sort(-1)

        # -- a search, as the search box runs it (index + current view)
        def search() -> None:
            window.search_box.clear()
            window.apply_search()
            window.search_box.setText("printer")
            started = time.perf_counter()
            window.apply_search()
            search_times.append(time.perf_counter() - started)

        search_times: list[float] = []
        for _ in range(5):
            search()
        search_ms = min(search_times) * 1000
        found = model.rowCount()
        window.search_box.clear()
        window.apply_search()

        # -- seconds of ticking, on screen, the timer following the countdowns
        # (the console idle: the repaint the cleared search asked for is done first)
        def cpu_ms_per_second(ticking: bool, profile: bool = False) -> float:
            settle = QEventLoop()
            QTimer.singleShot(300, settle.quit)
            settle.exec()
            if ticking:
                window.heartbeat.tick()
            else:
                window.heartbeat.stop()
            loop = QEventLoop()
            QTimer.singleShot(int(TICK_SECONDS * 1000), loop.quit)
            profiler = cProfile.Profile() if profile else None
            cpu = time.process_time()
            if profiler is not None:
                profiler.enable()
            loop.exec()
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats(
                    os.environ.get("BENCH_SORT", "cumtime")
                ).print_stats(int(os.environ.get("BENCH_STATS", "25")))
            return (time.process_time() - cpu) * 1000 / TICK_SECONDS

        tick_raw = cpu_ms_per_second(True, args.profile)  # the view the sort left: ALL
        idle = cpu_ms_per_second(False)
        tick_ms = tick_raw - idle
        # the busiest screen: a view of clocks at risk, every countdown to the second
        window.show_view(QueueView.AT_RISK)
        seconds_raw = cpu_ms_per_second(True)
        seconds_ms = seconds_raw - idle
        window.show_view(QueueView.ALL)
        window.heartbeat.tick()

        # -- a sync touching 100 tickets (the first ones on screen): to the queue repainted
        touched = model.ticket_ids()[:SYNCED]
        page = sync_page(cache, touched)
        # stored by a store of its own (the engine's worker): the bus's settling left out
        stored = Store(cache, user_id=DEMO_AGENT_ID).apply_page(page)
        repainted = FirstPaint()
        window.table.viewport().installEventFilter(repainted)
        started = time.perf_counter()
        window.bus.publish(stored.changes)  # what the window hears once the page is stored
        while repainted.at is None and time.perf_counter() - started < 60:
            app.processEvents()
        sync_ms = ((repainted.at or time.perf_counter()) - started) * 1000

        memory = rss_mb()
        window.close()  # which writes the memo of the clocks
        cache.close()  # as the console does when it quits: the next start is another day's
        warm, recalled = cold_start_apart(path, memo=True)

    print(f"tickets in the cache: {total:,} (queue rows: {rows:,}; search matched {found:,})")
    print(
        f"cold start to queue painted, first start after a sync: {cold:.2f} s "
        f"(target <= 1.5 s) {verdict(cold, 1.5)}"
    )
    print(f"  (the very first start, the SLA calendar not yet kept built either: {first:.2f} s)")
    print(
        f"cold start to queue painted, the clocks' memo of the last close at hand: "
        f"{warm:.2f} s (target <= 1.5 s) {verdict(warm, 1.5)}; "
        f"{recalled:,} tickets' clocks taken from it"
    )
    print(f"sort by next SLA due: {sort_ms:.1f} ms (target <= 50 ms) {verdict(sort_ms, 50)}")
    print(f"search query: {search_ms:.1f} ms (target <= 100 ms) {verdict(search_ms, 100)}")
    print(f"  (the first sort by another column, its keys built: {first_sort_ms:.1f} ms)")
    print(
        f"CPU of 1 s of ticking (mean of {TICK_SECONDS:g} s, all tickets by next SLA due): "
        f"{tick_ms:.1f} ms (target <= 5 ms) {verdict(tick_ms, 5)}"
    )
    print(
        f"  (the process measured {tick_raw:.1f} ms a second; the same console, its ticker "
        f"stopped, {idle:.1f} ms)"
    )
    print(
        f"  (for the record, the busiest screen, the At risk view, where a row on screen "
        f"breaches and leaves every few seconds: {seconds_ms:.1f} ms; measured "
        f"{seconds_raw:.1f} ms)"
    )
    print(f"a sync touching {SYNCED} tickets, to the queue repainted: {sync_ms:.1f} ms")
    print(f"resident memory: {memory:.0f} MB (target <= 400 MB) {verdict(memory, 400)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
