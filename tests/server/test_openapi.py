"""The OpenAPI document: published at /openapi.json, committed as server/openapi.json
(kept current by this test), and honest about errors and authentication."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.__main__ import main
from server.app import create_app
from server.openapi import REGENERATE, REPOSITORY_COPY, generate
from tests.server.conftest import World

METHODS = ("get", "put", "post", "delete", "patch")


def test_the_committed_document_is_current() -> None:
    current = generate(create_app)
    committed = REPOSITORY_COPY.read_text(encoding="utf-8") if REPOSITORY_COPY.exists() else ""
    assert committed == current, (
        f"{REPOSITORY_COPY.name} is out of date with the API: regenerate it with `{REGENERATE}`"
    )


def test_the_server_publishes_the_same_document(world: World) -> None:
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(REPOSITORY_COPY.read_text(encoding="utf-8"))


def test_the_command_writes_a_stable_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert main(["openapi", "--output", str(first)]) == 0
    assert main(["openapi", "--output", str(second)]) == 0
    assert str(first) in capsys.readouterr().out
    assert first.read_bytes() == second.read_bytes()
    text = first.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert main(["openapi", "--output", "-"]) == 0
    assert capsys.readouterr().out == text


def operations() -> list[tuple[str, str, dict[str, object]]]:
    document = json.loads(generate(create_app))
    return [
        (path, method, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def test_every_operation_but_sign_in_requires_a_bearer_token() -> None:
    document = json.loads(generate(create_app))
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An opaque token from POST /api/v1/auth/token.",
    }
    public = {(path, method) for path, method, op in operations() if not op.get("security")}
    assert public == {("/api/v1/auth/token", "post")}


def test_errors_are_documented_in_the_error_shape_the_server_sends() -> None:
    document = json.loads(generate(create_app))
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's default shape is never sent
    assert set(schemas["ErrorOut"]["properties"]) == {"code", "message", "errors"}
    for path, method, operation in operations():
        responses = operation["responses"]
        assert isinstance(responses, dict)
        errors = {code: answer for code, answer in responses.items() if not code.startswith("2")}
        assert "default" in errors, (path, method)
        for code, answer in errors.items():
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)


def test_the_sign_in_body_is_documented_as_json_and_as_a_form() -> None:
    document = json.loads(generate(create_app))
    body = document["paths"]["/api/v1/auth/token"]["post"]["requestBody"]
    assert set(body["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    login = document["components"]["schemas"]["LoginRequest"]
    assert set(login["required"]) == {"username", "password"}
