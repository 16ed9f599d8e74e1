"""Act on inbound mail: bounces suppress addresses, replies become responses.

:func:`receive` takes one message as received (by ``closedloop responses inbound-smtp`` or
read from a mailbox with ``closedloop responses read-mailbox``) and:

- a bounce: records a ``bounce`` response per failed recipient against the communication its
  Message-ID names (or the last email sent to the address), marks the communication
  ``bounced``, and suppresses the address for email — at once for a hard bounce, after
  ``soft_bounce_limit`` soft ones;
- a reply to one of our messages: a ``reply`` response (an auto-reply is recorded as a
  machine's, ``auto_reply``);
- anything else is left alone.

Receiving the same message twice changes nothing more (its own Message-ID makes the
responses the same ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns import counters
from closedloop.campaigns.models import Communication
from closedloop.consent.models import Suppression
from closedloop.responses import dsn
from closedloop.responses.capture import Reaction, now, record
from closedloop.responses.models import Response
from closedloop.responses.settings import get_response_settings
from closedloop.vocab import Channel, CommunicationStatus, ResponseKind, SuppressionReason


@dataclass
class Received:
    """What :func:`receive` did with a message."""

    kind: str
    mta: str = ""
    recorded: int = 0
    suppressed: list[str] = field(default_factory=list)
    failures: list[dsn.Failure] = field(default_factory=list)


def _key(address: str) -> str:
    return address.strip().casefold()


def _last_email_to(session: Session, address: str) -> int | None:
    return session.scalar(
        select(Communication.id)
        .where(
            Communication.channel == Channel.EMAIL.value,
            Communication.recipient.in_([address, address.lower()]),
        )
        .order_by(Communication.sent_at.desc().nulls_last(), Communication.id.desc())
        .limit(1)
    )


def _message(session: Session, message_id: str | None) -> int | None:
    if not message_id:
        return None
    bare = message_id.strip().strip("<>")
    return session.scalar(
        select(Communication.id)
        .where(Communication.external_ref.in_([message_id, f"<{bare}>", bare]))
        .limit(1)
    )


def _suppressed(session: Session, key: str) -> bool:
    return (
        session.scalar(
            select(Suppression.id)
            .where(
                Suppression.value_key == key,
                (Suppression.channel == Channel.EMAIL.value) | Suppression.channel.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def _soft_count(session: Session, address: str, comm: int | None) -> int:
    """Soft bounces of ``address``: among the bounces of the person its message went to (or,
    for a message not known, among the bounces waiting for their message) — an indexed read
    of a few rows, never a scan of every bounce."""
    person = (
        session.scalar(select(Communication.person_id).where(Communication.id == comm))
        if comm is not None
        else None
    )
    who = Response.person_id == person if person is not None else Response.person_id.is_(None)
    rows = session.scalars(
        select(Response.detail).where(who, Response.kind == ResponseKind.BOUNCE.value)
    ).all()
    key = _key(address)
    return sum(
        1
        for d in rows
        if isinstance(d, dict)
        and d.get("severity") == dsn.SOFT
        and _key(d.get("address", "")) == key
    )


def _suppress(session: Session, address: str, note: str) -> bool:
    key = _key(address)
    if _suppressed(session, key):
        return False
    session.add(
        Suppression(
            value_key=key,
            channel=Channel.EMAIL.value,
            reason=SuppressionReason.BOUNCED.value,
            note=note[:500],
            source_system="bounces",
        )
    )
    session.flush()
    return True


def _bounce(session: Session, info: dsn.Inbound, done: Received) -> None:
    at = now()
    by_id = _message(session, info.original_message_id)
    for failure in info.failures:
        comm = by_id or _last_email_to(session, failure.address)
        detail = {
            "address": failure.address,
            "severity": failure.severity,
            "status": failure.status,
            "diagnostic": (failure.diagnostic or "")[:500] or None,
            "mta": info.mta,
        }
        reaction = Reaction(
            kind=ResponseKind.BOUNCE.value,
            occurred_at=at,
            communication_id=comm,
            ref=None if comm else (info.original_message_id or f"to:{_key(failure.address)}"),
            dedupe=f"{info.message_id or ''}|{_key(failure.address)}",
            detail=detail,
            source_system="bounces",
        )
        done.recorded += len(record(session, [reaction]))
        if comm is not None:
            row = session.get(Communication, comm)
            if row is not None and row.status != CommunicationStatus.BOUNCED.value:
                with counters.tracking_messages(session, [comm]):
                    row.status = CommunicationStatus.BOUNCED.value
                    row.detail = f"{failure.severity} bounce {failure.status or ''}".strip()[:500]
        limit = get_response_settings().soft_bounce_limit
        hard = failure.severity == dsn.HARD
        if hard or _soft_count(session, failure.address, comm) >= limit:
            why = (
                f"hard bounce {failure.status or ''}: {failure.diagnostic or ''}"
                if hard
                else f"{limit} soft bounces, the last {failure.status or ''}"
            )
            if _suppress(session, failure.address, why.strip()):
                done.suppressed.append(failure.address)
        session.flush()


def receive(session: Session, raw: bytes) -> Received:
    """Act on one inbound message (see the module); the caller commits."""
    info = dsn.read(raw)
    done = Received(info.kind, info.mta, failures=list(info.failures))
    if info.kind == "bounce":
        _bounce(session, info, done)
    elif info.kind in ("reply", "auto_reply"):
        comm = _message(session, info.original_message_id)
        if comm is None:
            done.kind = "other"
            return done
        reaction = Reaction(
            kind=ResponseKind.REPLY.value,
            occurred_at=now(),
            communication_id=comm,
            dedupe=info.message_id or "",
            machine="auto_reply" if info.kind == "auto_reply" else None,
            detail={"from": info.sender, "subject": info.subject},
            source_system="inbound",
        )
        done.recorded += len(record(session, [reaction]))
    return done
