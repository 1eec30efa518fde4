"""What every table of records in the console has in common."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def records_table(table: QTableView, *, row_padding: int = 10) -> QTableView:
    """Whole rows selected, nothing edited in place, no grid, alternating row colours,
    one line a row (``row_padding`` pixels taller than the text, no row numbers);
    ``table`` itself, for chaining."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    vertical = table.verticalHeader()
    vertical.setVisible(False)
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(table.fontMetrics().height() + row_padding)
    return table
