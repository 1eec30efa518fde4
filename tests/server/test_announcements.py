"""Announcements: leads and admins publish, edit and end them; everyone reads the
active ones; they reach offline consoles through the change feed."""

from __future__ import annotations

import datetime as dt
from uuid import uuid4

import pytest

from tests.server.conftest import World
from tests.server.feedreader import FeedReader

URL = "/api/v1/announcements"


def publish(world: World, by: str = "lead", **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "title": "Mail outage",
        "body": "Outgoing mail is down; we are on it.",
        "ends_at": (world.clock() + dt.timedelta(hours=2)).isoformat(),
    }
    body.update(fields)
    response = world.client.post(URL, json=body, headers=world.headers(by))
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


@pytest.mark.parametrize("by", ["lead", "nlead", "admin"])
def test_leads_and_admins_publish_and_everyone_sees_it(world: World, by: str) -> None:
    created = publish(world, by=by)
    assert created["starts_at"] == world.clock().isoformat().replace("+00:00", "Z")
    assert created["ended_at"] is None
    assert created["created_by_id"] == world.ids[by]
    for reader in ("alice", "nina", "admin"):
        listed = world.client.get(URL, headers=world.headers(reader)).json()
        assert [item["id"] for item in listed] == [created["id"]]
        assert listed[0]["title"] == "Mail outage"


def test_agents_cannot_publish_edit_or_end(world: World) -> None:
    created = publish(world)
    body = {"title": "Not me"}
    headers = world.headers("alice")
    refused = [
        world.client.post(URL, json=body, headers=headers),
        world.client.put(f"{URL}/{created['id']}", json=body, headers=headers),
        world.client.post(f"{URL}/{created['id']}/end", headers=headers),
    ]
    assert [response.status_code for response in refused] == [403, 403, 403]
    assert all(response.json()["code"] == "forbidden" for response in refused)
    listed = world.client.get(URL, headers=headers).json()
    assert [(item["title"], item["version"]) for item in listed] == [("Mail outage", 1)]


def test_reading_needs_a_token(world: World) -> None:
    assert world.client.get(URL).status_code == 401
    assert world.client.post(URL, json={"title": "x"}).status_code == 401


