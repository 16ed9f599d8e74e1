"""Plugin hooks of the channels domain (job handlers)."""

from __future__ import annotations

import smtplib
from typing import Any

from closedloop.channels.email import SEND_KIND, EmailChannel, OutgoingEmail
from closedloop.errors import Refused
from closedloop.hookspecs import hookimpl
from closedloop.jobs.service import JobContext


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
    except smtplib.SMTPRecipientsRefused as exc:
        raise Refused(f"The SMTP server refused the recipient: {exc.recipients}") from exc
    ctx.forget_payload()
    return {"message_id": message_id, "tags": message.tags}


@hookimpl
def job_handlers() -> dict[str, Any]:
    """The channels' job kinds."""
    return {SEND_KIND: send_email}
