"""Session, login state, CSRF protection, permissions and security headers of the web pages.

The session is a signed cookie (Starlette's ``SessionMiddleware``). It holds the user id, a
fingerprint of the user's password hash (changing the password ends every session), the time
of login (an absolute limit), the CSRF token, the chosen language and pending flash messages.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closedloop.deps import DbSession
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.users.models import User
from closedloop.users.permissions import Permission, allowed

SESSION_USER = "uid"
SESSION_FINGERPRINT = "pwf"
SESSION_AUTH_AT = "auth_at"
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


def password_fingerprint(user: User) -> str:
    """A short digest of the password hash: a new password invalidates older sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


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
    """Log ``user`` in with a fresh session: only the chosen language survives from before."""
    locale = request.session.get(SESSION_LOCALE)
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_FINGERPRINT] = password_fingerprint(user)
    request.session[SESSION_AUTH_AT] = int(time.time())
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    # A language picked on the login page is the latest choice: it also becomes the account's.
    if isinstance(locale, str) and locale:
        user.locale = locale
    if user.locale:
        request.session[SESSION_LOCALE] = user.locale


def end_session(request: Request) -> None:
    """Forget everything in the session (logout)."""
    request.session.clear()


def _request_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + ("?" + query if query else "")


def optional_user(request: Request, db: DbSession) -> User | None:
    """The logged-in user, or None (and the session is cleared when it is no longer valid)."""
    uid = request.session.get(SESSION_USER)
    if uid is None:
        return None
    user = db.get(User, uid) if isinstance(uid, int) else None
    auth_at = request.session.get(SESSION_AUTH_AT)
    max_age = get_settings().session_max_age_seconds
    if (
        user is None
        or not user.is_active
        or request.session.get(SESSION_FINGERPRINT) != password_fingerprint(user)
        or not isinstance(auth_at, int)
        or time.time() - auth_at > max_age
    ):
        end_session(request)
        return None
    request.state.user = Viewer.of(user)
    return user


def current_user(user: Annotated[User | None, Depends(optional_user)], request: Request) -> User:
    """The logged-in user; otherwise a redirect to the login page that comes back here."""
    if user is None:
        raise LoginRequired(_request_path(request))
    return user


def requires(permission: Permission) -> Any:
    """A dependency giving the logged-in user when their role grants ``permission``, else 403."""

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not allowed(user.role, permission):
            raise forbidden()
        return user

    return Depends(dependency)


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
