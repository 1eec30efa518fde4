"""Moving a ticket to another team (``set_team``): rights, assignee, history, visibility."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import World, command, open_ticket
from tests.server.test_commands import fetch, send


def feed(world: World, by: str, cursor: str = "") -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
    response = world.client.get("/api/v1/changes", params=params, headers=world.headers(by))
    assert response.status_code == 200, response.text
    changes: list[dict[str, Any]] = response.json()["changes"]
    return changes


def cursor_of(world: World, by: str) -> str:
    response = world.client.get("/api/v1/changes?limit=1000", headers=world.headers(by))
    cursor: str = response.json()["next_cursor"]
    return cursor


def test_a_lead_moves_a_ticket_of_their_team_with_a_new_assignee(world: World) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    move = command("set_team", ticket, team_id=world.ids["network"], assignee_id=world.ids["nina"])
    result = send(world, "lead", move)[0]
    assert result["status"] == "applied"
    moved = fetch(world, ticket["id"])
    assert moved["team_id"] == world.ids["network"]
    assert moved["assignee_id"] == world.ids["nina"]
    changes = [(h["field"], h["before"], h["after"]) for h in moved["history"][1:]]
    assert changes == [
        ("team", str(world.ids["support"]), str(world.ids["network"])),
        ("assignee", str(world.ids["alice"]), str(world.ids["nina"])),
    ]
    # the SLA clocks go on: a move is not a new ticket
    assert moved["sla"]["response"]["due"] == ticket["sla"]["response"]["due"]


def test_a_move_without_assignee_leaves_the_ticket_unassigned(world: World) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    send(world, "lead", command("set_team", ticket, team_id=world.ids["network"]))
    moved = fetch(world, ticket["id"])
    assert (moved["team_id"], moved["assignee_id"]) == (world.ids["network"], None)


def test_an_agent_cannot_move_a_ticket_and_is_told_why(world: World) -> None:
    ticket = open_ticket(world, assignee_id=world.ids["alice"])
    result = send(world, "alice", command("set_team", ticket, team_id=world.ids["network"]))[0]
    assert result["status"] == "rejected"
    assert result["reason"] == "forbidden"
    assert "team lead" in result["message"]
    assert "another team" in result["message"]
    assert fetch(world, ticket["id"])["team_id"] == world.ids["support"]


def test_a_lead_of_another_team_cannot_move_the_ticket(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "nlead", command("set_team", ticket, team_id=world.ids["network"]))[0]
    assert result["status"] == "rejected"
    assert result["reason"] == "not_found"  # the ticket is not even visible to them


def test_an_admin_moves_any_ticket(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "admin", command("set_team", ticket, team_id=world.ids["network"]))[0]
    assert result["status"] == "applied"


def test_the_assignee_must_be_an_active_member_of_the_target_team(world: World) -> None:
    ticket = open_ticket(world)
    move = command("set_team", ticket, team_id=world.ids["network"], assignee_id=world.ids["bob"])
    result = send(world, "lead", move)[0]
    assert result["status"] == "rejected"
    assert result["reason"] == "invalid_assignee"
    assert "team it moves to" in result["message"]
    assert fetch(world, ticket["id"])["team_id"] == world.ids["support"]


def test_an_unknown_target_team_is_refused(world: World) -> None:
    ticket = open_ticket(world)
    result = send(world, "lead", command("set_team", ticket, team_id=99_999))[0]
    assert (result["status"], result["reason"]) == ("rejected", "invalid_team")


def test_a_move_is_compare_and_set_on_team_and_assignee(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "lead", command("assign", ticket, assignee_id=world.ids["bob"]))
    stale = command("set_team", ticket, team_id=world.ids["network"])
    result = send(world, "lead", stale)[0]
    assert result["status"] == "conflict"
    assert result["fields"] == ["assignee"]
    assert fetch(world, ticket["id"])["team_id"] == world.ids["support"]


def test_an_assign_seen_before_a_move_conflicts_on_the_team(world: World) -> None:
    ticket = open_ticket(world)
    send(world, "lead", command("set_team", ticket, team_id=world.ids["network"]))
    result = send(world, "admin", command("assign", ticket, assignee_id=world.ids["alice"]))[0]
    assert result["status"] == "conflict"
    assert result["fields"] == ["team"]


def test_the_old_team_stops_seeing_the_ticket_and_the_new_team_gets_all_of_it(
    world: World,
) -> None:
    ticket = open_ticket(world)
    send(world, "lead", command("add_comment", ticket, body="Not ours", public=False))
    support = cursor_of(world, "alice")
    network = cursor_of(world, "nina")
    ticket = fetch(world, ticket["id"])
    send(world, "lead", command("set_team", ticket, team_id=world.ids["network"]))

    seen_by_alice = [(c["entity"], c["id"], c["op"]) for c in feed(world, "alice", support)]
    assert seen_by_alice == [("ticket", ticket["id"], "delete")]
    response = world.client.get(f"/api/v1/tickets/{ticket['id']}", headers=world.headers("alice"))
    assert response.status_code == 404

    seen_by_nina = feed(world, "nina", network)
    kinds = [(c["entity"], c["op"]) for c in seen_by_nina]
    assert kinds[0] == ("ticket", "upsert")
    assert ("comment", "upsert") in kinds  # the comment written before the move
    fields = [c["data"]["field"] for c in seen_by_nina if c["entity"] == "history"]
    assert fields == ["created", "note", "team"]


def test_a_console_seeing_both_teams_keeps_the_ticket(world: World) -> None:
    ticket = open_ticket(world)
    before = cursor_of(world, "admin")
    send(world, "lead", command("set_team", ticket, team_id=world.ids["network"]))
    changes = feed(world, "admin", before)
    last = {(c["entity"], c["id"]): c["op"] for c in changes}
    assert last[("ticket", ticket["id"])] == "upsert"  # the tombstone comes first


def test_a_ticket_moved_in_and_touched_in_one_push_comes_before_all_it_brings(
    world: World,
) -> None:
    ticket = open_ticket(world)
    for n in range(3):
        note = command("add_comment", fetch(world, ticket["id"]), body=f"#{n}", public=False)
        send(world, "lead", note)
    away = command("set_team", fetch(world, ticket["id"]), team_id=world.ids["network"])
    send(world, "lead", away)
    cursor = cursor_of(world, "alice")  # alice no longer holds it
    back = fetch(world, ticket["id"])
    # one push moves it back into support and touches it again
    send(
        world,
        "admin",
        command("set_team", back, team_id=world.ids["support"]),
        command("add_tag", back, tag="printer"),
    )
    # read one change a page: the ticket comes first, and all it brings in the same page
    pages = []
    while True:
        response = world.client.get(
            "/api/v1/changes", params={"cursor": cursor, "limit": 1}, headers=world.headers("alice")
        )
        body = response.json()
        pages.append([(c["entity"], c["op"]) for c in body["changes"]])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    [page] = pages
    assert page[0] == ("ticket", "upsert")
    assert page.count(("comment", "upsert")) == 3
    assert page.count(("history", "upsert")) == len(fetch(world, ticket["id"])["history"])
