"""Opening and reading tickets, with SLA derived from the history on every read."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.server.conftest import World, command, new_ticket_body, open_ticket


def send(world: World, by: str, *commands: dict[str, object]) -> list[dict[str, Any]]:
    response = world.client.post(
        "/api/v1/commands", json={"commands": list(commands)}, headers=world.headers(by)
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def read(world: World, ticket_id: object, by: str = "lead") -> dict[str, Any]:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.headers(by))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_new_ticket_gets_a_yearly_tracking_number_and_a_creation_entry(world: World) -> None:
    first = open_ticket(world, tags=["Printer", "vip", "printer"])
    second = open_ticket(world)
    assert first["tracking_number"] == "INC-2026-000001"
    assert second["tracking_number"] == "INC-2026-000002"
    assert first["status"] == "new"
    assert first["version"] == 1
    assert first["tags"] == ["printer", "vip"]
    history = first["history"]
    assert isinstance(history, list)
    assert [entry["field"] for entry in history] == ["created"]
    assert history[0]["actor_id"] == world.ids["lead"]
    world.clock.now = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
    assert open_ticket(world)["tracking_number"] == "INC-2027-000001"


def test_sla_targets_follow_the_plan_priority_and_severity(world: World) -> None:
    # Acme is Enterprise: P2/major answers within 4 business hours, resolves within 18
    enterprise = open_ticket(world)
    sla = enterprise["sla"]
    assert sla["plan"] == "enterprise"
    assert sla["response"] == {
        "state": "running",
        "target_seconds": 4 * 3600,
        "elapsed_seconds": 0,
        "remaining_seconds": 4 * 3600,
        "due": "2026-03-02T13:00:00Z",  # 10:00 + 4 h, Paris time
    }
    assert sla["resolution"]["target_seconds"] == 18 * 3600
    # Bolt is Business: the targets are doubled
    business = open_ticket(world, organisation_id=world.ids["bolt"])
    assert business["sla"]["response"]["target_seconds"] == 8 * 3600


def test_sla_counts_business_hours_only(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.now = dt.datetime(2026, 3, 2, 18, 0, tzinfo=dt.UTC)  # 19:00 in Paris
    sla = read(world, ticket["id"])["sla"]
    assert sla["response"]["elapsed_seconds"] == 8 * 3600  # 10:00 to 18:00
    assert sla["response"]["state"] == "breached"
    assert sla["response"]["remaining_seconds"] == -4 * 3600
    assert sla["resolution"]["state"] == "outside_hours"
    assert sla["resolution"]["due"] == "2026-03-04T09:00:00Z"


def test_a_public_reply_stops_the_response_clock_and_a_note_does_not(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.advance(hours=1)
    send(world, "lead", command("add_comment", ticket, body="internal", public=False))
    assert read(world, ticket["id"])["sla"]["response"]["state"] == "running"
    world.clock.advance(hours=1)
    send(world, "lead", command("add_comment", ticket, body="Hello", public=True))
    world.clock.advance(hours=5)
    response = read(world, ticket["id"])["sla"]["response"]
    assert response["state"] == "met"
    assert response["elapsed_seconds"] == 2 * 3600


def test_acknowledge_stops_the_response_clock_once(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.advance(minutes=30)
    first = send(world, "alice", command("acknowledge", ticket))[0]
    world.clock.advance(minutes=30)
    again = send(world, "alice", command("acknowledge", ticket))[0]
    assert again["version"] == first["version"]
    current = read(world, ticket["id"])
    assert current["sla"]["response"]["elapsed_seconds"] == 1800
    assert [entry["field"] for entry in current["history"]].count("responded") == 1


def test_pending_pauses_the_resolution_clock(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.advance(hours=1)
    send(world, "lead", command("set_status", ticket, status="pending"))
    world.clock.advance(hours=3)
    resolution = read(world, ticket["id"])["sla"]["resolution"]
    assert resolution["state"] == "paused"
    assert resolution["elapsed_seconds"] == 3600
    assert resolution["due"] is None


def test_raising_the_priority_swaps_the_target(world: World) -> None:
    ticket = open_ticket(world, priority="P4", severity="minor")
    world.clock.advance(hours=2)
    send(world, "lead", command("set_priority", ticket, priority="P1"))
    send(world, "lead", command("set_severity", read(world, ticket["id"]), severity="blocking"))
    response = read(world, ticket["id"])["sla"]["response"]
    assert response["target_seconds"] == 3600
    assert response["state"] == "breached"


def test_listing_filters_and_pages(world: World) -> None:
    ids = [open_ticket(world)["id"] for _ in range(3)]
    other = open_ticket(world, by="nlead", team_id=world.ids["network"])
    send(world, "lead", command("set_status", read(world, ids[0]), status="open"))
    headers = world.headers("admin")
    everything = world.client.get("/api/v1/tickets", headers=headers).json()
    assert everything["total"] == 4
    assert [t["id"] for t in everything["items"]] == [*ids, other["id"]]
    assert all("sla" in t for t in everything["items"])
    page = world.client.get("/api/v1/tickets?offset=1&limit=2", headers=headers).json()
    assert [t["id"] for t in page["items"]] == ids[1:3]
    opened = world.client.get("/api/v1/tickets?status=open", headers=headers).json()
    assert [t["id"] for t in opened["items"]] == [ids[0]]
    several = world.client.get("/api/v1/tickets?status=open&status=new", headers=headers).json()
    assert several["total"] == 4
    network = world.client.get(
        f"/api/v1/tickets?team_id={world.ids['network']}", headers=headers
    ).json()
    assert [t["id"] for t in network["items"]] == [other["id"]]
    bad = world.client.get("/api/v1/tickets?limit=0", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"


def test_creation_checks_what_it_refers_to(world: World) -> None:
    headers = world.headers("lead")
    no_org = world.client.post(
        "/api/v1/tickets", json=new_ticket_body(world, organisation_id=999), headers=headers
    )
    assert no_org.status_code == 422
    assert no_org.json()["errors"][0]["field"] == "organisation_id"
    bad_email = world.client.post(
        "/api/v1/tickets", json=new_ticket_body(world, requester_email="nobody"), headers=headers
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "requester_email"
    no_subject = world.client.post(
        "/api/v1/tickets", json=new_ticket_body(world, subject="  "), headers=headers
    )
    assert no_subject.json()["errors"][0]["field"] == "subject"
    outsider = world.client.post(
        "/api/v1/tickets",
        json=new_ticket_body(world, assignee_id=world.ids["nina"]),
        headers=headers,
    )
    assert outsider.status_code == 422
    assert outsider.json()["code"] == "invalid_assignee"


def test_a_creation_sent_twice_opens_one_ticket(world: World) -> None:
    headers = world.headers("alice")
    body = new_ticket_body(world, mutation_id="7d0f4c1e-8e8a-4c55-9d39-0c6f1d1f8a01")
    first = world.client.post("/api/v1/tickets", json=body, headers=headers)
    again = world.client.post("/api/v1/tickets", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listing = world.client.get("/api/v1/tickets", headers=headers).json()
    assert listing["total"] == 1
    stolen = world.client.post("/api/v1/tickets", json=body, headers=world.headers("bob"))
    assert stolen.status_code == 409


def test_history_runs_from_creation_to_closure_and_the_clocks_stop(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.advance(hours=1)
    send(world, "lead", command("set_status", ticket, status="open"))
    world.clock.advance(hours=2)
    ticket = read(world, ticket["id"])
    send(world, "lead", command("set_status", ticket, status="resolved"))
    world.clock.advance(hours=1)
    ticket = read(world, ticket["id"])
    send(world, "lead", command("set_status", ticket, status="closed"))
    world.clock.advance(days=30)
    final = read(world, ticket["id"])
    assert [(e["field"], e["after"]) for e in final["history"][1:]] == [
        ("status", "open"),
        ("status", "resolved"),
        ("status", "closed"),
    ]
    assert [e["version"] for e in final["history"]] == [1, 2, 3, 4]
    # resolved after 3 business hours without any reply: both clocks stopped then
    assert final["sla"]["resolution"]["state"] == "met"
    assert final["sla"]["resolution"]["elapsed_seconds"] == 3 * 3600
    assert final["sla"]["response"]["state"] == "met"
    assert final["sla"]["response"]["elapsed_seconds"] == 3 * 3600
