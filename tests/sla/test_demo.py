"""``python -m sla``: the SLA engine's example prints a demo queue with its clocks."""

from __future__ import annotations

import datetime as dt
import io

import pytest

import i18n
from sla.__main__ import main, print_demo_queue
from sla.policy import default_calendar


def test_python_m_sla_prints_the_demo_queue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--language", "en"]) == 0
    assert "INC-2026-000101" in capsys.readouterr().out


def test_the_demo_queue_counts_in_business_hours() -> None:
    i18n.set_language("en")
    out = io.StringIO()
    # a Wednesday at 14:00: the blocking P1 ticket came in at noon, an hour to answer it
    print_demo_queue(dt.datetime(2026, 3, 4, 14, 0, tzinfo=default_calendar().zone), out)
    lines = out.getvalue().splitlines()
    blocking = next(line for line in lines if line.startswith("INC-2026-000101"))
    assert "Breached: overdue 1 h 00 min" in blocking
    pending = next(line for line in lines if line.startswith("INC-2026-000102"))
    assert "Paused" in pending
