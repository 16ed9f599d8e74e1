"""Public sign-up pages (no login): the embeddable form, the double opt-in confirmation and the
request for a fresh link.

These routes take no session CSRF token: a form embedded in another site's iframe gets no
first-party cookie. Instead the form carries a signed, time-stamped *ticket* (it proves the
form was displayed here, and when: a form sent too soon is a bot), and the confirmation link
carries a signed token that only the mailbox owner received. Confirming takes a POST from a
button, so mail scanners that open links do not confirm for the person.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from closedloop.access import PUBLIC
from closedloop.consent import forms as forms_service
from closedloop.consent import signup as signup_service
from closedloop.consent import signup_jobs
from closedloop.consent.messages import preference_url
from closedloop.consent.models import SignupForm, SignupRequest
from closedloop.consent.tokens import (
    TokenExpired,
    TokenInvalid,
    TokenPurpose,
    make_token,
    read_token,
    token_age_seconds,
)
from closedloop.deps import DbSession
from closedloop.errors import NotFound, TooManyRequests, ValidationFailed
from closedloop.i18n import N_
from closedloop.settings import get_settings
from closedloop.web.rendering import render, request_locale
from closedloop.web.routes import form_str
from closedloop.web.security import client_ip, content_security_policy

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])

HONEYPOT = "website"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
TOO_MANY = (
    N_("Too many requests"),
    N_("Too many links were asked for from your connection. Please try again in an hour."),
)
FIELD_MESSAGES = {
    "email": N_("Enter a valid email address."),
    "phone": N_("Enter a valid phone number, e.g. +33 6 12 34 56 78."),
    "country": N_("Enter a two-letter country code such as FR."),
    "topics": N_("Choose at least one topic."),
    "channels": N_("Choose at least one way to reach you."),
}


def frame_ancestors() -> str:
    """``'self'`` and the origins of ``CLOSEDLOOP_SIGNUP_FRAME_ANCESTORS`` (invalid ones are
    dropped with a warning: a policy must never be widened by a typo)."""
    allowed = ["'self'"]
    for origin in re.split(r"[\s,]+", get_settings().signup_frame_ancestors.strip()):
        if not origin:
            continue
        if _ORIGIN.match(origin.rstrip("/")):
            allowed.append(origin.rstrip("/"))
        else:
            log.warning("Ignoring invalid sign-up frame ancestor %r", origin)
    return " ".join(allowed)


def public_headers(*, frameable: bool = False, form_action: str = "'self'") -> dict[str, str]:
    """Headers of the public pages: framing only where allowed, no referrer (links hold
    tokens); X-Frame-Options is dropped where CSP ``frame-ancestors`` allows embedding."""
    headers = {
        "Content-Security-Policy": content_security_policy(
            frame_ancestors=frame_ancestors() if frameable else "'none'", form_action=form_action
        ),
        "Referrer-Policy": "no-referrer",
    }
    if frameable:
        headers["X-Frame-Options"] = ""
    return headers


def page(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200, **kw: Any
) -> Response:
    """A public page rendered with :func:`public_headers`."""
    response = render(request, template, context, status=status)
    response.headers.update(public_headers(**kw))
    return response


def link_error(request: Request, exc: Exception) -> Response:
    """The page of a tampered (400) or expired (410) link, with a form to get a new one."""
    expired = isinstance(exc, TokenExpired)
    context = {"expired": expired, "ticket": make_token(TokenPurpose.FORM_TICKET, {"f": 0})}
    return page(request, "signup/link_error.html", context, status=410 if expired else 400)


def _form_page(
    request: Request,
    form: SignupForm,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "values": values,
        "errors": errors,
        "notice": notice,
        "ticket": make_token(TokenPurpose.FORM_TICKET, {"f": form.id}),
        "honeypot": HONEYPOT,
    }
    return page(request, "signup/form.html", context, status=status, frameable=True)


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: form_str(form, k)[:320]
        for k in ("email", "given_name", "family_name", "phone", "country")
    }
    values["topics"] = [v for v in form.getlist("topics") if isinstance(v, str)][:20]
    values["channels"] = [v for v in form.getlist("channels") if isinstance(v, str)][:5]
    return values


@router.get("/signup/{slug}", response_class=Response)
def signup_page(request: Request, db: DbSession, slug: str) -> Response:
    """The public sign-up form (embeddable where the settings allow)."""
    form = forms_service.form_by_slug(db, slug)
    values = {"email": "", "given_name": "", "family_name": "", "phone": "", "country": ""}
    return _form_page(request, form, {**values, "topics": [], "channels": []}, {})


@router.post("/signup/{slug}", response_class=Response)
async def signup_submit(request: Request, db: DbSession, slug: str) -> Response:
    """Check the form and queue the sign-up (job ``signup.submit``, which records it and
    sends the confirmation email). Whether the address was already known changes neither the
    answer nor the work done here: the lookup happens in the job."""
    form = forms_service.form_by_slug(db, slug)
    data = await request.form()
    values = _values(data)
    ticket = form_str(data, "ticket")
    try:
        if read_token(TokenPurpose.FORM_TICKET, ticket).get("f") != form.id:
            raise TokenInvalid("ticket of another form")
        age = token_age_seconds(TokenPurpose.FORM_TICKET, ticket)
    except (TokenInvalid, TokenExpired):
        notice = N_("This form has expired. Please check your entries and send it again.")
        return _form_page(request, form, values, {}, notice=notice, status=400)
    if form_str(data, HONEYPOT):
        return page(request, "signup/sent.html", {"form": form}, frameable=True)
    if age < get_settings().signup_min_seconds:
        notice = N_("That was quick! Please check your entries and send the form again.")
        return _form_page(request, form, values, {}, notice=notice, status=400)
    submission = signup_service.SignupSubmission(
        **{k: values[k] for k in ("email", "given_name", "family_name", "phone", "country")},
        topics=values["topics"],
        channels=values["channels"],
        locale=request_locale(request),
    )
    try:
        signup_jobs.queue_signup(
            db,
            form,
            submission,
            ip_address=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except ValidationFailed as exc:
        errors: dict[str, list[str]] = {}
        for item in exc.errors:
            name = str(item.get("field", ""))
            errors.setdefault(name, [FIELD_MESSAGES.get(name, N_("This value is not valid."))])
        return _form_page(request, form, values, errors, status=422)
    return page(request, "signup/sent.html", {"form": form}, frameable=True)


def _pending(db: DbSession, token: str) -> SignupRequest:
    request_id = read_token(TokenPurpose.SIGNUP_CONFIRM, token).get("r")
    found = db.get(SignupRequest, request_id) if isinstance(request_id, int) else None
    if found is None:
        raise TokenInvalid("unknown sign-up request")
    return found


def _redirect_origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in {"http", "https"} else None


@router.get("/signup/confirm/{token}", response_class=Response)
def confirm_page(request: Request, db: DbSession, token: str) -> Response:
    """The confirmation page: one button confirms the sign-up (a bad link explains itself)."""
    try:
        pending = _pending(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    form = forms_service.get_form(db, pending.form_id)
    if pending.confirmed_at is not None:
        context = {"form": form, "preferences": preference_url(pending.person_id), "again": True}
        return page(request, "signup/confirmed.html", context)
    origin = _redirect_origin(form.redirect_url)
    action = "'self'" + (f" {origin}" if origin else "")
    topics = [t["label"] for t in form.topics if t["code"] in pending.topics]
    context = {"form": form, "pending": pending, "topics": topics, "token": token}
    return page(request, "signup/confirm.html", context, form_action=action)


@router.post("/signup/confirm/{token}", response_class=Response)
def confirm(request: Request, db: DbSession, token: str) -> Response:
    """Record the consents of the sign-up (idempotent) and go to the form's thank-you page."""
    try:
        pending = _pending(db, token)
        signup_service.confirm_signup(db, pending.id, ip_address=client_ip(request))
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    except NotFound as exc:
        return link_error(request, TokenInvalid(exc.detail))
    form = forms_service.get_form(db, pending.form_id)
    if form.redirect_url:
        return RedirectResponse(form.redirect_url, status_code=303)
    context = {"form": form, "preferences": preference_url(pending.person_id), "again": False}
    return page(request, "signup/confirmed.html", context)


@router.post("/preferences-link", response_class=Response)
async def fresh_link(request: Request, db: DbSession) -> Response:
    """Email a fresh link to the address given, if it is known; neither the answer nor the
    work done here says (job ``signup.fresh_link`` looks the address up)."""
    data = await request.form()
    try:
        read_token(TokenPurpose.FORM_TICKET, form_str(data, "ticket"))
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    if not form_str(data, HONEYPOT):
        try:
            signup_jobs.queue_fresh_link(
                db,
                form_str(data, "email")[:320],
                locale=request_locale(request),
                client=client_ip(request),
            )
        except TooManyRequests as exc:
            context = {"title": TOO_MANY[0], "detail": TOO_MANY[1], "status": 429}
            response = page(request, "errors/error.html", context, status=429)
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
    return page(request, "signup/link_sent.html", {})
