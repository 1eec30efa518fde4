"""The published OpenAPI document: ``GET /openapi.json`` and ``server/openapi.json``.

FastAPI derives most of it from the routes and ``protocol``; this module
adds what it cannot see: every error answers in the :class:`ErrorOut` shape
(validation errors included, not FastAPI's default), bearer authentication,
and the sign-in body (JSON or an OAuth 2.0 style form, read by hand).

``offimizer-server openapi`` writes the repository copy; a test regenerates it
and compares, so the committed document always describes the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from protocol import API_PREFIX, ErrorOut, LoginRequest

#: The copy kept in the repository, next to this module.
REPOSITORY_COPY: Final = Path(__file__).resolve().parent / "openapi.json"
#: The one command that rewrites :data:`REPOSITORY_COPY`.
REGENERATE: Final = ".venv/bin/python -m server openapi"

LOGIN_PATH: Final = f"{API_PREFIX}/auth/token"
_REF: Final = "#/components/schemas/{model}"
_ERROR: Final = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorOut")}}}
_METHODS: Final = ("get", "put", "post", "delete", "patch")
_LOGIN_FORM: Final[dict[str, Any]] = {
    "title": "LoginForm",
    "description": "The same credentials as an OAuth 2.0 password-grant form.",
    "type": "object",
    "required": ["username", "password"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["password"]},
        "username": {"type": "string", "minLength": 1, "maxLength": 150},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
    },
}


def _component(model: type[ErrorOut] | type[LoginRequest]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schema.pop("$defs", None)  # both are flat, FieldError aside (added separately)
    return schema


def _errors(operation: dict[str, Any], *, secured: bool, has_body: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = {"description": "Invalid request (names the field)", "content": _ERROR}
    if secured:
        responses.setdefault("401", {"description": "Not signed in", "content": _ERROR})
    if has_body:
        responses.setdefault("413", {"description": "Request body too large", "content": _ERROR})
    responses.setdefault("default", {"description": "Any other error", "content": _ERROR})


def _whole_numbers(node: Any) -> Any:
    """FastAPI's models hold bounds as floats: ``le=500`` reads ``500.0``; give ints back."""
    if isinstance(node, dict):
        return {key: _whole_numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_whole_numbers(value) for value in node]
    if isinstance(node, float) and node.is_integer():
        return int(node)
    return node


def build(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``."""
    document: dict[str, Any] = _whole_numbers(
        get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
    )
    components: dict[str, Any] = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error_schema = ErrorOut.model_json_schema(ref_template=_REF)
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorOut"] = error_schema
    schemas["LoginRequest"] = _component(LoginRequest)
    schemas["LoginForm"] = _LOGIN_FORM
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if path == LOGIN_PATH and method == "post":
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": _REF.format(model="LoginRequest")}},
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": _REF.format(model="LoginForm")}
                        },
                    },
                }
                operation["responses"].setdefault(
                    "401", {"description": "Wrong user name or password", "content": _ERROR}
                )
                operation["responses"].setdefault(
                    "429", {"description": "Too many failed sign-ins", "content": _ERROR}
                )
                operation["responses"]["422"] = {}
            _errors(
                operation,
                secured=bool(operation.get("security")),
                has_body="requestBody" in operation,
            )
    return document


def install(app: FastAPI) -> None:
    """Serve :func:`build` at ``/openapi.json`` (built on first request, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(make_app: Callable[[Engine], FastAPI]) -> str:
    """The document of the app ``make_app`` builds over a throw-away in-memory database.

    ``make_app`` is :func:`server.app.create_app`, given by the caller: that app
    installs this module's document, so this module does not import it back.
    """
    from server.db import make_engine
    from server.migrate import upgrade

    engine = make_engine("sqlite://")
    try:
        upgrade(engine)
        return render(make_app(engine).openapi())
    finally:
        engine.dispose()
