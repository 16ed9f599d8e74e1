"""What the agent sees during a call: the person's essentials (name, number, town, language,
preferred time, phone consent, satisfaction, recent history), the cell's call script and offer,
and the campaign's survey to ask, if it has one.

Only what the agent role may read (``persons:read``) is shown, and no more than a call needs:
no email address, birth date, orders or scores. The script is the cell's phone template,
rendered for the person like any message (sandboxed), else the offer's description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from closedloop.campaigns.models import Campaign, Cell, Communication, MessageTemplate, Offer, Wave
from closedloop.campaigns.recipients import load_recipients
from closedloop.campaigns.render import RenderFailed
from closedloop.campaigns.templates import base_context, load_renderer
from closedloop.consent.models import ConsentCurrent
from closedloop.contacts.models import Address, Person
from closedloop.db.base import as_utc, utcnow
from closedloop.errors import NotFound
from closedloop.responses import calltimes
from closedloop.responses.calldesk import call_number, desk_zone
from closedloop.responses.models import Question, Response, Survey
from closedloop.responses.survey_report import Satisfaction, satisfaction
from closedloop.responses.surveys import questions
from closedloop.vocab import Channel

HISTORY = 8


@dataclass
class CallCard:
    """One call as the desk shows it."""

    communication_id: int
    person_id: int
    name: str
    phone: str | None
    locality: str | None
    country: str | None
    language: str | None
    preferred_time: str | None
    #: whether the present local time suits the person's preferred time
    time_ok: bool
    phone_consent: str | None
    campaign_id: int | None
    campaign: str
    wave: str
    cell: str
    offer: str | None
    price: str | None
    script: str
    #: why the cell's template could not be rendered (the raw text is shown instead)
    script_problem: str | None
    attempts: int
    survey: Survey | None = None
    questions: list[Question] = field(default_factory=list)
    history: list[Response] = field(default_factory=list)
    satisfaction: list[Satisfaction] = field(default_factory=list)


def _script(
    session: Session,
    row: Communication,
    cell: Cell | None,
    offer: Offer | None,
    campaign: Campaign | None,
    wave: Wave | None,
) -> tuple[str, str | None]:
    fallback = "\n".join(
        x for x in ((offer.name if offer else None), (offer.description if offer else None)) if x
    )
    if cell is None or cell.template_id is None:
        return fallback, None
    template = session.get(MessageTemplate, cell.template_id)
    if template is None or template.channel != Channel.PHONE.value:
        return fallback, None
    renderer, problems = load_renderer(session, template.id)
    if renderer is None:
        return fallback, "; ".join(str(p) for p in problems)
    person = load_recipients(session, [row.person_id]).get(row.person_id)
    if person is None:
        return fallback, None
    offer_doc = (
        {k: getattr(offer, k) for k in ("code", "name", "description", "price")} if offer else {}
    )
    context = base_context(
        person.fields,
        offer=offer_doc,
        campaign={"code": campaign.code, "name": campaign.name, "currency": campaign.currency}
        if campaign
        else {},
        wave={"name": wave.name} if wave else {},
    )
    try:
        return renderer.render(context, person.language).body, None
    except RenderFailed as exc:
        return fallback, exc.reason


def campaign_survey(session: Session, campaign_id: int | None) -> Survey | None:
    """The campaign's active survey asked during its calls (the newest), if any."""
    if campaign_id is None:
        return None
    return session.scalars(
        select(Survey)
        .where(Survey.campaign_id == campaign_id, Survey.active.is_(True))
        .order_by(Survey.id.desc())
        .limit(1)
    ).first()


def call_card(session: Session, communication_id: int, now: datetime | None = None) -> CallCard:
    """The card of call ``communication_id``; NotFound when it is not a phone message."""
    row = session.get(Communication, communication_id)
    if row is None or row.channel != Channel.PHONE.value:
        raise NotFound(f"No call {communication_id}.")
    person = session.get(Person, row.person_id)
    if person is None:
        raise NotFound(f"No call {communication_id}.")
    campaign = session.get(Campaign, row.campaign_id) if row.campaign_id else None
    wave = session.get(Wave, row.wave_id) if row.wave_id else None
    cell = session.get(Cell, row.cell_id) if row.cell_id else None
    offer_id = (cell.offer_id if cell else None) or (campaign.offer_id if campaign else None)
    offer = session.get(Offer, offer_id) if offer_id else None
    address = session.scalars(
        select(Address)
        .where(Address.person_id == person.id)
        .order_by(Address.is_primary.desc(), Address.id)
        .limit(1)
    ).first()
    number = call_number(session, person.id)
    consent = session.scalar(
        select(ConsentCurrent.state).where(
            ConsentCurrent.person_id == person.id,
            ConsentCurrent.channel == Channel.PHONE.value,
            ConsentCurrent.purpose == (campaign.purpose if campaign else "marketing"),
        )
    )
    local = as_utc(now or utcnow()).astimezone(desk_zone())
    script, problem = _script(session, row, cell, offer, campaign, wave)
    price = cell.price if cell and cell.price is not None else (offer.price if offer else None)
    survey = campaign_survey(session, row.campaign_id)
    history = list(
        session.scalars(
            select(Response)
            .where(Response.person_id == person.id, Response.machine.is_(None))
            .order_by(Response.occurred_at.desc(), Response.id.desc())
            .limit(HISTORY)
        )
    )
    return CallCard(
        communication_id=row.id,
        person_id=person.id,
        name=person.display_name,
        phone=number.e164 if number else None,
        locality=address.locality if address else None,
        country=address.country if address else None,
        language=person.language,
        preferred_time=person.preferred_time,
        time_ok=calltimes.parse(person.preferred_time).allows(local),
        phone_consent=consent,
        campaign_id=row.campaign_id,
        campaign=f"{campaign.code} — {campaign.name}" if campaign else "",
        wave=wave.name if wave else "",
        cell=f"{cell.code} — {cell.name}" if cell else "",
        offer=offer.name if offer else None,
        price=f"{price} {campaign.currency if campaign else ''}".strip() if price else None,
        script=script,
        script_problem=problem,
        attempts=row.attempts or 0,
        survey=survey,
        questions=questions(session, survey.id) if survey else [],
        history=history,
        satisfaction=satisfaction(session, person.id),
    )
