"""What the queue tests read off a queue model: its tickets in order, one cell, every cell."""

from __future__ import annotations

from desktop.models.queue import Column, QueueModel


def ids(model: QueueModel) -> list[int]:
    return model.ticket_ids()


def text(model: QueueModel, ticket_id: int, column: Column, role: int = 0) -> object:
    position = model.position_of(ticket_id)
    assert position is not None
    return model.data(model.index(position, column), role)


def shown(model: QueueModel) -> list[list[object]]:
    return [[model.index(r, c).data() for c in Column] for r in range(model.rowCount())]
