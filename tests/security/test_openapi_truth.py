"""The OpenAPI document tells the truth: every time carries its offset, every error an
operation can give is documented as application/problem+json."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from closedloop.access import route_table
from closedloop.db.base import as_utc
from closedloop.users.permissions import Audience


def _naive(annotation: Any, metadata: list[Any], where: str, seen: set[int]) -> Iterator[str]:
    if annotation is datetime:
        if not any(getattr(m, "func", None) is as_utc for m in metadata):
            yield where
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _naive(base, [*metadata, *extra], where, seen)
        return
    if origin in (typing.Union, types.UnionType, list, set, tuple, dict):
        for arg in typing.get_args(annotation):
            yield from _naive(arg, metadata, where, seen)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if id(annotation) in seen:
            return
        seen.add(id(annotation))
        for name, info in annotation.model_fields.items():
            yield from _naive(
                info.annotation, list(info.metadata), f"{annotation.__name__}.{name}", seen
            )


def test_every_time_the_api_returns_is_utc_with_its_offset(app: FastAPI) -> None:
    naive: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if not str(context.path).startswith("/api/"):
            continue
        models = [getattr(context, "response_model", None)]
        models += [r.get("model") for r in (getattr(context, "responses", None) or {}).values()]
        for model in models:
            if model is not None:
                naive |= set(_naive(model, [], "", set()))
    assert not naive, (
        f"datetime fields sent without an offset: {sorted(naive)}; "
        "use closedloop.api.schemas.UtcDatetime"
    )


def test_errors_are_documented_as_problems_on_every_operation(
    app: FastAPI, client: TestClient
) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    access = {(r.method.lower(), r.path): r.access for r in route_table(app) if r.api}
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            needed = {"500"}
            if access[(method, path)] != Audience.PUBLIC:
                needed.add("401")
            if isinstance(access[(method, path)], frozenset):
                needed.add("403")
            if "{" in path:
                needed.add("404")
            if operation.get("parameters") or operation.get("requestBody"):
                needed.add("422")
            for status in needed:
                content = responses.get(status, {}).get("content", {})
                if "application/problem+json" not in content:
                    missing.append(f"{method.upper()} {path} {status}")
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert "application/json" not in response.get("content", {}), (method, path)
    assert not missing, f"problems not documented: {missing}"
    assert "HTTPValidationError" not in schema["components"]["schemas"]
