"""The pages' session middleware: ``request.session`` as Starlette offers it, kept server-side.

The cookie holds only a random key (nothing readable: no user id, no CSRF token); the data
lives in ``web_sessions`` (:mod:`closedloop.users.sessions`) under the key's hash. A session
row is created the first time a visitor's session holds something (the login form's CSRF
token, a language), written back only when the data changed, replaced by a new key at login
(no session fixation) and revoked at logout, so a cookie copied earlier opens nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from anyio import to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closedloop.bootstrap import get_session_factory
from closedloop.db.uow import unit_of_work
from closedloop.users import sessions as store

#: Where the request's session state sits in the ASGI scope.
STATE = "closedloop.session"


@dataclass
class SessionState:
    """The session of one request: its stored row (if any) and what the page asked for."""

    row_id: int | None = None
    user_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    original: dict[str, Any] = field(default_factory=dict)
    #: a login: replace the row by a new one (new key) for ``user_id``
    rotate: bool = False
    #: a logout: revoke the row and forget the cookie
    end: bool = False


def state_of(request: Request) -> SessionState:
    """The request's session state (an empty one outside the middleware, e.g. error pages)."""
    state = request.scope.get(STATE)
    if not isinstance(state, SessionState):
        state = SessionState(data=request.scope.setdefault("session", {}))
        request.scope[STATE] = state
    return state


class ServerSessionMiddleware:
    """Load the session named by the cookie before the page, store it before the answer."""

    def __init__(
        self, app: ASGIApp, *, cookie: str, max_age_seconds: int, https_only: bool
    ) -> None:
        self.app = app
        self.cookie = cookie
        self.max_age = timedelta(seconds=max_age_seconds)
        self.flags = "; HttpOnly; SameSite=lax" + ("; Secure" if https_only else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        key = connection.cookies.get(self.cookie)
        loaded = await to_thread.run_sync(self._load, key) if key else None
        state = SessionState()
        if loaded is not None:
            state = SessionState(loaded.id, loaded.user_id, loaded.data, copy.deepcopy(loaded.data))
        scope["session"] = state.data
        scope[STATE] = state
        client = connection.client.host if connection.client else None
        agent = connection.headers.get("user-agent")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await to_thread.run_sync(self._store, state, client, agent)
                if cookie is not None:
                    MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, key: str) -> store.Loaded | None:
        with unit_of_work(get_session_factory()) as session:
            return store.load(session, key)

    def _store(self, state: SessionState, client: str | None, agent: str | None) -> str | None:
        """Write what changed; returns the Set-Cookie value when the cookie must change."""
        data = state.data
        with unit_of_work(get_session_factory()) as session:
            if state.row_id is not None and (state.end or state.rotate):
                store.revoke(session, state.row_id, "logout" if state.end else "login")
                state.row_id = None
                if state.end:
                    state.user_id = None
            if state.row_id is not None:
                if data != state.original:
                    store.save_data(session, state.row_id, data)
                return None
            if not data and not state.rotate:
                return self._forget() if state.end else None
            key = store.create(
                session,
                data,
                user_id=state.user_id,
                max_age=self.max_age,
                ip_address=client,
                user_agent=agent,
            )
        seconds = int(self.max_age.total_seconds())
        return f"{self.cookie}={key}; Path=/; Max-Age={seconds}{self.flags}"

    def _forget(self) -> str:
        return f"{self.cookie}=; Path=/; Max-Age=0{self.flags}"