def test_edit_then_end(world: World) -> None:
    created = publish(world)
    world.clock.advance(minutes=10)
    later = world.clock() + dt.timedelta(hours=5)
    edited = world.client.put(
        f"{URL}/{created['id']}",
        json={
            "title": "Mail outage (update)",
            "body": "Fix expected later",
            "ends_at": later.isoformat(),
        },
        headers=world.headers("admin"),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["starts_at"] == created["starts_at"]  # the start is kept
    assert dt.datetime.fromisoformat(edited.json()["ends_at"]) == later
    world.clock.advance(minutes=20)
    ended = world.client.post(f"{URL}/{created['id']}/end", headers=world.headers("lead"))
    assert ended.status_code == 200
    assert dt.datetime.fromisoformat(ended.json()["ended_at"]) == world.clock()
    assert world.client.get(URL, headers=world.headers("alice")).json() == []
    again = world.client.post(f"{URL}/{created['id']}/end", headers=world.headers("lead"))
    assert again.json() == ended.json()  # ending twice changes nothing
    late_edit = world.client.put(
        f"{URL}/{created['id']}", json={"title": "again"}, headers=world.headers("lead")
    )
    assert late_edit.status_code == 409


def test_scheduled_announcements_show_once_started(world: World) -> None:
    start = world.clock() + dt.timedelta(hours=1)
    created = publish(
        world,
        starts_at=start.isoformat(),
        ends_at=(start + dt.timedelta(hours=1)).isoformat(),
    )
    headers = world.headers("alice")
    assert world.client.get(URL, headers=headers).json() == []
    upcoming = world.client.get(URL, params={"upcoming": "true"}, headers=headers).json()
    assert [item["id"] for item in upcoming] == [created["id"]]
    world.clock.advance(hours=1)
    headers = world.headers("alice")  # a fresh token: the first has expired
    assert [item["id"] for item in world.client.get(URL, headers=headers).json()] == [created["id"]]


def test_the_expected_end_must_follow_the_start(world: World) -> None:
    response = world.client.post(
        URL,
        json={"title": "Backwards", "ends_at": (world.clock() - dt.timedelta(hours=1)).isoformat()},
        headers=world.headers("lead"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "ends_at"
    naive = world.client.post(
        URL,
        json={"title": "No zone", "starts_at": "2026-03-02T10:00:00"},
        headers=world.headers("lead"),
    )
    assert naive.status_code == 422
    assert world.client.get(URL, headers=world.headers("lead")).json() == []


def test_unknown_announcements_are_404(world: World) -> None:
    assert world.client.get(f"{URL}/999", headers=world.headers("alice")).status_code == 404
    response = world.client.post(f"{URL}/999/end", headers=world.headers("lead"))
    assert response.status_code == 404


def test_offline_consoles_get_announcements_from_the_feed(world: World) -> None:
    agent = FeedReader(world.client, world.headers("nina"))
    agent.poll()
    created = publish(world)
    world.client.post(f"{URL}/{created['id']}/end", headers=world.headers("lead"))
    assert agent.poll() >= 1
    state = agent.state[("announcement", int(str(created["id"])))]
    assert state["title"] == "Mail outage"
    assert state["ended_at"] is not None
    assert state["version"] == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "0001-01-01T00:00:00+14:00"),
        ("ends_at", "9999-12-31T23:59:59-14:00"),
        ("starts_at", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_edge_dates_are_refused_naming_the_field(world: World, field: str, value: str) -> None:
    headers = world.headers("lead")
    created = world.client.post(URL, json={"title": "Edge", field: value}, headers=headers)
    assert created.status_code == 422, created.text
    assert [error["field"] for error in created.json()["errors"]] == [field]
    existing = publish(world)
    edited = world.client.put(
        f"{URL}/{existing['id']}", json={"title": "Edge", field: value}, headers=headers
    )
    assert edited.status_code == 422, edited.text
    assert [error["field"] for error in edited.json()["errors"]] == [field]
    listed = world.client.get(URL, headers=world.headers("alice")).json()
    assert [item["id"] for item in listed] == [existing["id"]]


def test_publishing_again_with_the_same_key_returns_the_first_announcement(
    world: World,
) -> None:
    """A console that published offline sends it when the server is back, and again if
    the answer was lost: one announcement, the same answer each time."""
    agent = FeedReader(world.client, world.headers("nina"))
    agent.poll()
    key = str(uuid4())
    first = publish(world, mutation_id=key)
    world.clock.advance(minutes=5)
    again = world.client.post(
        URL,
        json={"title": "Mail outage", "mutation_id": key},
        headers=world.headers("lead"),
    )
    assert again.status_code == 200, again.text  # nothing new was created
    assert again.json() == first
    listed = world.client.get(URL, headers=world.headers("alice")).json()
    assert [item["id"] for item in listed] == [first["id"]]
    assert agent.poll() == 1  # one announcement in the feed, once
    # another key is another announcement
    other = publish(world, mutation_id=str(uuid4()))
    assert other["id"] != first["id"]


def test_another_users_key_is_refused(world: World) -> None:
    key = str(uuid4())
    publish(world, by="lead", mutation_id=key)
    reused = world.client.post(
        URL, json={"title": "Not mine", "mutation_id": key}, headers=world.headers("admin")
    )
    assert reused.status_code == 409
    assert reused.json()["code"] == "mutation_reused"
    # and an agent is refused as ever, key or not
    refused = world.client.post(
        URL, json={"title": "Mine?", "mutation_id": key}, headers=world.headers("alice")
    )
    assert refused.status_code == 403
    listed = world.client.get(URL, headers=world.headers("alice")).json()
    assert [item["title"] for item in listed] == ["Mail outage"]
