"""Build a finished campaign with a control group and planted purchase rates (real rows)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, CampaignMember, Cell, Communication, Wave
from closedloop.contacts.models import Person
from closedloop.evaluation import rebuild_counters
from closedloop.responses.models import Response
from closedloop.transactions.models import Order
from closedloop.vocab import CampaignStatus

SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Arm:
    """A cell to build: its size, its purchase rate in the window, what an order costs."""

    code: str
    size: int
    buy_rate: float
    is_control: bool = False
    open_rate: float = 0.0
    click_rate: float = 0.0
    amount: float = 50.0
    unit_cost: str | None = "0.50"


@dataclass
class Planted:
    campaign_id: int
    wave_id: int
    cells: dict[str, int] = field(default_factory=dict)
    members: dict[str, list[int]] = field(default_factory=dict)
    buyers: dict[str, set[int]] = field(default_factory=dict)


def plant(
    session: Session,
    arms: list[Arm],
    *,
    code: str = "SPRING",
    seed: int = 7,
    window_days: int = 30,
    status: str = CampaignStatus.COMPLETED.value,
) -> Planted:
    """A campaign with one wave sent at SENT_AT; each treated member got a sent message, each
    arm's members buy inside the window at its rate; everyone also has one old order (before
    the campaign) and buyers one order after the window, which must not count."""
    rng = random.Random(seed)
    campaign = Campaign(
        code=code,
        name=f"Campaign {code}",
        status=status,
        response_window_days=window_days,
        currency="EUR",
    )
    session.add(campaign)
    session.flush()
    wave = Wave(campaign_id=campaign.id, name="Wave 1", scheduled_at=SENT_AT)
    session.add(wave)
    session.flush()
    out = Planted(campaign.id, wave.id)
    for arm in arms:
        cell = Cell(
            campaign_id=campaign.id,
            code=arm.code,
            name=f"Cell {arm.code}",
            is_control=arm.is_control,
            channel=None if arm.is_control else "email",
            unit_cost=Decimal(arm.unit_cost) if arm.unit_cost else None,
        )
        session.add(cell)
        session.flush()
        out.cells[arm.code] = cell.id
        first = session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1)) or 0
        session.execute(
            insert(Person),
            [{"given_name": "P", "family_name": f"{arm.code}{i}"} for i in range(arm.size)],
        )
        ids = list(session.scalars(select(Person.id).where(Person.id > first).order_by(Person.id)))
        out.members[arm.code] = ids
        session.execute(
            insert(CampaignMember),
            [{"campaign_id": campaign.id, "cell_id": cell.id, "person_id": p} for p in ids],
        )
        comms, orders, responses = [], [], []
        buyers: set[int] = set()
        for p in ids:
            orders.append(
                {
                    "person_id": p,
                    "ordered_at": SENT_AT - timedelta(days=60),
                    "total_amount": Decimal("10.00"),
                    "currency": "EUR",
                }
            )
            if not arm.is_control:
                comms.append(
                    {
                        "person_id": p,
                        "campaign_id": campaign.id,
                        "wave_id": wave.id,
                        "cell_id": cell.id,
                        "channel": "email",
                        "status": "sent",
                        "sent_at": SENT_AT + timedelta(minutes=rng.randint(0, 120)),
                    }
                )
                for kind, rate in (("open", arm.open_rate), ("click", arm.click_rate)):
                    if rng.random() < rate:
                        responses.append(
                            {
                                "person_id": p,
                                "campaign_id": campaign.id,
                                "kind": kind,
                                "occurred_at": SENT_AT + timedelta(days=1),
                            }
                        )
            if rng.random() < arm.buy_rate:
                buyers.add(p)
                when = SENT_AT + timedelta(days=rng.uniform(0.2, window_days - 1))
                orders.append(
                    {
                        "person_id": p,
                        "ordered_at": when,
                        "currency": "EUR",
                        "total_amount": Decimal(f"{arm.amount:.2f}"),
                    }
                )
                orders.append(
                    {
                        "person_id": p,
                        "currency": "EUR",
                        "total_amount": Decimal("99.00"),
                        "ordered_at": SENT_AT + timedelta(days=window_days + 5),
                    }
                )
        out.buyers[arm.code] = buyers
        if comms:
            session.execute(insert(Communication), comms)
        if responses:
            session.execute(insert(Response), responses)
        session.execute(insert(Order), orders)
    session.flush()
    # the rows were bulk-loaded behind the sender's and the capture's back: count the funnel
    # counters from them, as after an import (else every report says they are stale)
    rebuild_counters(session, out.campaign_id)
    return out
