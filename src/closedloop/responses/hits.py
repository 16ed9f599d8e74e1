"""Opens and clicks of tracked emails: from a request's facts to stored responses.

The tracking pages (:mod:`closedloop.web.routes.tracking`) read the signed token
(:mod:`closedloop.campaigns.tracking`), answer at once, and hand a :class:`Hit` to the
:class:`~closedloop.responses.collector.Collector`; :func:`store_hits` classifies each hit
as the person's or a machine's (:mod:`.bots`) — which needs the message's send time — and
records it (:mod:`.capture`): one row per message and link, the repeats counted in ``hits``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Communication
from closedloop.db.base import as_utc
from closedloop.responses import bots
from closedloop.responses.capture import Reaction, Target, link_pending, record, targets
from closedloop.responses.models import Response
from closedloop.responses.settings import get_response_settings
from closedloop.vocab import ResponseKind

_CLICK, _OPEN = ResponseKind.CLICK.value, ResponseKind.OPEN.value


@dataclass(frozen=True)
class Hit:
    """One request for a tracked address: an open (``url`` None) or a click."""

    communication_id: int
    at: datetime
    url: str | None = None
    method: str = "GET"
    ip: str | None = None
    agent: str | None = None

    @property
    def kind(self) -> str:
        return _CLICK if self.url is not None else _OPEN


@dataclass(frozen=True)
class Stored:
    """What a write did: responses new and hits counted, pending linked, gone dropped."""

    new: int
    hits: int
    linked: int
    dropped: int


def _scanner_bursts(session: Session, hits: Sequence[Hit], window: float, links: int) -> set[int]:
    """Indexes of clicks that are one of ``links`` different links of a message clicked
    within ``window`` seconds (this batch and the clicks already stored)."""
    clicks = [(i, h) for i, h in enumerate(hits) if h.url is not None]
    by_comm: dict[int, list[tuple[datetime, str, int | None]]] = {}
    for i, h in clicks:
        digest = hashlib.sha256((h.url or "").encode()).hexdigest()[:24]
        by_comm.setdefault(h.communication_id, []).append((as_utc(h.at), digest, i))
    several = {c for c, v in by_comm.items() if len({u for _, u, _ in v}) > 1}
    if not by_comm:
        return set()
    oldest = min(as_utc(h.at) for _, h in clicks) - timedelta(seconds=window)
    for comm, key, at in session.execute(
        select(Response.communication_id, Response.dedupe_key, Response.last_at).where(
            Response.kind == ResponseKind.CLICK.value,
            Response.communication_id.in_(list(by_comm)),
            Response.last_at >= oldest,
        )
    ):
        if comm is None or at is None:
            continue
        by_comm[comm].append((as_utc(at), (key or "").rsplit(":", 1)[-1], None))
        several.add(comm)
    flagged: set[int] = set()
    span = timedelta(seconds=window)
    for comm in several:
        events = by_comm[comm]
        for at, _url, index in events:
            if index is None:
                continue
            near = {u for t, u, _ in events if abs(t - at) <= span}
            if len(near) >= links:
                flagged.add(index)
    return flagged


def _reaction(hit: Hit, target: Target | None, burst: bool, scanner_seconds: float) -> Reaction:
    if hit.url is None:
        machine = bots.open_machine(hit.ip, hit.agent)
        if hit.method.upper() == "HEAD":
            machine = bots.HEAD
    else:
        sent = as_utc(target.sent_at) if target and target.sent_at else None
        machine = bots.click_machine(
            hit.method, hit.ip, hit.agent, as_utc(hit.at), sent, scanner_seconds
        ) or (bots.SCANNER if burst else None)
    detail = {"url": hit.url} if hit.url is not None else None
    return Reaction(
        kind=hit.kind,
        occurred_at=hit.at,
        communication_id=hit.communication_id,
        dedupe=hit.url or "",
        machine=machine,
        detail=detail,
        source_system="tracking",
    )


def store_hits(session: Session, hits: Sequence[Hit]) -> Stored:
    """Classify and record ``hits``; messages that existed and are gone (their person was
    deleted or erased) are dropped, messages not recorded yet are kept pending."""
    if not hits:
        return Stored(0, 0, link_pending(session), 0)
    s = get_response_settings()
    probe = [
        Reaction(kind=h.kind, occurred_at=h.at, communication_id=h.communication_id) for h in hits
    ]
    found = targets(session, probe)
    missing = {h.communication_id for h in hits} - {k for k in found if isinstance(k, int)}
    gone: set[int] = set()
    if missing:
        top = session.scalar(select(func.max(Communication.id))) or 0
        gone = {c for c in missing if c <= top}
    bursts = _scanner_bursts(session, hits, s.scanner_window_seconds, s.scanner_links)
    reactions = [
        _reaction(h, found.get(h.communication_id), i in bursts, s.scanner_seconds)
        for i, h in enumerate(hits)
        if h.communication_id not in gone
    ]
    new = record(session, reactions)
    linked = link_pending(session)
    return Stored(len(new), len(reactions), linked, len(hits) - len(reactions))
