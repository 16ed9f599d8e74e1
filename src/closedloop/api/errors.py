"""Every error of the JSON API as an RFC 9457 problem (``application/problem+json``).

A problem has ``type``, ``title``, ``status``, ``detail`` and ``instance`` (the request path);
a validation problem adds ``errors``, one ``{"field": "emails[1].address", "message": …}`` per
invalid field. Domain errors (:mod:`closedloop.errors`) keep their own status and title.

The handlers are app-wide (Starlette looks them up by exception class), so they only answer
requests under ``/api/``. Other paths get the HTML layer's handler when it registered one in
``app.state.html_exception_handlers`` (a dict from exception class to an async handler), else
FastAPI's default. The problem types, their models and their OpenAPI documentation are in
:mod:`closedloop.api.problems`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler as default_http_handler,
)
from fastapi.exception_handlers import (
    request_validation_exception_handler as default_validation_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from closedloop.api.integrity import domain_error_of
from closedloop.api.problems import PROBLEM_JSON, PROBLEM_TYPES, TYPE_BASE, document_problems
from closedloop.errors import AuthenticationFailed, DomainError, TooManyRequests

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
#: Sent with every 401, whatever the reason, so a client learns nothing about accounts.
WWW_AUTHENTICATE = 'Bearer realm="closedloop"'

Handler = Callable[[Request, Any], Awaitable[Response]]


class ApiProblem(Exception):
    """An HTTP-level problem that no domain error covers (412, 415, malformed input)."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.status, self.title, _ = PROBLEM_TYPES[slug]
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def slug_of(exc: DomainError) -> str:
    """The problem slug of a domain error: its class name in kebab case (``not-found``)."""
    if type(exc) is DomainError:
        return "invalid-request"
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()


def problem_response(
    request: Request,
    *,
    slug: str,
    status: int,
    title: str,
    detail: str,
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response for ``request``."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [
            {k: v for k, v in item.items() if v is not None and k in ("field", "message", "in")}
            for item in errors
        ]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def field_path(loc: Sequence[int | str]) -> tuple[str, str | None]:
    """Turn a pydantic ``loc`` into ``("emails[1].address", None)`` or ``("limit", "query")``."""
    parts = list(loc)
    where: str | None = None
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where = None if parts[0] == "body" else str(parts[0])
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body", where


def _message(error: dict[str, Any]) -> str:
    msg = str(error.get("msg", "is not valid"))
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _fallback(request: Request, exc: Exception, default: Handler | None) -> Response:
    """Let the HTML layer (or FastAPI's default) answer an error outside the API."""
    handlers: dict[type, Handler] = getattr(request.app.state, "html_exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls in handlers:
            return await handlers[cls](request, exc)
    if default is not None:
        return await default(request, exc)
    return PlainTextResponse("Internal Server Error", status_code=500)


async def _domain_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers: dict[str, str] | None = None
    if isinstance(exc, AuthenticationFailed):
        headers = {"WWW-Authenticate": WWW_AUTHENTICATE}
    elif isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        request,
        slug=slug_of(exc),
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=headers,
    )


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    """A domain error as a problem with the error's own status and title."""
    if not _is_api(request):
        return await _fallback(request, exc, _domain_problem)
    return await _domain_problem(request, exc)


async def integrity_error_handler(request: Request, exc: Exception) -> Response:
    """A constraint the database enforces, broken by the request: a 409 or 422, not a 500
    (:mod:`closedloop.api.integrity`)."""
    assert isinstance(exc, IntegrityError)
    if not _is_api(request):
        return await _fallback(request, exc, None)
    return await _domain_problem(request, domain_error_of(exc))


async def api_problem_handler(request: Request, exc: Exception) -> Response:
    """An :class:`ApiProblem` raised by a route."""
    assert isinstance(exc, ApiProblem)
    return problem_response(
        request,
        slug=exc.slug,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


def validation_problem(exc: RequestValidationError) -> ApiProblem:
    """The problem for a request that failed validation: malformed JSON, wrong media type, or
    one entry per invalid field."""
    raw = list(exc.errors())
    for error in raw:
        if error.get("type") == "json_invalid":
            loc = error.get("loc", ())
            pos = loc[1] if len(loc) > 1 else "?"
            reason = (error.get("ctx") or {}).get("error", "JSON decode error")
            return ApiProblem(
                "malformed-json", f"The request body is not valid JSON: {reason} at position {pos}."
            )
        if tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes):
            return ApiProblem(
                "unsupported-media-type",
                "The request body must be JSON sent with Content-Type: application/json.",
            )
    errors: list[dict[str, Any]] = []
    for error in raw:
        field, where = field_path(error.get("loc", ()))
        message = _message(error)
        if field == "body" and error.get("type") == "missing":
            message = "a JSON object is required"
        elif field == "body" and error.get("type") == "model_attributes_type":
            message = "must be a JSON object"
        errors.append({"field": field, "message": message, "in": where})
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    noun = "field is" if len(errors) == 1 else "fields are"
    return ApiProblem(
        "validation-failed", f"{len(errors)} {noun} not valid: {names}.", errors=errors
    )


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """Request validation errors (body, query, path, headers) as problems."""
    assert isinstance(exc, RequestValidationError)
    if not _is_api(request):
        return await _fallback(request, exc, default_validation_handler)
    return await api_problem_handler(request, validation_problem(exc))


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette's Allow names one route's)."""
    methods = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return ", ".join(methods)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette/FastAPI HTTP errors (unknown route 404, wrong method 405…) as problems."""
    assert isinstance(exc, StarletteHTTPException)
    if not _is_api(request):
        return await _fallback(request, exc, default_http_handler)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    if status == 404:
        slug, title = "not-found", "Not found"
        detail = detail or f"No route matches {request.method} {request.url.path}."
    elif status == 405:
        slug, title = "method-not-allowed", "Method not allowed"
        allow = _allowed_methods(request) or headers.get("Allow") or headers.get("allow") or ""
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        if allow:
            headers["Allow"] = allow
        detail = detail or f"{request.method} is not allowed on {request.url.path}" + (
            f"; use {allow}." if allow else "."
        )
    else:
        slug = next(
            (s for s, (st, _, _) in PROBLEM_TYPES.items() if st == status), "invalid-request"
        )
        title = phrase
        detail = detail or phrase
    if status == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    return problem_response(
        request, slug=slug, status=status, title=title, detail=detail, headers=headers
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """Any other error: a 500 problem that reveals nothing of the internals."""
    if not _is_api(request):
        return await _fallback(request, exc, None)
    log.exception("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        slug="internal-error",
        status=500,
        title="Internal server error",
        detail="An unexpected error occurred; the request was not applied.",
    )


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app`` and declare problem+json in its OpenAPI."""
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(ApiProblem, api_problem_handler)
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)

    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_openapi()
        document_problems(schema, app)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
