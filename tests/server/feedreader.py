"""A minimal change-feed reader for tests: follows cursors, keeps the latest state."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


class FeedReader:
    def __init__(self, client: TestClient, headers: dict[str, str], limit: int = 1000) -> None:
        self.client = client
        self.headers = headers
        self.limit = limit
        self.cursor = ""
        self.seqs: list[int] = []
        self.state: dict[tuple[str, int], dict[str, Any]] = {}

    def poll(self) -> int:
        """Read every page available now; returns how many changes were read."""
        read = 0
        while True:
            response = self.client.get(
                "/api/v1/changes",
                params={"cursor": self.cursor, "limit": self.limit},
                headers=self.headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()
            for change in page["changes"]:
                self.seqs.append(change["seq"])
                key = (change["entity"], change["id"])
                if change["op"] == "delete":
                    self.state.pop(key, None)
                else:
                    self.state[key] = change["data"]
            read += len(page["changes"])
            self.cursor = page["next_cursor"]
            if not page["has_more"]:
                return read

    def tickets(self) -> dict[int, dict[str, Any]]:
        return {key[1]: data for key, data in self.state.items() if key[0] == "ticket"}
