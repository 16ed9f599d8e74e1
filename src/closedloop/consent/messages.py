"""Emails of the sign-up and preference pages, queued as ``email.send`` jobs (an outbox).

The payload is the channels domain's message format (``to``, ``subject``, ``text``, ``html``,
``list_unsubscribe``, ``list_unsubscribe_post``, ``tags``; see
:mod:`closedloop.channels.email`). Links carry signed tokens (:mod:`closedloop.consent.tokens`)
and point at ``settings.public_base_url``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from sqlalchemy.orm import Session

from closedloop import i18n
from closedloop.consent.forms import substitute
from closedloop.consent.models import SignupForm, SignupRequest
from closedloop.consent.tokens import TokenPurpose, make_token
from closedloop.jobs.service import enqueue
from closedloop.settings import get_settings

EMAIL_SEND = "email.send"


def public_url(path: str) -> str:
    """``path`` on the public site (``CLOSEDLOOP_PUBLIC_BASE_URL``)."""
    return get_settings().public_base_url.rstrip("/") + path


def confirm_url(request_id: int) -> str:
    """The double opt-in link of a sign-up request (valid 7 days)."""
    return public_url(
        "/signup/confirm/" + make_token(TokenPurpose.SIGNUP_CONFIRM, {"r": request_id})
    )


def preference_token(person_id: int) -> str:
    """The token of a person's preference centre (valid 180 days)."""
    return make_token(TokenPurpose.PREFERENCES, {"p": person_id})


class PreferenceLinks(NamedTuple):
    """A person's preference centre and one-click unsubscribe address, on one token."""

    preferences: str
    unsubscribe: str


def preference_links(person_id: int) -> PreferenceLinks:
    """Both links of a person, signing one token (a campaign email carries both)."""
    page = public_url("/preferences/" + preference_token(person_id))
    return PreferenceLinks(page, page + "/unsubscribe")


def preference_url(person_id: int) -> str:
    """The person's preference centre; every marketing email should carry it."""
    return preference_links(person_id).preferences


def unsubscribe_url(person_id: int) -> str:
    """The one-click unsubscribe address (RFC 8058) for the ``List-Unsubscribe`` header."""
    return preference_links(person_id).unsubscribe


def _gettext(locale: str | None) -> Callable[[str], str]:
    chosen = i18n.normalize_locale(locale) or get_settings().default_locale
    return cast(Callable[[str], str], i18n.get_translations(chosen).gettext)


def text_to_html(text: str) -> str:
    """A plain-text message as simple HTML: escaped paragraphs, its http(s) links clickable."""
    paragraphs = []
    for block in text.split("\n\n"):
        lines = []
        for line in block.split("\n"):
            escaped = html.escape(line)
            if line.startswith(("http://", "https://")) and " " not in line:
                escaped = f'<a href="{escaped}">{escaped}</a>'
            lines.append(escaped)
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "<!doctype html>\n<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>\n"


def queue_email(
    session: Session,
    to: str,
    subject: str,
    text: str,
    *,
    tags: dict[str, Any],
    person_id: int | None = None,
) -> int:
    """Queue one message (text and HTML parts); with ``person_id`` it carries the person's
    one-click unsubscribe header. Returns the job id."""
    payload: dict[str, Any] = {
        "to": to,
        "subject": " ".join(subject.split()),
        "text": text,
        "html": text_to_html(text),
        "list_unsubscribe": unsubscribe_url(person_id) if person_id is not None else None,
        "list_unsubscribe_post": person_id is not None,
        "tags": tags,
    }
    return enqueue(session, EMAIL_SEND, payload, max_attempts=5).id


def queue_confirmation(session: Session, form: SignupForm, request: SignupRequest) -> int:
    """Queue the double opt-in email of ``request`` (the form's subject and body)."""
    values = {
        "link": confirm_url(request.id),
        "given_name": request.details.get("given_name") or "",
        "family_name": request.details.get("family_name") or "",
        "form_title": form.title,
    }
    subject = substitute(form.confirm_subject, values)
    body = substitute(form.confirm_body, values)
    tags = {"kind": "signup_confirmation", "signup_request_id": request.id}
    return queue_email(session, request.email, subject, body, tags=tags)


def queue_preference_link(
    session: Session, person_id: int, address: str, locale: str | None
) -> int:
    """Queue a fresh link to the person's preference centre."""
    _ = _gettext(locale)
    text = "\n\n".join(
        [
            _("Hello,"),
            _("here is your personal link to see and change what we may send you:"),
            preference_url(person_id),
            _("The link is valid for 180 days. If you did not ask for it, ignore this message."),
        ]
    )
    tags = {"kind": "preference_link", "person_id": person_id}
    return queue_email(
        session, address, _("Your preferences"), text, tags=tags, person_id=person_id
    )


def queue_email_change(session: Session, person_id: int, address: str, locale: str | None) -> int:
    """Queue the confirmation of a new address to that address."""
    _ = _gettext(locale)
    token = make_token(TokenPurpose.EMAIL_CHANGE, {"p": person_id, "e": address})
    text = "\n\n".join(
        [
            _("Hello,"),
            _("please confirm that this is your new email address by opening this link:"),
            public_url("/email-change/" + token),
            _("The link is valid for 2 days. Until you confirm, we keep your previous address."),
        ]
    )
    tags = {"kind": "email_change", "person_id": person_id}
    return queue_email(session, address, _("Confirm your new email address"), text, tags=tags)
