"""The compliance report's tables: the figures by priority, severity, plan, team and
agent, the breached tickets, and the period's title, in English and French."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester

import i18n
from desktop.models.report import (
    RATE_ROLE,
    BreachedColumn,
    BreachedModel,
    BucketColumn,
    BucketModel,
    Dimension,
    format_duration,
    format_rate,
    month_range,
    period_title,
)
from tests.desktop.report_sample import NAMES, PARIS, sample_report


def test_bucket_models_show_the_reports_figures(qtmodeltester: ModelTester) -> None:
    report = sample_report()
    for dimension in Dimension:
        model = BucketModel(dimension)
        model.set_report(report)
        qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
        buckets = [*dimension.buckets(report), report.total]
        assert model.rowCount() == len(buckets)
        for row, expected in enumerate(buckets):

            def shown(column: BucketColumn, row: int = row, model: BucketModel = model) -> Any:
                return model.data(model.index(row, column))

            assert shown(BucketColumn.RESPONSE_MET) == str(expected.response_met)
            assert shown(BucketColumn.RESPONSE_MISSED) == str(expected.response_missed)
            assert shown(BucketColumn.RESPONSE_OPEN) == str(expected.response_open)
            assert shown(BucketColumn.RESOLUTION_MET) == str(expected.resolution_met)
            assert shown(BucketColumn.RESOLUTION_MISSED) == str(expected.resolution_missed)
            assert shown(BucketColumn.RESOLUTION_OPEN) == str(expected.resolution_open)
            assert model.data(model.index(row, BucketColumn.RESPONSE_RATE), RATE_ROLE) == (
                expected.response_rate
            )
            assert shown(BucketColumn.RESOLUTION_RATE) == format_rate(expected.resolution_rate)
            assert shown(BucketColumn.RESOLUTION_P90) == format_duration(
                expected.resolution_p90_seconds
            )

    by_priority = BucketModel(Dimension.PRIORITY)
    by_priority.set_report(report)
    rows = [by_priority.data(by_priority.index(r, BucketColumn.GROUP)) for r in range(3)]
    assert rows == ["P1 Critical", "P3 Normal", "All tickets"]
    p1 = by_priority.index(0, BucketColumn.RESPONSE_RATE)
    assert by_priority.data(p1) == "75.0%"
    assert by_priority.data(p1, Qt.ItemDataRole.ToolTipRole) == "3 of 4 within target"
    assert by_priority.data(by_priority.index(0, BucketColumn.RESPONSE_MEAN)) == "25 min"
    assert by_priority.data(by_priority.index(1, BucketColumn.RESOLUTION_P90)) == "31 h 05 min"

    # sorting by a column keeps the total last
    by_priority.sort(BucketColumn.RESOLUTION_RATE, Qt.SortOrder.DescendingOrder)
    rows = [by_priority.data(by_priority.index(r, BucketColumn.GROUP)) for r in range(3)]
    assert rows == ["P3 Normal", "P1 Critical", "All tickets"]
    qtmodeltester.check(by_priority, force_py=True)  # type: ignore[no-untyped-call]


def test_codes_and_rates_follow_the_language() -> None:
    report = sample_report()
    i18n.set_language("fr")
    model = BucketModel(Dimension.SEVERITY)
    model.set_report(report)
    assert model.data(model.index(0, BucketColumn.GROUP)) == "Bloquant"
    assert model.data(model.index(2, BucketColumn.GROUP)) == "Tous les tickets"
    assert model.data(model.index(0, BucketColumn.RESPONSE_RATE)) == "66,7\xa0%"
    assert period_title(report.start, report.end, PARIS) == "Novembre 2026"
    agents = BucketModel(Dimension.AGENT)
    agents.set_report(report)
    assert agents.data(agents.index(2, BucketColumn.GROUP)) == "Non assignés"


def test_breached_list(qtmodeltester: ModelTester) -> None:
    model = BreachedModel(lambda: PARIS, lambda: NAMES)
    model.set_report(sample_report())
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    numbers = [model.data(model.index(r, BreachedColumn.TICKET)) for r in range(3)]
    assert numbers == [
        "INC-2026-000013",
        "INC-2026-000011",
        "INC-2026-000012",
    ]  # most overdue first
    assert model.data(model.index(0, BreachedColumn.OVERDUE)) == "26 h 00 min"
    assert model.data(model.index(0, BreachedColumn.ASSIGNEE)) == "Bob Lefèvre"
    assert model.data(model.index(2, BreachedColumn.ASSIGNEE)) == "Unassigned"
    assert model.data(model.index(2, BreachedColumn.TEAM)) == "N2"
    assert model.data(model.index(2, BreachedColumn.CLOCK)) == "First response"
    assert model.data(model.index(1, BreachedColumn.DUE)) == "Nov 4, 5:00\u202fPM"
    model.sort(BreachedColumn.PRIORITY)
    assert model.data(model.index(2, BreachedColumn.TICKET)) == "INC-2026-000013"
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]


def test_period_titles() -> None:
    start, end = month_range(2026, 12, PARIS)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-01T00:00:00+01:00",
        "2027-01-01T00:00:00+01:00",
    )
    assert period_title(start, end, PARIS) == "December 2026"
    partial = dt.datetime(2026, 12, 16, tzinfo=PARIS)
    assert period_title(start, partial, PARIS) == "Dec 1, 2026 – Dec 15, 2026"
