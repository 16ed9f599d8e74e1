"""Session, login state, CSRF protection, permissions and security headers of the web pages.

The session is kept server-side (:mod:`closedloop.web.sessions`): the cookie carries only a
random key. The session belongs to one user from login to logout (or until it expires, or is
revoked when the user's password or role changes); it holds the CSRF token, the chosen
language and pending flash messages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closedloop.access import declare
from closedloop.deps import DbSession
from closedloop.i18n import N_
from closedloop.users.models import User
from closedloop.users.permissions import Audience, Permission, allowed
from closedloop.web.sessions import state_of


class BoundedIntConvertor(IntegerConvertor):
    """``{name:int}`` in a page's path, bounded by what the store holds: at most 18 digits
    (< 2**63), so ``/persons/9223372036854775808`` matches no route (404) instead of
    overflowing the driver (500)."""

    regex = "[0-9]{1,18}"


# Replaces Starlette's "int" for every page path compiled after this import: the routers of
# closedloop.web.routes import this module first, so current and future pages are bounded.
register_url_convertor("int", BoundedIntConvertor())

SESSION_CSRF = "csrf"
SESSION_LOCALE = "locale"
SESSION_FLASH = "flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_security_policy(frame_ancestors: str = "'none'", form_action: str = "'self'") -> str:
    """The pages' policy; public pages may widen who frames them or where forms go."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'; form-action {form_action}; "
        f"frame-ancestors {frame_ancestors}; base-uri 'none'; object-src 'none'"
    )


#: Sent with every HTML page: no inline scripts or styles, no framing, no sniffing.
CONTENT_SECURITY_POLICY = content_security_policy()
#: The chart pages' policy: the site's, except that Plotly may position its layers with
#: inline styles (it sets style attributes and adds its own style rules; without them its
#: layers cover the page's buttons). Scripts stay 'self' only: no inline script, no eval.
CHART_PAGE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


@dataclass(frozen=True)
class Viewer:
    """What the pages show of the logged-in user; still valid after the request's session ends
    (error pages are rendered after the unit of work has been rolled back)."""

    id: int
    username: str
    full_name: str | None
    role: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.username, user.full_name, user.role)


class LoginRequired(Exception):
    """The page needs a logged-in user; the handler redirects to the login page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class WebError(Exception):
    """An error shown as an HTML page: status, title and explanation (message ids)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def forbidden() -> WebError:
    """The 403 page for a role that lacks a permission."""
    return WebError(
        403,
        N_("Access denied"),
        N_("Your role does not allow this page. Ask an administrator if you need access."),
    )


def not_found() -> WebError:
    """The 404 page for a record that does not exist."""
    return WebError(404, N_("Not found"), N_("This page or record does not exist."))


def client_ip(request: Request) -> str | None:
    """The visitor's address, the one every page records and throttles by.

    It is the peer of the connection as the ASGI server reports it. Behind a reverse proxy
    that is the proxy's address, unless the server trusts the proxy's ``X-Forwarded-For``:
    ``closedloop serve`` runs uvicorn with ``proxy_headers=True``, which takes the client
    from that header only for connections from the addresses in ``FORWARDED_ALLOW_IPS``
    (uvicorn's setting, ``127.0.0.1`` by default). The header is never read here, so a
    visitor cannot choose the address recorded for them by sending it.
    """
    return request.client.host if request.client else None


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_url: str) -> str:
    """The login page that returns to ``next_url`` afterwards."""
    return "/login?next=" + quote(safe_next(next_url), safe="/")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


class LazyCsrfToken:
    """The session's CSRF token for a template, created only when the page prints it: a page
    without a form (a public sign-up form, a preference page) stores no session."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def __str__(self) -> str:
        return csrf_token(self.request)

    def __html__(self) -> str:  # a URL-safe random token: nothing to escape
        return str(self)


async def verify_csrf(request: Request) -> None:
    """Refuse (403) any state-changing request whose CSRF token is missing or wrong.

    The token comes from the form field ``csrf_token`` or the ``X-CSRF-Token`` header.
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(SESSION_CSRF)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or not expected
        or not sent
        or not secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise WebError(
            403,
            N_("Form expired"),
            N_(
                "This form has expired or was not sent from this site, so nothing was changed. "
                "Go back, reload the page and try again."
            ),
        )


def start_session(request: Request, user: User) -> None:
    """Log ``user`` in with a fresh session (a new key: the one seen before login is revoked);
    only the chosen language survives from before."""
    state = state_of(request)
    locale = request.session.get(SESSION_LOCALE)
    request.session.clear()
    state.rotate, state.user_id = True, user.id
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    # A language picked on the login page is the latest choice: it also becomes the account's.
    if isinstance(locale, str) and locale:
        user.locale = locale
    if user.locale:
        request.session[SESSION_LOCALE] = user.locale


def end_session(request: Request) -> None:
    """End the session (logout): its key is revoked, so a copy of the cookie opens nothing."""
    state = state_of(request)
    request.session.clear()
    state.end, state.user_id = True, None


def _request_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def optional_user(request: Request, db: DbSession) -> User | None:
    """The logged-in user, or None (and the session is cleared when it is no longer valid)."""
    state = state_of(request)
    if state.user_id is None or state.end:
        return None
    user = db.get(User, state.user_id)
    if user is None or not user.is_active:
        end_session(request)
        return None
    request.state.user = Viewer.of(user)
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)], request: Request) -> User:
    """The logged-in user; otherwise a redirect to the login page that comes back here."""
    if user is None:
        raise LoginRequired(_request_path(request))
    return user


declare(current_user, Audience.AUTHENTICATED)


def requires(permission: Permission) -> Any:
    """A dependency giving the logged-in user when their role grants ``permission``, else 403."""

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not allowed(user.role, permission):
            raise forbidden()
        return user

    return Depends(declare(dependency, permission))


class SecurityHeadersMiddleware:
    """Add the security headers to every response outside the excluded path prefixes."""

    def __init__(self, app: ASGIApp, exclude: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exclude = exclude

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or any(path.startswith(p) for p in self.exclude):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name not in headers:
                        headers.append(name, value)
                    elif not headers[name]:  # a page that sets a header empty drops it
                        del headers[name]
                content_type = headers.get("content-type", "")
                if content_type.startswith("text/html") and "cache-control" not in headers:
                    # Pages show personal data: keep them out of shared caches and history.
                    headers.append("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
