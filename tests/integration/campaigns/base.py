"""Build bases, segments and campaigns for the extraction and coordination tests (real rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from closedloop.campaigns.coordination_models import CampaignTargeting
from closedloop.campaigns.models import Campaign, Cell, Wave
from closedloop.consent.models import Suppression
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Address, Email, Household, Person, Phone, Relationship
from closedloop.scoring.models import PersonScore, ScoreRun
from closedloop.segments import freeze_members
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Spec:
    """One person of a generated base."""

    consent: dict[Channel, str] = field(default_factory=lambda: {Channel.EMAIL: "granted"})
    suppressed: bool = False
    email: bool = True
    phone: bool = False
    household: int | None = None


def add_person(session: Session, n: int, spec: Spec) -> int:
    p = Person(given_name="Ann", family_name=f"Base{n}", language="en")
    session.add(p)
    session.flush()
    if spec.email:
        address = f"base{n}@example.org"
        session.add(Email(person_id=p.id, address=address, address_key=address, is_primary=True))
    if spec.phone:
        session.add(Phone(person_id=p.id, e164=f"+3361100{n:04d}", line_type="mobile",
                          is_primary=True))  # fmt: skip
    session.add(Address(person_id=p.id, line1=f"{n} rue Haute", postal_code="75002",
                        locality="Paris", country="FR", is_primary=True))  # fmt: skip
    for channel, state in spec.consent.items():
        record_consent(
            session, p.id, channel, Purpose.MARKETING, ConsentState(state),
            method=ConsentMethod.WEB_FORM, proof_text="Yes, send me offers.",
        )  # fmt: skip
    if spec.suppressed:
        session.add(Suppression(person_id=p.id, channel=None, reason="complaint"))
    session.flush()
    return p.id


def base(session: Session, specs: Sequence[Spec]) -> list[int]:
    """Persons for ``specs``; households shared by the specs that name the same number."""
    homes: dict[int, int] = {}
    ids = []
    for n, spec in enumerate(specs):
        pid = add_person(session, n, spec)
        if spec.household is not None:
            if spec.household not in homes:
                h = Household(name=f"Home {spec.household}")
                session.add(h)
                session.flush()
                homes[spec.household] = h.id
            session.add(
                Relationship(person_id=pid, kind="member", household_id=homes[spec.household])
            )
        ids.append(pid)
    session.flush()
    return ids


def tiers(session: Session, values: dict[int, tuple[str, float]]) -> None:
    """A finished scoring run giving each person its (tier, CLV)."""
    run = ScoreRun(status="done", as_of=T0, params={})
    session.add(run)
    session.flush()
    for pid, (tier, clv) in values.items():
        session.add(PersonScore(run_id=run.id, person_id=pid, tier=tier, clv=Decimal(str(clv))))
    session.flush()


@dataclass
class Made:
    campaign_id: int
    wave_id: int
    cells: dict[str, int]
    segment_id: int


def campaign(
    session: Session,
    code: str,
    person_ids: Sequence[int],
    *,
    cells: Sequence[tuple[str, str | None, float]] = (("A", "email", 1.0),),
    priority: int = 100,
    at: datetime = T0,
    **targeting: object,
) -> Made:
    """A campaign targeting a snapshot of ``person_ids``, its cells (code, channel or None for
    a control cell, share) and one wave at ``at``."""
    segment = freeze_members(session, f"seg-{code}", person_ids, {"source": "test"})
    c = Campaign(code=code, name=f"Campaign {code}", priority=priority)
    session.add(c)
    session.flush()
    made = {}
    for cell_code, channel, share in cells:
        cell = Cell(campaign_id=c.id, code=cell_code, name=cell_code, channel=channel,
                    is_control=channel is None, share=share)  # fmt: skip
        session.add(cell)
        session.flush()
        made[cell_code] = cell.id
    session.add(CampaignTargeting(campaign_id=c.id, segment_id=segment.id, **targeting))
    w = Wave(campaign_id=c.id, name="Wave 1", scheduled_at=at)
    session.add(w)
    session.flush()
    return Made(c.id, w.id, made, segment.id)
