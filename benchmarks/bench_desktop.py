"""Speed of the console over a 100,000-ticket cache.

Run with ``QT_QPA_PLATFORM=offscreen python benchmarks/bench_desktop.py``.  It
fills a cache with 100,000 demo tickets and their histories (through
:meth:`sync.store.Store.apply_page`, as a sync would; ``--cache FILE`` keeps it
for the next run), then prints, each against its target:

* cold start: opening the cache and the main window until the queue's first
  paint (s; target <= 1.5 s);
* sorting the whole queue by the next SLA due, from another order (ms; <= 50);
* a search query, as typed in the search box: full-text index plus the
  current view (ms; <= 100);
* CPU time of one second of ticking, the console idle on screen with its
  countdowns running (ms; <= 5);
* resident memory after all this (MB; <= 400).
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

from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication

from desktop.demo_data import DEMO_AGENT_ID, seed_demo
from desktop.models.queue import Column, QueueView
from desktop.views.main_window import MainWindow
from sync.cache import Cache

TICKETS = 100_000


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
        seed_demo(cache, count=count)
        print(f"  filled in {time.perf_counter() - start:.1f} s", flush=True)


def verdict(value: float, target: float) -> str:
    return "OK" if value <= target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="cache file to fill once and reuse")
    parser.add_argument("--tickets", type=int, default=TICKETS)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with contextlib.ExitStack() as stack:
        if args.cache is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-desktop-"))
            path = Path(folder) / "cache.sqlite3"
        else:
            path = args.cache
        fill(path, args.tickets)

        # -- cold start: the cache opened, the window built and shown, the queue painted
        painted = FirstPaint()
        start = time.perf_counter()
        cache = Cache.open(path)
        stack.callback(cache.close)
        window = MainWindow(cache, me=DEMO_AGENT_ID)
        window.table.viewport().installEventFilter(painted)
        window.show()
        while painted.at is None and time.perf_counter() - start < 60:
            app.processEvents()
        cold = (painted.at or time.perf_counter()) - start
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

        # -- one second of ticking, on screen, the timer following the countdowns
        window.schedule_tick()
        loop = QEventLoop()
        QTimer.singleShot(1000, loop.quit)
        cpu = time.process_time()
        loop.exec()
        tick_ms = (time.process_time() - cpu) * 1000

        memory = rss_mb()
        window.close()

    print(f"tickets in the cache: {total:,} (queue rows: {rows:,}; search matched {found:,})")
    print(f"cold start to queue painted: {cold:.2f} s (target <= 1.5 s) {verdict(cold, 1.5)}")
    print(f"sort by next SLA due: {sort_ms:.1f} ms (target <= 50 ms) {verdict(sort_ms, 50)}")
    print(f"search query: {search_ms:.1f} ms (target <= 100 ms) {verdict(search_ms, 100)}")
    print(f"CPU of 1 s of ticking: {tick_ms:.1f} ms (target <= 5 ms) {verdict(tick_ms, 5)}")
    print(f"resident memory: {memory:.0f} MB (target <= 400 MB) {verdict(memory, 400)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
