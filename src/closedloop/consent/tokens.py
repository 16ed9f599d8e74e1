"""Signed, expiring tokens for the public pages (sign-up confirmation, preference centre).

A token is an itsdangerous signature over a small JSON payload and the time it was issued,
keyed with ``settings.secret_key``. Each purpose has its own salt, so a token made for one
purpose (a preference link) is refused for another (a confirmation), and its own lifetime.
Nothing is stored: a token is valid while its signature and age are.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from closedloop.errors import DomainError
from closedloop.settings import get_settings

DAY = 24 * 3600


class TokenPurpose(StrEnum):
    """What a token opens; the value is part of its salt."""

    SIGNUP_CONFIRM = "signup-confirm"
    PREFERENCES = "preferences"
    EMAIL_CHANGE = "email-change"
    FORM_TICKET = "form-ticket"


#: How long a token of each purpose stays valid, in seconds.
MAX_AGE: dict[TokenPurpose, int] = {
    TokenPurpose.SIGNUP_CONFIRM: 7 * DAY,
    TokenPurpose.PREFERENCES: 180 * DAY,
    TokenPurpose.EMAIL_CHANGE: 2 * DAY,
    TokenPurpose.FORM_TICKET: 1 * DAY,
}


class TokenInvalid(DomainError):
    """The token was altered, made for another purpose, or is not a token at all."""

    status = 400
    title = "Invalid link"


class TokenExpired(DomainError):
    """The token is genuine but older than its purpose allows."""

    status = 410
    title = "Expired link"


def _serializer(purpose: TokenPurpose, issued_at: datetime | None = None) -> URLSafeTimedSerializer:
    signer: type[TimestampSigner] = TimestampSigner
    if issued_at is not None:
        stamp = int(issued_at.timestamp())

        class _IssuedAt(TimestampSigner):
            def get_timestamp(self) -> int:
                return stamp

        signer = _IssuedAt
    secret = get_settings().resolved_secret_key()
    return URLSafeTimedSerializer(secret, salt=f"closedloop.{purpose.value}", signer=signer)


def make_token(
    purpose: TokenPurpose, data: dict[str, Any], *, issued_at: datetime | None = None
) -> str:
    """A URL-safe token carrying ``data`` for ``purpose``; ``issued_at`` defaults to now."""
    token = _serializer(purpose, issued_at).dumps(data)
    return str(token)


def read_token(purpose: TokenPurpose, token: str, *, max_age: int | None = None) -> dict[str, Any]:
    """The payload of a genuine, unexpired ``token`` of ``purpose``.

    Raises :class:`TokenInvalid` (400) for a tampered or foreign token and
    :class:`TokenExpired` (410) for one older than the purpose's lifetime.
    """
    age = MAX_AGE[purpose] if max_age is None else max_age
    if not token or len(token) > 2000:
        raise TokenInvalid("This link is not valid.")
    try:
        data = _serializer(purpose).loads(token, max_age=age)
    except SignatureExpired as exc:
        raise TokenExpired("This link has expired.") from exc
    except BadSignature as exc:
        raise TokenInvalid("This link is not valid.") from exc
    if not isinstance(data, dict):
        raise TokenInvalid("This link is not valid.")
    return data


def token_age_seconds(purpose: TokenPurpose, token: str) -> float:
    """How old a genuine token is (seconds); :class:`TokenInvalid` otherwise."""
    try:
        _data, issued = _serializer(purpose).loads(token, max_age=None, return_timestamp=True)
    except BadSignature as exc:
        raise TokenInvalid("This link is not valid.") from exc
    return time.time() - float(issued.timestamp())
