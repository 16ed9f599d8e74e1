"""Customers join themselves (M4, M6): a sign-up request, confirmed by double opt-in.

A submission is checked (:func:`check_signup`), then recorded (:func:`record_signup`): the
person is found by normalised email or created as a prospect, a pending :class:`SignupRequest`
is stored and the confirmation email queued; no consent is recorded. The public page does only
the check in the visitor's request and leaves the recording to a job
(:mod:`closedloop.consent.signup_jobs`), so its answer and its work are the same whether the
address was known or not. The confirmation link records one grant per requested channel and
purpose, with the form's proof text, version, times and addresses. A submitter who is not yet
confirmed never changes a stored person: the submitted details only fill the person's empty
fields once the address owner confirms.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.consent import messages
from closedloop.consent.forms import get_form
from closedloop.consent.models import SignupForm, SignupRequest
from closedloop.consent.people import find_by_email
from closedloop.consent.service import record_consent
from closedloop.contacts import service as contacts
from closedloop.contacts.normalize import clean_text, normalize_email, normalize_phone
from closedloop.contacts.schemas import (
    AddressCreate,
    EmailCreate,
    PersonCreate,
    PersonUpdate,
    PhoneCreate,
)
from closedloop.contacts.service import golden_record
from closedloop.contacts.validation import control_problem
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import NotFound, ValidationFailed
from closedloop.settings import get_settings
from closedloop.vocab import Channel, ConsentMethod, ConsentState, LifecycleStatus, Purpose

SOURCE = "signup"
#: A second submission for the same person and form within this time sends no new email.
RESEND_AFTER = timedelta(minutes=5)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class SignupSubmission(BaseModel):
    """What a visitor typed into a sign-up form."""

    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]
    given_name: Text = ""
    family_name: Text = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    country: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2)] = ""
    topics: list[str] = Field(default_factory=list, max_length=20)
    channels: list[str] = Field(default_factory=list, max_length=5)
    locale: str | None = None


def _checked(form: SignupForm, data: SignupSubmission) -> tuple[str, dict[str, str]]:
    """The normalised address and details; every invalid field at once otherwise."""
    errors: list[dict[str, Any]] = []
    # a control character (NUL…) refuses its field, as at every entry point of a person
    for name in ("email", "given_name", "family_name", "phone", "country"):
        problem = control_problem(getattr(data, name))
        if problem:
            errors.append({"field": name, "message": problem})
    if errors:
        raise ValidationFailed("Some fields of the sign-up form are not valid.", errors=errors)
    address = ""
    try:
        address, _key = normalize_email(data.email)
    except ValueError as exc:
        errors.append({"field": "email", "message": str(exc) if data.email else "required"})
    country = data.country.upper()
    if country and (len(country) != 2 or not country.isalpha() or not country.isascii()):
        errors.append({"field": "country", "message": "a two-letter country code such as FR"})
        country = ""
    phone = ""
    if data.phone:
        try:
            phone = normalize_phone(data.phone, country or get_settings().default_country)
        except ValueError as exc:
            errors.append({"field": "phone", "message": str(exc)})
    offered = {t["code"] for t in form.topics}
    if not data.topics or not set(data.topics) <= offered:
        errors.append({"field": "topics", "message": "choose at least one of the topics offered"})
    if not data.channels or not set(data.channels) <= set(form.channels):
        errors.append({"field": "channels", "message": "choose at least one way to reach you"})
    if errors:
        raise ValidationFailed("Some fields of the sign-up form are not valid.", errors=errors)
    details = {
        "given_name": clean_text(data.given_name) or "",
        "family_name": clean_text(data.family_name) or "",
        "phone": phone,
        "country": country,
    }
    return address, {k: v for k, v in details.items() if v}


def _new_prospect(
    session: Session, address: str, details: dict[str, str], locale: str | None
) -> int:
    person = contacts.create_person(
        session,
        PersonCreate(
            given_name=details.get("given_name"),
            family_name=details.get("family_name"),
            language=locale if locale and len(locale) == 2 else None,
            lifecycle_status=LifecycleStatus.PROSPECT,
            emails=[EmailCreate(address=address, is_primary=True)],
            phones=[PhoneCreate(number=details["phone"], is_primary=True)]
            if "phone" in details
            else [],
            addresses=[AddressCreate(country=details["country"])] if "country" in details else [],
            source_system=SOURCE,
        ),
    )
    return person.id


class CheckedSignup(BaseModel):
    """A valid submission, normalised, with when and from where it was sent: what
    :func:`record_signup` stores (JSON-able, so a job can carry it)."""

    form_id: int
    email: str
    details: dict[str, str]
    topics: list[str]
    channels: list[str]
    locale: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    requested_at: datetime


def check_signup(
    form: SignupForm,
    data: SignupSubmission,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> CheckedSignup:
    """``data`` checked against ``form``; :class:`ValidationFailed` names every invalid field.

    Reads nothing stored: the answer cannot depend on whether the address is known.
    """
    address, details = _checked(form, data)
    return CheckedSignup(
        form_id=form.id,
        email=address,
        details=details,
        topics=list(dict.fromkeys(data.topics)),
        channels=list(dict.fromkeys(data.channels)),
        locale=data.locale,
        ip_address=(ip_address or None) and ip_address[:64],
        user_agent=(user_agent or None) and user_agent[:300],
        requested_at=now or utcnow(),
    )


def record_signup(session: Session, form: SignupForm, checked: CheckedSignup) -> SignupRequest:
    """Record a pending sign-up and queue its confirmation email; no consent yet.

    The person is found by normalised email (a golden record after merges) or created as a
    prospect. A pending request of the same person and form less than :data:`RESEND_AFTER`
    older than this one is returned instead, and no second email is queued.
    """
    person = find_by_email(session, checked.email)
    person_id = (
        person.id
        if person is not None
        else _new_prospect(session, checked.email, checked.details, checked.locale)
    )
    recent = session.scalar(
        select(SignupRequest)
        .where(
            SignupRequest.person_id == person_id,
            SignupRequest.form_id == form.id,
            SignupRequest.confirmed_at.is_(None),
            SignupRequest.requested_at >= checked.requested_at - RESEND_AFTER,
        )
        .order_by(SignupRequest.id.desc())
        .limit(1)
    )
    if recent is not None:
        return recent  # no second email within minutes: a form cannot be used to flood a box
    request = SignupRequest(
        form_id=form.id,
        person_id=person_id,
        email=checked.email,
        topics=checked.topics,
        channels=checked.channels,
        details=checked.details,
        locale=checked.locale,
        ip_address=checked.ip_address,
        user_agent=checked.user_agent,
        requested_at=checked.requested_at,
    )
    session.add(request)
    session.flush()
    messages.queue_confirmation(session, form, request)
    return request


def submit_signup(
    session: Session,
    form: SignupForm,
    data: SignupSubmission,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> SignupRequest:
    """Check and record a sign-up at once (:func:`check_signup`, :func:`record_signup`).

    Its work differs for a known and a new address: a public page must not call it while
    the visitor waits, but queue the recording instead
    (:func:`closedloop.consent.signup_jobs.queue_signup`).
    """
    checked = check_signup(form, data, ip_address=ip_address, user_agent=user_agent)
    return record_signup(session, form, checked)


def proof_for(
    form: SignupForm, request: SignupRequest, label: str, when: datetime, ip: str | None
) -> str:
    """The ledger's proof of a double opt-in grant: the exact text shown and what happened."""
    return (
        f"{form.proof_text}\n"
        f'-- Sign-up form "{form.slug}" version {form.proof_version}, topic "{label}". '
        f"Requested {as_utc(request.requested_at).isoformat()} "
        f"from {request.ip_address or 'unknown IP'}; "
        f"confirmed by the link sent to {request.email} at {as_utc(when).isoformat()} "
        f"from {ip or 'unknown IP'}."
    )


