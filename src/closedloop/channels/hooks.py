"""Plugin hooks of the channels domain: the built-in channels and the ``email.send`` job."""

from __future__ import annotations

from typing import Any

from closedloop.channels.base import ChannelUnavailable
from closedloop.channels.email import SEND_KIND, EmailChannel, OutgoingEmail
from closedloop.hookspecs import hookimpl
from closedloop.jobs.service import JobContext, Retry, backoff_seconds


def send_email(ctx: JobContext) -> dict[str, Any]:
    """Job ``email.send``: send the message in the payload through the configured SMTP server.

    A refused recipient fails the job at once (retrying cannot help); a lost connection or a
    temporary SMTP error is retried with backoff by the job runner. Once sent, the message
    (address, text, signed links) is cleared from the job; its result keeps the message id
    and tags.
    """
    message = OutgoingEmail.from_payload(ctx.payload)
    try:
        message_id = EmailChannel.from_settings().send(message)
    except ChannelUnavailable as exc:
        raise Retry(exc.detail, backoff_seconds(ctx.attempts)) from exc
    ctx.forget_payload()
    return {"message_id": message_id, "tags": message.tags}


@hookimpl
def job_handlers() -> dict[str, Any]:
    """The channels' job kinds."""
    return {SEND_KIND: send_email}


def _sms() -> Any:
    from closedloop.channels.sms import SmsChannel

    return SmsChannel.from_settings()


def _letter() -> Any:
    from closedloop.channels.letter import LetterChannel  # loads fpdf2: only when used

    return LetterChannel.from_settings()


@hookimpl
def channel_types() -> dict[str, Any]:
    """The built-in channels: email over SMTP, SMS over an HTTP provider, letters as PDF."""
    return {EmailChannel.name: EmailChannel.from_settings, "sms": _sms, "letter": _letter}
