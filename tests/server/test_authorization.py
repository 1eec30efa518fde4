"""Who may read and change what, endpoint by endpoint and role by role."""

from __future__ import annotations

import pytest

from tests.server.conftest import USERS, World, command, new_ticket_body, open_ticket

READ_ENDPOINTS = [
    "/api/v1/me",
    "/api/v1/users",
    "/api/v1/teams",
    "/api/v1/organisations",
    "/api/v1/sla/policy",
    "/api/v1/tickets",
    "/api/v1/changes",
]


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_endpoint_needs_a_session(world: World, path: str) -> None:
    response = world.client.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("path", ["/api/v1/commands", "/api/v1/tickets", "/api/v1/auth/logout"])
def test_every_write_needs_a_session(world: World, path: str) -> None:
    assert world.client.post(path, json={}).status_code == 401


@pytest.mark.parametrize("username", sorted(USERS))
@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_every_role_reads_the_directory(world: World, username: str, path: str) -> None:
    assert world.client.get(path, headers=world.headers(username)).status_code == 200


def test_the_directory_lists_people_teams_and_plans(world: World) -> None:
    headers = world.headers("alice")
    users = world.client.get("/api/v1/users", headers=headers).json()
    assert {user["username"] for user in users} == set(USERS)
    assert all("password" not in key for user in users for key in user)
    teams = world.client.get("/api/v1/teams", headers=headers).json()
    support = next(team for team in teams if team["name"] == "Support")
    assert support["member_ids"] == sorted(world.ids[name] for name in ("lead", "alice", "bob"))
    organisations = world.client.get("/api/v1/organisations", headers=headers).json()
    assert {(o["name"], o["plan"]) for o in organisations} == {
        ("Acme", "enterprise"),
        ("Bolt", "business"),
    }
    sla = world.client.get("/api/v1/sla/policy", headers=headers).json()
    assert sla["policy"]["name"] == "default"
    assert sla["calendar"]["timezone"] == "Europe/Paris"


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        ("admin", True),
        ("lead", True),
        ("alice", True),
        ("nina", False),
        ("nlead", False),
    ],
)
def test_a_ticket_of_another_team_is_not_found(world: World, username: str, visible: bool) -> None:
    ticket = open_ticket(world)
    response = world.client.get(f"/api/v1/tickets/{ticket['id']}", headers=world.headers(username))
    assert response.status_code == (200 if visible else 404)
    missing = world.client.get("/api/v1/tickets/4242", headers=world.headers(username))
    if not visible:
        assert response.json() == missing.json()  # indistinguishable from a missing one
    listing = world.client.get("/api/v1/tickets", headers=world.headers(username)).json()
    assert [t["id"] for t in listing["items"]] == ([ticket["id"]] if visible else [])
    assert listing["total"] == (1 if visible else 0)


@pytest.mark.parametrize(
    ("username", "team", "assignee", "expected"),
    [
        ("alice", "support", None, 201),
        ("alice", "support", "alice", 201),
        ("alice", "support", "bob", 403),
        ("alice", "network", None, 403),
        ("lead", "support", "bob", 201),
        ("lead", "network", None, 403),
        ("admin", "network", "nina", 201),
    ],
)
def test_who_opens_tickets_where(
    world: World, username: str, team: str, assignee: str | None, expected: int
) -> None:
    body = new_ticket_body(
        world,
        team_id=world.ids[team],
        assignee_id=None if assignee is None else world.ids[assignee],
    )
    response = world.client.post("/api/v1/tickets", json=body, headers=world.headers(username))
    assert response.status_code == expected, response.text


@pytest.mark.parametrize(
    ("username", "assigned_to", "expected"),
    [
        ("admin", "alice", "applied"),
        ("lead", "alice", "applied"),
        ("alice", "alice", "applied"),
        ("alice", None, "applied"),
        ("bob", "alice", "rejected"),
        ("nina", None, "rejected"),
        ("nlead", None, "rejected"),
    ],
)
def test_who_changes_a_ticket(
    world: World, username: str, assigned_to: str | None, expected: str
) -> None:
    ticket = open_ticket(world, assignee_id=None if assigned_to is None else world.ids[assigned_to])
    response = world.client.post(
        "/api/v1/commands",
        json={"commands": [command("set_status", ticket, status="open")]},
        headers=world.headers(username),
    )
    result = response.json()["results"][0]
    assert result["status"] == expected
    if username in ("nina", "nlead"):
        assert result["reason"] == "not_found"


@pytest.mark.parametrize(
    ("username", "expected"),
    [("admin", "applied"), ("lead", "applied"), ("alice", "rejected"), ("nlead", "rejected")],
)
def test_who_reassigns(world: World, username: str, expected: str) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    response = world.client.post(
        "/api/v1/commands",
        json={"commands": [command("assign", ticket, assignee_id=world.ids["bob"])]},
        headers=world.headers(username),
    )
    assert response.json()["results"][0]["status"] == expected
