"""Commands: idempotency, compare-and-set, last-writer-wins, rights, history."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from server.db import Base, make_sessionmaker, transaction
from server.models import AppliedMutation, ChangeLog, TicketHistory
from server.pushes import PUSH_ATTEMPTS
from tests.server.conftest import World, command, open_ticket


def send(world: World, by: str, *commands: dict[str, object]) -> list[dict[str, Any]]:
    response = world.client.post(
        "/api/v1/commands", json={"commands": list(commands)}, headers=world.headers(by)
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def fetch(world: World, ticket_id: object, by: str = "admin") -> dict[str, Any]:
    response = world.client.get(f"/api/v1/tickets/{ticket_id}", headers=world.headers(by))
    assert response.status_code == 200, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


def count(world: World, model: type[Base]) -> int:
    with transaction(make_sessionmaker(world.engine)) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_resent_command_returns_the_first_answer_and_applies_once(world: World) -> None:
    ticket = open_ticket(world)
    comment = command("add_comment", ticket, body="On it", public=False)
    first = send(world, "alice", comment)
    history = count(world, TicketHistory)
    changes = count(world, ChangeLog)
    again = send(world, "alice", comment)
    assert again == first
    assert first[0]["status"] == "applied"
    assert len(fetch(world, ticket["id"])["comments"]) == 1
    assert count(world, TicketHistory) == history
    assert count(world, ChangeLog) == changes


def test_a_resent_conflict_stays_a_conflict(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "lead", command("set_status", ticket, status="open"))
    stale = command("set_status", ticket, status="pending")
    first = send(world, "alice", stale)
    assert first[0]["status"] == "conflict"
    assert send(world, "alice", stale) == first


def test_a_mutation_id_of_another_user_is_not_answered(world: World) -> None:
    ticket = open_ticket(world)
    comment = command("add_comment", ticket, body="mine", public=False)
    send(world, "alice", comment)
    result = send(world, "bob", comment)[0]
    assert result["status"] == "rejected"
    assert result["reason"] == "mutation_reused"
    assert len(fetch(world, ticket["id"])["comments"]) == 1


def test_status_is_compare_and_set_against_the_version_seen(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "bob", command("set_status", ticket, status="pending"))
    result = send(world, "alice", command("set_status", ticket, status="resolved"))[0]
    assert result["status"] == "conflict"
    assert result["fields"] == ["status"]
    assert result["ticket"]["status"] == "pending"
    assert result["ticket"]["version"] == ticket["version"] + 1
    assert fetch(world, ticket["id"])["status"] == "pending"


def test_assignment_is_compare_and_set(world: World) -> None:
    ticket = open_ticket(world)
    assert (
        send(world, "alice", command("assign", ticket, assignee_id=world.ids["alice"]))[0]["status"]
        == "applied"
    )
    result = send(world, "bob", command("assign", ticket, assignee_id=world.ids["bob"]))[0]
    assert result["status"] == "conflict"
    assert result["fields"] == ["assignee"]
    assert result["ticket"]["assignee_id"] == world.ids["alice"]


def test_a_change_to_another_field_is_no_conflict(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "bob", command("add_tag", ticket, tag="printer"))
    send(world, "bob", command("add_comment", ticket, body="note", public=False))
    result = send(world, "alice", command("set_status", ticket, status="open"))[0]
    assert result == {
        "status": "applied",
        "mutation_id": result["mutation_id"],
        "ticket_id": ticket["id"],
        "version": ticket["version"] + 3,
    }


def test_priority_and_severity_are_last_writer_wins(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "bob", command("set_priority", ticket, priority="P1"))
    result = send(world, "alice", command("set_priority", ticket, priority="P3"))[0]
    assert result["status"] == "applied"
    send(world, "alice", command("set_severity", ticket, severity="blocking"))
    current = fetch(world, ticket["id"])
    assert (current["priority"], current["severity"]) == ("P3", "blocking")


def test_every_change_bumps_the_version_and_appends_history(world: World) -> None:
    ticket = open_ticket(world)
    world.clock.advance(minutes=5)
    results = send(
        world,
        "lead",
        command("assign", ticket, assignee_id=world.ids["alice"]),
        command("set_status", ticket, status="open"),
        command("set_priority", ticket, priority="P1"),
        command("set_severity", ticket, severity="blocking"),
        command("add_tag", ticket, tag="VIP"),
        command("remove_tag", ticket, tag="vip"),
        command("add_comment", ticket, body="Hello", public=True),
    )
    versions = [result["version"] for result in results]
    assert versions == list(range(2, 9))
    current = fetch(world, ticket["id"])
    assert current["version"] == 8
    fields = [(entry["field"], entry["before"], entry["after"]) for entry in current["history"]]
    assert fields[1:] == [
        ("assignee", None, str(world.ids["alice"])),
        ("status", "new", "open"),
        ("priority", "P2", "P1"),
        ("severity", "major", "blocking"),
        ("tag_added", None, "vip"),
        ("tag_removed", "vip", None),
        ("reply", None, str(current["comments"][0]["id"])),
        ("responded", None, "reply"),
    ]
    assert {entry["actor_id"] for entry in current["history"]} == {world.ids["lead"]}
    assert current["comments"][0]["public"] is True


def test_a_command_that_changes_nothing_keeps_the_version(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "alice", command("set_priority", ticket, priority="P2"))[0]
    assert result["version"] == ticket["version"]
    assert len(fetch(world, ticket["id"])["history"]) == 1


def test_an_unknown_command_type_is_refused_whole(world: World) -> None:
    ticket = open_ticket(world)
    mutations = count(world, AppliedMutation)
    response = world.client.post(
        "/api/v1/commands",
        json={
            "commands": [
                command("add_comment", ticket, body="fine", public=False),
                command("delete_ticket", ticket),
            ]
        },
        headers=world.headers("alice"),
    )
    assert response.status_code == 422
    assert any(error["field"].startswith("commands.1") for error in response.json()["errors"])
    assert count(world, AppliedMutation) == mutations
    assert fetch(world, ticket["id"])["comments"] == []


def test_commands_are_validated_strictly(world: World) -> None:
    ticket = open_ticket(world)
    bad = [
        {**command("set_status", ticket, status="done")},
        {**command("set_priority", ticket, priority="P1"), "colour": "red"},
        {**command("acknowledge", ticket), "mutation_id": "not-a-uuid"},
        {**command("add_comment", ticket, body="   ", public=True)},
    ]
    for item in bad:
        response = world.client.post(
            "/api/v1/commands", json={"commands": [item]}, headers=world.headers("alice")
        )
        assert response.status_code == 422, item
    assert count(world, AppliedMutation) == 0


def test_agents_cannot_touch_a_colleagues_ticket_but_can_note_it(world: World) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    results = send(
        world,
        "bob",
        command("set_status", ticket, status="open"),
        command("assign", ticket, assignee_id=world.ids["bob"]),
        command("add_comment", ticket, body="public", public=True),
        command("add_comment", ticket, body="internal", public=False),
    )
    assert [r["status"] for r in results] == ["rejected", "rejected", "rejected", "applied"]
    assert {r.get("reason") for r in results[:3]} == {"forbidden"}
    assert results[0]["message"]


def test_an_agent_takes_an_unassigned_ticket_but_does_not_give_it_away(world: World) -> None:
    ticket = open_ticket(world)
    give = send(world, "alice", command("assign", ticket, assignee_id=world.ids["bob"]))[0]
    assert give["reason"] == "forbidden"
    take = send(world, "alice", command("assign", ticket, assignee_id=world.ids["alice"]))[0]
    assert take["status"] == "applied"


def test_a_lead_reassigns_within_the_team_only(world: World) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    moved = send(world, "lead", command("assign", ticket, assignee_id=world.ids["bob"]))[0]
    assert moved["status"] == "applied"
    ticket = fetch(world, ticket["id"])
    outside = send(world, "lead", command("assign", ticket, assignee_id=world.ids["nina"]))[0]
    assert outside["reason"] == "invalid_assignee"


def test_another_teams_ticket_is_not_found(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "nlead", command("set_priority", ticket, priority="P1"))[0]
    assert result["reason"] == "not_found"
    missing = send(world, "admin", {**command("acknowledge", ticket), "ticket_id": 999})[0]
    assert missing["reason"] == "not_found"


def test_a_base_version_from_the_future_is_rejected(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "alice", {**command("acknowledge", ticket), "base_version": 99})[0]
    assert result["reason"] == "invalid_base_version"


def test_a_closed_ticket_takes_comments_only(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "lead", command("set_status", ticket, status="closed"))
    ticket = fetch(world, ticket["id"])
    results = send(
        world,
        "lead",
        command("set_status", ticket, status="open"),
        command("add_comment", ticket, body="post-mortem", public=False),
    )
    assert results[0]["reason"] == "ticket_closed"
    assert results[1]["status"] == "applied"


def test_each_command_commits_on_its_own(world: World) -> None:
    ticket = open_ticket(world)
    results = send(
        world,
        "alice",
        command("add_tag", ticket, tag="first"),
        {**command("add_tag", ticket, tag="ghost"), "ticket_id": 12345},
        command("add_tag", ticket, tag="third"),
    )
    assert [r["status"] for r in results] == ["applied", "rejected", "applied"]
    assert fetch(world, ticket["id"])["tags"] == ["first", "third"]


def test_a_batch_of_unique_mutation_ids_only(world: World) -> None:
    ticket = open_ticket(world)
    same = str(uuid.uuid4())
    results = send(
        world,
        "alice",
        {**command("add_tag", ticket, tag="one"), "mutation_id": same},
        {**command("add_tag", ticket, tag="two"), "mutation_id": same},
    )
    assert results[0] == results[1]
    assert fetch(world, ticket["id"])["tags"] == ["one"]


def test_an_agents_own_earlier_change_in_the_same_push_is_no_conflict(world: World) -> None:
    """Offline, the agent set "pending" then "resolved": both against the version seen."""
    ticket = open_ticket(world)
    results = send(
        world,
        "alice",
        command("set_status", ticket, status="pending"),
        command("assign", ticket, assignee_id=world.ids["alice"]),
        command("set_status", ticket, status="resolved"),
    )
    assert [r["status"] for r in results] == ["applied", "applied", "applied"]
    shown = fetch(world, ticket["id"])
    assert shown["status"] == "resolved"
    assert shown["assignee_id"] == world.ids["alice"]
    statuses = [(h["before"], h["after"]) for h in shown["history"] if h["field"] == "status"]
    assert statuses == [("new", "pending"), ("pending", "resolved")]


def test_someone_elses_change_still_clashes_inside_a_push(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "bob", command("set_status", ticket, status="open"))
    results = send(
        world,
        "alice",
        command("add_comment", ticket, body="Called back", public=False),
        command("set_status", ticket, status="pending"),
        command("set_status", ticket, status="resolved"),
    )
    assert [r["status"] for r in results] == ["applied", "conflict", "conflict"]
    assert results[2]["fields"] == ["status"]
    assert fetch(world, ticket["id"])["status"] == "open"


def test_the_same_agents_change_from_another_push_is_a_conflict(world: World) -> None:
    """Another push may come from another console of the same agent, which had not seen it."""
    ticket = open_ticket(world)
    assert send(world, "alice", command("set_status", ticket, status="pending"))[0]["status"] == (
        "applied"
    )
    result = send(world, "alice", command("set_status", ticket, status="resolved"))[0]
    assert result["status"] == "conflict"
    assert result["fields"] == ["status"]


def test_a_resent_push_counts_its_already_applied_commands_as_own(world: World) -> None:
    """The answer to a push was lost after it committed: the re-sent one answers the same."""
    ticket = open_ticket(world)
    first = command("set_status", ticket, status="pending")
    second = command("set_status", ticket, status="resolved")
    send(world, "alice", first)  # as if only the first command had been delivered
    results = send(world, "alice", first, second)
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert fetch(world, ticket["id"])["status"] == "resolved"


def test_a_push_the_database_keeps_cancelling_is_answered_503_not_500(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Deadlock(Exception):
        sqlstate = "40P01"

    runs: list[int] = []
    pauses: list[float] = []

    def cancelled(*args: object) -> list[object]:
        runs.append(1)
        raise OperationalError("UPDATE tickets …", {}, Deadlock())

    monkeypatch.setattr("server.pushes._execute_together", cancelled)
    monkeypatch.setattr("server.pushes.pause", pauses.append)
    ticket = open_ticket(world)
    response = world.client.post(
        "/api/v1/commands",
        json={"commands": [command("add_tag", ticket, tag="vip")]},
        headers=world.headers("lead"),
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["code"] == "busy"
    assert "try again" in body["message"]
    assert len(runs) == PUSH_ATTEMPTS
    assert len(pauses) == PUSH_ATTEMPTS - 1
    assert 0 <= sum(pauses) < 1  # short pauses: the console retries the rest itself
