"""The change feed: every visible change, in commit order, page by page."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import World, command, open_ticket
from tests.server.feedreader import FeedReader

WITHOUT_SLA = ("sla", "comments", "history")


def strip(ticket: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in ticket.items() if key not in WITHOUT_SLA}


def ticket_of(change: dict[str, Any]) -> int | None:
    """The ticket a change belongs to (None: not a ticket's)."""
    if change["entity"] == "ticket":
        return int(change["id"])
    if change["entity"] in ("comment", "history"):
        return int(change["data"]["ticket_id"])
    return None


def busy_day(world: World) -> list[dict[str, Any]]:
    tickets = [open_ticket(world) for _ in range(3)]
    tickets.append(open_ticket(world, by="nlead", team_id=world.ids["network"]))
    world.client.post(
        "/api/v1/commands",
        json={
            "commands": [
                command("assign", tickets[0], assignee_id=world.ids["alice"]),
                command("add_comment", tickets[1], body="Looking", public=True),
                command("set_priority", tickets[2], priority="P1"),
            ]
        },
        headers=world.headers("lead"),
    )
    return tickets


def test_following_cursors_page_by_page_reads_everything_once(world: World) -> None:
    busy_day(world)
    whole = FeedReader(world.client, world.headers("admin"))
    whole.poll()
    paged = FeedReader(world.client, world.headers("admin"), limit=3)
    pages = 0
    while True:
        response = world.client.get(
            "/api/v1/changes",
            params={"cursor": paged.cursor, "limit": 3},
            headers=paged.headers,
        ).json()
        pages += 1
        # past the limit only to end with the ticket the page's limit fell in
        overflow = {ticket_of(change) for change in response["changes"][2:]}
        assert len(response["changes"]) <= 3 or (len(overflow) == 1 and None not in overflow)
        paged.seqs += [change["seq"] for change in response["changes"]]
        paged.cursor = response["next_cursor"]
        if response["has_more"]:
            assert response["estimate"] > 0
        else:
            assert response["estimate"] == 0
            break
    assert pages > 3
    assert paged.seqs == whole.seqs
    assert whole.seqs == sorted(set(whole.seqs))
    assert paged.cursor == whole.cursor
    again = world.client.get(
        "/api/v1/changes", params={"cursor": whole.cursor}, headers=whole.headers
    ).json()
    assert again == {
        "changes": [],
        "next_cursor": whole.cursor,
        "has_more": False,
        "estimate": 0,
    }


def test_the_feed_rebuilds_what_the_api_shows(world: World) -> None:
    busy_day(world)
    reader = FeedReader(world.client, world.headers("admin"), limit=4)
    reader.poll()
    listing = world.client.get("/api/v1/tickets", headers=world.headers("admin")).json()
    assert {t["id"]: strip(t) for t in listing["items"]} == {
        ticket_id: strip(data) for ticket_id, data in reader.tickets().items()
    }
    detail = world.client.get("/api/v1/tickets/2", headers=world.headers("admin")).json()
    comments = {key[1]: data for key, data in reader.state.items() if key[0] == "comment"}
    assert list(comments.values()) == detail["comments"]
    history = [data for key, data in reader.state.items() if key[0] == "history"]
    assert [entry for entry in history if entry["ticket_id"] == 2] == detail["history"]


def test_new_changes_appear_after_the_cursor(world: World) -> None:
    tickets = busy_day(world)
    reader = FeedReader(world.client, world.headers("alice"))
    reader.poll()
    assert reader.poll() == 0
    world.client.post(
        "/api/v1/commands",
        json={"commands": [command("add_tag", tickets[1], tag="urgent")]},
        headers=world.headers("alice"),
    )
    assert reader.poll() == 2  # the ticket and its history entry
    assert reader.tickets()[tickets[1]["id"]]["tags"] == ["urgent"]


def test_each_user_reads_only_what_they_may_see(world: World) -> None:
    tickets = busy_day(world)
    nina = FeedReader(world.client, world.headers("nina"))
    nina.poll()
    assert set(nina.tickets()) == {tickets[3]["id"]}
    kinds = {entity for entity, _id in nina.state}
    assert {"user", "team", "organisation", "ticket", "history"} <= kinds
    assert not any(
        data.get("ticket_id") in {t["id"] for t in tickets[:3]} for data in nina.state.values()
    )
    alice = FeedReader(world.client, world.headers("alice"))
    alice.poll()
    assert set(alice.tickets()) == {t["id"] for t in tickets[:3]}


def test_limits_and_cursors_are_checked(world: World) -> None:
    headers = world.headers("admin")
    too_many = world.client.get("/api/v1/changes?limit=1001", headers=headers)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "limit"
    for cursor in ("abc", "-1", "99999"):
        response = world.client.get("/api/v1/changes", params={"cursor": cursor}, headers=headers)
        assert response.status_code == 410, cursor
        assert response.json()["code"] == "invalid_cursor"


def test_a_ticket_moved_to_another_team_leaves_the_old_team_and_arrives_whole(
    world: World,
) -> None:
    ticket = open_ticket(world)
    world.client.post(
        "/api/v1/commands",
        json={
            "commands": [
                command("add_comment", ticket, body="Checked the cable", public=False),
                command("set_priority", ticket, priority="P1"),
            ]
        },
        headers=world.headers("lead"),
    )
    alice = FeedReader(world.client, world.headers("alice"))
    nina = FeedReader(world.client, world.headers("nina"))
    admin = FeedReader(world.client, world.headers("admin"))
    for reader in (alice, nina, admin):
        reader.poll()
    assert ticket["id"] in alice.tickets()
    assert ticket["id"] not in nina.tickets()
    moved = world.client.get(f"/api/v1/tickets/{ticket['id']}", headers=world.headers("lead"))
    answer = world.client.post(
        "/api/v1/commands",
        json={
            "commands": [
                command("set_team", moved.json(), team_id=world.ids["network"]),
            ]
        },
        headers=world.headers("lead"),
    ).json()
    assert answer["results"][0]["status"] == "applied"
    for reader in (alice, nina, admin):
        reader.poll()

    # the old team's consoles get the tombstone: the ticket leaves their caches
    assert ticket["id"] not in alice.tickets()
    # the new team's consoles get it whole: the ticket, its comments and all its history
    detail = world.client.get(f"/api/v1/tickets/{ticket['id']}", headers=world.headers("nina"))
    assert detail.status_code == 200
    shown = detail.json()
    assert strip(nina.tickets()[ticket["id"]]) == strip(shown)
    comments = [d for (kind, _i), d in nina.state.items() if kind == "comment"]
    assert comments == shown["comments"]
    assert len(comments) == 1
    history = sorted(
        (d for (kind, _i), d in nina.state.items() if kind == "history"),
        key=lambda entry: entry["id"],
    )
    assert history == shown["history"]
    assert [entry["field"] for entry in history][:1] == ["created"]
    # someone who sees both teams keeps it, as it is now
    assert admin.tickets()[ticket["id"]]["team_id"] == world.ids["network"]


def test_a_new_console_of_the_old_team_never_sees_a_moved_ticket(world: World) -> None:
    ticket = open_ticket(world)
    world.client.post(
        "/api/v1/commands",
        json={"commands": [command("set_team", ticket, team_id=world.ids["network"])]},
        headers=world.headers("lead"),
    )
    late = FeedReader(world.client, world.headers("alice"))
    late.poll()
    assert ticket["id"] not in late.tickets()


def test_a_group_longer_than_a_page_comes_whole_in_one_page(world: World) -> None:
    ticket = open_ticket(world)
    notes = [command("add_comment", ticket, body=f"#{n}", public=False) for n in range(80)]
    response = world.client.post(
        "/api/v1/commands", json={"commands": notes}, headers=world.headers("lead")
    )
    assert response.status_code == 200, response.text
    reader = FeedReader(world.client, world.headers("admin"))
    reader.poll()
    before = reader.cursor
    move = command("set_team", {"id": ticket["id"], "version": 81}, team_id=world.ids["network"])
    world.client.post("/api/v1/commands", json={"commands": [move]}, headers=world.headers("lead"))
    nina = world.client.get(
        "/api/v1/changes", params={"cursor": before, "limit": 2}, headers=world.headers("nina")
    ).json()
    # the ticket arrives in its new team with its 80 comments and 162 entries, one page
    assert not nina["has_more"]
    assert [c["entity"] for c in nina["changes"]].count("comment") == 80
    assert nina["changes"][0]["entity"] == "ticket"
