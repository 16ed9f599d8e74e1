"""Which synced behaviour events are responses, and how they are announced.

A response is a known person's reaction (:class:`closedloop.vocab.ResponseKind`). Of the
event kinds a shop or an ERP syncs (:data:`closedloop.interfaces.events.KINDS`) two are
responses once their person is known: ``purchase`` (response kind ``purchase``) and
``store_visit`` (``visit``). Views, searches, carts, checkouts, sign-ups and logins are
behaviour, not responses, and anonymous events are nobody's response.

Each such event is announced once through the ``response_recorded`` hook, in the writer's
transaction (the interfaces' own listener queues the ``response.recorded`` webhook in the
outbox): when it is stored as a response, or when a later sync makes it one (names its
person, or changes its kind to a response kind). Later changes of an event already announced
are not announced again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.db.base import as_utc
from closedloop.hookspecs import pm
from closedloop.interfaces.models import InterfaceEvent
from closedloop.vocab import ResponseKind

#: event kind → the response kind it is (when its person is known)
RESPONSE_KINDS = {"purchase": ResponseKind.PURCHASE, "store_visit": ResponseKind.VISIT}
_CHUNK = 1000


def is_response(kind: str | None, person_id: int | None) -> bool:
    """Whether an event of ``kind`` by ``person_id`` (None: anonymous) is a response."""
    return person_id is not None and kind in RESPONSE_KINDS


@dataclass(frozen=True)
class EventResponse:
    """A synced event seen as a response: what the ``response_recorded`` hook receives. It
    is no row of ``responses`` (``id`` is None) and names no campaign: attribution to
    campaigns reads ``interface_events``."""

    interface_event_id: int
    external_id: str
    event_kind: str
    kind: str
    occurred_at: datetime
    source_system: str
    order_id: int | None
    amount: Decimal | None
    currency: str | None
    store: str | None
    id: None = None
    campaign_id: None = None
    communication_id: None = None


def announce(session: Session, event_ids: Iterable[int]) -> int:
    """Call ``response_recorded`` for each event of ``event_ids`` (read from the store, in
    id order); returns how many were announced."""
    ids = sorted(set(event_ids))
    table = InterfaceEvent.__table__
    done = 0
    for start in range(0, len(ids), _CHUNK):
        part = ids[start : start + _CHUNK]
        rows = session.execute(select(table).where(table.c.id.in_(part)).order_by(table.c.id))
        for row in rows:
            if not is_response(row.kind, row.person_id):
                continue
            pm.hook.response_recorded(
                session=session, person_id=int(row.person_id), response=_response(row)
            )
            done += 1
    return done


def _response(row: Any) -> EventResponse:
    return EventResponse(
        interface_event_id=int(row.id),
        external_id=row.external_id,
        event_kind=row.kind,
        kind=RESPONSE_KINDS[row.kind].value,
        occurred_at=as_utc(row.occurred_at),
        source_system=row.source_system,
        order_id=row.order_id,
        amount=row.amount,
        currency=row.currency,
        store=row.store,
    )
