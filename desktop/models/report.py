"""The SLA compliance report as the console shows it: tables, periods, saved copies, CSV.

- :class:`BucketModel` is one breakdown of a :class:`~protocol.ComplianceReport`
  (by priority, severity, plan, team or agent, with the total as last row): counts
  met / missed / open, rates as locale percentages and mean / 90th percentile
  business durations, for first response and resolution;
- :class:`BreachedModel` is the list of breached tickets;
- :func:`month_range` / :func:`period_title` turn a month (or a range) into the
  instants the server is asked for and the title people read;
- :class:`SavedReports` keeps the last fetched copy of each report beside the cache
  (private JSON files), so the report shows offline with its date;
- :func:`write_csv` exports every figure (UTF-8 with BOM for Excel, numbers with a
  dot whatever the language).

Models never import views.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

import i18n
from i18n import N_, gettext
from protocol import BreachedTicket, ComplianceBucket, ComplianceReport
from sla.policy import Priority, Severity, plan_label

__all__ = [
    "RATE_ROLE",
    "SORT_ROLE",
    "TICKET_ID_ROLE",
    "BreachedColumn",
    "BreachedModel",
    "BucketColumn",
    "BucketModel",
    "Dimension",
    "Names",
    "SavedReport",
    "SavedReports",
    "bucket_label",
    "bucket_value",
    "clock_label",
    "day_range",
    "format_duration",
    "format_rate",
    "month_range",
    "period_title",
    "rate_colour",
    "reports_folder",
    "write_csv",
]

Index = QModelIndex | QPersistentModelIndex

#: Custom roles: the raw value a column sorts by; a rate as a float (None: no data);
#: the ticket id of a breached row.
SORT_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
RATE_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
TICKET_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 3

#: A rate at least this good is shown green, at least ``_AMBER`` amber, else red.
_GREEN: Final = 0.95
_AMBER: Final = 0.80


# -- formatting ---------------------------------------------------------------------


def format_rate(rate: float | None) -> str:
    """A share as a percentage with one decimal in the current locale ("93.5%", "93,5 %");
    an en dash when there is nothing to measure."""
    if rate is None:
        return "–"
    pattern = i18n.current_locale().percent_formats[None].pattern
    return i18n.format_percent(rate, pattern.replace("#,##0", "#,##0.0", 1))


def format_duration(seconds: float | None) -> str:
    """A business duration as the console writes them ("1 h 42 min", "27 h 05 min")."""
    if seconds is None:
        return "–"
    return i18n.format_business_duration(dt.timedelta(seconds=round(seconds)), seconds=False)


def rate_colour(rate: float | None) -> QColor:
    """Green, amber or red for a compliance rate; grey when there is none."""
    if rate is None:
        return QColor("#9aa0a6")
    if rate >= _GREEN:
        return QColor("#1e8e3e")
    if rate >= _AMBER:
        return QColor("#e37400")
    return QColor("#d93025")


class Dimension(StrEnum):
    """How a breakdown groups the tickets."""

    PRIORITY = "priority"
    SEVERITY = "severity"
    PLAN = "plan"
    TEAM = "team"
    AGENT = "agent"

    @property
    def label(self) -> str:
        return gettext(_DIMENSION_LABELS[self])

    def buckets(self, report: ComplianceReport) -> list[ComplianceBucket]:
        return list(getattr(report, f"by_{self.value}"))


_DIMENSION_LABELS: Final = {
    Dimension.PRIORITY: N_("By priority"),
    Dimension.SEVERITY: N_("By severity"),
    Dimension.PLAN: N_("By plan"),
    Dimension.TEAM: N_("By team"),
    Dimension.AGENT: N_("By agent"),
}


def bucket_label(dimension: Dimension | None, bucket: ComplianceBucket) -> str:
    """What a row is called: priorities and severities in the user's language."""
    if bucket.key == "all":
        return gettext(N_("All tickets"))
    if dimension is Dimension.PRIORITY:
        try:
            return Priority(bucket.key).display
        except ValueError:
            pass
    if dimension is Dimension.SEVERITY:
        try:
            return Severity(bucket.key).label
        except ValueError:
            pass
    if dimension is Dimension.PLAN:
        return plan_label(bucket.key)
    if not bucket.label and dimension is Dimension.AGENT:
        return gettext(N_("Unassigned"))
    if not bucket.label and dimension is Dimension.TEAM:
        return gettext(N_("No team"))
    return bucket.label or bucket.key


