"""Tracked addresses of campaign emails (public): the open pixel and the click redirect.

The signed token is the credential (:mod:`closedloop.campaigns.tracking`): a forged or altered
token gets a plain 404 that names neither the message nor the link. A valid one answers at
once — the 1×1 image, or a 302 to the link — and its hit is queued for the write-behind
(:mod:`closedloop.responses.collector`), which counts repeats, keeps machines apart and
links hits that came before their message was recorded.

These are the busiest addresses of the site (every open of every email), so
:class:`TrackingFastPath` answers them before the page middleware (sessions, CSRF, routing):
the same :func:`answer`, without a thread hop per request. The routes below declare the
addresses (access, documentation) and answer when the fast path is not installed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from closedloop.access import PUBLIC
from closedloop.bootstrap import get_session_factory
from closedloop.campaigns.tracking import CLICK_PATH, OPEN_PATH, read_click, read_open
from closedloop.consent import TokenInvalid
from closedloop.responses.capture import now
from closedloop.responses.collector import Collector
from closedloop.responses.hits import Hit
from closedloop.responses.settings import get_response_settings
from closedloop.web.security import SECURITY_HEADERS

router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = (("cache-control", "no-store, private"), ("referrer-policy", "no-referrer"))
INVALID = b"This link is not valid."


@dataclass(frozen=True)
class Answer:
    """What a tracked address answers, and the hit to record (None when refused)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    hit: Hit | None


def collector(state: Any) -> Collector:
    """The app's collector, made on first use (closed by the app's shutdown)."""
    found = getattr(state, "collector", None)
    if found is None:
        s = get_response_settings()
        found = Collector(get_session_factory(), s.tracking_flush_ms, s.tracking_buffer_max)
        state.collector = found
    return found  # type: ignore[no-any-return]


def answer(method: str, path: str, client: str | None, agent: str | None) -> Answer:
    """The answer to ``method path`` (an open or click address) and its hit."""
    refused = Answer(404, (("content-type", "text/plain; charset=utf-8"), *NO_CACHE), INVALID, None)
    try:
        if path.startswith(OPEN_PATH):
            comm = read_open(path[len(OPEN_PATH) :])
            hit = Hit(comm, now(), None, method, client, agent)
            return Answer(200, (("content-type", "image/gif"), *NO_CACHE), PIXEL, hit)
        if path.startswith(CLICK_PATH):
            click = read_click(path[len(CLICK_PATH) :])
            hit = Hit(click.communication_id, now(), click.url, method, client, agent)
            return Answer(302, (("location", click.url), *NO_CACHE), b"", hit)
    except TokenInvalid:
        return refused
    return refused


async def _queue(state: Any, hit: Hit) -> None:
    target = collector(state)
    if target.flush_seconds <= 0:
        await run_in_threadpool(target.add, hit)
    else:
        target.add(hit)


class TrackingFastPath:
    """Answer GET and HEAD of the tracked addresses before the rest of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        method = scope.get("method", "")
        if not path.startswith((OPEN_PATH, CLICK_PATH)) or method not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        agent = None
        for name, value in scope.get("headers", ()):
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        client = scope.get("client")
        got = answer(method, path, client[0] if client else None, agent)
        if got.hit is not None:
            await _queue(scope["app"].state, got.hit)
        headers = [(k.encode(), v.encode("latin-1", "replace")) for k, v in got.headers]
        named = {k for k, _ in got.headers}
        headers += [
            (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS if k.lower() not in named
        ]
        headers.append((b"content-length", str(len(got.body)).encode()))
        await send({"type": "http.response.start", "status": got.status, "headers": headers})
        body = got.body if method == "GET" else b""
        await send({"type": "http.response.body", "body": body})


def _respond(request: Request, got: Answer) -> Response:
    return Response(got.body, status_code=got.status, headers=dict(got.headers))


@router.api_route("/t/o/{token}", methods=["GET", "HEAD"], response_class=Response)
async def tracking_open(request: Request, token: str) -> Response:
    """The open pixel: a 1×1 GIF; the open is recorded against the message."""
    client = request.client.host if request.client else None
    got = answer(request.method, request.url.path, client, request.headers.get("user-agent"))
    if got.hit is not None:
        await _queue(request.app.state, got.hit)
    return _respond(request, got)


@router.api_route("/t/c/{token}", methods=["GET", "HEAD"], response_class=Response)
async def tracking_click(request: Request, token: str) -> Response:
    """A tracked link: a 302 to the address the message named; the click is recorded."""
    client = request.client.host if request.client else None
    got = answer(request.method, request.url.path, client, request.headers.get("user-agent"))
    if got.hit is not None:
        await _queue(request.app.state, got.hit)
    return _respond(request, got)
