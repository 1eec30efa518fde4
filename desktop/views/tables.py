"""What every table of records in the console has in common."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QTableView


def records_table(table: QTableView) -> QTableView:
    """Whole rows selected, nothing edited in place, no grid, alternating row colours,
    one line a row; ``table`` itself, for chaining."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    return table
