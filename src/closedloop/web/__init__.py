"""Server-rendered web pages (Jinja2) over the same services as the API."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from closedloop.errors import DomainError, NotFound, PermissionDenied
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.web.rendering import STATIC, render
from closedloop.web.security import (
    LoginRequired,
    SecurityHeadersMiddleware,
    WebError,
    forbidden,
    login_url,
    not_found,
)
from closedloop.web.sessions import ServerSessionMiddleware

SESSION_COOKIE = "closedloop_session"
log = logging.getLogger(__name__)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_url), status_code=303)


async def _web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)
    context = {"title": exc.title, "detail": exc.detail, "status": exc.status}
    return render(request, "errors/error.html", context, status=exc.status)


def _as_web_error(exc: Exception) -> WebError:
    """Any error raised under an HTML page, as the page that explains it."""
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, PermissionDenied):
        return forbidden()
    if isinstance(exc, NotFound):
        return not_found()
    status = 400
    if isinstance(exc, StarletteHTTPException):
        status = exc.status_code
    elif isinstance(exc, DomainError):
        status = exc.status
    elif not isinstance(exc, RequestValidationError):
        status = 500
    if status == 404:
        return not_found()
    if status == 405:
        return WebError(405, N_("Not allowed"), N_("This page cannot be used this way."))
    if status >= 500:
        return WebError(
            status,
            N_("Something went wrong"),
            N_("The error was recorded and nothing was changed. Please try again later."),
        )
    return WebError(status, N_("Error"), N_("The request could not be handled."))


async def _html_error(request: Request, exc: Exception) -> Response:
    """The HTML answer to errors outside the API (the API answers its own with problem+json)."""
    error = _as_web_error(exc)
    # Errors caught outside the middleware stack come without a session: render without one.
    request.scope.setdefault("session", {})
    if error.status >= 500:
        log.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    try:
        return await _web_error(request, error)
    except Exception:  # the error page itself failed: say so plainly
        log.exception("The error page failed")
        return PlainTextResponse("Internal Server Error", status_code=500)


def install(app: FastAPI) -> None:
    """Add the session middleware, static files and HTML routes to ``app``."""
    from closedloop.web.routes import (
        admin,
        auth,
        calldesk,
        campaign_actions,
        campaign_calendar,
        campaigns,
        dedupe,
        evaluation,
        events,
        home,
        imports,
        jobs,
        outbox,
        person_actions,
        person_addresses,
        person_attributes,
        persons,
        persons_export,
        preferences,
        pressure,
        reports,
        rsvp,
        segments,
        signup,
        signup_forms,
        surveys,
        targeting,
        tracking,
        vendor,
        webhooks,
    )
    from closedloop.web.routes.tracking import TrackingFastPath

    settings = get_settings()
    # Outside the API and its documentation page (which needs its own scripts).
    excluded = tuple(p for p in ("/api/", app.docs_url, app.redoc_url) if p)
    app.add_middleware(SecurityHeadersMiddleware, exclude=excluded)
    app.add_middleware(
        ServerSessionMiddleware,
        cookie=SESSION_COOKIE,
        max_age_seconds=settings.session_max_age_seconds,
        https_only=settings.session_cookie_secure,
    )
    # Outermost: the tracked addresses are answered before sessions and routing.
    app.add_middleware(TrackingFastPath)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(WebError, _web_error)
    # The API's handlers answer under /api/ and hand every other path to these.
    html_handlers = dict(getattr(app.state, "html_exception_handlers", {}) or {})
    for cls in (StarletteHTTPException, RequestValidationError, DomainError, Exception):
        html_handlers[cls] = _html_error
    app.state.html_exception_handlers = html_handlers
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # signup and preferences are public pages: no login, authenticated by signed tokens.
    pages = (
        *(auth, home, persons, dedupe, imports, reports, jobs, webhooks, outbox, admin, segments),
        *(signup, preferences, signup_forms, tracking, vendor, pressure, surveys),
        evaluation,
        # the persons list's export and the card's actions (issue 14)
        *(persons_export, person_actions, person_addresses, person_attributes),
        campaign_calendar,
        campaigns,
        campaign_actions,
        calldesk,
        targeting,
        events,
    )
    for module in pages:
        app.include_router(module.router)
    app.include_router(surveys.public)
    app.include_router(rsvp.public)
