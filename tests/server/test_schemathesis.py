"""Schemathesis against the published OpenAPI document: generated requests (valid
and invalid), signed in as an admin and as an agent, never get a server error,
and every answer matches the document (status code, content type, body schema).

The number of examples is bounded (``EXAMPLES`` per operation, role and mode)
and generation is derandomized, so a run is repeatable and takes seconds.

Dates and times are drawn with a bias for the edges (years 1 and 9999, offsets
of +14:00 and -14:00), where arithmetic and time-zone conversions overflow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.conftest import World, open_ticket

EXAMPLES: Final = 15
#: The widest offsets in use (Kiribati, Baker Island), UTC and a half-hour one.
OFFSETS: Final = [dt.timedelta(hours=hours) for hours in (14, -14, 0, 5.5, -9.5)]
EDGE_DATES: Final = [
    dt.date(1, 1, 1),
    dt.date(1, 1, 2),
    dt.date(9999, 12, 31),
    dt.date(9999, 12, 1),
]


def _render(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


#: Aware datetimes, many at the edges of what Python represents, in extreme offsets.
edge_datetimes: Final = st.builds(
    lambda day, time, offset: _render(dt.datetime.combine(day, time, tzinfo=dt.timezone(offset))),
    st.sampled_from(EDGE_DATES) | st.dates(),
    st.sampled_from([dt.time(0, 0), dt.time(23, 59, 59)]) | st.times(),
    st.sampled_from(OFFSETS),
)
#: ``YYYY-MM`` months, the edges included.
edge_months: Final = st.builds(
    "{:04d}-{:02d}".format,
    st.sampled_from([1, 9999, 2026]) | st.integers(0, 9999),
    st.integers(1, 12),
)

schemathesis.openapi.format("date-time", edge_datetimes)
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _streams(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    """Server-Sent Events never end: they are tested elsewhere, not fuzzed."""
    for answer in operation.definition.raw.get("responses", {}).values():
        if "text/event-stream" in answer.get("content", {}):
            return True
    return str(operation.path).endswith("/events")


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("role", ["admin", "alice"])
def test_generated_requests_get_documented_answers_and_no_server_error(
    world: World, role: str, mode: GenerationMode
) -> None:
    for _ in range(3):  # a few real tickets, so that small generated ids find some
        open_ticket(world)
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.client.app)
    failures: list[str] = []
    statuses: set[int] = set()
    tested = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"invalid schema: {result.err()}")
            continue
        operation = result.ok()
        if _streams(operation):
            continue
        tested += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case[Any]) -> None:
            # a token of its own per request: a generated sign-out revokes only that one
            token = world.token(role)
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
            )
            statuses.add(response.status_code)

        try:
            run()
        except Exception as error:  # every operation is tried; all failures reported
            failures.append(f"{operation.label}: {error}")
    assert failures == [], "\n\n".join(failures)
    assert tested >= 10
    # the requests got through: signed in, and both accepted and refused
    assert any(200 <= status < 300 for status in statuses), statuses
    assert 422 in statuses, statuses


def test_edge_dates_never_fail_the_server(world: World) -> None:
    headers = world.headers("admin")
    announcement = world.client.post(
        "/api/v1/announcements", json={"title": "Outage"}, headers=headers
    ).json()
    answers: set[int] = set()

    @given(start=edge_datetimes, end=edge_datetimes, month=edge_months)
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(start: str, end: str, month: str) -> None:
        requests = [
            world.client.get(
                "/api/v1/reports/compliance", params={"month": month}, headers=headers
            ),
            world.client.get(
                "/api/v1/reports/compliance", params={"start": start, "end": end}, headers=headers
            ),
            world.client.post(
                "/api/v1/announcements",
                json={"title": "Edge", "starts_at": start, "ends_at": end},
                headers=headers,
            ),
            world.client.put(
                f"/api/v1/announcements/{announcement['id']}",
                json={"title": "Edge", "starts_at": start, "ends_at": end},
                headers=headers,
            ),
        ]
        for response in requests:
            assert response.status_code < 500, response.text
            answers.add(response.status_code)
            if response.status_code >= 400:
                assert set(response.json()) == {"code", "message", "errors"}

    run()
    assert {200, 422} <= answers, answers


# -- what schemathesis found, pinned down -------------------------------------


def test_ids_too_large_for_the_database_are_refused_naming_the_field(world: World) -> None:
    headers = world.headers("admin")
    huge = 2**63
    detail = world.client.get(f"/api/v1/tickets/{huge}", headers=headers)
    assert detail.status_code == 422
    assert [error["field"] for error in detail.json()["errors"]] == ["ticket_id"]
    listing = world.client.get("/api/v1/tickets", params={"team_id": huge}, headers=headers)
    assert [error["field"] for error in listing.json()["errors"]] == ["team_id"]
    batch = {
        "commands": [
            {
                "type": "acknowledge",
                "mutation_id": "0b4cd2a4-4a4e-4a40-8d4e-3f1c2a9e7c11",
                "ticket_id": huge,
                "base_version": 0,
            }
        ]
    }
    pushed = world.client.post("/api/v1/commands", json=batch, headers=headers)
    assert pushed.status_code == 422
    assert [error["field"] for error in pushed.json()["errors"]] == [
        "commands.0.acknowledge.ticket_id"
    ]


def test_nul_characters_are_refused_naming_the_field(world: World) -> None:
    headers = world.headers("lead")
    body = {
        "subject": "Printer\x00",
        "requester_name": "Carla",
        "requester_email": "carla@example.com",
        "organisation_id": world.ids["acme"],
        "team_id": world.ids["support"],
    }
    created = world.client.post("/api/v1/tickets", json=body, headers=headers)
    assert created.status_code == 422
    assert [error["field"] for error in created.json()["errors"]] == ["subject"]
    query = world.client.get("/api/v1/changes", params={"cursor": "1\x00"}, headers=headers)
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "cursor"
    assert "NUL" in query.json()["message"]