def _fill_gaps(session: Session, person_id: int, details: dict[str, str]) -> None:
    """Give the person the submitted name and phone where they have none (after confirmation)."""
    person = contacts.get_person(session, person_id)
    changes: dict[str, Any] = {}
    for name in ("given_name", "family_name"):
        if details.get(name) and not getattr(person, name):
            changes[name] = details[name]
    if details.get("phone") and not person.phones:
        changes["phones"] = [PhoneCreate(number=details["phone"], is_primary=True)]
    if changes:
        contacts.update_person(session, person_id, PersonUpdate(version=person.version, **changes))


def confirm_signup(
    session: Session, request_id: int, *, ip_address: str | None = None, now: datetime | None = None
) -> tuple[SignupRequest, bool]:
    """Record the grants of a pending request; return it and whether this call confirmed it.

    Confirming again changes nothing (the first confirmation's grants stand).
    """
    request = session.get(SignupRequest, request_id)
    if request is None:
        raise NotFound("This sign-up request no longer exists.")
    when = now or utcnow()
    claimed = session.execute(
        update(SignupRequest)
        .where(SignupRequest.id == request_id, SignupRequest.confirmed_at.is_(None))
        .values(confirmed_at=when, confirmed_ip=(ip_address or None) and ip_address[:64])
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(request)
        return request, False
    session.refresh(request)
    form = get_form(session, request.form_id)
    person = golden_record(session, request.person_id)
    labels = {t["code"]: (t["purpose"], t["label"]) for t in form.topics}
    done: set[tuple[str, str]] = set()
    for code in request.topics:
        if code not in labels:
            continue
        purpose, label = labels[code]
        for channel in request.channels:
            if (channel, purpose) in done:
                continue
            done.add((channel, purpose))
            record_consent(
                session,
                person.id,
                Channel(channel),
                Purpose(purpose),
                ConsentState.GRANTED,
                method=ConsentMethod.DOUBLE_OPT_IN,
                proof_text=proof_for(form, request, label, when, ip_address),
                proof_version=form.proof_version,
                source_system=SOURCE,
                occurred_at=when,
                ip_address=ip_address,
            )
    _fill_gaps(session, person.id, request.details)
    return request, True


def pending_request_for(session: Session, person_id: int) -> SignupRequest | None:
    """The person's latest unconfirmed sign-up request, if any."""
    return session.scalar(
        select(SignupRequest)
        .where(SignupRequest.person_id == person_id, SignupRequest.confirmed_at.is_(None))
        .order_by(SignupRequest.id.desc())
        .limit(1)
    )


def request_fresh_link(session: Session, address: str, *, locale: str | None = None) -> None:
    """Email a new link to whoever owns ``address``: a new confirmation link when a sign-up is
    pending, else a preference-centre link. Does nothing, silently, for an unknown address."""
    try:
        normalized, _key = normalize_email(address)
    except ValueError:
        return
    person = find_by_email(session, normalized)
    if person is None:
        return
    pending = pending_request_for(session, person.id)
    if pending is not None:
        messages.queue_confirmation(session, get_form(session, pending.form_id), pending)
    else:
        messages.queue_preference_link(session, person.id, normalized, locale or person.language)
