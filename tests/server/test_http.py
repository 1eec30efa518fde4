"""HTTP behaviour every client relies on: Date header, error shape, size limit."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.app import create_app
from tests.server.conftest import FakeClock, World, new_ticket_body


def test_responses_carry_the_server_date(world: World) -> None:
    world.clock.now = dt.datetime(2026, 3, 2, 9, 30, 15, tzinfo=dt.UTC)
    for response in (
        world.client.get("/api/v1/me", headers=world.headers("alice")),
        world.client.get("/api/v1/me"),
        world.client.get("/nowhere"),
    ):
        assert email.utils.parsedate_to_datetime(response.headers["date"]) == world.clock()
        assert len(response.headers.get_list("date")) == 1


def test_unknown_paths_answer_in_the_error_shape(world: World) -> None:
    response = world.client.get("/api/v1/nowhere", headers=world.headers("alice"))
    assert response.status_code == 404
    assert response.json() == {"code": "http_404", "message": "Not found.", "errors": []}


def test_validation_errors_name_the_field(world: World) -> None:
    body = new_ticket_body(world, priority="P9")
    del body["subject"]
    response = world.client.post("/api/v1/tickets", json=body, headers=world.headers("lead"))
    assert response.status_code == 422
    fields = sorted(error["field"] for error in response.json()["errors"])
    assert fields == ["priority", "subject"]
    assert "subject" in response.json()["message"]
    assert "priority" in response.json()["message"]
    broken = world.client.post(
        "/api/v1/tickets",
        content=b"{not json",
        headers={**world.headers("lead"), "content-type": "application/json"},
    )
    assert broken.status_code == 422


def test_oversized_bodies_are_refused(engine: Engine, clock: FakeClock) -> None:
    app = create_app(engine, clock=clock, body_limit=1000)
    with TestClient(app) as client:
        declared = client.post("/api/v1/auth/token", content=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.json()["code"] == "body_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b"x" * 100

        streamed = client.post("/api/v1/auth/token", content=chunks())
        assert streamed.status_code == 413
        fine = client.post("/api/v1/auth/token", json={"username": "u", "password": "p"})
        assert fine.status_code == 401


def test_an_unexpected_error_answers_in_the_error_shape_and_is_logged(
    engine: Engine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(engine, clock=clock)

    def broken() -> None:
        raise RuntimeError("the disk caught fire")

    app.add_api_route("/api/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["errors"] == []
    assert "fire" not in body["message"]  # the cause is for the log, not for clients
    [record] = [record for record in caplog.records if record.exc_info]
    assert record.levelname == "ERROR"
    assert "/api/v1/broken" in record.getMessage()
    assert record.exc_info is not None
    assert "the disk caught fire" in str(record.exc_info[1])
