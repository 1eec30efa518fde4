"""Presence: who is online, on which ticket; shared through the database."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import World, open_ticket

URL = "/api/v1/presence"


def here(world: World, by: str, **body: object) -> dict[str, Any]:
    response = world.client.post(URL, json=body, headers=world.headers(by))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def who(world: World, by: str, **params: str | int) -> dict[str, dict[str, Any]]:
    response = world.client.get(URL, params=params, headers=world.headers(by))
    assert response.status_code == 200, response.text
    return {entry["display_name"]: entry for entry in response.json()["users"]}


def test_a_report_shows_the_user_online_on_their_ticket_to_their_team(world: World) -> None:
    ticket = open_ticket(world)
    answer = here(world, "alice", ticket_id=ticket["id"], activity="replying")
    assert [entry["display_name"] for entry in answer["users"]] == ["alice"]
    seen = who(world, "bob")["alice"]
    assert seen["online"] is True
    assert (seen["ticket_id"], seen["activity"]) == (ticket["id"], "replying")
    assert seen["last_seen_at"] == world.clock().isoformat().replace("+00:00", "Z")


def test_users_of_other_teams_are_not_shown_but_admins_see_everyone(world: World) -> None:
    here(world, "alice")
    here(world, "nina")
    assert set(who(world, "bob")) == {"alice"}
    assert set(who(world, "nlead")) == {"nina"}
    assert set(who(world, "admin")) == {"alice", "nina"}


def test_after_two_minutes_without_news_a_user_is_offline(world: World) -> None:
    ticket = open_ticket(world)
    here(world, "alice", ticket_id=ticket["id"], activity="viewing")
    world.clock.advance(minutes=2, seconds=1)
    seen = who(world, "lead")["alice"]
    assert seen["online"] is False
    assert (seen["ticket_id"], seen["activity"]) == (None, None)
    assert who(world, "lead", ticket_id=ticket["id"]) == {}


def test_the_ticket_filter_lists_only_the_users_on_that_ticket(world: World) -> None:
    first = open_ticket(world)
    second = open_ticket(world)
    here(world, "alice", ticket_id=first["id"], activity="viewing")
    here(world, "bob", ticket_id=second["id"], activity="replying")
    here(world, "lead")
    assert set(who(world, "lead", ticket_id=first["id"])) == {"alice"}
    assert set(who(world, "lead", ticket_id=second["id"])) == {"bob"}


def test_leaving_a_ticket_clears_it(world: World) -> None:
    ticket = open_ticket(world)
    here(world, "alice", ticket_id=ticket["id"], activity="replying")
    here(world, "alice")
    seen = who(world, "lead")["alice"]
    assert (seen["online"], seen["ticket_id"], seen["activity"]) == (True, None, None)


def test_a_feed_pull_counts_as_seen_but_keeps_the_ticket(world: World) -> None:
    ticket = open_ticket(world)
    here(world, "alice", ticket_id=ticket["id"], activity="viewing")
    world.clock.advance(minutes=1, seconds=30)
    assert world.client.get("/api/v1/changes", headers=world.headers("alice")).status_code == 200
    world.clock.advance(minutes=1)  # 2 min 30 s after the report, 1 min after the pull
    seen = who(world, "lead")["alice"]
    assert seen["online"] is True
    assert seen["ticket_id"] is None  # what they were on was reported too long ago


def test_a_feed_pull_alone_makes_a_user_appear(world: World) -> None:
    assert "bob" not in who(world, "lead")
    world.client.get("/api/v1/changes", headers=world.headers("bob"))
    assert who(world, "lead")["bob"]["online"] is True


def test_presence_is_shared_by_server_processes_on_one_database(world: World) -> None:
    here(world, "alice")
    other = create_app(world.engine, clock=world.clock)
    with TestClient(other) as client:
        response = client.get(URL, headers=world.headers("bob"))
    assert [entry["display_name"] for entry in response.json()["users"]] == ["alice"]


def test_a_ticket_of_another_team_cannot_be_reported(world: World) -> None:
    ticket = open_ticket(world)
    response = world.client.post(
        URL, json={"ticket_id": ticket["id"], "activity": "viewing"}, headers=world.headers("nina")
    )
    assert response.status_code == 404


def test_an_unknown_activity_is_refused_and_a_token_is_needed(world: World) -> None:
    response = world.client.post(URL, json={"activity": "napping"}, headers=world.headers("alice"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "activity"
    assert world.client.get(URL).status_code == 401
