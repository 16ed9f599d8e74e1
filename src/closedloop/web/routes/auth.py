"""Login, logout and the language choice."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.deps import DbSession
from closedloop.errors import AuthenticationFailed
from closedloop.i18n import N_, normalize_locale
from closedloop.users import service as users_service
from closedloop.users.models import User
from closedloop.web.rendering import flash, render
from closedloop.web.routes import form_str, page_router
from closedloop.web.security import (
    SESSION_LOCALE,
    Viewer,
    client_ip,
    end_session,
    optional_user,
    safe_next,
    start_session,
)

router = page_router(public=True)

#: The only message a failed login shows, whatever was wrong.
LOGIN_FAILED = N_("Unknown user or wrong password.")
TOO_MANY = N_("Too many failed attempts. Try again in %(minutes)s minute(s).")


@router.get("/login", response_class=Response)
def login_page(
    request: Request,
    user: Annotated[User | None, Depends(optional_user)],
    next: str = "/",
) -> Response:
    """The login form; a user who is already logged in goes straight on."""
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "auth/login.html", {"next": target, "username": "", "error": None})


@router.post("/login", response_class=Response)
async def login(request: Request, db: DbSession) -> Response:
    """Check the credentials; on success start a fresh session and go to ``next``."""
    form = await request.form()
    username = form_str(form, "username").strip()[:64]
    password = form_str(form, "password")
    target = safe_next(form_str(form, "next"))
    address = client_ip(request)
    wait = users_service.login_wait(db, username, address)
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        context = {"next": target, "username": username, "error": TOO_MANY, "minutes": minutes}
        return render(request, "auth/login.html", context, status=429)
    try:
        user = users_service.authenticate(db, username, password)
    except AuthenticationFailed:
        users_service.record_login_failure(db, username, address)
        context = {"next": target, "username": username, "error": LOGIN_FAILED}
        return render(request, "auth/login.html", context, status=401)
    start_session(request, user)
    request.state.user = Viewer.of(user)
    users_service.audit(db, user, "login", "user", user.id, channel="web")
    return RedirectResponse(target, status_code=303)


@router.post("/logout", response_class=Response)
def logout(
    request: Request,
    db: DbSession,
    user: Annotated[User | None, Depends(optional_user)],
) -> Response:
    """End the session and return to the login page."""
    if user is not None:
        users_service.audit(db, user, "logout", "user", user.id, channel="web")
    end_session(request)
    flash(request, N_("You are logged out."), "info")
    return RedirectResponse("/login", status_code=303)


@router.post("/locale", response_class=Response)
async def choose_locale(
    request: Request,
    user: Annotated[User | None, Depends(optional_user)],
) -> Response:
    """Switch the interface language (kept in the session and on the user's account)."""
    form = await request.form()
    locale = normalize_locale(form_str(form, "locale"))
    if locale is not None:
        request.session[SESSION_LOCALE] = locale
        if user is not None:
            user.locale = locale
    return RedirectResponse(safe_next(form_str(form, "next")), status_code=303)
