"""Integers past what the store holds: a clear 422 in the API, 404 on pages, never a 500.

One test walks the route table, so a new route with an unbounded integer fails here: bound it
with ``closedloop.db.types.DbId`` / ``DbCount`` (``closedloop.api.params.Id``, ``Offset``) or,
in a page's path, ``{name:int}`` (bounded by ``closedloop.web.security``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from annotated_types import Le, Lt
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from closedloop.db.types import MAX_INT

HUGE = 2**63  # one more than the store holds


def _bounded(metadata: list[Any]) -> bool:
    for item in metadata:
        if isinstance(item, Le) and isinstance(item.le, int) and item.le <= MAX_INT:
            return True
        if isinstance(item, Lt) and isinstance(item.lt, int) and item.lt <= MAX_INT + 1:
            return True
    return False


def unbounded(annotation: Any, metadata: list[Any], where: str, seen: set[int]) -> Iterator[str]:
    """The places under ``annotation`` where an integer has no upper bound."""
    if annotation is int:
        if not _bounded(metadata):
            yield where
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from unbounded(base, [*metadata, *extra], where, seen)
        return
    if origin is typing.Union or origin is types.UnionType or origin in (list, set, tuple, dict):
        for arg in typing.get_args(annotation):
            yield from unbounded(arg, metadata if origin is not dict else [], where, seen)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if id(annotation) in seen:
            return
        seen.add(id(annotation))
        for name, info in annotation.model_fields.items():
            yield from unbounded(info.annotation, list(info.metadata), f"{where}.{name}", seen)


def _api_fields(dependant: Any) -> Iterator[tuple[str, Any]]:
    for kind in ("path_params", "query_params", "header_params", "cookie_params", "body_params"):
        for field in getattr(dependant, kind):
            yield f"{kind[:-7]} {field.name}", field.field_info
    for sub in dependant.dependencies:
        yield from _api_fields(sub)


def test_every_integer_a_route_accepts_is_bounded(app: FastAPI) -> None:
    problems = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if dependant is None:
            continue
        route = f"{sorted(context.methods or [])} {context.path}"
        path_ints = {f.name for f in dependant.path_params if f.field_info.annotation is int}
        for name in path_ints:
            # A page's {name:int} is bounded by its converter; the API validates the value.
            if f"{{{name}:int}}" in str(context.path):
                continue
            field = next(f for f in dependant.path_params if f.name == name)
            if not _bounded(list(field.field_info.metadata)):
                problems.append(f"{route}: path {name}")
        for where, info in _api_fields(dependant):
            if where.startswith("path "):
                continue
            problems += [
                f"{route}: {spot}"
                for spot in unbounded(info.annotation, list(info.metadata), where, set())
            ]
    assert not problems, (
        "Unbounded integers (a value >= 2**63 would overflow the store): "
        + "; ".join(problems)
        + ". Use closedloop.db.types.DbId / DbCount or closedloop.api.params.Id / Offset."
    )


API_PROBES = [
    ("GET", "/api/v1/imports?offset={n}", None, "offset"),
    ("GET", "/api/v1/duplicates?offset={n}", None, "offset"),
    ("GET", "/api/v1/webhooks/deliveries?offset={n}", None, "offset"),
    ("GET", "/api/v1/webhooks/deliveries?endpoint_id={n}", None, "endpoint_id"),
    ("GET", "/api/v1/persons?offset={n}", None, "offset"),
    ("GET", "/api/v1/persons/{n}", None, "person_id"),
    ("GET", "/api/v1/jobs/{n}", None, "job_id"),
    ("GET", "/api/v1/imports/{n}", None, "batch_id"),
    ("POST", "/api/v1/persons/41/merge", {"source_id": HUGE}, "source_id"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), API_PROBES)
def test_api_answers_422_naming_the_parameter(
    client: TestClient, admin: dict[str, str], method: str, path: str, body: Any, field: str
) -> None:
    response = client.request(method, path.format(n=HUGE), headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    # The connection stays usable: the next request is answered.
    assert client.get("/api/v1/me", headers=admin).status_code == 200


PAGES = [
    "/persons/{n}",
    "/persons/{n}/edit",
    "/persons/{n}/merges",
    "/imports/{n}",
    "/imports/jobs/{n}",
    "/duplicates/{n}",
    "/webhooks/{n}",
    "/webhooks/deliveries/{n}",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_404(logged_in: Callable[..., TestClient], path: str) -> None:
    client = logged_in("admin")
    response = client.get(path.format(n=HUGE))
    assert response.status_code == 404, response.text
    assert "does not exist" in response.text
    # The same page with an id that fits but is not stored: the same 404.
    assert client.get(path.format(n=2**62)).status_code == 404
