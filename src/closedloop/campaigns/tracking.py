"""Tracked links and the open pixel of campaign emails: the one place that defines their
address and their signature (issue 18's endpoints read them with :func:`read_click` and
:func:`read_open`).

- click: ``{public_base_url}/t/c/<token>`` — redirects to the original address;
- open: ``{public_base_url}/t/o/<token>.gif`` — a 1×1 image;
- survey: ``{public_base_url}/s/<token>`` — a questionnaire for one person, from one message
  (``c<communication id>|<survey code>``) or handed out directly (``p<person id>|<code>``);
- RSVP: ``{public_base_url}/e/r/<token>`` — an event invitation's answer page (public);
- check-in: ``{public_base_url}/e/c/<token>`` — the invitation's QR code at the door (staff).

A token is ``<payload>.<signature>``, both base64url without padding. The payload is
``<communication id>`` (open) or ``<communication id>|<target URL>`` (click), so a click
resolves without a lookup and a forged target cannot pass: the signature is the first
16 bytes of HMAC-SHA256 keyed with ``settings.secret_key`` over a purpose prefix and the
payload (a click token is refused as an open token and the other way round). Tokens do not
expire: a message read a year later still leads where it said. A token costs about 2 µs to
make (the signing key is derived once per process), against about 80 µs for an itsdangerous
token: a campaign email carries several.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from closedloop.consent import TokenInvalid
from closedloop.settings import get_settings

CLICK_PATH = "/t/c/"
OPEN_PATH = "/t/o/"
SURVEY_PATH = "/s/"
RSVP_PATH = "/e/r/"
CHECKIN_PATH = "/e/c/"
_SIG_BYTES = 16


@dataclass(frozen=True)
class TrackedClick:
    """What a click token says: which message, and where the link leads."""

    communication_id: int
    url: str


@lru_cache(maxsize=4)
def _mac(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(kind: bytes, payload: bytes) -> str:
    mac = _mac(get_settings().resolved_secret_key()).copy()
    mac.update(kind + b"\0" + payload)
    return _b64(mac.digest()[:_SIG_BYTES])


def _make(kind: bytes, payload: bytes) -> str:
    return _b64(payload) + "." + _sign(kind, payload)


def _read(kind: bytes, token: str) -> bytes:
    head, _, sig = token.partition(".")
    if not head or not sig or len(token) > 4000:
        raise TokenInvalid("This link is not valid.")
    try:
        payload = _unb64(head)
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("This link is not valid.") from exc
    if not hmac.compare_digest(sig, _sign(kind, payload)):
        raise TokenInvalid("This link is not valid.")
    return payload


def click_token(communication_id: int, url: str) -> str:
    """The signed token of a link to ``url`` in message ``communication_id``."""
    return _make(b"click", f"{communication_id}|{url}".encode())


def open_token(communication_id: int) -> str:
    """The signed token of message ``communication_id``'s open pixel."""
    return _make(b"open", str(communication_id).encode())


def click_url(communication_id: int, url: str, base_url: str | None = None) -> str:
    """The tracked address that redirects to ``url``."""
    base = (base_url or get_settings().public_base_url).rstrip("/")
    return base + CLICK_PATH + click_token(communication_id, url)


def open_url(communication_id: int, base_url: str | None = None) -> str:
    """The address of the open pixel."""
    base = (base_url or get_settings().public_base_url).rstrip("/")
    return base + OPEN_PATH + open_token(communication_id) + ".gif"


def read_click(token: str) -> TrackedClick:
    """The message and target of a click token; :class:`TokenInvalid` when forged."""
    payload = _read(b"click", token).decode("utf-8", "replace")
    ident, sep, url = payload.partition("|")
    if not sep or not ident.isdigit() or not url.startswith(("http://", "https://")):
        raise TokenInvalid("This link is not valid.")
    return TrackedClick(int(ident), url)


def read_open(token: str) -> int:
    """The message id of an open token (with or without ``.gif``); :class:`TokenInvalid`."""
    payload = _read(b"open", token.removesuffix(".gif")).decode("ascii", "replace")
    if not payload.isdigit():
        raise TokenInvalid("This link is not valid.")
    return int(payload)


@dataclass(frozen=True)
class SurveyLink:
    """What a survey token says: the survey, and the message or the person it was for."""

    code: str
    communication_id: int | None
    person_id: int | None


def survey_token(
    code: str, *, communication_id: int | None = None, person_id: int | None = None
) -> str:
    """The signed token of survey ``code`` for a message (or, without one, a person)."""
    if communication_id is None and person_id is None:
        raise ValueError("a survey link names a message or a person")
    who = f"c{communication_id}" if communication_id is not None else f"p{person_id}"
    return _make(b"survey", f"{who}|{code}".encode())


def survey_url(
    code: str,
    *,
    communication_id: int | None = None,
    person_id: int | None = None,
    base_url: str | None = None,
) -> str:
    """The address of survey ``code``'s page for a message or a person."""
    base = (base_url or get_settings().public_base_url).rstrip("/")
    token = survey_token(code, communication_id=communication_id, person_id=person_id)
    return base + SURVEY_PATH + token


def read_survey(token: str) -> SurveyLink:
    """The survey and message (or person) of a survey token; :class:`TokenInvalid`."""
    payload = _read(b"survey", token).decode("utf-8", "replace")
    who, sep, code = payload.partition("|")
    if not sep or not code or len(who) < 2 or who[0] not in "cp" or not who[1:].isdigit():
        raise TokenInvalid("This link is not valid.")
    ident = int(who[1:])
    if who[0] == "c":
        return SurveyLink(code, ident, None)
    return SurveyLink(code, None, ident)


def _invitation_url(kind: bytes, path: str, communication_id: int, base_url: str | None) -> str:
    base = (base_url or get_settings().public_base_url).rstrip("/")
    return base + path + _make(kind, str(communication_id).encode())


def _read_invitation(kind: bytes, token: str) -> int:
    payload = _read(kind, token).decode("ascii", "replace")
    if not payload.isdigit():
        raise TokenInvalid("This link is not valid.")
    return int(payload)


def rsvp_url(communication_id: int, answer: str | None = None, base_url: str | None = None) -> str:
    """The address of invitation ``communication_id``'s answer page (``answer`` preselects
    yes, no or maybe: the page still asks to confirm, so a mail scanner that follows the
    link answers nothing)."""
    url = _invitation_url(b"rsvp", RSVP_PATH, communication_id, base_url)
    return url + (f"?answer={answer}" if answer else "")


def read_rsvp(token: str) -> int:
    """The invitation (message id) of an RSVP token; :class:`TokenInvalid` when forged."""
    return _read_invitation(b"rsvp", token)


def checkin_url(communication_id: int, base_url: str | None = None) -> str:
    """The address a staff member opens (the QR code of the invitation) to check its guest
    in; a check-in token is refused as an RSVP token and the other way round."""
    return _invitation_url(b"checkin", CHECKIN_PATH, communication_id, base_url)


def read_checkin(token: str) -> int:
    """The invitation (message id) of a check-in token; :class:`TokenInvalid` when forged."""
    return _read_invitation(b"checkin", token)
