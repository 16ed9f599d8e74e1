"""The SMS provider's callbacks: delivery reports and replies (STOP withdraws at once).

Providers post their callbacks in their own shapes; the usual field names are read (JSON or
form bodies): the message reference (``reference``, ``client_ref``, ``message_id``, ``id``,
``MessageSid``…), a delivery status (``status``, ``MessageStatus``, ``dlr_status``…) and,
for a reply, the sender's number (``from``, ``From``, ``msisdn``) and its text (``text``,
``Body``, ``message``).

- A delivery report is a ``delivery`` response of the message (our reference ``cl-<wave>-<id>``
  or the provider's id recorded at sending); the message becomes ``delivered`` or ``failed``.
  A report that comes before the send recorded its reference is kept and applied when it is.
- A reply whose first word is a stop word (``CLOSEDLOOP_SMS_STOP_WORDS``) withdraws every SMS
  consent of the persons with that number at once and is an ``unsubscribe`` response; any
  other reply is a ``reply`` response of the last text sent to the number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.campaigns.models import Communication
from closedloop.consent.preferences import withdraw_all
from closedloop.contacts.models import Phone
from closedloop.contacts.normalize import normalize_phone
from closedloop.errors import ValidationFailed
from closedloop.responses.capture import Reaction, link_pending, now, record
from closedloop.responses.models import Response
from closedloop.responses.settings import get_response_settings
from closedloop.vocab import Channel, CommunicationStatus, ConsentMethod, ResponseKind

REF_FIELDS = (
    "reference",
    "client_ref",
    "clientReference",
    "message_id",
    "messageId",
    "MessageSid",
    "SmsSid",
    "id",
)
STATUS_FIELDS = ("status", "MessageStatus", "SmsStatus", "dlr_status", "state")
FROM_FIELDS = ("from", "From", "msisdn", "sender", "originator")
TEXT_FIELDS = ("text", "Body", "body", "message", "content")
DELIVERED = {"delivered", "delivrd", "success", "ok", "received", "read"}
FAILED = {
    "failed",
    "undelivered",
    "undeliv",
    "expired",
    "rejected",
    "rejectd",
    "error",
    "unknown_subscriber",
}
_OURS = re.compile(r"^cl-\d+-(\d+)$")


@dataclass(frozen=True)
class CallbackResult:
    """What a callback was and did."""

    kind: str  # delivery, stop, reply, ignored
    status: str | None = None
    withdrawn: int = 0
    applied: int = 0


def _field(data: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = data.get(name)
        if value not in (None, ""):
            return str(value).strip()[:200]
    return None


def _status(value: str) -> str | None:
    low = value.lower()
    if low in DELIVERED:
        return CommunicationStatus.DELIVERED.value
    if low in FAILED:
        return CommunicationStatus.FAILED.value
    return None


def apply_delivery_reports(session: Session) -> int:
    """Set the status of messages whose delivery reports are linked and not applied yet."""
    rows = session.execute(
        select(Response.id, Response.communication_id, Response.detail).where(
            Response.kind == ResponseKind.DELIVERY.value,
            Response.communication_id.is_not(None),
        )
    ).all()
    done = 0
    for rid, comm, detail in rows:
        if not isinstance(detail, dict) or detail.get("applied"):
            continue
        status = detail.get("status")
        if status:
            with counters.tracking_messages(session, [comm]):
                session.execute(
                    update(Communication)
                    .where(
                        Communication.id == comm,
                        Communication.status.in_(["sent", "sending", "unconfirmed", "delivered"]),
                    )
                    .values(status=status)
                )
        session.execute(
            update(Response).where(Response.id == rid).values(detail={**detail, "applied": True})
        )
        done += 1
    return done


def _delivery(session: Session, ref: str, raw_status: str) -> CallbackResult:
    status = _status(raw_status)
    ours = _OURS.match(ref)
    comm = int(ours.group(1)) if ours else None
    reaction = Reaction(
        kind=ResponseKind.DELIVERY.value,
        occurred_at=now(),
        communication_id=comm,
        ref=None if comm else ref,
        dedupe=f"{raw_status.lower()}",
        detail={"status": status, "provider_status": raw_status, "reference": ref},
        source_system="sms",
    )
    record(session, [reaction])
    link_pending(session)
    return CallbackResult("delivery", status, applied=apply_delivery_reports(session))


def _reply(session: Session, sender: str, text: str) -> CallbackResult:
    try:
        number = normalize_phone(sender if sender.startswith("+") else "+" + sender, None)
    except ValueError as exc:
        raise ValidationFailed(
            "The reply's sender is not a phone number.",
            errors=[{"field": "from", "message": str(exc)}],
        ) from exc
    found = session.scalars(select(Phone.person_id).where(Phone.e164 == number))
    people = [pid for pid in dict.fromkeys(found) if pid is not None]
    last = session.scalar(
        select(Communication.id)
        .where(Communication.channel == Channel.SMS.value, Communication.recipient == number)
        .order_by(Communication.id.desc())
        .limit(1)
    )
    words = get_response_settings().sms_stop_words.upper().split(",")
    first = (text.strip().split() or [""])[0].strip(".!").upper()
    stop = first in {w.strip() for w in words if w.strip()}
    withdrawn = 0
    if stop:
        for pid in people:
            withdrawn += len(
                withdraw_all(
                    session,
                    pid,
                    method=ConsentMethod.SMS_STOP,
                    action=f"replied {first} to a text message from {number}",
                    channel=Channel.SMS,
                )
            )
    if last is None and not people:
        return CallbackResult("ignored", withdrawn=withdrawn)
    kind = ResponseKind.UNSUBSCRIBE.value if stop else ResponseKind.REPLY.value
    record(
        session,
        [
            Reaction(
                kind=kind,
                occurred_at=now(),
                communication_id=last,
                person_id=None if last else people[0],
                detail={"from": number, "text": text[:500]},
                source_system="sms",
            )
        ],
    )
    return CallbackResult("stop" if stop else "reply", withdrawn=withdrawn)


def handle_callback(session: Session, data: Mapping[str, Any]) -> CallbackResult:
    """Act on one provider callback (a delivery report or a reply); the caller commits."""
    sender, text = _field(data, FROM_FIELDS), _field(data, TEXT_FIELDS)
    if sender and text is not None:
        return _reply(session, sender, text)
    ref, status = _field(data, REF_FIELDS), _field(data, STATUS_FIELDS)
    if ref and status:
        return _delivery(session, ref, status)
    raise ValidationFailed(
        "The callback is neither a delivery report nor a reply.",
        errors=[
            {"field": "reference", "message": "a delivery report needs a reference and a status"},
            {"field": "from", "message": "a reply needs the sender and the text"},
        ],
    )
