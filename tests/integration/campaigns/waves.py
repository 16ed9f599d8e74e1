"""Build campaigns, waves, templates and recipients for the sending tests (real rows)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session
from tests.net import free_port

from closedloop.campaigns.ledger import queue_rows
from closedloop.campaigns.models import Campaign, Cell, Offer, Wave
from closedloop.campaigns.templates import ContentCreate, TemplateCreate, create_template
from closedloop.consent.service import record_consent
from closedloop.contacts.models import Address, Email, Person, Phone
from closedloop.settings import get_settings
from closedloop.vocab import Channel, ConsentMethod, ConsentState, Purpose

HTML = """<html><head><style>p { color: #333; } .cta { font-weight: bold; }</style></head>
<body><p>Hello {{ person.given_name | default("reader") }},</p>
<p>Our offer {{ offer.name }} costs {{ offer.price | money }}.</p>
<p><a class="cta" href="https://shop.example.com/books?id=7&amp;src=mail">See the books</a></p>
<p><a href="{{ preferences_url }}">Preferences</a> ·
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


@dataclass
class WaveSetup:
    campaign_id: int
    wave_id: int
    cell_id: int
    template_id: int
    person_ids: list[int]


def email_template(
    session: Session,
    body: str = HTML,
    subject: str = "News for {{ person.given_name | default('you') }}",
    code: str = "news",
    locales: Sequence[str] = ("en",),
) -> int:
    contents = [ContentCreate(locale=loc, subject=subject, body=body) for loc in locales]
    data = TemplateCreate(code=code, name="News", channel=Channel.EMAIL, contents=contents)
    return create_template(session, data).id


def person(
    session: Session,
    n: int,
    *,
    email: bool = True,
    phone: bool = False,
    postal: bool = False,
    consent: Sequence[Channel] = (Channel.EMAIL,),
    given_name: str | None = "Ann",
    language: str | None = "en",
) -> int:
    p = Person(given_name=given_name, family_name=f"Reader{n}", language=language)
    session.add(p)
    session.flush()
    if email:
        address = f"reader{n}@example.org"
        session.add(Email(person_id=p.id, address=address, address_key=address, is_primary=True))
    if phone:
        session.add(
            Phone(person_id=p.id, e164=f"+3361234{n:04d}", line_type="mobile", is_primary=True)
        )
    if postal:
        session.add(
            Address(
                person_id=p.id,
                line1=f"{n} rue de la Paix",
                postal_code="75002",
                locality="Paris",
                country="FR",
                is_primary=True,
            )
        )
    for channel in consent:
        record_consent(
            session,
            p.id,
            channel,
            Purpose.MARKETING,
            ConsentState.GRANTED,
            method=ConsentMethod.WEB_FORM,
            proof_text="Yes, send me offers.",
        )
    session.flush()
    return p.id


def wave(
    session: Session,
    n: int,
    *,
    channel: Channel = Channel.EMAIL,
    template_id: int | None = None,
    code: str = "C1",
    **person_kw: object,
) -> WaveSetup:
    """A campaign with one offer, one cell of ``channel`` and ``n`` queued recipients."""
    if template_id is None:
        template_id = email_template(session, code=f"t-{code}")
    offer = Offer(code=f"o-{code}", name="Book club", price=Decimal("19.90"))
    campaign = Campaign(code=code, name="Books", currency="EUR")
    session.add_all([offer, campaign])
    session.flush()
    w = Wave(campaign_id=campaign.id, name="Wave 1")
    cell = Cell(
        campaign_id=campaign.id,
        code="A",
        name="Offer A",
        channel=channel.value,
        offer_id=offer.id,
        template_id=template_id,
    )
    session.add_all([w, cell])
    session.flush()
    kw = dict(person_kw)
    kw.setdefault("consent", (channel,))
    ids = [person(session, i, **kw) for i in range(n)]  # type: ignore[arg-type]
    queue_rows(session, w.id, cell.id, ids)
    session.flush()
    return WaveSetup(campaign.id, w.id, cell.id, template_id, ids)


class Rejecting:
    """An aiosmtpd handler refusing some recipients (5xx for good, 4xx for now), optionally
    slow to answer the end of DATA."""

    def __init__(self, refuse: dict[str, str] | None = None, data_delay: float = 0.0) -> None:
        self.refuse = refuse or {}
        self.data_delay = data_delay
        self.received: list[str] = []
        self.rcpt_calls: list[str] = []

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_calls.append(address)
        for start, answer in self.refuse.items():
            if address.startswith(start):
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.received += list(envelope.rcpt_tos)
        return "250 OK"


@contextmanager
def smtp(handler: Any, monkeypatch: Any, **env: str) -> Iterator[int]:
    """Run ``handler`` on a free port; point the settings at it (plus ``env``)."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    values = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "PUBLIC_BASE_URL": "http://crm.test",
        **env,
    }
    for name, value in values.items():
        monkeypatch.setenv("CLOSEDLOOP_" + name, value)
    get_settings.cache_clear()
    try:
        yield port
    finally:
        controller.stop()
        get_settings.cache_clear()