# -- periods ------------------------------------------------------------------------


def month_range(year: int, month: int, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of the month and of the next one, in ``zone``."""
    start = dt.datetime(year, month, 1, tzinfo=zone)
    following = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return start, following


def day_range(first: dt.date, last: dt.date, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``first`` to the end of ``last`` (both included), in ``zone``."""
    if last < first:
        first, last = last, first
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start, end


def period_title(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> str:
    """ "November 2026" / "novembre 2026" for a whole month, else "1 – 15 Nov 2026"."""
    first = start.astimezone(zone)
    stop = end.astimezone(zone)
    whole_month = (
        first.day == 1
        and first.time() == dt.time()
        and (first.year, first.month) != (stop.year, stop.month)
        and month_range(first.year, first.month, zone)[1] == stop
    )
    if whole_month:
        text = i18n.format_date(first.date(), "LLLL yyyy")
        return text[:1].upper() + text[1:]
    last = (stop - dt.timedelta(microseconds=1)).date()
    return gettext(N_("{first} – {last}")).format(
        first=i18n.format_date(first.date(), "medium"), last=i18n.format_date(last, "medium")
    )


# -- the tables -----------------------------------------------------------------------


class BucketColumn(IntEnum):
    GROUP = 0
    RESPONSE_RATE = 1
    RESPONSE_MET = 2
    RESPONSE_MISSED = 3
    RESPONSE_OPEN = 4
    RESPONSE_MEAN = 5
    RESPONSE_P90 = 6
    RESOLUTION_RATE = 7
    RESOLUTION_MET = 8
    RESOLUTION_MISSED = 9
    RESOLUTION_OPEN = 10
    RESOLUTION_MEAN = 11
    RESOLUTION_P90 = 12


#: (header, tooltip) of each column; the headers are two short lines.
_BUCKET_HEADERS: Final = {
    BucketColumn.GROUP: (N_("Group"), N_("What the tickets have in common")),
    BucketColumn.RESPONSE_RATE: (
        N_("Response\nwithin target"),
        N_("Share of first responses given within their target"),
    ),
    BucketColumn.RESPONSE_MET: (N_("Response\nmet"), N_("First responses within target")),
    BucketColumn.RESPONSE_MISSED: (
        N_("Response\nmissed"),
        N_("First responses late, or still awaited past their target"),
    ),
    BucketColumn.RESPONSE_OPEN: (
        N_("Response\nopen"),
        N_("Tickets still awaiting a first response, within target"),
    ),
    BucketColumn.RESPONSE_MEAN: (
        N_("Response\nmean"),
        N_("Mean business time to first response"),
    ),
    BucketColumn.RESPONSE_P90: (
        N_("Response\n90th pct."),
        N_("90% of first responses came within this business time"),
    ),
    BucketColumn.RESOLUTION_RATE: (
        N_("Resolution\nwithin target"),
        N_("Share of resolutions within their target"),
    ),
    BucketColumn.RESOLUTION_MET: (N_("Resolution\nmet"), N_("Resolutions within target")),
    BucketColumn.RESOLUTION_MISSED: (
        N_("Resolution\nmissed"),
        N_("Resolutions late, or still awaited past their target"),
    ),
    BucketColumn.RESOLUTION_OPEN: (
        N_("Resolution\nopen"),
        N_("Tickets not resolved yet, within target"),
    ),
    BucketColumn.RESOLUTION_MEAN: (
        N_("Resolution\nmean"),
        N_("Mean business time to resolution"),
    ),
    BucketColumn.RESOLUTION_P90: (
        N_("Resolution\n90th pct."),
        N_("90% of resolutions came within this business time"),
    ),
}

_RATE_COLUMNS: Final = {
    BucketColumn.RESPONSE_RATE: "response_rate",
    BucketColumn.RESOLUTION_RATE: "resolution_rate",
}
_COUNT_COLUMNS: Final = {
    BucketColumn.RESPONSE_MET: "response_met",
    BucketColumn.RESPONSE_MISSED: "response_missed",
    BucketColumn.RESPONSE_OPEN: "response_open",
    BucketColumn.RESOLUTION_MET: "resolution_met",
    BucketColumn.RESOLUTION_MISSED: "resolution_missed",
    BucketColumn.RESOLUTION_OPEN: "resolution_open",
}
_DURATION_COLUMNS: Final = {
    BucketColumn.RESPONSE_MEAN: "response_mean_seconds",
    BucketColumn.RESPONSE_P90: "response_p90_seconds",
    BucketColumn.RESOLUTION_MEAN: "resolution_mean_seconds",
    BucketColumn.RESOLUTION_P90: "resolution_p90_seconds",
}

_FLAGS: Final = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
_RIGHT: Final = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_LEFT: Final = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)


def bucket_value(bucket: ComplianceBucket, column: BucketColumn) -> float | int | None:
    """The raw figure of ``column`` (None for the group and for missing data)."""
    name = _RATE_COLUMNS.get(column) or _COUNT_COLUMNS.get(column) or _DURATION_COLUMNS.get(column)
    if name is None:
        return None
    value = getattr(bucket, name)
    return value if isinstance(value, int | float) else None


def _reorder(model: QAbstractTableModel, before: Sequence[Any], after: Sequence[Any]) -> None:
    """Move the model's persistent indexes from the rows of ``before`` to those of ``after``
    (the same objects, in a new order; a row of neither stays where it is)."""
    old = {id(item): row for row, item in enumerate(before)}
    mapping = {old[id(item)]: row for row, item in enumerate(after)}
    indexes = model.persistentIndexList()
    model.changePersistentIndexList(
        indexes,
        [model.index(mapping.get(i.row(), i.row()), i.column()) for i in indexes],
    )


class BucketModel(QAbstractTableModel):
    """One breakdown of the report; the total ("All tickets") is always the last row."""

    def __init__(self, dimension: Dimension, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dimension = dimension
        self._rows: list[ComplianceBucket] = []
        self._total: ComplianceBucket | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    def set_report(self, report: ComplianceReport | None) -> None:
        self.beginResetModel()
        if report is None:
            self._rows, self._total = [], None
        else:
            self._rows = self.dimension.buckets(report)
            self._total = report.total
        self.endResetModel()

    def bucket(self, row: int) -> ComplianceBucket:
        if row == len(self._rows) and self._total is not None:
            return self._total
        return self._rows[row]

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(BucketColumn) - 1)
        if self.rowCount():
            self.dataChanged.emit(
                self.index(0, 0), self.index(self.rowCount() - 1, len(BucketColumn) - 1)
            )

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self._rows) + (1 if self._total is not None else 0)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(BucketColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(BucketColumn):
            return None
        column = BucketColumn(section)
        header, tip = _BUCKET_HEADERS[column]
        if role == Qt.ItemDataRole.DisplayRole:
            if column is BucketColumn.GROUP:
                return self.dimension.label
            return gettext(header)
        if role == Qt.ItemDataRole.ToolTipRole:
            return gettext(tip)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT if column is BucketColumn.GROUP else _RIGHT
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self.rowCount():
            return None
        if not 0 <= index.column() < len(BucketColumn):
            return None
        bucket = self.bucket(index.row())
        column = BucketColumn(index.column())
        total = bucket is self._total and index.row() == len(self._rows)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(bucket, column)
        if role == SORT_ROLE:
            return self._sort_value(bucket, column)
        if role == RATE_ROLE and column in _RATE_COLUMNS:
            return bucket_value(bucket, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT if column is BucketColumn.GROUP else _RIGHT
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if total else None
        if role == Qt.ItemDataRole.ForegroundRole and column in _RATE_COLUMNS:
            return rate_colour(bucket_value(bucket, column))
        if role == Qt.ItemDataRole.ToolTipRole and column in _RATE_COLUMNS:
            return self._rate_tip(bucket, column)
        return None

    def _text(self, bucket: ComplianceBucket, column: BucketColumn) -> str:
        if column is BucketColumn.GROUP:
            return bucket_label(self.dimension, bucket)
        value = bucket_value(bucket, column)
        if column in _RATE_COLUMNS:
            return format_rate(value)
        if column in _DURATION_COLUMNS:
            return format_duration(value)
        return i18n.format_decimal(value or 0)

    def _rate_tip(self, bucket: ComplianceBucket, column: BucketColumn) -> str:
        if column is BucketColumn.RESPONSE_RATE:
            met, missed = bucket.response_met, bucket.response_missed
        else:
            met, missed = bucket.resolution_met, bucket.resolution_missed
        if met + missed == 0:
            return gettext(N_("No clock has stopped or passed its target yet."))
        return i18n.ngettext(
            "{met} of {count} within target", "{met} of {count} within target", met + missed
        ).format(met=i18n.format_decimal(met), count=i18n.format_decimal(met + missed))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the groups (the total stays last)."""
        if not 0 <= column < len(BucketColumn):
            return
        self.layoutAboutToBeChanged.emit()
        before = self._rows
        chosen = BucketColumn(column)
        present = [b for b in before if self._sort_value(b, chosen) is not None]
        absent = [b for b in before if self._sort_value(b, chosen) is None]
        present.sort(
            key=lambda b: self._sort_value(b, chosen),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )
        self._rows = present + absent
        _reorder(self, before, self._rows)
        self.layoutChanged.emit()

    def _sort_value(self, bucket: ComplianceBucket, column: BucketColumn) -> Any:
        if column is BucketColumn.GROUP:
            return bucket_label(self.dimension, bucket).casefold()
        return bucket_value(bucket, column)


class BreachedColumn(IntEnum):
    TICKET = 0
    SUBJECT = 1
    PRIORITY = 2
    SEVERITY = 3
    CLOCK = 4
    DUE = 5
    OVERDUE = 6
    TEAM = 7
    ASSIGNEE = 8


_BREACHED_HEADERS: Final = {
    BreachedColumn.TICKET: N_("Ticket"),
    BreachedColumn.SUBJECT: N_("Subject"),
    BreachedColumn.PRIORITY: N_("Priority"),
    BreachedColumn.SEVERITY: N_("Severity"),
    BreachedColumn.CLOCK: N_("Clock"),
    BreachedColumn.DUE: N_("Due"),
    BreachedColumn.OVERDUE: N_("Overdue by"),
    BreachedColumn.TEAM: N_("Team"),
    BreachedColumn.ASSIGNEE: N_("Assignee"),
}

_CLOCK_LABELS: Final = {"response": N_("First response"), "resolution": N_("Resolution")}


def clock_label(clock: str) -> str:
    label = _CLOCK_LABELS.get(clock)
    return gettext(label) if label else clock


@dataclass(frozen=True, slots=True)
class Names:
    """Display names of teams and users (from the cache), for ids in a report."""

    teams: Mapping[int, str]
    users: Mapping[int, str]

    def team(self, team_id: int | None) -> str:
        if team_id is None:
            return ""
        return self.teams.get(team_id, f"#{team_id}")

    def user(self, user_id: int | None) -> str:
        if user_id is None:
            return gettext(N_("Unassigned"))
        return self.users.get(user_id, f"#{user_id}")


class BreachedModel(QAbstractTableModel):
    """The breached clocks of the report, most overdue first; the ticket column is a link."""

    def __init__(
        self,
        zone: Callable[[], dt.tzinfo],
        names: Callable[[], Names],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._zone = zone
        self._names = names
        self._rows: list[BreachedTicket] = []
        self._link = QFont()
        self._link.setUnderline(True)

    def set_report(self, report: ComplianceReport | None) -> None:
        self.beginResetModel()
        self._rows = [] if report is None else list(report.breached)
        self._rows.sort(key=lambda b: -b.overdue_seconds)
        self.endResetModel()

    def ticket(self, row: int) -> BreachedTicket:
        return self._rows[row]

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(BreachedColumn) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(BreachedColumn) - 1)
            )

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(BreachedColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(BreachedColumn):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return gettext(_BREACHED_HEADERS[BreachedColumn(section)])
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if section == BreachedColumn.OVERDUE else _LEFT
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(BreachedColumn):
            return None
        ticket = self._rows[index.row()]
        column = BreachedColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(ticket, column)
        if role == SORT_ROLE:
            return self._sort_value(ticket, column)
        if role == TICKET_ID_ROLE:
            return ticket.id
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column is BreachedColumn.OVERDUE else _LEFT
        if column is BreachedColumn.TICKET:
            if role == Qt.ItemDataRole.FontRole:
                return self._link
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("#1a73e8")
            if role == Qt.ItemDataRole.ToolTipRole:
                return gettext(N_("Open {number} in the console")).format(number=ticket.number)
        if role == Qt.ItemDataRole.ToolTipRole and column is BreachedColumn.DUE:
            return i18n.format_datetime(ticket.due_at.astimezone(self._zone()), "full")
        if role == Qt.ItemDataRole.ToolTipRole and column is BreachedColumn.SUBJECT:
            return ticket.subject
        return None

    def _text(self, ticket: BreachedTicket, column: BreachedColumn) -> str:
        names = self._names()
        match column:
            case BreachedColumn.TICKET:
                return ticket.number
            case BreachedColumn.SUBJECT:
                return ticket.subject
            case BreachedColumn.PRIORITY:
                return ticket.priority.display
            case BreachedColumn.SEVERITY:
                return ticket.severity.label
            case BreachedColumn.CLOCK:
                return clock_label(ticket.clock)
            case BreachedColumn.DUE:
                return i18n.format_day_time(ticket.due_at.astimezone(self._zone()))
            case BreachedColumn.OVERDUE:
                return format_duration(ticket.overdue_seconds)
            case BreachedColumn.TEAM:
                return names.team(ticket.team_id)
            case BreachedColumn.ASSIGNEE:
                return names.user(ticket.assignee_id)

    def _sort_value(self, ticket: BreachedTicket, column: BreachedColumn) -> Any:
        match column:
            case BreachedColumn.PRIORITY:
                return ticket.priority.rank
            case BreachedColumn.SEVERITY:
                return ticket.severity.rank
            case BreachedColumn.DUE:
                return ticket.due_at
            case BreachedColumn.OVERDUE:
                return ticket.overdue_seconds
            case BreachedColumn.TICKET:
                return ticket.number
            case _:
                return self._text(ticket, column).casefold()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(BreachedColumn):
            return
        self.layoutAboutToBeChanged.emit()
        before = self._rows
        chosen = BreachedColumn(column)
        self._rows = sorted(
            before,
            key=lambda t: self._sort_value(t, chosen),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )
        _reorder(self, before, self._rows)
        self.layoutChanged.emit()


# -- the last fetched copies ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedReport:
    report: ComplianceReport
    fetched_at: dt.datetime


def reports_folder(cache_path: Path) -> Path:
    """Where the reports of the account whose cache is ``cache_path`` are kept."""
    return cache_path.with_name(f"{cache_path.stem}.reports")


class SavedReports:
    """The last fetched copy of each report (a range and a team), as private JSON files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _file(self, start: dt.datetime, end: dt.datetime, team_id: int | None) -> Path:
        key = f"{start.astimezone(dt.UTC).isoformat()}|{end.astimezone(dt.UTC).isoformat()}"
        key += f"|{'all' if team_id is None else team_id}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.folder / f"compliance-{start.astimezone(dt.UTC):%Y%m%d}-{digest}.json"

    def save(self, report: ComplianceReport, fetched_at: dt.datetime, team_id: int | None) -> Path:
        """Keep ``report`` (as asked for ``team_id``), replacing the previous copy atomically."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._file(report.start, report.end, team_id)
        document = {
            "fetched_at": fetched_at.isoformat(),
            "team_id": team_id,
            "report": report.model_dump(mode="json"),
        }
        data = json.dumps(document, ensure_ascii=False, indent=1).encode()
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
        return path

    def load(self, start: dt.datetime, end: dt.datetime, team_id: int | None) -> SavedReport | None:
        """The last copy of this report, or None (none kept, or unreadable)."""
        path = self._file(start, end, team_id)
        try:
            document = json.loads(path.read_bytes())
            report = ComplianceReport.model_validate(document["report"])
            fetched_at = dt.datetime.fromisoformat(document["fetched_at"])
        except (OSError, ValueError, KeyError, TypeError, ValidationError):
            return None
        if fetched_at.tzinfo is None:
            return None
        return SavedReport(report, fetched_at)


# -- CSV -----------------------------------------------------------------------------------


def _number(value: float | int | None, digits: int = 0) -> str:
    """Locale-independent: "0.9350", "3600", "" when missing."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


#: CSV columns of the buckets, after the breakdown, key and group.
_CSV_BUCKET_FIELDS: Final[Sequence[tuple[str, str, int]]] = (
    (N_("Responses met"), "response_met", 0),
    (N_("Responses missed"), "response_missed", 0),
    (N_("Responses open"), "response_open", 0),
    (N_("Response rate"), "response_rate", 4),
    (N_("Mean time to first response (business seconds)"), "response_mean_seconds", 0),
    (N_("90th percentile to first response (business seconds)"), "response_p90_seconds", 0),
    (N_("Resolutions met"), "resolution_met", 0),
    (N_("Resolutions missed"), "resolution_missed", 0),
    (N_("Resolutions open"), "resolution_open", 0),
    (N_("Resolution rate"), "resolution_rate", 4),
    (N_("Mean time to resolution (business seconds)"), "resolution_mean_seconds", 0),
    (N_("90th percentile to resolution (business seconds)"), "resolution_p90_seconds", 0),
)


def write_csv(report: ComplianceReport, path: Path, *, names: Names, zone: dt.tzinfo) -> None:
    """Every figure of ``report`` as CSV: the breakdowns (with the total), the weeks and the
    breached tickets, one section after the other; headers in the user's language, numbers
    and dates locale-independent (rates as fractions, durations in business seconds)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([gettext(N_("SLA compliance")), period_title(report.start, report.end, zone)])
        out.writerow([gettext(N_("From")), report.start.isoformat()])
        out.writerow([gettext(N_("To")), report.end.isoformat()])
        out.writerow([gettext(N_("Generated")), report.generated_at.isoformat()])
        out.writerow([])
        out.writerow(
            [gettext(N_("Breakdown")), gettext(N_("Key")), gettext(N_("Group"))]
            + [gettext(header) for header, _name, _digits in _CSV_BUCKET_FIELDS]
        )
        sections: list[tuple[Dimension | None, list[ComplianceBucket]]] = [
            (dimension, dimension.buckets(report)) for dimension in Dimension
        ]
        sections.append((None, [report.total]))
        for dimension, buckets in sections:
            for bucket in buckets:
                out.writerow(
                    [
                        "total" if dimension is None else dimension.value,
                        bucket.key,
                        bucket_label(dimension, bucket),
                    ]
                    + [
                        _number(getattr(bucket, name), digits)
                        for _header, name, digits in _CSV_BUCKET_FIELDS
                    ]
                )
        out.writerow([])
        out.writerow(
            [
                gettext(N_("Week of")),
                gettext(N_("Tickets")),
                gettext(N_("Response rate")),
                gettext(N_("Resolution rate")),
            ]
        )
        for week in report.weeks:
            out.writerow(
                [
                    week.week_start.isoformat(),
                    str(week.tickets),
                    _number(week.response_rate, 4),
                    _number(week.resolution_rate, 4),
                ]
            )
        out.writerow([])
        out.writerow(
            [
                gettext(N_("Ticket")),
                gettext(N_("Subject")),
                gettext(N_("Priority")),
                gettext(N_("Severity")),
                gettext(N_("Clock")),
                gettext(N_("Due")),
                gettext(N_("Overdue (business seconds)")),
                gettext(N_("Team")),
                gettext(N_("Assignee")),
            ]
        )
        for ticket in sorted(report.breached, key=lambda b: -b.overdue_seconds):
            out.writerow(
                [
                    ticket.number,
                    ticket.subject,
                    ticket.priority.value,
                    ticket.severity.value,
                    ticket.clock,
                    ticket.due_at.isoformat(),
                    _number(ticket.overdue_seconds),
                    names.team(ticket.team_id),
                    "" if ticket.assignee_id is None else names.user(ticket.assignee_id),
                ]
            )
