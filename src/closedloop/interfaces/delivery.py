"""Sending webhook deliveries: signed POSTs, every attempt logged, retries with backoff.

The ``webhooks.deliver`` job of an endpoint claims its due deliveries (a conditional UPDATE:
two workers never send the same delivery at once), POSTs each one with httpx, logs the
attempt (status code, response excerpt, duration, error) and then marks the delivery
``delivered`` (2xx), ``pending`` with its next attempt time (1 min, 5 min, 30 min, 2 h, 12 h,
stretched by a random jitter; ``CLOSEDLOOP_WEBHOOK_RETRY_SCHEDULE``) or ``failed`` when the
attempts are spent. At the end the job queues its own successor for the earliest retry.

Signature: ``Closedloop-Signature: v1=<hex HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed
with the endpoint's secret (and a second ``v1=`` with the previous secret during the grace
period after a rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from closedloop.db.base import as_utc, utcnow
from closedloop.db.uow import unit_of_work
from closedloop.interfaces import outbox, targets
from closedloop.interfaces.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from closedloop.interfaces.settings import get_interfaces_settings

if TYPE_CHECKING:  # httpx loads when a delivery is sent, not with the job handlers
    import httpx

#: Deliveries claimed at once; a job sends at most MAX_PER_RUN before handing over.
CLAIM = 50
MAX_PER_RUN = 1000
EXCERPT = 2000
USER_AGENT = "closedloop-webhooks/1"


def sign(secret: str, event_id: str, timestamp: int, body: str) -> str:
    """``v1=<hex HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the secret>``."""
    message = f"{event_id}.{timestamp}.{body}".encode()
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signatures(endpoint: WebhookEndpoint, event_id: str, timestamp: int, body: str) -> str:
    """The signature header: the current secret's, then the previous one's while valid."""
    out = [sign(endpoint.secret, event_id, timestamp, body)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and as_utc(expires) > utcnow():
        out.append(sign(endpoint.previous_secret, event_id, timestamp, body))
    return " ".join(out)


def retry_delay(attempt: int) -> float | None:
    """Seconds before the attempt after number ``attempt`` failed; None when spent."""
    settings = get_interfaces_settings()
    schedule = settings.webhook_retry_schedule
    if attempt > len(schedule):
        return None
    return schedule[attempt - 1] * (1 + random.random() * settings.webhook_jitter)


def _due(endpoint_id: int, now: datetime) -> Any:
    return and_(
        WebhookDelivery.endpoint_id == endpoint_id,
        or_(
            and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
            and_(WebhookDelivery.status == "sending", WebhookDelivery.claimed_until < now),
        ),
    )


def _claim(factory: sessionmaker[Session], endpoint_id: int) -> list[int]:
    now = utcnow()
    lease = now + timedelta(seconds=get_interfaces_settings().webhook_timeout_seconds * 3 + 30)
    with unit_of_work(factory) as session:
        active = session.scalar(
            select(WebhookEndpoint.is_active).where(WebhookEndpoint.id == endpoint_id)
        )
        if not active:
            return []
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(_due(endpoint_id, now))
                .order_by(WebhookDelivery.id)
                .limit(CLAIM)
            )
        )
        if not ids:
            return []
        got = session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), _due(endpoint_id, now))
            .values(status="sending", claimed_until=lease)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(got)


class Outcome(NamedTuple):
    """What one POST gave: the answer's status, an excerpt of its body (None for an internal
    target), its size in bytes, or the error; and how long it took."""

    status_code: int | None
    excerpt: str | None
    size: int | None
    error: str | None
    duration_ms: int


def _post(client: httpx.Client, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> Outcome:
    """One POST to the address checked just before (:mod:`closedloop.interfaces.targets`)."""
    try:
        target = targets.check(endpoint.url)
    except targets.TargetRefused as exc:
        return Outcome(None, None, None, f"refused: {exc}"[:500], 0)
    import httpx

    timestamp = int(time.time())
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Closedloop-Webhook-Id": delivery.event_id,
        "Closedloop-Webhook-Timestamp": str(timestamp),
        "Closedloop-Signature": signatures(endpoint, delivery.event_id, timestamp, delivery.body),
    }
    extensions = {"sni_hostname": target.server_name} if target.server_name else None
    started = time.perf_counter()
    try:
        response = client.post(
            target.url, content=delivery.body.encode(), headers=headers, extensions=extensions
        )
    except httpx.HTTPError as exc:
        spent = int((time.perf_counter() - started) * 1000)
        return Outcome(None, None, None, f"{type(exc).__name__}: {exc}"[:500], spent)
    spent = int((time.perf_counter() - started) * 1000)
    # An internal service's answer may hold what it should not show: keep only its size.
    excerpt = None if target.internal else response.text[:EXCERPT]
    return Outcome(response.status_code, excerpt, len(response.content), None, spent)


def _record(
    factory: sessionmaker[Session], delivery_id: int, started: datetime, outcome: Outcome
) -> str:
    code, excerpt, error = outcome.status_code, outcome.excerpt, outcome.error
    ok = code is not None and 200 <= code < 300
    with unit_of_work(factory) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        session.execute(
            insert(WebhookAttempt),
            [
                {
                    "delivery_id": delivery_id,
                    "attempt_no": delivery.attempts,
                    "started_at": started,
                    "duration_ms": outcome.duration_ms,
                    "status_code": code,
                    "response_excerpt": excerpt,
                    "response_size": outcome.size,
                    "error": error or (None if ok else f"HTTP {code}"),
                    "succeeded": ok,
                }
            ],
        )
        delivery.last_status_code, delivery.claimed_until = code, None
        delivery.last_error = None if ok else (error or f"HTTP {code}")
        if ok:
            delivery.status, delivery.delivered_at = "delivered", utcnow()
            return "delivered"
        delay = retry_delay(delivery.attempts)
        if delay is None:
            delivery.status = "failed"
            return "failed"
        delivery.status = "pending"
        delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
        return "retry"


def deliver(ctx: Any) -> dict[str, Any]:
    """Job handler of ``webhooks.deliver``: send the endpoint's due deliveries."""
    import httpx

    endpoint_id = int(ctx.payload["endpoint_id"])
    factory: sessionmaker[Session] = ctx.factory
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    settings = get_interfaces_settings()
    with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
        while sum(counts.values()) < MAX_PER_RUN:
            ids = _claim(factory, endpoint_id)
            if not ids:
                break
            with factory() as session:
                endpoint = session.get(WebhookEndpoint, endpoint_id)
                deliveries = [session.get(WebhookDelivery, i) for i in ids]
            assert endpoint is not None
            for delivery in deliveries:
                assert delivery is not None
                started = utcnow()
                outcome = _post(client, endpoint, delivery)
                counts[_record(factory, delivery.id, started, outcome)] += 1
    _follow_up(factory, endpoint_id)
    return {"endpoint_id": endpoint_id, **counts}


def _follow_up(factory: sessionmaker[Session], endpoint_id: int) -> None:
    """Queue the next run of this endpoint's job at its earliest pending delivery."""
    with unit_of_work(factory) as session:
        if not session.scalar(
            select(WebhookEndpoint.is_active).where(WebhookEndpoint.id == endpoint_id)
        ):
            return
        earliest = session.scalar(
            select(func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending"
            )
        )
        if earliest is None:
            return
        when = as_utc(earliest)
        outbox.schedule(session, [endpoint_id], run_after=when if when > utcnow() else None)
