"""The agents' call desk: the next call of the running phone waves, the call's card, and its
outcome stored as a call response (and survey answers, when the campaign asks some).

The call list is the send ledger of phone cells: a ``queued`` phone message of a running wave
is a call to make. Extraction already applied consent, pressure and the channel's capacity;
the desk adds, at the moment of calling:

- **the agent's day**: at most ``calls_per_agent_per_day`` outcomes per agent and local day;
- **preferred times**: a person whose preferred time (:mod:`.calltimes`) excludes the
  present local hour is left for later; people who said nothing come after those whose
  window is open now;
- **consent now**: a person who withdrew phone consent since extraction is not offered, and
  their message is settled ``suppressed``;
- **one agent per call**: the next call is claimed (``detail`` ``desk:<agent>``, due again
  after ``call_claim_minutes``) by a compare-and-swap, so two agents never get the same one.

An outcome settles the message: ``sent`` once the person was reached; ``call_back`` and
unanswered calls stay ``queued`` until their time (unanswered ones at most
``call_max_attempts`` times, then ``failed``); a wrong number fails the message and marks the
number invalid. The caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from closedloop.campaigns.lifecycle import settle
from closedloop.campaigns.models import Campaign, Communication, Wave
from closedloop.consent.policy import verdicts
from closedloop.contacts.models import Person, Phone
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import Conflict, NotFound, ValidationFailed
from closedloop.responses import calltimes
from closedloop.responses.desk import CallCreate, CallOutcome, record_call
from closedloop.responses.models import Response
from closedloop.responses.settings import get_response_settings
from closedloop.settings import get_settings
from closedloop.vocab import CampaignStatus, Channel, Purpose, ResponseKind
from closedloop.vocab import CommunicationStatus as St

SOURCE = "agent_desk"
#: outcomes after which the person was reached: the message is settled ``sent``
REACHED = {
    CallOutcome.REACHED,
    CallOutcome.INTERESTED,
    CallOutcome.APPOINTMENT,
    CallOutcome.SALE,
    CallOutcome.NOT_INTERESTED,
    CallOutcome.REFUSED,
    CallOutcome.DO_NOT_CALL,
}
UNANSWERED = {CallOutcome.NO_ANSWER, CallOutcome.VOICEMAIL}
_CANDIDATES = 500


def desk_zone() -> ZoneInfo:
    """The desk's local time zone (``CLOSEDLOOP_TIMEZONE``; UTC when unknown)."""
    try:
        return ZoneInfo(get_settings().timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class DeskDay:
    """An agent's day at the desk: outcomes recorded today and the daily capacity."""

    done: int
    capacity: int

    @property
    def full(self) -> bool:
        return self.done >= self.capacity


@dataclass(frozen=True)
class NextCall:
    """The call handed to an agent (``communication_id``), or why there is none."""

    communication_id: int | None
    day: DeskDay
    #: calls due now in the running waves (all agents)
    waiting: int
    #: why no call is offered: ``capacity``, ``empty`` or ``outside_times``
    reason: str | None = None


def _marker(agent: str) -> str:
    return f"desk:{agent}"[:500]


def agent_day(session: Session, agent: str, now: datetime | None = None) -> DeskDay:
    """How many outcomes ``agent`` recorded since local midnight, and the capacity."""
    now = now or utcnow()
    local = as_utc(now).astimezone(desk_zone())
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    details = session.scalars(
        select(Response.detail).where(
            Response.kind == ResponseKind.CALL.value,
            Response.source_system == SOURCE,
            Response.occurred_at >= midnight,
        )
    )
    done = sum(1 for d in details if (d or {}).get("agent") == agent)
    return DeskDay(done, get_response_settings().calls_per_agent_per_day)


def _due(now: datetime):  # type: ignore[no-untyped-def]
    c = Communication
    return (
        select(c.id, c.person_id, c.detail, c.campaign_id)
        .join(Wave, Wave.id == c.wave_id)
        .where(
            c.channel == Channel.PHONE.value,
            c.status == St.QUEUED.value,
            Wave.status == CampaignStatus.RUNNING.value,
            or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        )
    )


def _claim(session: Session, row_id: int, agent: str, now: datetime) -> bool:
    minutes = get_response_settings().call_claim_minutes
    c = Communication
    done = session.execute(
        update(c)
        .where(
            c.id == row_id,
            c.status == St.QUEUED.value,
            or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        )
        .values(detail=_marker(agent), next_attempt_at=now + timedelta(minutes=minutes))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0) == 1)


