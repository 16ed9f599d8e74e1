"""The public sign-up pages' work, done by jobs so that a visitor cannot time it.

Whether an address is already in the base must not show, neither in the answer nor in how long
it takes. Finding a person is one query; creating a prospect writes the person, the contact
points and the match keys and runs the duplicate check. So the visitor's request only checks
the form and queues one job, the same work for every address:

- ``signup.submit`` records a checked sign-up (:func:`closedloop.consent.signup.record_signup`),
  which queues the confirmation email (``email.send``) in the same transaction;
- ``signup.fresh_link`` sends a new link to an address if it is known
  (:func:`closedloop.consent.signup.request_fresh_link`), and does nothing otherwise.

Both are registered through ``job_handlers`` (:mod:`closedloop.consent.hooks`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from closedloop.consent.forms import get_form
from closedloop.consent.models import SignupForm
from closedloop.consent.signup import (
    CheckedSignup,
    SignupSubmission,
    check_signup,
    record_signup,
    request_fresh_link,
)
from closedloop.contacts.normalize import normalize_email
from closedloop.db.uow import unit_of_work
from closedloop.errors import ValidationFailed
from closedloop.jobs.service import enqueue
from closedloop.settings import get_settings
from closedloop.users import throttle

if TYPE_CHECKING:
    from closedloop.jobs.service import JobContext

SUBMIT_KIND = "signup.submit"
FRESH_LINK_KIND = "signup.fresh_link"
HOUR = timedelta(hours=1)
#: Attempts of each job: a busy store is retried with backoff, then the job fails.
MAX_ATTEMPTS = 5


def queue_signup(
    session: Session,
    form: SignupForm,
    data: SignupSubmission,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> int:
    """Check a submission and queue its recording (job ``signup.submit``); returns the job id.

    Invalid fields raise :class:`ValidationFailed` and queue nothing. Nothing stored is read,
    so the work and the answer are the same for a known and a new address.
    """
    checked = check_signup(form, data, ip_address=ip_address, user_agent=user_agent)
    payload = checked.model_dump(mode="json")
    return enqueue(session, SUBMIT_KIND, payload, max_attempts=MAX_ATTEMPTS).id


def queue_fresh_link(
    session: Session, address: str, *, locale: str | None = None, client: str | None = None
) -> int | None:
    """Queue a new link for ``address`` (job ``signup.fresh_link``) whether it is known or not;
    None, and nothing queued, when it is not an email address at all.

    Throttled so the form cannot flood an inbox: ``client`` (the visitor's IP) may ask
    ``CLOSEDLOOP_FRESH_LINK_PER_CLIENT`` times an hour (:class:`TooManyRequests` past it),
    and one address gets at most ``CLOSEDLOOP_FRESH_LINK_PER_ADDRESS`` links an hour: more
    are dropped silently, for a known and an unknown address alike.
    """
    settings = get_settings()
    if client:
        per_client = throttle.Limit("fresh_link.client", settings.fresh_link_per_client, HOUR)
        throttle.enforce(session, per_client, client, "link requests from your connection")
    try:
        normalized, _key = normalize_email(address)
    except ValueError:
        return None
    per_address = throttle.Limit("fresh_link.address", settings.fresh_link_per_address, HOUR)
    if throttle.hit(session, per_address, normalized) is not None:
        return None
    payload = {"email": normalized, "locale": locale}
    return enqueue(session, FRESH_LINK_KIND, payload, max_attempts=MAX_ATTEMPTS).id


def submit_handler(ctx: JobContext) -> dict[str, Any]:
    """Job ``signup.submit``: record the checked sign-up in the payload and queue its email."""
    try:
        checked = CheckedSignup.model_validate(ctx.payload)
    except ValidationError as exc:  # a payload no page wrote: retrying cannot help
        errors = [
            {"field": ".".join(str(part) for part in e["loc"]) or "payload", "message": e["msg"]}
            for e in exc.errors()
        ]
        detail = "A signup.submit job needs a checked sign-up."
        raise ValidationFailed(detail, errors=errors) from exc
    with unit_of_work(ctx.factory) as session:
        form = get_form(session, checked.form_id)
        request_id = record_signup(session, form, checked).id
    ctx.forget_payload()  # the visitor's input now lives in the request and the ledger
    return {"signup_request_id": request_id}


def fresh_link_handler(ctx: JobContext) -> None:
    """Job ``signup.fresh_link``: email a new link if the address is known (its result never
    says whether it was)."""
    address = ctx.payload.get("email")
    locale = ctx.payload.get("locale")
    if not isinstance(address, str):
        raise ValidationFailed(
            "A signup.fresh_link job needs an email address.",
            errors=[{"field": "email", "message": "expected a string"}],
        )
    with unit_of_work(ctx.factory) as session:
        request_fresh_link(session, address, locale=locale if isinstance(locale, str) else None)
    ctx.forget_payload()


HANDLERS: dict[str, Any] = {SUBMIT_KIND: submit_handler, FRESH_LINK_KIND: fresh_link_handler}
