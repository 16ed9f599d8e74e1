"""The catalogue of the JSON API's problems (RFC 9457, ``application/problem+json``): the
problem types with their status, title and description (served at ``GET /api/v1/problems``),
the :class:`Problem` model, and how the OpenAPI document declares them on every operation.
The handlers that answer with problems are in :mod:`closedloop.api.errors`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

PROBLEM_JSON = "application/problem+json"
#: Problem types are stable relative URIs, documented at ``GET /api/v1/problems/{slug}``.
TYPE_BASE = "/api/v1/problems/"


class FieldError(BaseModel):
    """One invalid field: where it is and why it was refused."""

    field: str = Field(description='Path of the field in the request, e.g. "emails[1].address".')
    message: str = Field(description="Why the value was refused.")
    location: str | None = Field(
        None,
        alias="in",
        description="Where the field is when not in the body: query, path or header.",
    )


class Problem(BaseModel):
    """An RFC 9457 problem: every error of the API has this shape."""

    type: str = Field(description="URI of the problem type (stable; compare it, not the title).")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a human.")
    instance: str = Field(description="The request path that produced the problem.")
    errors: list[FieldError] | None = Field(
        None, description="For validation problems: each invalid field and why."
    )


class ProblemType(BaseModel):
    """The documentation of one problem type."""

    type: str
    title: str
    status: int
    description: str


#: slug -> (status, title, description). Domain errors use their class name as slug.
PROBLEM_TYPES: dict[str, tuple[int, str, str]] = {
    "invalid-request": (400, "Invalid request", "The request cannot be processed as sent."),
    "malformed-json": (400, "Malformed JSON", "The request body is not valid JSON."),
    "authentication-failed": (
        401,
        "Unauthorized",
        "The bearer token is missing, unknown, expired or revoked. Send "
        "`Authorization: Bearer <token>`; create a token with `closedloop users token`.",
    ),
    "permission-denied": (403, "Forbidden", "Your role does not allow this operation."),
    "not-found": (404, "Not found", "The record or route does not exist."),
    "method-not-allowed": (
        405,
        "Method not allowed",
        "The route exists but not with this HTTP method; see the Allow header.",
    ),
    "conflict": (
        409,
        "Conflict",
        "The request conflicts with the stored state: someone else changed the record since "
        "you read it (reload it and apply your change again) or a unique key is taken.",
    ),
    "refused": (
        409,
        "Refused",
        "The operation is not allowed for this record; the detail says why.",
    ),
    "precondition-failed": (
        412,
        "Precondition failed",
        "The If-Match header does not name the stored version of the record.",
    ),
    "unsupported-media-type": (
        415,
        "Unsupported media type",
        "Send the request body as JSON with `Content-Type: application/json`.",
    ),
    "validation-failed": (
        422,
        "Validation failed",
        "Some fields are not valid; `errors` lists each field and the reason.",
    ),
    "payload-too-large": (
        413,
        "Payload too large",
        "The body or its number of items is over the limit (see the detail); split it into "
        "several requests.",
    ),
    "idempotency-key-reused": (
        422,
        "Idempotency key reused",
        "The Idempotency-Key was used before with a different request; use a new key.",
    ),
    "idempotency-key-in-use": (
        409,
        "Idempotency key in use",
        "A request with this Idempotency-Key is still being processed; retry later.",
    ),
    "too-many-requests": (
        429,
        "Too many requests",
        "A rate limit was reached; the `Retry-After` header says in how many seconds to try "
        "again (limits: docs/security.md).",
    ),
    "internal-error": (500, "Internal server error", "An unexpected error; it has been logged."),
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting the problems a route can return."""
    return {
        status: {
            "model": Problem,
            "description": next(
                (t for s, t, _ in PROBLEM_TYPES.values() if s == status), HTTPStatus(status).phrase
            ),
        }
        for status in statuses
    }


def _problem(status: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    title = next((t for st, t, _ in PROBLEM_TYPES.values() if st == status), None)
    return {
        "description": title or HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": ref}},
    }


def document_problems(schema: dict[str, Any], app: FastAPI) -> None:
    """Make the document say what the API does on errors: every error response is an
    ``application/problem+json`` Problem (FastAPI's own 422 schema is replaced), and each
    operation lists the errors it can give — 500 always, 401/403 from its declared access,
    404 for a path with an id, 422 when it takes input, 400/415 when it takes a JSON body."""
    from closedloop.access import route_table
    from closedloop.users.permissions import Audience

    access = {(r.method.lower(), r.path): r.access for r in route_table(app) if r.api}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            needed = {500}
            declared = access.get((method, path))
            if declared is not None and declared != Audience.PUBLIC:
                needed.add(401)
            if isinstance(declared, frozenset):
                needed.add(403)
            if "{" in path:
                needed.add(404)
            if operation.get("parameters") or operation.get("requestBody"):
                needed.add(422)
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                needed |= {400, 415}
            for status in needed:
                responses.setdefault(str(status), _problem(status))
            for status, response in list(responses.items()):
                if not str(status).startswith(("4", "5")):
                    continue
                content = response.get("content") or {}
                if PROBLEM_JSON not in content or "application/json" in content:
                    responses[status] = {
                        **_problem(int(status)),
                        **{k: v for k, v in response.items() if k not in ("content",)},
                    }
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