def held_call(session: Session, agent: str) -> int | None:
    """The call ``agent`` holds already (claimed, not finished)."""
    c = Communication
    return session.scalar(
        select(c.id)
        .join(Wave, Wave.id == c.wave_id)
        .where(
            c.channel == Channel.PHONE.value,
            c.status == St.QUEUED.value,
            c.detail == _marker(agent),
            c.next_attempt_at > utcnow(),
            Wave.status == CampaignStatus.RUNNING.value,
        )
        .order_by(c.id)
        .limit(1)
    )


def waiting(session: Session, now: datetime | None = None) -> int:
    """Calls due now in the running phone waves (counted up to 500)."""
    rows = session.execute(_due(now or utcnow()).limit(_CANDIDATES)).all()
    return len(rows)


def _withdrawn(session: Session, rows: list[tuple[int, int, int | None]]) -> set[int]:
    """Message ids among ``rows`` (id, person, campaign) whose person may no longer be called;
    they are settled ``suppressed`` with the reason."""
    purposes = dict(
        session.execute(
            select(Campaign.id, Campaign.purpose).where(
                Campaign.id.in_({cid for _, _, cid in rows if cid is not None})
            )
        ).all()
    )
    gone: set[int] = set()
    by_purpose: dict[str, list[tuple[int, int]]] = {}
    for rid, pid, cid in rows:
        by_purpose.setdefault(
            (purposes.get(cid) if cid is not None else None) or Purpose.MARKETING.value, []
        ).append((rid, pid))
    for purpose, pairs in by_purpose.items():
        found = verdicts(session, [p for _, p in pairs], Channel.PHONE, Purpose(purpose))
        for rid, pid in pairs:
            verdict = found.get(pid)
            if verdict is not None and not verdict.allowed:
                gone.add(rid)
                session.execute(
                    update(Communication)
                    .where(Communication.id == rid, Communication.status == St.QUEUED.value)
                    .values(status=St.SUPPRESSED.value, detail=verdict.sentence()[:500])
                    .execution_options(synchronize_session=False)
                )
    return gone


def next_call(session: Session, agent: str, *, now: datetime | None = None) -> NextCall:
    """Hand ``agent`` their next call (the one they hold, else a new one claimed for them)."""
    now = now or utcnow()
    day = agent_day(session, agent, now)
    held = held_call(session, agent)
    waiting_rows = session.execute(_due(now).order_by(Communication.id).limit(_CANDIDATES)).all()
    waiting = len(waiting_rows)
    if held is not None:
        return NextCall(held, day, waiting)
    if day.full:
        return NextCall(None, day, waiting, "capacity")
    if not waiting_rows:
        return NextCall(None, day, 0, "empty")
    gone = _withdrawn(session, [(r.id, r.person_id, r.campaign_id) for r in waiting_rows])
    rows = [r for r in waiting_rows if r.id not in gone]
    times = dict(
        session.execute(
            select(Person.id, Person.preferred_time).where(
                Person.id.in_({r.person_id for r in rows})
            )
        ).all()
    )
    local = as_utc(now).astimezone(desk_zone())
    suited = []
    for r in rows:
        wish = calltimes.parse(times.get(r.person_id))
        if wish.allows(local):
            suited.append((0 if wish.restricts else 1, r.id))
    for _rank, row_id in sorted(suited):
        if _claim(session, row_id, agent, now):
            return NextCall(row_id, day, waiting - len(gone))
    return NextCall(None, day, waiting - len(gone), "outside_times" if rows else "empty")


