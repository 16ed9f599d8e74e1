"""The webhook outbox: an event becomes one delivery row per subscribed endpoint, written in
the writer's transaction, and a ``webhooks.deliver`` job per endpoint (the job exists exactly
when the write committed).

Writers call :func:`emit` on every person saved, consent changed…, so the question "does
anyone subscribe to this event?" is answered from a per-process cache (refreshed every
``CLOSEDLOOP_WEBHOOK_CACHE_SECONDS``, cleared at once by changes made in this process): when
no endpoint subscribes, an event costs one dictionary lookup and nothing else.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from closedloop.db.base import utcnow
from closedloop.interfaces.models import WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.settings import get_interfaces_settings

EVENT_TYPES = (
    "person.created",
    "person.updated",
    "person.merged",
    "person.unmerged",
    "consent.changed",
    "response.recorded",
)
DELIVER = "webhooks.deliver"
_lock = threading.Lock()
#: database URL → (loaded at, {event type: [endpoint ids]})
_cache: dict[str, tuple[float, dict[str, list[int]]]] = {}


def clear_cache() -> None:
    """Forget the subscriptions (after an endpoint is created, changed or deleted)."""
    with _lock:
        _cache.clear()


def _url(session: Session) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


def subscribers(session: Session, event_type: str) -> list[int]:
    """The ids of the active endpoints subscribed to ``event_type`` (cached)."""
    url = _url(session)
    ttl = get_interfaces_settings().webhook_cache_seconds
    found = _cache.get(url)
    if found is None or time.monotonic() - found[0] > ttl:
        table: dict[str, list[int]] = {}
        rows = session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                WebhookEndpoint.is_active.is_(True)
            )
        ).all()
        for endpoint_id, types in rows:
            for name in types or ():
                table.setdefault(name, []).append(int(endpoint_id))
        found = (time.monotonic(), table)
        with _lock:
            _cache[url] = found
    return found[1].get(event_type, [])


def new_event_id() -> str:
    """A unique event id (``evt_`` and 32 hex digits): the receiver's deduplication key."""
    return "evt_" + uuid.uuid4().hex


def envelope(event_id: str, event_type: str, occurred_at: datetime, data: Any) -> str:
    """The JSON body sent for an event: ``{"id", "type", "occurred_at", "data"}``."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def emit(
    session: Session,
    event_type: str,
    make_data: Callable[[], Iterable[Any]],
    *,
    occurred_at: datetime | None = None,
) -> int:
    """Queue ``event_type`` for every subscribed endpoint: one event per item of
    ``make_data()`` (called only when someone subscribes). Returns the deliveries written."""
    endpoints = subscribers(session, event_type)
    if not endpoints:
        return 0
    when = occurred_at or utcnow()
    rows: list[dict[str, Any]] = []
    for data in make_data():
        event_id = new_event_id()
        body = envelope(event_id, event_type, when, data)
        for endpoint_id in endpoints:
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "event_id": event_id,
                    "event_type": event_type,
                    "occurred_at": when,
                    "body": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": when,
                    "created_at": when,
                }
            )
    if not rows:
        return 0
    session.execute(insert(WebhookDelivery), rows)
    schedule(session, endpoints)
    return len(rows)


def schedule(session: Session, endpoints: Iterable[int], run_after: datetime | None = None) -> None:
    """Enqueue one delivery job per endpoint (once per transaction and endpoint when due now)."""
    from closedloop.jobs.service import enqueue

    tx = session.get_transaction()
    marks = session.info.get("webhooks_scheduled")
    if marks is None or marks[0] is not tx:
        marks = (tx, set())
        session.info["webhooks_scheduled"] = marks
    done: set[int] = marks[1] if run_after is None else set()
    for endpoint_id in endpoints:
        if endpoint_id in done:
            continue
        done.add(endpoint_id)
        enqueue(
            session,
            DELIVER,
            {"endpoint_id": endpoint_id},
            run_after=run_after,
            created_by="webhooks",
            max_attempts=5,
        )
