"""The compliance report's headline figures: what they say, and the box showing one."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

import i18n
from desktop.models.report import format_duration, format_rate, rate_colour
from desktop.views.widgets import scaled
from i18n import _, ngettext
from protocol import ComplianceReport

__all__ = ["KeyFigure", "breached_tickets", "key_figures", "ticket_total"]


def ticket_total(report: ComplianceReport) -> int:
    """Tickets in the report (each has a first-response clock)."""
    total = report.total
    return total.response_met + total.response_missed + total.response_open


def breached_tickets(report: ComplianceReport) -> int:
    return len({ticket.id for ticket in report.breached})


def _unbroken(text: str) -> str:
    """``text`` kept on one line (durations: "4 h 15 min" never split)."""
    return text.replace(" ", "\u00a0")


def _clock_figure(
    caption: str, rate: float | None, mean: float | None, p90: float | None
) -> tuple[str, str, str, QColor | None]:
    """The figure of one clock: its rate within target, and its mean and 90th percentile."""
    return (
        format_rate(rate),
        caption,
        _("mean {mean}, 90% within {p90}").format(
            mean=_unbroken(format_duration(mean)), p90=_unbroken(format_duration(p90))
        ),
        rate_colour(rate),
    )


def key_figures(report: ComplianceReport) -> list[tuple[str, str, str, QColor | None]]:
    """(value, caption, detail, colour) of the headline figures."""
    total = report.total
    tickets = ticket_total(report)
    breached = breached_tickets(report)
    return [
        (
            i18n.format_decimal(tickets),
            ngettext("ticket created", "tickets created", tickets),
            "",
            None,
        ),
        _clock_figure(
            _("first responses within target"),
            total.response_rate,
            total.response_mean_seconds,
            total.response_p90_seconds,
        ),
        _clock_figure(
            _("resolutions within target"),
            total.resolution_rate,
            total.resolution_mean_seconds,
            total.resolution_p90_seconds,
        ),
        (
            i18n.format_decimal(breached),
            ngettext("ticket breached", "tickets breached", breached),
            ngettext(
                "{count} still open in time", "{count} still open in time", total.resolution_open
            ).format(count=i18n.format_decimal(total.resolution_open)),
            QColor("#d93025") if breached else QColor("#1e8e3e"),
        ),
    ]


class KeyFigure(QFrame):
    """One headline figure: a big number, what it counts, a detail line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("key-figure")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#key-figure { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(2)
        self.value = QLabel()
        scaled(self.value, 2.2, bold=True)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        for label in (self.value, self.caption, self.detail):
            layout.addWidget(label)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def show_figure(self, value: str, caption: str, detail: str, colour: QColor | None) -> None:
        self.value.setText(value)
        self.value.setStyleSheet("" if colour is None else f"color: {colour.name()};")
        self.caption.setText(caption)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