@dataclass(frozen=True)
class CallResult:
    """What an outcome did: its response, the message's new status and, for a call back or
    an unanswered call, when the person is due again."""

    response: Response
    status: str
    due_at: datetime | None = None


def _call_row(session: Session, communication_id: int, agent: str) -> Communication:
    row = session.get(Communication, communication_id)
    if row is None or row.channel != Channel.PHONE.value:
        raise NotFound(f"No call {communication_id}.")
    if row.status != St.QUEUED.value:
        raise Conflict(f"Call {communication_id} is already settled ({row.status}).")
    holder = (
        (row.detail or "").removeprefix("desk:") if (row.detail or "").startswith("desk:") else None
    )
    if (
        holder
        and holder != agent
        and row.next_attempt_at
        and as_utc(row.next_attempt_at) > utcnow()
    ):
        raise Conflict(f"Call {communication_id} is being made by {holder}.")
    return row


def finish_call(
    session: Session,
    communication_id: int,
    agent: str,
    outcome: CallOutcome,
    *,
    note: str | None = None,
    call_back_at: datetime | None = None,
    now: datetime | None = None,
) -> CallResult:
    """Record the outcome of call ``communication_id`` by ``agent`` and settle its message."""
    now = now or utcnow()
    row = _call_row(session, communication_id, agent)
    if outcome is CallOutcome.CALL_BACK:
        if call_back_at is None:
            raise ValidationFailed(
                "When should the person be called back?",
                errors=[{"field": "call_back_at", "message": "required for a call back"}],
            )
        call_back_at = as_utc(call_back_at)
        if call_back_at <= now or call_back_at > now + timedelta(days=90):
            raise ValidationFailed(
                "The call-back time must be in the next 90 days.",
                errors=[{"field": "call_back_at", "message": "not in the next 90 days"}],
            )
    response = record_call(
        session,
        CallCreate(
            person_id=row.person_id,
            outcome=outcome,
            communication_id=row.id,
            note=note,
            occurred_at=now,
        ),
        agent=agent,
    )
    if call_back_at is not None:
        response.detail = {**(response.detail or {}), "call_back_at": call_back_at.isoformat()}
    row.attempts = (row.attempts or 0) + 1
    due: datetime | None = None
    if outcome in REACHED:
        row.status, row.sent_at, row.next_attempt_at = St.SENT.value, now, None
        row.detail = f"{outcome.value} (agent {agent})"[:500]
    elif outcome is CallOutcome.CALL_BACK:
        due = call_back_at
        row.next_attempt_at, row.detail = due, f"call back (agent {agent})"[:500]
    elif outcome in UNANSWERED:
        settings = get_response_settings()
        if row.attempts >= settings.call_max_attempts:
            row.status, row.next_attempt_at = St.FAILED.value, None
            row.detail = f"no answer after {row.attempts} attempts"
        else:
            due = now + timedelta(hours=settings.call_retry_hours)
            row.next_attempt_at, row.detail = due, f"{outcome.value} (agent {agent})"[:500]
    else:  # wrong number
        row.status, row.next_attempt_at = St.FAILED.value, None
        row.detail = f"wrong number (agent {agent})"[:500]
        number = call_number(session, row.person_id)
        if number is not None:
            number.is_valid = False
    session.flush()
    if row.status != St.QUEUED.value and row.campaign_id is not None:
        settle(session, row.campaign_id)  # the wave is completed with its last call
    return CallResult(response, row.status, due)


def call_number(session: Session, person_id: int) -> Phone | None:
    """The number to dial: the person's primary valid phone, else any valid one."""
    return session.scalars(
        select(Phone)
        .where(Phone.person_id == person_id, Phone.is_valid.is_(True))
        .order_by(Phone.is_primary.desc(), Phone.id)
        .limit(1)
    ).first()
