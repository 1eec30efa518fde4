"""The knowledge base: leads and admins write articles; everyone reads and searches
them (accents and case ignored, best match first); articles are in the feed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import World
from tests.server.feedreader import FeedReader

URL = "/api/v1/articles"

ARTICLES = [
    {
        "title": "Réinitialiser le mot de passe",
        "body": "Ouvrez la console d'administration puis choisissez Réinitialiser.",
        "tags": ["compte", "securite"],
    },
    {
        "title": "Imprimante réseau hors ligne",
        "body": "Vérifiez le câble réseau, puis redémarrez l'imprimante.",
        "tags": ["imprimante", "reseau"],
    },
    {
        "title": "VPN: connexion impossible",
        "body": "Le réseau domestique bloque parfois le VPN. Essayez un autre réseau.",
        "tags": ["vpn"],
    },
    {
        "title": "Printer jams",
        "body": "Open tray 2 and remove the stuck paper (see the printer manual).",
        "tags": ["printer", "hardware"],
    },
]


def write_all(world: World) -> list[dict[str, Any]]:
    created = []
    for article in ARTICLES:
        response = world.client.post(URL, json=article, headers=world.headers("lead"))
        assert response.status_code == 201, response.text
        created.append(response.json())
        world.clock.advance(minutes=1)
    return created


def search(world: World, query: str, who: str = "alice", **params: str) -> list[str]:
    response = world.client.get(
        f"{URL}/search", params={"q": query, **params}, headers=world.headers(who)
    )
    assert response.status_code == 200, response.text
    return [hit["article"]["title"] for hit in response.json()["items"]]


def test_search_ignores_case_and_accents_and_ranks_title_matches_first(world: World) -> None:
    write_all(world)
    # "reseau" is in the title of one, in the body of another, a tag of the first
    assert search(world, "RESEAU") == ["Imprimante réseau hors ligne", "VPN: connexion impossible"]
    assert search(world, "réinitialiser") == ["Réinitialiser le mot de passe"]
    assert search(world, "imprimante redemarrez") == ["Imprimante réseau hors ligne"]
    assert search(world, "printer") == ["Printer jams"]
    assert search(world, "vpn reseau") == ["VPN: connexion impossible"]
    assert search(world, "nothing-like-this") == []


def test_partial_words_match_below_whole_words(world: World) -> None:
    write_all(world)
    assert search(world, "imprim") == ["Imprimante réseau hors ligne"]
    assert search(world, "print") == ["Printer jams"]


def test_punctuation_in_a_query_is_no_wildcard(world: World) -> None:
    write_all(world)
    assert search(world, "%") == search(world, "")  # no word: every article
    assert search(world, "_") == search(world, "")
    assert len(search(world, "")) == len(ARTICLES)


def test_hits_carry_a_snippet_and_a_score(world: World) -> None:
    write_all(world)
    response = world.client.get(
        f"{URL}/search", params={"q": "papier paper"}, headers=world.headers("nina")
    ).json()
    assert response["items"] == []
    hits = world.client.get(
        f"{URL}/search", params={"q": "paper"}, headers=world.headers("nina")
    ).json()["items"]
    assert len(hits) == 1
    assert "stuck paper" in hits[0]["snippet"]
    assert hits[0]["score"] > 0


def test_search_by_tag(world: World) -> None:
    write_all(world)
    assert search(world, "", tag="vpn") == ["VPN: connexion impossible"]
    listed = world.client.get(URL, params={"tag": "printer"}, headers=world.headers("alice"))
    assert [item["title"] for item in listed.json()["items"]] == ["Printer jams"]


def test_listing_is_newest_first_and_paged(world: World) -> None:
    write_all(world)
    page = world.client.get(
        URL, params={"limit": 2, "offset": 1}, headers=world.headers("alice")
    ).json()
    assert page["total"] == len(ARTICLES)
    assert [item["title"] for item in page["items"]] == [
        ARTICLES[2]["title"],
        ARTICLES[1]["title"],
    ]


@pytest.mark.parametrize("who", ["alice", "nina"])
def test_agents_read_but_cannot_write(world: World, who: str) -> None:
    created = write_all(world)[0]
    headers = world.headers(who)
    assert world.client.get(f"{URL}/{created['id']}", headers=headers).json() == created
    body = {"title": "Mine now"}
    statuses = [
        world.client.post(URL, json=body, headers=headers).status_code,
        world.client.put(f"{URL}/{created['id']}", json=body, headers=headers).status_code,
        world.client.delete(f"{URL}/{created['id']}", headers=headers).status_code,
    ]
    assert statuses == [403, 403, 403]
    assert world.client.get(f"{URL}/{created['id']}", headers=headers).json() == created


def test_edit_and_delete_reach_the_feed(world: World) -> None:
    reader = FeedReader(world.client, world.headers("alice"))
    reader.poll()
    created = write_all(world)
    reader.poll()
    assert {key[1] for key in reader.state if key[0] == "article"} == {a["id"] for a in created}
    edited = world.client.put(
        f"{URL}/{created[3]['id']}",
        json={"title": "Printer paper jams", "body": "Tray 2.", "tags": ["Printer"]},
        headers=world.headers("admin"),
    )
    assert edited.status_code == 200
    assert edited.json()["version"] == 2
    assert edited.json()["tags"] == ["printer"]
    assert edited.json()["updated_by_id"] == world.ids["admin"]
    assert search(world, "stuck") == []
    assert search(world, "tray") == ["Printer paper jams"]
    deleted = world.client.delete(f"{URL}/{created[0]['id']}", headers=world.headers("nlead"))
    assert deleted.status_code == 204
    assert (
        world.client.get(f"{URL}/{created[0]['id']}", headers=world.headers("alice")).status_code
        == 404
    )
    reader.poll()
    assert ("article", created[0]["id"]) not in reader.state
    assert reader.state[("article", created[3]["id"])]["title"] == "Printer paper jams"


def test_bad_input_is_refused_with_the_field(world: World) -> None:
    response = world.client.post(
        URL, json={"title": "", "tags": ["not a tag!"]}, headers=world.headers("lead")
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"title", "tags.0"}
