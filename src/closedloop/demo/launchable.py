"""The demo's campaign ready to launch: an approved e-mail campaign (one offer cell and a 10 %
control group) whose target is a snapshot of persons who accepted marketing e-mails.

Launching it queues its messages; sending them is refused while the SMTP server is not a test
sink (the demo's addresses look real), except to the demo's own mail catcher, which
``closedloop demo`` declares as a test sink.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns import lifecycle, service
from closedloop.campaigns.models import Campaign, Offer
from closedloop.campaigns.schemas import CampaignCreate, CellCreate, WaveCreate
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.consent.models import ConsentCurrent
from closedloop.segments import freeze_members
from closedloop.vocab import Channel, ConsentState, Purpose

CODE = "DEMO-LAUNCH"
TARGET = 500
HTML = """<html><body>
<p>Hello {{ person.given_name | default("reader") }},</p>
<p>This month only: {{ offer.name }} for {{ offer.price | money }}.</p>
<p><a href="https://shop.example.com/club">Join the club</a></p>
<p><a href="{{ preferences_url }}">Your preferences</a> ·
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


def ensure_launchable_campaign(session: Session, *, by: str = "demo") -> str | None:
    """Add the approved demo campaign to a base that has persons with e-mail consent and no
    such campaign yet; returns its code (None when nothing was added)."""
    if session.scalar(select(Campaign.id).where(Campaign.code == CODE)) is not None:
        return None
    people = list(
        session.scalars(
            select(ConsentCurrent.person_id)
            .where(
                ConsentCurrent.channel == Channel.EMAIL.value,
                ConsentCurrent.purpose == Purpose.MARKETING.value,
                ConsentCurrent.state == ConsentState.GRANTED.value,
            )
            .order_by(ConsentCurrent.person_id)
            .limit(TARGET)
        )
    )
    if not people:
        return None
    segment = freeze_members(
        session,
        "Demo: e-mail marketing consent (500)",
        people,
        {"kind": "demo", "rule": "granted e-mail marketing consent"},
    )
    if session.scalar(select(Offer.id).where(Offer.code == "DEMO-CLUB")) is None:
        session.add(
            Offer(
                code="DEMO-CLUB",
                name="The book club",
                price=Decimal("9.90"),
                description="A book a month, delivered.",
            )
        )
    template = TemplateCreate(
        code="demo-club",
        name="Book club invitation",
        channel=Channel.EMAIL,
        contents=[
            ContentCreate(
                locale="en",
                subject="Join the book club, {{ person.given_name | default('reader') }}",
                body=HTML,
            )
        ],
    )
    create_template(session, template, created_by=by)
    start = datetime.now(UTC).date()
    data = CampaignCreate(
        code=CODE,
        name="Book club invitation (demo, ready to launch)",
        objective="Recruit book club members; measure the lift against a 10 % control group.",
        offer="DEMO-CLUB",
        segment_id=segment.id,
        budget=Decimal("50"),
        cost_per_contact=Decimal("0.01"),
        starts_on=start,
        ends_on=start + timedelta(days=30),
        waves=[WaveCreate(name="Wave 1", expected_volume=len(people))],
        cells=[
            CellCreate(
                code="A",
                name="E-mail: book club",
                channel=Channel.EMAIL,
                template="demo-club",
                offer="DEMO-CLUB",
                share=0.9,
            ),
            CellCreate(
                code="CONTROL", name="Control group (no message)", is_control=True, share=0.1
            ),
        ],
    )
    campaign = service.create_campaign(session, data, created_by=by)
    lifecycle.approve(session, campaign.id, by=by)
    return campaign.code
