"""The preference centre (public, reached by a signed link): a person's own data, channels and
topics, the "unsubscribe from everything" button, the RFC 8058 one-click unsubscribe, and the
confirmation of a new email address.

The signed token in the path is the credential and replaces the session CSRF token: it names
one person, it is only sent to that person's mailbox, a cross-site attacker cannot know it,
and it never leaks through a Referer (``Referrer-Policy: no-referrer``) or a shared cache
(``Cache-Control: no-store``); these pages cannot be framed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from closedloop.access import PUBLIC
from closedloop.consent import preferences as prefs
from closedloop.consent.models import ConsentEvent
from closedloop.consent.service import consent_history
from closedloop.consent.tokens import TokenExpired, TokenInvalid, TokenPurpose, read_token
from closedloop.contacts.models import Person
from closedloop.contacts.service import golden_record
from closedloop.deps import DbSession
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.i18n import N_
from closedloop.vocab import Channel, ConsentMethod
from closedloop.web.labels import LABELS
from closedloop.web.rendering import gettext_for, request_locale
from closedloop.web.routes import form_str
from closedloop.web.routes.signup import link_error, page
from closedloop.web.security import client_ip

router = APIRouter(include_in_schema=False, dependencies=[PUBLIC])
SAVED = {
    "saved": N_("Your choices are saved."),
    "withdrawn": N_("You will receive nothing more from us. You can subscribe again below."),
    "email": N_("We sent a link to your new address. Open it to confirm the change."),
}


def _person(db: DbSession, token: str) -> Person:
    person_id = read_token(TokenPurpose.PREFERENCES, token).get("p")
    try:
        return golden_record(db, person_id) if isinstance(person_id, int) else _invalid()
    except NotFound:
        return _invalid()


def _invalid() -> Person:
    raise TokenInvalid("unknown person")


def statements(gettext: Callable[[str], str], grid: prefs.Grid) -> dict[tuple[str, str], str]:
    """The sentence shown next to each box, in the page language (it becomes the proof)."""
    return {
        (channel, purpose): gettext("I agree to receive %(topic)s by %(channel)s.")
        % {"topic": gettext(LABELS[purpose]), "channel": gettext(LABELS[channel])}
        for channel in grid.channels
        for purpose in grid.purposes
    }


def _page(request: Request, db: DbSession, person: Person, token: str, **extra: Any) -> Response:
    grid = prefs.preference_grid(db, person.id)
    email = prefs.primary(person.emails)
    phone = prefs.primary(person.phones)
    values = {
        "given_name": person.given_name or "",
        "family_name": person.family_name or "",
        "phone": phone.e164 if phone else "",
        "email": email.address if email else "",
    }
    history: list[ConsentEvent] = consent_history(db, person.id)[:20]
    context: dict[str, Any] = {
        "person": person,
        "token": token,
        "grid": grid,
        "statements": statements(gettext_for(request), grid),
        "values": values,
        "errors": {},
        "history": history,
        "notice": SAVED.get(request.query_params.get("saved", "")),
        "conflict": False,
    }
    context.update(extra)
    return page(request, "signup/preferences.html", context, status=extra.get("status", 200))


@router.get("/preferences/{token}", response_class=Response)
def preferences_page(request: Request, db: DbSession, token: str) -> Response:
    """The person's own data and consents, with the links to change them."""
    try:
        person = _person(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    return _page(request, db, person, token)


@router.post("/preferences/{token}", response_class=Response)
async def save_preferences(request: Request, db: DbSession, token: str) -> Response:
    """Save the person's details and ticked boxes; each changed box is a ledger event."""
    try:
        person = _person(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    form = await request.form()
    grid = prefs.preference_grid(db, person.id)
    offered = {(c, p) for c in grid.channels for p in grid.purposes}
    ticked = {tuple(v.split(":", 1)) for v in form.getlist("consent") if isinstance(v, str)}
    wanted = {(c, p) for c, p in ticked if (c, p) in offered}  # type: ignore[misc]
    email = prefs.primary(person.emails)
    phone = prefs.primary(person.phones)
    new_phone = form_str(form, "phone").strip()[:64]
    details_changed = (
        form_str(form, "given_name").strip() != (person.given_name or "")
        or form_str(form, "family_name").strip() != (person.family_name or "")
        or new_phone != (phone.e164 if phone else "")
    )
    saved = "saved"
    try:
        if details_changed:
            version = int(form_str(form, "version") or 0)
            prefs.update_details(
                db,
                person.id,
                version=version,
                given_name=form_str(form, "given_name")[:200],
                family_name=form_str(form, "family_name")[:200],
                phone=new_phone,
            )
        new_email = form_str(form, "email").strip()[:320]
        changed = new_email and new_email != (email.address if email else "")
        locale = request_locale(request)
        if changed and prefs.request_email_change(db, person.id, new_email, locale=locale):
            saved = "email"
    except (ValidationFailed, Conflict, ValueError) as exc:
        db.rollback()
        field = "phone"
        if isinstance(exc, ValidationFailed) and exc.errors:
            field = str(exc.errors[0].get("field", "phone"))
        message = (
            N_("Someone changed your details meanwhile. Please check them and save again.")
            if isinstance(exc, Conflict)
            else N_("This value is not valid.")
        )
        person = _person(db, token)
        return _page(
            request,
            db,
            person,
            token,
            errors={field: [message]},
            status=409 if isinstance(exc, Conflict) else 422,
        )
    prefs.set_preferences(
        db,
        person.id,
        wanted,
        sorted(offered),
        statements=statements(gettext_for(request), grid),
        ip_address=client_ip(request),
    )
    return RedirectResponse(f"/preferences/{token}?saved={saved}", status_code=303)


@router.post("/preferences/{token}/withdraw-all", response_class=Response)
def withdraw_everything(request: Request, db: DbSession, token: str) -> Response:
    """The "unsubscribe from everything" button: withdraw every consent the person gave."""
    try:
        person = _person(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    prefs.withdraw_all(
        db,
        person.id,
        method=ConsentMethod.PREFERENCE_CENTRE,
        action='clicked "Unsubscribe from everything" in the preference centre',
        ip_address=client_ip(request),
    )
    return RedirectResponse(f"/preferences/{token}?saved=withdrawn", status_code=303)


@router.get("/preferences/{token}/unsubscribe", response_class=Response)
def unsubscribe_page(request: Request, db: DbSession, token: str) -> Response:
    """Opening the unsubscribe link changes nothing (RFC 8058): it shows one button."""
    try:
        _person(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    return page(request, "signup/unsubscribe.html", {"token": token, "done": False})


@router.post("/preferences/{token}/unsubscribe", response_class=Response)
def unsubscribe(request: Request, db: DbSession, token: str) -> Response:
    """One-click unsubscribe (RFC 8058 ``List-Unsubscribe-Post``): withdraw every email
    consent. Mail clients post ``List-Unsubscribe=One-Click`` with no cookie; the token is
    the credential."""
    try:
        person = _person(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    prefs.withdraw_all(
        db,
        person.id,
        method=ConsentMethod.UNSUBSCRIBE_LINK,
        action="one-click unsubscribe (List-Unsubscribe-Post) from an email",
        channel=Channel.EMAIL,
        ip_address=client_ip(request),
    )
    return page(request, "signup/unsubscribe.html", {"token": token, "done": True})


def _email_change(db: DbSession, token: str) -> tuple[Person, str]:
    data = read_token(TokenPurpose.EMAIL_CHANGE, token)
    person_id, address = data.get("p"), data.get("e")
    if not isinstance(person_id, int) or not isinstance(address, str):
        raise TokenInvalid("malformed")
    try:
        return golden_record(db, person_id), address
    except NotFound as exc:
        raise TokenInvalid("unknown person") from exc


@router.get("/email-change/{token}", response_class=Response)
def email_change_page(request: Request, db: DbSession, token: str) -> Response:
    """The confirmation of a new address: one button."""
    try:
        address = _email_change(db, token)[1]
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    return page(
        request, "signup/email_change.html", {"address": address, "token": token, "done": None}
    )


@router.post("/email-change/{token}", response_class=Response)
def email_change(request: Request, db: DbSession, token: str) -> Response:
    """Make the confirmed address the person's primary email (confirming twice is harmless)."""
    try:
        person, address = _email_change(db, token)
    except (TokenInvalid, TokenExpired) as exc:
        return link_error(request, exc)
    prefs.confirm_email_change(db, person.id, address)
    from closedloop.consent.messages import preference_token

    context = {"address": address, "token": token, "done": preference_token(person.id)}
    return page(request, "signup/email_change.html", context)
